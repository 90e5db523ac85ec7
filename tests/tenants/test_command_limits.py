"""Input past what a column holds, given to the support commands: a message naming the
limit and nothing written, never the database's DataError (the check is in each service, so
the admin and the portal get it too)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from accounts.models import User
from events.feed.models import VendorKey
from tenants.models import Company
from tokens.models import Credential
from webhooks.models import WebhookEndpoint

TOO_MANY_SEATS = "99999999999"


def refused(*args: str) -> str:
    with pytest.raises(CommandError) as raised:
        call_command(*args, stdout=StringIO(), stderr=StringIO())
    return str(raised.value)


def test_company_seats_refuses_a_limit_past_an_integer(acme: Company) -> None:
    message = refused("company_seats", "--slug", "acme", "--limit", TOO_MANY_SEATS)

    assert "A seat limit can be at most 2,147,483,647" in message
    assert Company.objects.get(slug="acme").seat_limit == acme.seat_limit


def test_company_create_refuses_a_seat_limit_past_an_integer(db: None) -> None:
    message = refused("company_create", "--slug", "wayne", "--name", "W", "--seats", TOO_MANY_SEATS)

    assert "A seat limit can be at most 2,147,483,647" in message
    assert not Company.objects.filter(slug="wayne").exists()


def test_token_issue_refuses_a_name_past_100_characters(acme: Company) -> None:
    message = refused("token_issue", "--company", "acme", "--name", "x" * 101)

    assert message == "A token name can be at most 100 characters; this one has 101."
    assert not Credential.objects.filter(name__startswith="xxx").exists()


@pytest.mark.parametrize("basic", [False, True])
def test_token_issue_refuses_a_note_past_1000_characters(acme: Company, basic: bool) -> None:
    # A text column holds any length: without the service's check the note was stored whole.
    kind = ["--basic"] if basic else []
    message = refused(
        "token_issue", "--company", "acme", "--name", "Okta", "--note", "n" * 1001, *kind
    )

    assert message == "A note can be at most 1,000 characters; this one has 1,001."
    assert not Credential.objects.filter(note__startswith="nnn").exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--name", "x" * 201, "The full name can be at most 200 characters; this one has 201."),
        (
            "--email",
            "a" * 60 + "@" + ("b" * 60 + ".") * 4 + "test",
            "The email address can be at most 254 characters; this one has 309.",
        ),
    ],
)
def test_portal_user_add_refuses_values_past_their_columns(
    acme: Company, option: str, value: str, message: str
) -> None:
    args = {"--email": "long@acme.test", "--name": "", option: value}

    assert (
        refused("portal_user_add", "--company", "acme", *[x for kv in args.items() for x in kv])
        == message
    )
    with schema_context(acme.schema_name):
        assert not User.objects.filter(email__in=["long@acme.test", value.lower()]).exists()


def test_webhook_add_refuses_a_url_past_2000_characters(db: None) -> None:
    url = "https://hooks.example.com/" + "a" * 1975

    message = refused("webhook_add", "--url", url)

    assert message == "The URL can be at most 2000 characters; this one has 2001."
    assert not WebhookEndpoint.objects.exists()


def test_vendor_key_issue_refuses_a_name_past_100_characters_rather_than_cutting_it(
    db: None,
) -> None:
    message = refused("vendor_key_issue", "--name", "k" * 300)

    assert message == "A key name can be at most 100 characters; this one has 300."
    assert not VendorKey.objects.filter(name__startswith="kkk").exists()
