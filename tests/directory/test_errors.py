"""Not-found errors of the directory carry a stable code, and stay SCIM 404s for the API."""

from __future__ import annotations

import pytest

from directory.errors import GroupNotFound, MemberNotFound
from directory.groups import group_get
from directory.selectors import member_get, member_get_with_roles
from scim_protocol.errors import NotFound
from tenants.models import Company

UNKNOWN = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize("member_id", [UNKNOWN, "not-a-uuid"])
def test_an_unknown_member_is_member_not_found(acme: Company, member_id: str) -> None:
    for read in (member_get, member_get_with_roles):
        with pytest.raises(MemberNotFound) as raised:
            read(member_id)

        assert raised.value.code == "member_not_found"
        assert isinstance(raised.value, NotFound) and raised.value.status == 404


@pytest.mark.parametrize("group_id", [UNKNOWN, "not-a-uuid"])
def test_an_unknown_group_is_group_not_found(acme: Company, group_id: str) -> None:
    with pytest.raises(GroupNotFound) as raised:
        group_get(group_id)

    assert raised.value.code == "group_not_found"
    assert isinstance(raised.value, NotFound) and raised.value.status == 404
