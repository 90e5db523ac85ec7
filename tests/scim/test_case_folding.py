"""One case-folding rule for storage, uniqueness and filters: PostgreSQL's lower(), computed
in SQL on both sides. Python's str.lower() folds some letters differently ("İ" becomes "i̇",
a final "Σ" becomes "ς"), which made a user created as "İnci@…" unfindable by the filter
an IdP sends before creating, and its lowercase spelling a 409: the IdP looped on 409."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection

from tenants.models import Company
from tests.scim_client import PATCH_OP, Scim, assert_error

# (as created, another spelling): the database may or may not consider them equal; the
# folding tests below ask it, then hold the API to its answer.
SPELLINGS = [
    pytest.param("İnci", "inci", id="dotted capital I"),
    pytest.param("STRAßE", "straße", id="sharp s"),
    pytest.param("STRAßE", "strasse", id="sharp s is not ss"),
    pytest.param("ΣΊΣΥΦΟΣ", "σίσυφοσ", id="capital sigma"),
    pytest.param("ΣΊΣΥΦΟΣ", "σίσυφος", id="final sigma"),
    pytest.param("\u212aelvin", "kelvin", id="Kelvin sign"),
    pytest.param("\uff21da", "\uff41da", id="full-width letters"),
]


def _equal_to_the_database(first: str, second: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT lower(%s::text) = lower(%s::text)", [first, second])
        return bool(cursor.fetchone()[0])


def _user(word: str) -> dict[str, Any]:
    """A user named after `word`: in the userName at the end (where "Σ" is a final sigma to
    Python) and in the domain of the work email (so that it is a valid address)."""
    email = {"value": f"ada@{word}.example", "type": "work", "primary": True}
    return {"userName": f"Ada {word}", "emails": [email]}


def _ids(scim: Scim, resource: str, scim_filter: str) -> list[str]:
    response = scim.get(f"/{resource}?filter={quote(scim_filter)}")
    assert response.status_code == 200, response.content
    return [found["id"] for found in response.json()["Resources"]]


def _searched(scim: Scim, scim_filter: str) -> list[str]:
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}
    response = scim.post("/Users/.search", {**body, "filter": scim_filter})
    assert response.status_code == 200, response.content
    return [found["id"] for found in response.json()["Resources"]]


@pytest.mark.parametrize(("created", "other"), SPELLINGS)
def test_a_user_is_found_and_unique_as_the_database_folds_its_username(
    scim: Scim, created: str, other: str
) -> None:
    name, email = f"Ada {created}", f"ada@{created}.example"
    other_name, other_email = f"Ada {other}", f"ada@{other}.example"
    equal = _equal_to_the_database(created, other)
    first = scim.post("/Users", _user(created))
    assert first.status_code == 201, first.content
    user_id = first.json()["id"]

    found = {
        "fast path": _ids(scim, "Users", f'userName eq "{name}"'),
        "general path": _ids(scim, "Users", f'userName eq "{name}" and active eq true'),
        ".search": _searched(scim, f'userName eq "{name}"'),
        "ends with": _ids(scim, "Users", f'userName ew "{created}"'),
        "email": _ids(scim, "Users", f'emails eq "{email}"'),
        "work email": _ids(scim, "Users", f'emails[type eq "WORK" and value eq "{email}"]'),
    }
    second = scim.post("/Users", _user(other))
    by_other = {
        "fast path": _ids(scim, "Users", f'userName eq "{other_name}"'),
        "general path": _ids(scim, "Users", f'userName eq "{other_name}" and active eq true'),
        "email": _ids(scim, "Users", f'emails eq "{other_email}"'),
    }

    assert found == {key: [user_id] for key in found}
    if equal:
        assert_error(second, 409, "uniqueness")
        assert by_other == {key: [user_id] for key in by_other}
    else:
        assert second.status_code == 201, second.content
        assert by_other == {key: [second.json()["id"]] for key in by_other}


@pytest.mark.parametrize(("created", "other"), SPELLINGS)
def test_a_group_is_found_and_unique_as_the_database_folds_its_display_name(
    scim: Scim, created: str, other: str
) -> None:
    equal = _equal_to_the_database(created, other)
    schemas = ["urn:ietf:params:scim:schemas:core:2.0:Group"]
    first = scim.post("/Groups", {"schemas": schemas, "displayName": created})
    assert first.status_code == 201, first.content

    found = _ids(scim, "Groups", f'displayName eq "{created}"')
    second = scim.post("/Groups", {"schemas": schemas, "displayName": other})
    by_other = _ids(scim, "Groups", f'displayName eq "{other}"')

    assert found == [first.json()["id"]]
    if equal:
        assert_error(second, 409, "uniqueness")
        assert by_other == [first.json()["id"]]
    else:
        assert second.status_code == 201, second.content
        assert by_other == [second.json()["id"]]


def test_a_manager_named_in_another_case_is_the_same_user(scim: Scim) -> None:
    boss = scim.post("/Users", {"userName": "boss@İnci.example"}).json()
    enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    named = "BOSS@İNCI.EXAMPLE"

    report = scim.post("/Users", {"userName": "report", enterprise: {"manager": {"value": named}}})

    assert report.status_code == 201, report.content
    assert report.json()[enterprise]["manager"]["value"] == boss["id"]


@pytest.mark.parametrize(("created", "other"), SPELLINGS)
def test_an_immutable_username_may_change_case_as_the_database_folds_it(
    scim: Scim, acme: Company, created: str, other: str
) -> None:
    Company.objects.filter(pk=acme.pk).update(username_immutable=True)
    equal = _equal_to_the_database(created, other)
    user = scim.post("/Users", _user(created)).json()
    rename = {"op": "replace", "path": "userName", "value": f"Ada {other}"}

    response = scim.patch(f"/Users/{user['id']}", {"schemas": [PATCH_OP], "Operations": [rename]})

    if equal:
        assert response.status_code == 200, response.content
        assert response.json()["userName"] == f"Ada {other}"
    else:
        assert_error(response, 400, "mutability")


@pytest.mark.django_db
def test_what_the_database_folds_depends_on_its_ctype() -> None:
    """lower() follows the database's ctype (or its builtin locale). A UTF-8 one (C.UTF-8: the
    local servers, CI, the embedded server's builtin provider) folds every letter below; a "C"
    ctype folds ASCII only, so there "İnci" and "inci" are two users. Either way storage,
    uniqueness and filters agree, because they all use the same lower()."""
    # Which rule is in force: PostgreSQL 16+ no longer shows lc_ctype, and with the builtin
    # provider (the embedded server's C.UTF-8) the database's ctype name does not decide it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT lower('\u00c9') = '\u00e9'")
        utf8 = cursor.fetchone()[0]
    pairs = [
        ("İnci", "inci"),
        ("STRAßE", "straße"),
        ("ΣΊΣΥΦΟΣ", "σίσυφοσ"),
        ("\u212aelvin", "kelvin"),
        ("\uff21da", "\uff41da"),  # full-width A, a
        ("STRAßE", "strasse"),
        ("ΣΊΣΥΦΟΣ", "σίσυφος"),
    ]

    equal = [_equal_to_the_database(first, second) for first, second in pairs]

    if utf8:
        assert equal == [True, True, True, True, True, False, False]
    else:
        assert equal == [False, True, False, False, False, False, False]
