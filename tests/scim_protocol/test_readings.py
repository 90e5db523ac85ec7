"""What Headcount read in the caller's dialect: the notes the portal's log entry shows."""

from __future__ import annotations

from scim_protocol.patch import patch_readings
from scim_protocol.readings import MAX_QUOTED, MAX_READINGS
from scim_protocol.schema import GROUP, USER
from scim_protocol.user_input import UserPolicy, normalized_user

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def notes(readings: tuple) -> list[tuple[str, str, str]]:
    return [(r.attribute, r.sent, r.stored) for r in readings]


def test_entra_patch_ops_and_paths_are_noted_as_read() -> None:
    operations = [
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": 'Emails[type eq "work"].Value', "value": "a@b.c"},
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:displayName"},
        {"op": "replace", "path": f"{ENTERPRISE}:department", "value": "x"},
    ]

    assert notes(patch_readings(operations, USER)) == [
        ("Operations[0].op", '"Replace"', "replace"),
        ("Operations[1].op", '"Add"', "add"),
        ("Operations[1].path", 'Emails[type eq "work"].Value', 'emails[type eq "work"].value'),
        (
            "Operations[2].path",
            "urn:ietf:params:scim:schemas:core:2.0:User:displayName",
            "displayName",
        ),
    ]


def test_a_canonical_patch_has_no_notes() -> None:
    operations = [
        {"op": "replace", "path": "name.givenName", "value": "A"},
        {"op": "add", "path": "members", "value": [{"value": "x"}]},
    ]
    assert patch_readings(operations[:1], USER) == ()
    assert patch_readings(operations[1:], GROUP) == ()


def test_values_read_in_another_form_are_noted() -> None:
    normalized = normalized_user(
        {
            "USERNAME": "a@b.c",
            "active": "False",
            "timezone": "Pacific Standard Time",
            "preferredLanguage": "English",
            "locale": "en-US",  # already canonical: no note
            "addresses": [{"type": "work", "country": "United States"}],
            ENTERPRISE: {"employeeNumber": 42},
        },
        UserPolicy(),
    )

    assert notes(normalized.readings) == [
        ("USERNAME", "USERNAME", "userName"),
        ("active", '"False"', "false"),
        ("employeeNumber", "42", '"42"'),
        ("preferredLanguage", "English", "en"),
        ("timezone", "Pacific Standard Time", "America/Los_Angeles"),
        ('addresses[type eq "work"].country', "United States", "US"),
    ]


def test_secrets_are_never_in_the_notes() -> None:
    normalized = normalized_user(
        {"userName": "a@b.c", "PASSWORD": "Hunter2-Secret", "password": 12345}, UserPolicy()
    )
    readings = patch_readings(
        [{"op": "Replace", "path": "PASSWORD", "value": "Hunter2-Secret"}], USER
    )

    assert normalized.readings == ()
    assert notes(readings) == [("Operations[0].op", '"Replace"', "replace")]


def test_the_notes_are_bounded() -> None:
    # Entra's capitalised op on every operation of a large PATCH: one note each, up to the cap.
    operations = [{"op": "Replace", "path": "displayName", "value": str(i)} for i in range(1000)]
    assert len(patch_readings(operations, USER)) == MAX_READINGS

    readings = normalized_user({"userName": "a@b.c", "nickName": 10**200}, UserPolicy()).readings
    assert [len(r.stored) for r in readings] == [MAX_QUOTED]
