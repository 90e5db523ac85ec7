"""A password sent over SCIM is never stored, whatever the write does with it.

Every write shape an identity provider (or an attacker holding a token) can send a password in
— POST and PUT bodies, PATCH operations with every path spelling or none, Users and Groups,
`.search` bodies — is sent once so that it succeeds and once for each way it can fail (400,
409, 412). After each request every row of the company's schema, and of `public`, is read back
as JSON text and searched for the secret.

The scan runs on the test's own connection, inside its transaction: the rows the request just
wrote (a failure row is written after the write's rollback, in the same transaction) are
visible there and nowhere else — a pg_dump, from another connection, would not see them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection
from psycopg import sql

from tenants.models import Company
from tests.scim_client import PATCH_OP, Scim, okta_user

SECRET = f"Hc-Secret-{uuid.uuid4().hex}"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def stored_rows_containing(needle: str, schemas: list[str]) -> list[str]:
    """Every row, of every table of `schemas`, whose JSON text contains `needle`, as
    "schema.table: row" (seen from this connection, so uncommitted rows count)."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE'",
            [schemas],
        )
        tables = cursor.fetchall()
        assert len(tables) > 10  # the scan really sees the company's tables
        for schema, table in tables:
            query = sql.SQL("SELECT row_to_json(t)::text FROM {}.{} t").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            cursor.execute(query.as_string(cursor.connection))
            found += [f"{schema}.{table}: {row}" for (row,) in cursor.fetchall() if needle in row]
    return found


@dataclass
class Targets:
    """What the requests act on: a user and a group, their current ETags, a taken userName."""

    user_id: str
    group_id: str
    user_etag: str
    group_etag: str
    taken_user_name: str = "taken@acme.test"
    taken_group_name: str = "Taken group"


@dataclass(frozen=True)
class Shape:
    """One request: method, path (formatted with the targets) and body, its expected status."""

    method: str
    path: str
    body: Callable[[Targets], Any]
    status: int
    headers: Callable[[Targets], dict[str, str]] = field(default=lambda t: {})


# --- Resource bodies: every place a password can sit in a User body ------------------------

USER_SPELLINGS: dict[str, Callable[[], dict[str, Any]]] = {
    "password": lambda: {"password": SECRET},
    "PASSWORD": lambda: {"PASSWORD": SECRET},
    "core-urn-key": lambda: {f"{CORE_USER}:password": SECRET},
    "core-urn-key-upper": lambda: {f"{CORE_USER.upper()}:PassWord": SECRET},
    "nested-under-core-urn": lambda: {CORE_USER: {"password": SECRET}},
    "nested-under-core-urn-capitalised": lambda: {CORE_USER: {"Password": SECRET}},
    "nested-under-extension-urn": lambda: {ENTERPRISE_USER: {"password": SECRET}},
}


def user_body(spelling: str, user_name: str, **overrides: Any) -> dict[str, Any]:
    body = okta_user(user_name, externalId=f"ext-{uuid.uuid4().hex}", **overrides)
    del body["password"]
    return {**body, **USER_SPELLINGS[spelling]()}


