"""The Access rights screen as a company admin uses it (server-rendered pages)."""

import base64
import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from provisioning_ui.guides import GUIDE_SLUGS
from tenants.models import Company
from tests.conftest import TEST_PASSWORD, make_portal_user
from tokens.models import Credential, CredentialEvent
from tokens.services import basic_issue, basic_regenerate, token_issue

PAGE = "/t/acme/access/"
TOKEN_RE = re.compile(r"hct_[0-9A-Za-z]{38}")


def signed_in(
    company: Company, role: str = User.Role.OWNER, email: str = "ada@acme.test"
) -> Client:
    make_portal_user(company, email=email, role=role)
    browser = Client()
    response = browser.post(
        f"/t/{company.slug}/login/", {"username": email, "password": TEST_PASSWORD}
    )
    assert response.status_code == 302
    return browser


def credentials(company: Company) -> list[Credential]:
    with schema_context(company.schema_name):
        return list(Credential.objects.all())


def test_page_shows_the_scim_base_url_and_auth_modes(acme: Company) -> None:
    page = signed_in(acme).get(PAGE).content.decode()

    assert "http://testserver/t/acme/scim/v2" in page
    assert "Bearer token" in page and "HTTP Basic" in page
    assert "not active" not in page


def test_while_scim_is_off_the_page_says_so_and_generation_is_disabled(acme: Company) -> None:
    Company.objects.filter(pk=acme.pk).update(scim_enabled=False)
    browser = signed_in(acme)

    page = browser.get(PAGE).content.decode()
    forged = browser.post("/t/acme/access/tokens/", {"name": "Okta"})
    forged_basic = browser.post("/t/acme/access/basic/", {})

    assert "SCIM provisioning is not active for Acme Inc. Contact support to activate it." in page
    assert re.search(r'<button type="submit" class="primary"\s+disabled', page)
    assert forged.status_code == 403 and forged_basic.status_code == 403
    assert "not active" in forged.content.decode()
    assert credentials(acme) == []


def test_a_suspended_company_sees_why_and_cannot_generate(acme: Company) -> None:
    Company.objects.filter(pk=acme.pk).update(status=Company.Status.SUSPENDED)
    browser = signed_in(acme)
    suspended = "Acme Inc is suspended. Contact support to restore access."

    page = browser.get(PAGE).content.decode()
    overview = browser.get("/t/acme/").content.decode()
    forged = browser.post("/t/acme/access/tokens/", {"name": "Okta"})
    forged_basic = browser.post("/t/acme/access/basic/", {})

    assert suspended in page and suspended in overview
    assert len(re.findall(r'<button type="submit" class="primary"\s+disabled', page)) == 2
    assert forged.status_code == 403 and forged_basic.status_code == 403
    assert suspended in forged.content.decode() and suspended in forged_basic.content.decode()
    assert credentials(acme) == []


def test_generated_token_is_shown_exactly_once(acme: Company) -> None:
    browser = signed_in(acme)

    response = browser.post(
        "/t/acme/access/tokens/",
        {"name": "Okta production", "note": "for the US org", "expires_in": "90"},
    )
    shown_page = browser.get(PAGE)
    reloaded = browser.get(PAGE).content.decode()

    # POST → redirect → the one-time reveal: a reload neither resubmits nor shows it again.
    assert response.status_code == 302 and response["Location"] == "/t/acme/access/#reveal"
    assert not TOKEN_RE.search(response.content.decode())
    assert "no-store" in shown_page["Cache-Control"]
    shown = TOKEN_RE.findall(shown_page.content.decode())
    assert len(set(shown)) == 1
    secret = shown[0]
    assert "won't see it again" in shown_page.content.decode()
    assert secret not in reloaded and secret[:12] in reloaded
    assert "won't see it again" not in reloaded
    assert "Okta production" in reloaded and "for the US org" in reloaded
    (stored,) = credentials(acme)
    assert stored.expires_at is not None and stored.created_by == "ada@acme.test"


def test_duplicate_name_is_refused_with_a_message(acme: Company) -> None:
    browser = signed_in(acme)
    browser.post("/t/acme/access/tokens/", {"name": "Okta"}, follow=True)

    response = browser.post("/t/acme/access/tokens/", {"name": "OKTA"})

    assert response.status_code == 400
    assert "A token named &quot;OKTA&quot; exists already" in response.content.decode()
    assert not TOKEN_RE.search(response.content.decode())
    assert len(credentials(acme)) == 1


