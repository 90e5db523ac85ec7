"""One plain explanation and fix per error class (directory/diagnosis.py)."""

from directory import diagnosis
from directory.diagnosis import diagnose_credentials, diagnose_failure


def failure(
    status: int,
    scim_type: str = "",
    detail: str = "",
    resource_type: str = "User",
    code: str = "",
):
    return diagnose_failure(
        status=status, scim_type=scim_type, detail=detail, resource_type=resource_type, code=code
    )


def test_seat_limit_says_who_can_raise_it() -> None:
    found = failure(403, detail="Seat limit reached: 38 of 38 seats in use. Deactivate a user …")

    assert found.kind == diagnosis.SEAT_LIMIT
    assert "support" in found.fix and "only support can change it" in found.fix


def test_uniqueness_points_at_the_existing_user() -> None:
    found = failure(409, "uniqueness", 'userName "a@b.c" is already taken.')

    assert found.kind == diagnosis.UNIQUENESS
    assert found.go_to == "members" and "existing user" in found.fix


def test_mutability_names_the_company_policy() -> None:
    found = failure(400, "mutability", 'userName cannot change for this company (it is "a").')

    assert found.kind == diagnosis.MUTABILITY
    assert "userName can change" in found.fix and "support" in found.fix


def test_invalid_value_names_the_mapping_to_change_in_okta_and_entra() -> None:
    found = failure(400, "invalidValue", "active must be true or false.")

    assert found.kind == diagnosis.INVALID_VALUE
    assert found.attribute == "active"
    assert "Okta" in found.fix and "To App" in found.fix and "“active”" in found.fix
    assert "Entra ID" in found.fix and "Mappings" in found.fix


def test_invalid_value_without_an_attribute_still_says_where_mappings_are() -> None:
    found = failure(400, "invalidSyntax", "The request body is empty: send the resource.")

    assert found.kind == diagnosis.INVALID_VALUE and found.attribute == ""
    assert "the attribute named in the error" in found.fix


def test_credentials_rejected_says_which_and_where_to_generate_a_new_one() -> None:
    revoked = diagnose_credentials(cause="revoked", credential="API token Okta (hct_abc…)")
    expired = diagnose_credentials(cause="expired", credential="API token Entra")
    unknown = diagnose_credentials(cause="rejected")

    assert revoked.kind == expired.kind == unknown.kind == diagnosis.CREDENTIALS
    assert "“API token Okta (hct_abc…)” was revoked" in revoked.explanation
    assert "has expired" in expired.explanation
    assert "not a credential of this company" in unknown.explanation
    assert all(d.go_to == "access_rights" and "Access rights" in d.fix for d in (revoked, unknown))


def test_a_403_is_diagnosed_by_the_refusal_recorded_not_as_scim_off() -> None:
    seat = failure(403, detail="Seat limit reached: 5 of 5 seats in use.", code="seat_limit")
    seat_without_detail = failure(403, code="seat_limit")
    read_only = failure(403, detail="This token is read-only: …", code="read_only")
    off = failure(403, detail="SCIM provisioning is not active for Acme.", code="scim_off")
    suspended = failure(403, detail="Acme is suspended. Contact support.", code="suspended")
    unknown = failure(403)

    assert seat.kind == seat_without_detail.kind == diagnosis.SEAT_LIMIT
    assert "seat waitlist" in seat.fix and "raise the seat limit" in seat.fix
    assert read_only.kind == diagnosis.READ_ONLY and read_only.go_to == "access_rights"
    assert "Full access" in read_only.fix and "support" not in read_only.fix
    assert off.kind == suspended.kind == diagnosis.SCIM_OFF
    assert off.title == "SCIM switched off" and suspended.title == "Company suspended"
    assert "Only Headcount support" in off.fix and "Only Headcount support" in suspended.fix
    assert unknown.kind == diagnosis.FORBIDDEN and "SCIM switched off" not in unknown.title


def test_an_error_not_kept_is_not_referred_to_as_above() -> None:
    kept = failure(400, "", "Something else")
    not_kept = failure(400)

    assert "Check the error above" in kept.fix
    assert "error above" not in not_kept.fix and "request id" in not_kept.fix
    assert "not kept" in not_kept.explanation


def test_scim_off_rate_limit_not_found_and_server_errors() -> None:
    assert failure(403, detail="SCIM provisioning is not active …", code="scim_off").kind == (
        diagnosis.SCIM_OFF
    )
    assert failure(429).kind == diagnosis.RATE_LIMITED
    assert failure(404, "", "No such user.").kind == diagnosis.NOT_FOUND
    assert failure(500).kind == diagnosis.SERVER_ERROR
    assert failure(501, "", "Not supported").kind == diagnosis.SERVER_ERROR
    assert failure(400, "", "Something else").kind == diagnosis.OTHER