def resource_shapes() -> dict[str, Shape]:
    shapes = {}
    for spelling in USER_SPELLINGS:
        shapes[f"POST Users {spelling} created"] = Shape(
            "POST", "/Users", lambda t, s=spelling: user_body(s, "new@acme.test"), 201
        )
        shapes[f"POST Users {spelling} 400"] = Shape(
            "POST",
            "/Users",
            lambda t, s=spelling: user_body(s, "new@acme.test", active="maybe"),
            400,
        )
        shapes[f"POST Users {spelling} 409"] = Shape(
            "POST", "/Users", lambda t, s=spelling: user_body(s, t.taken_user_name), 409
        )
        shapes[f"PUT Users {spelling} replaced"] = Shape(
            "PUT", "/Users/{user_id}", lambda t, s=spelling: user_body(s, "ada@acme.test"), 200
        )
        shapes[f"PUT Users {spelling} 412"] = Shape(
            "PUT",
            "/Users/{user_id}",
            lambda t, s=spelling: user_body(s, "ada@acme.test"),
            412,
            lambda t: {"HTTP_IF_MATCH": 'W/"999"'},
        )
        shapes[f"PUT Users {spelling} 409"] = Shape(
            "PUT", "/Users/{user_id}", lambda t, s=spelling: user_body(s, t.taken_user_name), 409
        )
    group_extras: dict[str, Callable[[], dict[str, Any]]] = {
        "password": lambda: {"password": SECRET},
        "nested-under-core-urn": lambda: {CORE_GROUP: {"Password": SECRET}},
        "user-urn-key": lambda: {f"{CORE_USER}:password": SECRET},
    }
    for name, extra in group_extras.items():
        shapes[f"POST Groups {name} created"] = Shape(
            "POST",
            "/Groups",
            lambda t, e=extra: {"schemas": [CORE_GROUP], "displayName": "New group", **e()},
            201,
        )
        shapes[f"POST Groups {name} 409"] = Shape(
            "POST",
            "/Groups",
            lambda t, e=extra: {"schemas": [CORE_GROUP], "displayName": t.taken_group_name, **e()},
            409,
        )
        shapes[f"PUT Groups {name} replaced"] = Shape(
            "PUT",
            "/Groups/{group_id}",
            lambda t, e=extra: {"schemas": [CORE_GROUP], "displayName": "Renamed", **e()},
            200,
        )
        shapes[f"PUT Groups {name} 412"] = Shape(
            "PUT",
            "/Groups/{group_id}",
            lambda t, e=extra: {"schemas": [CORE_GROUP], "displayName": "Renamed", **e()},
            412,
            lambda t: {"HTTP_IF_MATCH": 'W/"999"'},
        )
    return shapes


# --- PATCH: every spelling of an operation that carries a password -------------------------

USER_OPERATIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "path password": lambda: {"op": "replace", "path": "password", "value": SECRET},
    "path PASSWORD": lambda: {"op": "Replace", "path": "PASSWORD", "value": SECRET},
    "path core URN": lambda: {"op": "add", "path": f"{CORE_USER}:password", "value": SECRET},
    "path core URN any case": lambda: {
        "OP": "Add",
        "PATH": f"{CORE_USER.upper()}:Password",
        "VALUE": SECRET,
    },
    "path padded": lambda: {"op": "replace", "path": " password ", "value": SECRET},
    "path value as list": lambda: {"op": "replace", "path": "password", "value": [SECRET]},
    "pathless password": lambda: {"op": "replace", "value": {"password": SECRET}},
    "pathless Password": lambda: {"op": "Replace", "value": {"Password": SECRET}},
    "pathless core URN key": lambda: {"op": "add", "value": {f"{CORE_USER}:password": SECRET}},
    "pathless nested core URN": lambda: {
        "op": "replace",
        "value": {CORE_USER: {"PASSWORD": SECRET}},
    },
    "empty path": lambda: {"op": "replace", "path": "", "value": {"password": SECRET}},
}
# Operations that fail whatever comes with them: a password path with a value filter, paths
# we cannot parse, an unknown attribute whose name says what it is.
FAILING_USER_OPERATIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "path with value filter": lambda: {
        "op": "replace",
        "path": 'password[value eq "x"]',
        "value": SECRET,
    },
    "unparseable path": lambda: {"op": "replace", "path": "password]", "value": SECRET},
    "unparseable path with filter": lambda: {
        "op": "add",
        "path": 'emails[type eq "work"',
        "value": SECRET,
    },
    "unknown secret attribute": lambda: {"op": "add", "path": "apiSecret", "value": SECRET},
    # The error message quotes (the start of) what it could not parse: the secret.
    "secret inside an unparseable path": lambda: {
        "op": "replace",
        "path": f'password "{SECRET}"',
        "value": "x",
    },
    "secret cut short in the message": lambda: {
        "op": "replace",
        "path": f'password[value "{SECRET}"]',
        "value": "x",
    },
    "secret compared in a value filter": lambda: {
        "op": "replace",
        "path": f'password[value eq "{SECRET}"]',
        "value": "x",
    },
    "password as an object": lambda: {
        "op": "replace",
        "path": "password",
        "value": {"value": SECRET},
    },
}


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def patch_shapes() -> dict[str, Shape]:
    bad_value = {"op": "replace", "path": "active", "value": "maybe"}
    shapes = {}
    for name, operation in USER_OPERATIONS.items():
        shapes[f"PATCH Users {name} 200"] = Shape(
            "PATCH", "/Users/{user_id}", lambda t, o=operation: patch_body(o()), 200
        )
        shapes[f"PATCH Users {name} 200 with If-Match"] = Shape(
            "PATCH",
            "/Users/{user_id}",
            lambda t, o=operation: patch_body(o()),
            200,
            lambda t: {"HTTP_IF_MATCH": t.user_etag},
        )
        shapes[f"PATCH Users {name} 412"] = Shape(
            "PATCH",
            "/Users/{user_id}",
            lambda t, o=operation: patch_body(o()),
            412,
            lambda t: {"HTTP_IF_MATCH": 'W/"999"'},
        )
        shapes[f"PATCH Users {name} 400"] = Shape(
            "PATCH", "/Users/{user_id}", lambda t, o=operation: patch_body(o(), bad_value), 400
        )
        shapes[f"PATCH Users {name} 409"] = Shape(
            "PATCH",
            "/Users/{user_id}",
            lambda t, o=operation: patch_body(
                o(), {"op": "replace", "path": "userName", "value": t.taken_user_name}
            ),
            409,
        )
        shapes[f"PATCH Users {name} 404"] = Shape(
            "PATCH", f"/Users/{uuid.uuid4()}", lambda t, o=operation: patch_body(o()), 404
        )
    for name, operation in FAILING_USER_OPERATIONS.items():
        shapes[f"PATCH Users {name} 400"] = Shape(
            "PATCH", "/Users/{user_id}", lambda t, o=operation: patch_body(o()), 400
        )
    group_operations: dict[str, Callable[[], dict[str, Any]]] = {
        "pathless password": lambda: {
            "op": "replace",
            "value": {"displayName": "Renamed", "password": SECRET},
        },
        "pathless core URN": lambda: {
            "op": "Replace",
            "value": {CORE_GROUP: {"displayName": "Renamed", "Password": SECRET}},
        },
    }
    for name, operation in group_operations.items():
        shapes[f"PATCH Groups {name} 204"] = Shape(
            "PATCH", "/Groups/{group_id}", lambda t, o=operation: patch_body(o()), 204
        )
        shapes[f"PATCH Groups {name} 412"] = Shape(
            "PATCH",
            "/Groups/{group_id}",
            lambda t, o=operation: patch_body(o()),
            412,
            lambda t: {"HTTP_IF_MATCH": 'W/"999"'},
        )
    for path in ("password", f"{CORE_USER}:password", "password]"):
        shapes[f"PATCH Groups path {path} 400"] = Shape(
            "PATCH",
            "/Groups/{group_id}",
            lambda t, p=path: patch_body({"op": "add", "path": p, "value": SECRET}),
            400,
        )
    return shapes