def test_missing_name_is_refused(acme: Company) -> None:
    response = signed_in(acme).post("/t/acme/access/tokens/", {"name": ""})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_revoke_asks_for_confirmation_then_revokes(acme: Company) -> None:
    browser = signed_in(acme)
    browser.post("/t/acme/access/tokens/", {"name": "Okta"})
    (token,) = credentials(acme)

    confirm = browser.get(f"/t/acme/access/credentials/{token.pk}/revoke/")
    done = browser.post(f"/t/acme/access/credentials/{token.pk}/revoke/", follow=True)

    assert "Revoke “Okta”?" in confirm.content.decode()
    assert "revoked. It no longer works." in done.content.decode()
    (revoked,) = credentials(acme)
    assert revoked.status == "revoked" and revoked.revoked_by == "ada@acme.test"


def test_basic_credentials_generate_regenerate_revoke(acme: Company) -> None:
    browser = signed_in(acme)

    created = browser.post(
        "/t/acme/access/basic/", {"note": "Okta AIW app"}, follow=True
    ).content.decode()
    (pair,) = credentials(acme)
    regenerated = browser.post(
        f"/t/acme/access/basic/{pair.pk}/regenerate/", follow=True
    ).content.decode()
    browser.post(f"/t/acme/access/credentials/{pair.pk}/revoke/")
    after = browser.get(PAGE).content.decode()

    first_secret = re.search(r"hcb_[0-9A-Za-z]{38}", created)
    second_secret = re.search(r"hcb_[0-9A-Za-z]{38}", regenerated)
    assert first_secret and second_secret and first_secret.group() != second_secret.group()
    assert pair.username in created and pair.username in regenerated
    assert "Generate Basic credentials" in after
    assert "Secret regenerated" in after and "Revoked" in after


def test_viewer_sees_but_cannot_manage(acme: Company) -> None:
    viewer = signed_in(acme, role=User.Role.VIEWER, email="vic@acme.test")

    page = viewer.get(PAGE).content.decode()
    forged = viewer.post("/t/acme/access/tokens/", {"name": "Okta"})
    forged_basic = viewer.post("/t/acme/access/basic/", {})

    assert "/t/acme/scim/v2" in page
    assert 'id="token-form"' not in page and "read-only access" in page
    assert forged.status_code == 403 and forged_basic.status_code == 403
    assert credentials(acme) == []


def test_anonymous_visitors_are_sent_to_sign_in(acme: Company, client: Client) -> None:
    page = client.get(PAGE)
    forged = client.post("/t/acme/access/tokens/", {"name": "Okta"})

    assert page.status_code == 302 and page["Location"].startswith("/t/acme/login/")
    assert forged.status_code in (302, 403)
    assert credentials(acme) == []


def test_unknown_credential_is_404(acme: Company) -> None:
    browser = signed_in(acme)

    assert browser.get("/t/acme/access/credentials/not-a-uuid/revoke/").status_code == 404
    assert (
        browser.post(
            "/t/acme/access/credentials/00000000-0000-0000-0000-000000000000/revoke/"
        ).status_code
        == 404
    )


def test_another_companys_credential_cannot_be_revoked_from_here(
    acme: Company, outsider: Company
) -> None:
    with schema_context(outsider.schema_name):
        from tokens.services import token_issue

        theirs = token_issue(company=outsider, name="Theirs", actor="tests")
    browser = signed_in(acme)

    response = browser.post(f"/t/acme/access/credentials/{theirs.credential.pk}/revoke/")

    assert response.status_code == 404
    with schema_context(outsider.schema_name):
        assert Credential.objects.get(pk=theirs.credential.pk).revoked_at is None


def test_password_reset_by_email(acme: Company) -> None:
    make_portal_user(acme, email="ada@acme.test")
    browser = Client()

    browser.post("/t/acme/password-reset/", {"email": "ADA@acme.test"})
    (message,) = mail.outbox
    link = re.search(r"http://testserver(/t/acme/password-reset/\S+/\S+/)", message.body)
    assert link, message.body
    assert "Acme Inc" in message.subject
    form = browser.get(link.group(1), follow=True)
    set_password = browser.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link.group(1),
        {"new_password1": "Brand-New-Secret-77", "new_password2": "Brand-New-Secret-77"},
        follow=True,
    )
    signed = Client().post(
        "/t/acme/login/", {"username": "ada@acme.test", "password": "Brand-New-Secret-77"}
    )

    assert "Password changed" in set_password.content.decode()
    assert signed.status_code == 302


