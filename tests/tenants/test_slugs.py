import pytest
from django.core.exceptions import ValidationError

from tenants.slugs import schema_name_for, validate_company_slug


@pytest.mark.parametrize("slug", ["acme", "acme-corp", "a", "a1", "3m", "x" * 40])
def test_valid_slugs_are_accepted(slug: str) -> None:
    validate_company_slug(slug)


@pytest.mark.parametrize(
    ("slug", "code"),
    [
        ("", "required"),
        ("Acme", "invalid"),
        ("acme_corp", "invalid"),
        ("-acme", "invalid"),
        ("acme-", "invalid"),
        ("ac--me", "invalid"),
        ("acmé", "invalid"),
        ("acme corp", "invalid"),
        ("acme/../x", "invalid"),
        ("x" * 41, "max_length"),
        ("admin", "reserved"),
        ("public", "reserved"),
        ("tenant-base", "reserved"),
        ("scim", "reserved"),
        ("pg-toast", "reserved"),
    ],
)
def test_invalid_slugs_are_refused_with_a_reason(slug: str, code: str) -> None:
    with pytest.raises(ValidationError) as raised:
        validate_company_slug(slug)

    assert raised.value.code == code
    assert raised.value.messages[0]


def test_schema_names_are_prefixed_identifiers_and_distinct() -> None:
    assert schema_name_for("acme") == "co_acme"
    assert schema_name_for("acme-corp") == "co_acme_corp"
    assert schema_name_for("a-b") != schema_name_for("ab")
