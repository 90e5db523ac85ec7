"""ETags in conditional requests (RFC 7644 §3.14, RFC 7232): If-None-Match on reads and
writes, compared weakly; If-Match stays lenient about W/ as SCIM clients send it."""

from __future__ import annotations

from typing import Any

import pytest

from directory.models import Group, Member
from tests.scim_client import PATCH_OP, Scim, assert_error, okta_user

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


def _resource(scim: Scim, kind: str) -> dict[str, Any]:
    body = (
        okta_user()
        if kind == "Users"
        else {"schemas": [GROUP_SCHEMA], "displayName": "Sales", "members": []}
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
        attribute = "displayName" if kind == "Groups" else "title"
        operation = {"op": "replace", "path": attribute, "value": "Changed"}
        return scim.patch(path, {"schemas": [PATCH_OP], "Operations": [operation]}, **headers)
    body = okta_user(title="Changed") if kind == "Users" else {**resource, "displayName": "X"}
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


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_if_none_match_on_a_missing_resource_is_not_found(scim: Scim, method: str) -> None:
    missing = {"id": "6f1c3a56-0000-4000-8000-000000000000", "displayName": "X"}

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