def test_the_reset_mail_names_the_company_as_written_and_links_to_the_public_site(
    acme: Company, settings: object
) -> None:
    settings.PUBLIC_BASE_URL = "https://headcount.example.com"  # type: ignore[attr-defined]
    acme.name = "Smith & <Sons>"
    acme.save()
    make_portal_user(acme, email="ada@acme.test")

    Client().post("/t/acme/password-reset/", {"email": "ada@acme.test"})

    (message,) = mail.outbox
    assert message.subject == "Reset your Headcount password for Smith & <Sons>"
    assert "at Smith & <Sons> on Headcount" in message.body
    assert re.search(
        r"^https://headcount\.example\.com/t/acme/password-reset/\S+/$", message.body, re.M
    )


def test_password_reset_mail_is_not_sent_for_another_companys_user(
    acme: Company, outsider: Company
) -> None:
    make_portal_user(outsider, email="olga@outsider.test")

    Client().post("/t/acme/password-reset/", {"email": "olga@outsider.test"})

    assert mail.outbox == []


@pytest.mark.parametrize("path", ["/t/acme/access/", "/t/acme/"])
def test_pages_need_sign_in(acme: Company, client: Client, path: str) -> None:
    assert client.get(path).status_code == 302


def test_portal_pages_carry_a_content_security_policy(acme: Company) -> None:
    page = signed_in(acme).get(PAGE)

    policy = page["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert "<script>" not in page.content.decode()
    assert page["X-Frame-Options"] == "DENY"


def test_a_read_only_token_is_chosen_at_generation_and_shown_in_the_list(acme: Company) -> None:
    browser = signed_in(acme)

    browser.post("/t/acme/access/tokens/", {"name": "Auditor", "scope": "read"})
    browser.post("/t/acme/access/tokens/", {"name": "Okta"})
    page = browser.get(PAGE).content.decode()

    scopes = {c.name: c.scope for c in credentials(acme)}
    assert scopes == {"Auditor": "read", "Okta": "full"}
    assert re.search(r'data-token-name="Auditor"[^>]*data-token-scope="read"', page)
    assert "Read-only" in page and 'value="read"' in page


def test_an_unknown_scope_is_refused(acme: Company) -> None:
    response = signed_in(acme).post("/t/acme/access/tokens/", {"name": "X", "scope": "admin"})

    assert response.status_code == 400
    assert credentials(acme) == []


def test_rotation_shows_the_successor_once_after_a_redirect(acme: Company) -> None:
    browser = signed_in(acme)
    browser.post("/t/acme/access/tokens/", {"name": "Okta", "scope": "read"})
    (old,) = credentials(acme)

    confirm = browser.get(f"/t/acme/access/tokens/{old.pk}/rotate/").content.decode()
    posted = browser.post(f"/t/acme/access/tokens/{old.pk}/rotate/")
    shown = browser.get(posted["Location"])
    reloaded = browser.get(PAGE).content.decode()

    assert "Rotate “Okta”?" in confirm and "7 days" in confirm
    assert posted.status_code == 302 and posted["Location"] == PAGE
    assert "no-store" in shown["Cache-Control"]
    (secret,) = set(TOKEN_RE.findall(shown.content.decode()))
    assert "won't see it again" in shown.content.decode()
    assert secret not in reloaded and secret[:12] in reloaded
    assert "Confirm: the IdP uses the new token" in reloaded
    with schema_context(acme.schema_name):
        successor = Credential.objects.get(revoked_at__isnull=True, retires_at__isnull=True)
        assert successor.scope == "read" and successor.display_prefix == secret[:12]
        assert Credential.objects.get(pk=old.pk).successor_id == successor.pk


def test_confirming_a_rotation_shows_last_use_then_revokes_the_old_token(
    acme: Company, client: Client
) -> None:
    browser = signed_in(acme)
    issued = browser.post("/t/acme/access/tokens/", {"name": "Okta"}, follow=True).content.decode()
    old_secret = TOKEN_RE.findall(issued)[0]
    client.get("/t/acme/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {old_secret}")
    (old,) = credentials(acme)
    browser.post(f"/t/acme/access/tokens/{old.pk}/rotate/")
    browser.get(PAGE)

    confirm = browser.get(f"/t/acme/access/tokens/{old.pk}/rotation/confirm/").content.decode()
    done = browser.post(f"/t/acme/access/tokens/{old.pk}/rotation/confirm/", follow=True)
    again = browser.get(f"/t/acme/access/tokens/{old.pk}/rotation/confirm/")

    assert 'id="old-last-used"' in confirm and "127.0.0.1" in confirm
    assert re.search(r'id="new-last-used">Never', confirm)
    assert "the old token no longer works" in done.content.decode()
    page = done.content.decode()
    assert "Rotation confirmed: old token revoked" in page and "Rotated: successor issued" in page
    assert again.status_code == 404
    reply = client.get("/t/acme/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {old_secret}")
    assert reply.status_code == 401


def test_a_viewer_cannot_rotate_or_confirm(acme: Company) -> None:
    with schema_context(acme.schema_name):
        from tokens.services import token_issue, token_rotate

        old = token_issue(company=acme, name="Okta", actor="tests")
        token_rotate(company=acme, credential_id=str(old.credential.pk), actor="tests")
    viewer = signed_in(acme, role=User.Role.VIEWER, email="vic@acme.test")

    rotate = viewer.post(f"/t/acme/access/tokens/{old.credential.pk}/rotate/")
    confirm = viewer.post(f"/t/acme/access/tokens/{old.credential.pk}/rotation/confirm/")

    assert rotate.status_code == 403 and confirm.status_code == 403
    with schema_context(acme.schema_name):
        assert Credential.objects.filter(revoked_at__isnull=True).count() == 2


def test_the_list_says_when_a_token_expires_soon(acme: Company) -> None:
    browser = signed_in(acme)
    browser.post("/t/acme/access/tokens/", {"name": "Okta", "expires_in": "30"})
    with schema_context(acme.schema_name):
        Credential.objects.update(expires_at=timezone.now() + dt.timedelta(days=3, hours=2))

    page = browser.get(PAGE).content.decode()

    assert "expires in 3 days" in page


def activity_rows(page: str) -> list[str]:
    """The Credential activity table's rows, oldest first, tags stripped."""
    table = re.search(r'<table id="credential-activity">(.*?)</table>', page, re.S)
    assert table
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)[::-1]
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows if "<td" in row]


