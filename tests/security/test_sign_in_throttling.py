"""Guessing a password at the portal (/t/<slug>/login/) or the support admin (/admin/login/)
stops after a few failures: the account is paused for that address only, with a 429 page that
says how long to wait. The owner at their own address, the same email at another company, a
successful sign-in, the cool-off and a password reset all get people back in. Guesses spread
over many addresses meet the account's ceiling, which closes only the addresses the account
was never signed in from."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.core import mail
from django.db.models import F
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from tenants.models import Company
from tests.conftest import TEST_PASSWORD, make_portal_user

ATTACKER = "203.0.113.66"
OWNER_DESK = "198.51.100.7"
GUESSES = 100
PORTAL = "/t/acme/login/"
ADMIN = "/admin/login/"
PORTAL_RESET = "/t/acme/password-reset/"
ADMIN_RESET = "/admin/password_reset/"


def sign_in(client: Client, path: str, email: str, password: str, address: str) -> object:
    form = {"username": email, "password": password}
    if path == ADMIN:
        form["next"] = "/admin/"  # the admin's form carries it
    return client.post(path, form, REMOTE_ADDR=address)


def guess(path: str, email: str, *, times: int = GUESSES, address: str = ATTACKER) -> Client:
    attacker = Client()
    for attempt in range(times):
        sign_in(attacker, path, email, f"Wrong-Guess-{attempt}", address)
    return attacker


def assert_paused(response: object, email: str) -> None:
    """Refused with 429, a page a person can read, how long to wait, and no session."""
    assert response.status_code == 429  # type: ignore[attr-defined]
    assert int(response["Retry-After"]) > 14 * 60  # type: ignore[index]
    page = response.content.decode()  # type: ignore[attr-defined]
    assert "Too many failed sign-ins" in page
    assert "Try again in 15 minutes" in page
    assert email in page
    assert "_auth_user_id" not in response.wsgi_request.session  # type: ignore[attr-defined]


@pytest.fixture
def owner(acme: Company) -> User:
    return make_portal_user(acme, email="ada@acme.test")


def test_portal_100_wrong_passwords_then_the_right_one_is_refused_with_a_wait(owner: User) -> None:
    attacker = guess(PORTAL, "ada@acme.test")

    refused = sign_in(attacker, PORTAL, "ada@acme.test", TEST_PASSWORD, ATTACKER)

    assert_paused(refused, "ada@acme.test")
    assert "Forgot your password?" in refused.content.decode()  # type: ignore[attr-defined]
    assert attacker.get("/t/acme/").status_code == 302  # still signed out


def test_admin_100_wrong_passwords_then_the_right_one_is_refused_with_a_wait(
    support_superuser: User,
) -> None:
    attacker = guess(ADMIN, "root@support.test")

    refused = sign_in(attacker, ADMIN, "root@support.test", TEST_PASSWORD, ATTACKER)

    assert_paused(refused, "root@support.test")
    # The admin's own login form, ready for when the wait is over.
    assert 'id="login-form"' in refused.content.decode()  # type: ignore[attr-defined]
    assert attacker.get("/admin/").status_code == 302


def test_the_pause_starts_at_the_limit_not_before(owner: User, settings: object) -> None:
    limit = settings.AXES_FAILURE_LIMIT  # type: ignore[attr-defined]
    attacker = guess(PORTAL, "ada@acme.test", times=limit - 1)

    last_try = sign_in(attacker, PORTAL, "ada@acme.test", "Wrong-Again", ATTACKER)
    after = sign_in(attacker, PORTAL, "ada@acme.test", TEST_PASSWORD, ATTACKER)

    assert last_try.status_code == 429  # type: ignore[attr-defined]
    assert after.status_code == 429  # type: ignore[attr-defined]
    early = guess(PORTAL, "ada@acme.test", times=limit - 1, address="192.0.2.1")
    assert sign_in(early, PORTAL, "ada@acme.test", TEST_PASSWORD, "192.0.2.1").status_code == 302  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("path", "email", "user_fixture"),
    [(PORTAL, "ada@acme.test", "owner"), (ADMIN, "root@support.test", "support_superuser")],
)
def test_the_right_password_from_the_owners_own_address_still_works(
    path: str, email: str, user_fixture: str, request: pytest.FixtureRequest
) -> None:
    request.getfixturevalue(user_fixture)
    guess(path, email)

    signed_in = sign_in(Client(), path, email, TEST_PASSWORD, OWNER_DESK)

    assert signed_in.status_code == 302  # type: ignore[attr-defined]


def test_a_forged_x_forwarded_for_does_not_escape_the_pause(owner: User) -> None:
    # TRUSTED_PROXY_COUNT is 0: the header is whatever the client wrote, so it is ignored.
    attacker = guess(PORTAL, "ada@acme.test")

    forged = attacker.post(
        PORTAL,
        {"username": "ada@acme.test", "password": TEST_PASSWORD},
        REMOTE_ADDR=ATTACKER,
        HTTP_X_FORWARDED_FOR=OWNER_DESK,
    )

    assert forged.status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_paused(
    owner: User, settings: object
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1  # type: ignore[attr-defined]
    proxy = "10.0.0.2"
    attacker = Client()
    for attempt in range(GUESSES):
        attacker.post(
            PORTAL,
            {"username": "ada@acme.test", "password": f"Wrong-{attempt}"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=ATTACKER,
        )

    through_proxy_owner = Client().post(
        PORTAL,
        {"username": "ada@acme.test", "password": TEST_PASSWORD},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR=f"{ATTACKER}, {OWNER_DESK}",
    )
    attacker_again = attacker.post(
        PORTAL,
        {"username": "ada@acme.test", "password": TEST_PASSWORD},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR=f"{OWNER_DESK}, {ATTACKER}",
    )

    # The owner behind the same proxy is not the attacker; the attacker's own prepended entry
    # is not believed.
    assert through_proxy_owner.status_code == 302
    assert attacker_again.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}


@pytest.mark.parametrize(
    ("path", "email", "user_fixture"),
    [(PORTAL, "ada@acme.test", "owner"), (ADMIN, "root@support.test", "support_superuser")],
)
def test_after_the_cool_off_the_right_password_works_again(
    path: str, email: str, user_fixture: str, request: pytest.FixtureRequest
) -> None:
    request.getfixturevalue(user_fixture)
    attacker = guess(path, email)
    # Fifteen minutes pass (the failures are recorded with their time; no sleeping).
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=15, seconds=1))

    after = sign_in(attacker, path, email, TEST_PASSWORD, ATTACKER)

    assert after.status_code == 302  # type: ignore[attr-defined]


def test_guessing_during_the_pause_does_not_extend_it(owner: User) -> None:
    attacker = guess(PORTAL, "ada@acme.test", times=5)
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=14))

    guess(PORTAL, "ada@acme.test", times=20)
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=1, seconds=1))

    assert sign_in(attacker, PORTAL, "ada@acme.test", TEST_PASSWORD, ATTACKER).status_code == 302  # type: ignore[attr-defined]


def test_a_pause_at_one_company_leaves_the_same_email_at_another_alone(
    owner: User, outsider: Company
) -> None:
    make_portal_user(outsider, email="ada@acme.test")
    attacker = guess(PORTAL, "ada@acme.test")

    elsewhere = sign_in(attacker, "/t/outsider/login/", "ada@acme.test", TEST_PASSWORD, ATTACKER)

    assert elsewhere.status_code == 302  # type: ignore[attr-defined]
    # Nor does a pause at the portal reach the support admin of the same name.
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {"acme:ada@acme.test"}


def test_a_successful_sign_in_starts_the_count_again(owner: User, settings: object) -> None:
    limit = settings.AXES_FAILURE_LIMIT  # type: ignore[attr-defined]
    person = guess(PORTAL, "ada@acme.test", times=limit - 1)
    assert sign_in(person, PORTAL, "ada@acme.test", TEST_PASSWORD, ATTACKER).status_code == 302  # type: ignore[attr-defined]
    person.post("/t/acme/logout/")

    guess(PORTAL, "ada@acme.test", times=limit - 1)

    assert sign_in(person, PORTAL, "ada@acme.test", TEST_PASSWORD, ATTACKER).status_code == 302  # type: ignore[attr-defined]


def reset_password(
    person: Client, email: str, new_password: str, address: str, *, start: str = PORTAL_RESET
) -> None:
    """ "Forgot your password?" (the portal's, or the admin's at ADMIN_RESET), from the email's
    link to the new password."""
    person.post(start, {"email": email}, REMOTE_ADDR=address)
    link = re.search(r"http://testserver(/\S+/)", mail.outbox[-1].body)
    assert link is not None
    form = person.get(link.group(1), follow=True, REMOTE_ADDR=address)
    person.post(
        form.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
        REMOTE_ADDR=address,
    )


def test_a_password_reset_ends_the_pause(owner: User) -> None:
    attacker = guess(PORTAL, "ada@acme.test", address=OWNER_DESK)  # e.g. an office NAT
    person = Client()
    new_password = "Brand-New-Passphrase-42"

    reset_password(person, "ada@acme.test", new_password, OWNER_DESK)

    assert sign_in(person, PORTAL, "ada@acme.test", new_password, OWNER_DESK).status_code == 302  # type: ignore[attr-defined]
    assert sign_in(attacker, PORTAL, "ada@acme.test", "Wrong", OWNER_DESK).status_code == 200  # type: ignore[attr-defined]


def test_support_sees_attempts_failures_and_sign_ins_in_the_admin(
    owner: User, support_superuser: User
) -> None:
    support = Client()
    with schema_context("public"):
        support.force_login(support_superuser)
    guess(PORTAL, "ada@acme.test", times=7)
    sign_in(Client(), PORTAL, "ada@acme.test", TEST_PASSWORD, OWNER_DESK)

    pages = {
        model: support.get(f"/admin/axes/{model}/")
        for model in ("accessattempt", "accessfailurelog", "accesslog")
    }

    assert {model: page.status_code for model, page in pages.items()} == dict.fromkeys(pages, 200)
    assert "acme:ada@acme.test" in pages["accessattempt"].content.decode()
    assert ATTACKER in pages["accessfailurelog"].content.decode()
    assert AccessFailureLog.objects.filter(locked_out=True).exists()
    assert AccessLog.objects.filter(ip_address=OWNER_DESK, path_info=PORTAL).exists()
    stored = "".join(AccessAttempt.objects.values_list("post_data", flat=True))
    assert "password=****" in stored and "Wrong-Guess" not in stored  # no password kept


def test_an_overlong_username_is_counted_not_a_500(owner: User, settings: object) -> None:
    limit = settings.AXES_FAILURE_LIMIT  # type: ignore[attr-defined]
    username = "a" * 250 + "@acme.test"  # with the company, longer than axes' column
    attacker = Client()

    statuses = [
        sign_in(attacker, PORTAL, username, "Wrong", ATTACKER).status_code  # type: ignore[attr-defined]
        for _ in range(limit)
    ]

    assert statuses == [200] * (limit - 1) + [429]


def test_sign_in_records_older_than_the_retention_are_purged_daily(
    owner: User, settings: object
) -> None:
    from accounts.tasks import sign_in_logs_purge_old

    settings.SIGN_IN_LOG_RETENTION_DAYS = 30  # type: ignore[attr-defined]
    with schema_context("public"):  # records committed by live-server tests (rolled back after)
        AccessLog.objects.all().delete()
        AccessFailureLog.objects.all().delete()
    guess(PORTAL, owner.email, times=2)
    sign_in(Client(), PORTAL, owner.email, TEST_PASSWORD, OWNER_DESK)
    with schema_context("public"):
        AccessLog.objects.update(attempt_time=F("attempt_time") - timedelta(days=31))
        AccessFailureLog.objects.filter(pk=AccessFailureLog.objects.first().pk).update(  # type: ignore[union-attr]
            attempt_time=F("attempt_time") - timedelta(days=31)
        )

    purged = sign_in_logs_purge_old()

    with schema_context("public"):
        assert purged == 2
        assert not AccessLog.objects.exists()
        assert AccessFailureLog.objects.count() == 1


# The account-wide ceiling: guesses spread over many addresses.
SPREAD = ["203.0.113.10", "203.0.113.11", "203.0.113.12"]
NEW_PLACE = "192.0.2.200"


@pytest.fixture
def grace(acme: Company, settings: object) -> User:
    # Three addresses' pauses (5 failures each) pass a ceiling of 12.
    settings.SIGN_IN_ACCOUNT_FAILURE_LIMIT = 12  # type: ignore[attr-defined]
    person = make_portal_user(acme, email="grace@acme.test")
    # Grace's usual desk, from before the attack.
    desk = sign_in(Client(), PORTAL, "grace@acme.test", TEST_PASSWORD, OWNER_DESK)
    assert desk.status_code == 302  # type: ignore[attr-defined]
    return person


def _spread_guesses(path: str, email: str) -> None:
    for address in SPREAD:
        guess(path, email, address=address)


def test_guesses_from_many_addresses_pause_the_account_for_new_addresses_only(
    grace: User,
) -> None:
    _spread_guesses(PORTAL, "grace@acme.test")

    new_place = sign_in(Client(), PORTAL, "grace@acme.test", TEST_PASSWORD, NEW_PLACE)
    usual_desk = sign_in(Client(), PORTAL, "grace@acme.test", TEST_PASSWORD, OWNER_DESK)

    assert new_place.status_code == 429  # type: ignore[attr-defined]
    page = new_place.content.decode()  # type: ignore[attr-defined]
    assert "from many addresses" in page and "grace@acme.test" in page
    assert "Try again in 15 minutes" in page
    assert 14 * 60 < int(new_place["Retry-After"]) <= 15 * 60  # type: ignore[index]
    assert "_auth_user_id" not in new_place.wsgi_request.session  # type: ignore[attr-defined]
    assert usual_desk.status_code == 302  # type: ignore[attr-defined]
    # Refused before the password is tried, and not counted: the pause ends on time.
    assert not AccessFailureLog.objects.filter(ip_address=NEW_PLACE).exists()


def test_below_the_ceiling_a_new_address_signs_in(grace: User, settings: object) -> None:
    settings.SIGN_IN_ACCOUNT_FAILURE_LIMIT = 16  # type: ignore[attr-defined]
    _spread_guesses(PORTAL, "grace@acme.test")  # 15 failures

    assert sign_in(Client(), PORTAL, "grace@acme.test", TEST_PASSWORD, NEW_PLACE).status_code == 302  # type: ignore[attr-defined]


def test_the_account_wide_pause_ends_when_its_failures_leave_the_window(grace: User) -> None:
    _spread_guesses(PORTAL, "grace@acme.test")
    # Four failures are only 14 minutes old: 11 left in the window, below 12.
    AccessFailureLog.objects.filter(username="acme:grace@acme.test").update(
        attempt_time=F("attempt_time") - timedelta(minutes=15, seconds=1)
    )
    AccessFailureLog.objects.filter(
        pk__in=AccessFailureLog.objects.filter(username="acme:grace@acme.test").values("pk")[:4]
    ).update(attempt_time=F("attempt_time") + timedelta(minutes=1, seconds=2))
    assert sign_in(Client(), PORTAL, "grace@acme.test", TEST_PASSWORD, NEW_PLACE).status_code == 302  # type: ignore[attr-defined]


def test_a_password_reset_from_a_new_address_lets_it_sign_in_under_the_ceiling(
    grace: User,
) -> None:
    _spread_guesses(PORTAL, "grace@acme.test")
    person = Client()
    new_password = "Brand-New-Passphrase-42"

    reset_password(person, "grace@acme.test", new_password, NEW_PLACE)

    assert sign_in(person, PORTAL, "grace@acme.test", new_password, NEW_PLACE).status_code == 302  # type: ignore[attr-defined]
    other = sign_in(Client(), PORTAL, "grace@acme.test", new_password, "192.0.2.201")
    assert other.status_code == 429  # type: ignore[attr-defined]
    assert AccessLog.objects.filter(
        username="grace@acme.test", ip_address=NEW_PLACE, path_info__contains="password-reset"
    ).exists()


def test_the_support_admin_has_the_ceiling_too(support_superuser: User, settings: object) -> None:
    settings.SIGN_IN_ACCOUNT_FAILURE_LIMIT = 12  # type: ignore[attr-defined]
    _spread_guesses(ADMIN, "root@support.test")

    refused = sign_in(Client(), ADMIN, "root@support.test", TEST_PASSWORD, NEW_PLACE)

    assert refused.status_code == 429  # type: ignore[attr-defined]
    page = refused.content.decode()  # type: ignore[attr-defined]
    assert "from many addresses" in page and 'id="login-form"' in page
    assert 'href="/admin/password_reset/"' in page and "ends the pause" in page


def test_a_support_account_under_attack_gets_in_from_a_new_address_by_a_password_reset(
    support_superuser: User, settings: object
) -> None:
    settings.SIGN_IN_ACCOUNT_FAILURE_LIMIT = 12  # type: ignore[attr-defined]
    _spread_guesses(ADMIN, "root@support.test")
    person = Client()
    new_password = "Brand-New-Passphrase-42"

    reset_password(person, "root@support.test", new_password, NEW_PLACE, start=ADMIN_RESET)

    assert sign_in(person, ADMIN, "root@support.test", new_password, NEW_PLACE).status_code == 302  # type: ignore[attr-defined]
    assert AccessLog.objects.filter(
        username="root@support.test", ip_address=NEW_PLACE, path_info__startswith="/admin/reset/"
    ).exists()


def test_the_ceiling_is_per_account_and_can_be_switched_off(
    grace: User, outsider: Company, settings: object
) -> None:
    make_portal_user(outsider, email="grace@acme.test")
    _spread_guesses(PORTAL, "grace@acme.test")

    elsewhere = sign_in(Client(), "/t/outsider/login/", "grace@acme.test", TEST_PASSWORD, NEW_PLACE)
    settings.SIGN_IN_ACCOUNT_FAILURE_LIMIT = 0  # type: ignore[attr-defined]
    switched_off = sign_in(Client(), PORTAL, "grace@acme.test", TEST_PASSWORD, NEW_PLACE)

    assert elsewhere.status_code == 302  # type: ignore[attr-defined]
    assert switched_off.status_code == 302  # type: ignore[attr-defined]
