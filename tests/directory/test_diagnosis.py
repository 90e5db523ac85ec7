"""One plain explanation and fix per error class (directory/diagnosis.py)."""

from directory import diagnosis
from directory.diagnosis import diagnose_credentials, diagnose_failure


def failure(status: int, scim_type: str = "", detail: str = "", resource_type: str = "User"):
    return diagnose_failure(
        status=status, scim_type=scim_type, detail=detail, resource_type=resource_type
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


def test_scim_off_rate_limit_not_found_and_server_errors() -> None:
    assert failure(403, detail="SCIM provisioning is not active …").kind == diagnosis.SCIM_OFF
    assert failure(429).kind == diagnosis.RATE_LIMITED
    assert failure(404, "", "No such user.").kind == diagnosis.NOT_FOUND
    assert failure(500).kind == diagnosis.SERVER_ERROR
    assert failure(501, "", "Not supported").kind == diagnosis.SERVER_ERROR
    assert failure(400, "", "Something else").kind == diagnosis.OTHER