def basic_used_then_regenerated(acme: Company, client: Client) -> tuple[str, str]:
    """Basic credentials generated, used once, then regenerated: their prefixes, old and new."""
    with schema_context(acme.schema_name):
        issued = basic_issue(company=acme, actor="ada@acme.test")
    pair = base64.b64encode(f"{issued.credential.username}:{issued.secret}".encode()).decode()
    assert (
        client.get("/t/acme/scim/v2/Users", HTTP_AUTHORIZATION=f"Basic {pair}").status_code == 200
    )
    with schema_context(acme.schema_name):
        again = basic_regenerate(
            company=acme, credential_id=str(issued.credential.pk), actor="ada@acme.test"
        )
    return issued.credential.display_prefix, again.credential.display_prefix


def test_credential_activity_keeps_the_prefix_each_event_had(acme: Company, client: Client) -> None:
    old, new = basic_used_then_regenerated(acme, client)

    rows = activity_rows(signed_in(acme).get(PAGE).content.decode())

    created, first_used, regenerated = rows
    assert "Created" in created and f"{old}…" in created and new not in created
    assert "Used for the first time" in first_used and f"{old}…" in first_used
    assert new not in first_used
    assert "Secret regenerated" in regenerated and f"{new}…" in regenerated


def test_an_event_recorded_without_its_prefix_does_not_borrow_the_current_one(
    acme: Company,
) -> None:
    with schema_context(acme.schema_name):
        issued = basic_issue(company=acme, actor="ada@acme.test")
        CredentialEvent.objects.update(display_prefix="")  # as rows written before it was kept

    (created,) = activity_rows(signed_in(acme).get(PAGE).content.decode())

    assert issued.credential.display_prefix not in created
    assert "an earlier secret, its prefix not recorded" in created


def test_basic_credentials_are_named_once(acme: Company, client: Client) -> None:
    basic_used_then_regenerated(acme, client)
    browser = signed_in(acme)

    activity = browser.get(PAGE).content.decode()
    overview = browser.get("/t/acme/").content.decode()

    assert "Basic credentials Basic credentials" not in activity
    first_used = next(row for row in activity_rows(activity) if "first time" in row)
    assert first_used.count("Basic credentials") == 2  # the credential column, and who
    table = re.search(r'<table id="connection-credentials"[^>]*>(.*?)</table>', overview, re.S)
    assert table and "Basic credentials (hcb_" in table.group(1)
    assert "Basic credentials Basic credentials" not in overview


