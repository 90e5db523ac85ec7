"""Creating a company: schema, route, history and first owner, all or nothing."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from accounts.models import User
from tenants.models import Company, CompanyEvent, Domain
from tenants.services import InitialAdmin, company_create
from tests.conftest import TEST_PASSWORD


def tables_in(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def test_company_gets_its_own_migrated_schema_route_and_history(db: None) -> None:
    company = company_create(
        slug="globex", name="Globex", seat_limit=25, actor="support@vendor.test"
    )

    assert company.schema_name == "co_globex"
    assert schema_exists("co_globex")
    assert tables_in("co_globex") == tables_in("tenant_base")
    assert {"accounts_user", "django_session"} <= tables_in("co_globex")
    assert Domain.objects.get(tenant=company).domain == "globex"
    assert company.seat_limit == 25
    assert company.scim_enabled is False
    event = CompanyEvent.objects.get(company=company)
    assert event.action == CompanyEvent.Action.CREATED
    assert event.actor == "support@vendor.test"


def test_created_company_counts_as_fully_migrated(db: None) -> None:
    company_create(slug="initech", name="Initech", actor="tests")

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM co_initech.django_migrations")
        cloned = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM tenant_base.django_migrations")
        base = cursor.fetchone()[0]
    assert cloned == base > 0


def test_first_owner_lives_only_in_the_new_company(db: None) -> None:
    company_create(
        slug="umbrella",
        name="Umbrella",
        actor="tests",
        admin=InitialAdmin(email="Owner@Umbrella.test", password=TEST_PASSWORD),
    )

    with schema_context("co_umbrella"):
        owner = User.objects.get()
        assert owner.email == "owner@umbrella.test"
        assert owner.role == User.Role.OWNER
        assert owner.check_password(TEST_PASSWORD)
    with schema_context("co_acme"):
        assert not User.objects.filter(email="owner@umbrella.test").exists()
    with schema_context("public"):
        assert not User.objects.filter(email="owner@umbrella.test").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"slug": "Bad Slug", "name": "X"}, "lowercase letters"),
        ({"slug": "acme", "name": "Another Acme"}, "already exists"),
        ({"slug": "admin", "name": "X"}, "reserved"),
        ({"slug": "nameless", "name": "   "}, "name is required"),
        ({"slug": "negative", "name": "X", "seat_limit": -1}, "cannot be negative"),
    ],
)
def test_bad_input_is_refused_and_creates_nothing(db: None, kwargs: dict, message: str) -> None:
    before = Company.objects.count()

    with pytest.raises(ValidationError) as raised:
        company_create(actor="tests", **kwargs)

    assert message in " ".join(raised.value.messages)
    assert Company.objects.count() == before
    assert not schema_exists("co_bad_slug") and not schema_exists("co_nameless")


def test_a_refused_first_owner_rolls_back_the_whole_company(db: None) -> None:
    with pytest.raises(ValidationError):
        company_create(
            slug="halfway",
            name="Halfway",
            actor="tests",
            admin=InitialAdmin(email="owner@halfway.test", password="123"),
        )

    assert not Company.objects.filter(slug="halfway").exists()
    assert not Domain.objects.filter(domain="halfway").exists()
    assert not schema_exists("co_halfway")
