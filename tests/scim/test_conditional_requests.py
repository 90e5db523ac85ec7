"""ETags in conditional requests (RFC 7644 §3.14, RFC 7232): If-None-Match on reads and
writes, compared weakly; If-Match stays lenient about W/ as SCIM clients send it. A write's
preconditions hold for the version it replaces, not one read before it (RFC 7232 §5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import F

from directory import groups, services
from directory.models import Group, Member, ProvisioningEvent
from tests.conftest import max_queries
from tests.scim_client import PATCH_OP, Scim, assert_error, okta_user

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


def _resource(scim: Scim, kind: str, name: str = "sales") -> dict[str, Any]:
    body = (
        okta_user(f"{name}@okta.local", externalId=name)
        if kind == "Users"
        else {"schemas": [GROUP_SCHEMA], "displayName": name, "members": []}
    )
    response = scim.post(f"/{kind}", body)
    assert response.status_code == 201, response.content
    return dict(response.json())


def _version(kind: str, resource_id: str) -> int:
    model = Member if kind == "Users" else Group
    return int(model.objects.get(pk=resource_id).version)


def _write(scim: Scim, method: str, kind: str, resource: dict[str, Any], **headers: str) -> Any:
    path = f"/{kind}/{resource['id']}"
    if method == "DELETE":
        return scim.delete(path, **headers)
    if method == "PATCH":
        operation = (
            {"op": "replace", "path": "displayName", "value": f"{resource['displayName']} changed"}
            if kind == "Groups"
            else {"op": "replace", "path": "title", "value": "Changed"}
        )
        return scim.patch(path, {"schemas": [PATCH_OP], "Operations": [operation]}, **headers)
    body = (
        okta_user(resource["userName"], externalId=resource["externalId"], title="Changed")
        if kind == "Users"
        else {**resource, "displayName": f"{resource['displayName']} changed"}
    )
    return scim.put(path, body, **headers)


KINDS = ["Users", "Groups"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("header", ["*", '"{v}"', 'W/"{v}"', '"0", W/"{v}"', "{v}"])
def test_a_get_naming_the_current_version_or_any_is_not_modified(
    scim: Scim, kind: str, header: str
) -> None:
    resource = _resource(scim, kind)
    version = _version(kind, resource["id"])

    response = scim.get(f"/{kind}/{resource['id']}", HTTP_IF_NONE_MATCH=header.format(v=version))

    assert response.status_code == 304
    assert response["ETag"] == resource["meta"]["version"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_get_naming_another_version_reads_the_resource(scim: Scim, kind: str) -> None:
    resource = _resource(scim, kind)

    response = scim.get(f"/{kind}/{resource['id']}", HTTP_IF_NONE_MATCH='W/"999", "998"')

    assert response.status_code == 200 and response.json()["id"] == resource["id"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("header", ["*", 'W/"{v}"', '"{v}"'])
def test_a_write_whose_if_none_match_names_the_resource_is_refused(
    scim: Scim, kind: str, method: str, header: str
) -> None:
    resource = _resource(scim, kind)
    version = _version(kind, resource["id"])

    response = _write(scim, method, kind, resource, HTTP_IF_NONE_MATCH=header.format(v=version))

    assert_error(response, 412)
    assert _version(kind, resource["id"]) == version


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_write_whose_if_none_match_names_another_version_goes_ahead(
    scim: Scim, kind: str, method: str
) -> None:
    resource = _resource(scim, kind)

    response = _write(scim, method, kind, resource, HTTP_IF_NONE_MATCH='W/"999"')

    assert response.status_code in (200, 204), response.content


def _another_write(kind: str, resource_id: str) -> None:
    """What a write committed meanwhile by another client leaves: the next version."""
    model = Member if kind == "Users" else Group
    model.objects.filter(pk=resource_id).update(version=F("version") + 1)


_SERVICES = {
    ("Users", "PUT"): (services, "member_replace"),
    ("Users", "PATCH"): (services, "member_patch"),
    ("Users", "DELETE"): (services, "member_delete"),
    ("Groups", "PUT"): (groups, "group_replace"),
    ("Groups", "PATCH"): (groups, "group_patch"),
    ("Groups", "DELETE"): (groups, "group_delete"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_if_none_match_is_evaluated_against_the_version_the_write_applies_to(
    scim: Scim, kind: str, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    resource = _resource(scim, kind)
    version = _version(kind, resource["id"])
    module, name = _SERVICES[kind, method]
    service: Callable[..., Any] = getattr(module, name)

    def after_another_write(**kwargs: Any) -> Any:
        # Another client's write lands after the request began, before this write takes the
        # row: the version the header names is now the one this write would replace.
        _another_write(kind, resource["id"])
        return service(**kwargs)

    monkeypatch.setattr(module, name, after_another_write)

    response = _write(scim, method, kind, resource, HTTP_IF_NONE_MATCH=f'W/"{version + 1}"')

    body = assert_error(response, 412)
    assert (
        body["detail"]
        == f'If-None-Match names the current version, W/"{version + 1}": not changed.'
    )
    assert _version(kind, resource["id"]) == version + 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_refusal_for_if_none_match_is_in_the_provisioning_log(scim: Scim, kind: str) -> None:
    resource = _resource(scim, kind)

    response = _write(scim, "PATCH", kind, resource, HTTP_IF_NONE_MATCH="*")

    assert_error(response, 412)
    rows = ProvisioningEvent.objects.filter(resource_id=resource["id"]).order_by("id")
    assert list(rows.values_list("operation", "outcome", "status")) == [
        ("create", "succeeded", 201),
        ("patch", "failed", 412),
    ]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_if_none_match_adds_no_statement_to_a_write(scim: Scim, kind: str, method: str) -> None:
    resource, other = _resource(scim, kind), _resource(scim, kind, "support")
    with max_queries(1_000) as plain:
        assert _write(scim, method, kind, resource).status_code in (200, 204)

    with max_queries(1_000) as conditional:
        response = _write(scim, method, kind, other, HTTP_IF_NONE_MATCH='W/"999"')

    assert response.status_code in (200, 204), response.content
    assert len(conditional.statements) == len(plain.statements), conditional.statements


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_if_none_match_on_a_missing_resource_is_not_found(scim: Scim, method: str) -> None:
    missing = {"id": "6f1c3a56-0000-4000-8000-000000000000", "userName": "x", "externalId": "x"}

    response = _write(scim, method, "Users", missing, HTTP_IF_NONE_MATCH="*")

    assert_error(response, 404)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("header", ['W/"{v}"', '"{v}"', "{v}", "*"])
def test_if_match_accepts_weak_and_strong_spellings(scim: Scim, kind: str, header: str) -> None:
    resource = _resource(scim, kind)
    version = _version(kind, resource["id"])

    response = _write(scim, "PATCH", kind, resource, HTTP_IF_MATCH=header.format(v=version))
    stale = _write(scim, "PATCH", kind, resource, HTTP_IF_MATCH=header.format(v=version))

    assert response.status_code in (200, 204), response.content
    if header != "*":
        assert_error(stale, 412)