def search_shapes() -> dict[str, Shape]:
    shapes = {}
    for endpoint in ("Users", "Groups"):
        shapes[f"search {endpoint} filter"] = Shape(
            "POST",
            f"/{endpoint}/.search",
            lambda t: {"schemas": [SEARCH], "filter": f'password eq "{SECRET}"'},
            400,
        )
        shapes[f"search {endpoint} body key"] = Shape(
            "POST",
            f"/{endpoint}/.search",
            lambda t: {"schemas": [SEARCH], "password": SECRET, "count": 1},
            200,
        )
    return shapes


SHAPES = {**resource_shapes(), **patch_shapes(), **search_shapes()}


@pytest.fixture
def targets(scim: Scim) -> Targets:
    user = scim.post("/Users", okta_user("ada@acme.test", externalId="ada"))
    scim.post("/Users", okta_user("taken@acme.test", externalId="taken"))
    group = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Engineering"})
    scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Taken group"})
    assert user.status_code == group.status_code == 201
    return Targets(
        user_id=user.json()["id"],
        group_id=group.json()["id"],
        user_etag=user["ETag"],
        group_etag=group["ETag"],
    )


@pytest.mark.parametrize("name", list(SHAPES))
def test_a_password_is_stored_nowhere(
    name: str, scim: Scim, targets: Targets, acme: Company
) -> None:
    shape = SHAPES[name]
    path = shape.path.format(user_id=targets.user_id, group_id=targets.group_id)

    response = scim.send(shape.method, path, shape.body(targets), **shape.headers(targets))

    assert response.status_code == shape.status, response.content
    assert stored_rows_containing(SECRET, [acme.schema_name, "public"]) == []


def test_the_scan_finds_what_is_stored(scim: Scim, acme: Company) -> None:
    scim.post("/Users", okta_user("ada@acme.test", displayName=SECRET))

    found = stored_rows_containing(SECRET, [acme.schema_name, "public"])

    assert any(".directory_member: " in row for row in found)