def test_while_suspended_rotate_and_regenerate_are_disabled_and_revoke_is_not(
    acme: Company,
) -> None:
    with schema_context(acme.schema_name):
        token = token_issue(company=acme, name="Okta", actor="tests").credential
        basic = basic_issue(company=acme, actor="tests").credential
    Company.objects.filter(pk=acme.pk).update(status=Company.Status.SUSPENDED)
    browser = signed_in(acme)

    page = browser.get(PAGE).content.decode()
    rotate = browser.get(f"/t/acme/access/tokens/{token.pk}/rotate/").content.decode()
    regenerate = browser.get(f"/t/acme/access/basic/{basic.pk}/regenerate/").content.decode()
    guide = browser.get("/t/acme/setup/okta/").content.decode()
    revoked = browser.post(f"/t/acme/access/credentials/{token.pk}/revoke/")

    assert f"/access/basic/{basic.pk}/regenerate/" not in guide
    assert "regenerating it is unavailable: Acme Inc is suspended." in guide
    assert f"/access/tokens/{token.pk}/rotate/" not in page
    assert f"/access/basic/{basic.pk}/regenerate/" not in page
    assert "Rotating is unavailable: Acme Inc is suspended." in page
    assert "Regenerating the secret is unavailable: Acme Inc is suspended." in page
    assert f"/access/credentials/{token.pk}/revoke/" in page
    assert f"/access/credentials/{basic.pk}/revoke/" in page
    assert re.search(r'<button type="submit" class="primary" disabled[^>]*>Rotate</button>', rotate)
    assert "Acme Inc is suspended" in rotate
    assert re.search(
        r'<button type="submit" class="primary" disabled[^>]*>Regenerate secret</button>',
        regenerate,
    )
    assert revoked.status_code == 302
    assert {c.pk: c.status for c in credentials(acme)}[token.pk] == "revoked"


def test_while_active_rotate_and_regenerate_are_offered(acme: Company) -> None:
    with schema_context(acme.schema_name):
        token = token_issue(company=acme, name="Okta", actor="tests").credential
        basic = basic_issue(company=acme, actor="tests").credential
    browser = signed_in(acme)

    page = browser.get(PAGE).content.decode()
    rotate = browser.get(f"/t/acme/access/tokens/{token.pk}/rotate/").content.decode()

    assert f'href="/t/acme/access/tokens/{token.pk}/rotate/"' in page
    assert f'href="/t/acme/access/basic/{basic.pk}/regenerate/"' in page
    assert "unavailable" not in page
    assert '<button type="submit" class="primary">Rotate</button>' in rotate


class _Ids(HTMLParser):
    """Every id on a page, and every id a label, ARIA attribute or fragment refers to."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.references: list[tuple[str, str]] = []
        self.labelled: dict[str, str] = {}  # a label's `for` → the tag it names

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if "id" in found:
            self.ids.append(found["id"])
            self.labelled[found["id"]] = tag
        if tag == "label" and "for" in found:
            self.references.append(("for", found["for"]))
        for name in ("aria-describedby", "aria-labelledby", "aria-controls"):
            for target in found.get(name, "").split():
                self.references.append((name, target))


def ids_of(page: str) -> _Ids:
    parsed = _Ids()
    parsed.feed(page)
    return parsed


def assert_ids_sound(page: str) -> None:
    parsed = ids_of(page)
    duplicates = sorted({i for i in parsed.ids if parsed.ids.count(i) > 1})
    dangling = [(name, target) for name, target in parsed.references if target not in parsed.ids]
    assert duplicates == [], duplicates
    assert dangling == [], dangling


def test_access_rights_ids_are_unique_and_every_reference_exists(acme: Company) -> None:
    with schema_context(acme.schema_name):
        token_issue(company=acme, name="Okta", actor="tests", note="US org")
    browser = signed_in(acme)

    both_forms = browser.get(PAGE).content.decode()
    refused = browser.post("/t/acme/access/tokens/", {"name": "Okta"}).content.decode()
    revealed = browser.post("/t/acme/access/basic/", {"note": "AIW"}, follow=True)
    Company.objects.filter(pk=acme.pk).update(status=Company.Status.SUSPENDED)
    suspended = browser.get(PAGE).content.decode()
    guides = [browser.get(f"/t/acme/setup/{slug}/").content.decode() for slug in GUIDE_SLUGS]

    for page in [both_forms, refused, revealed.content.decode(), suspended, *guides]:
        assert_ids_sound(page)
    basic_form = re.search(r'<form[^>]*id="basic-form".*?</form>', both_forms, re.S)
    assert basic_form
    note_label = re.search(r'<label for="([^"]+)">Note', basic_form.group())
    assert note_label and '<textarea name="note"' in basic_form.group()
    assert f'id="{note_label.group(1)}"' in basic_form.group()  # the Basic note, not the token's
    assert 'aria-describedby="token_note_helptext"' in both_forms
    assert 'id="token_note_helptext"' in both_forms
