"""Set up → Okta / Entra / Other: the guides with the company's own values, the credential
generated on the way (shown once, after a redirect), and the docs made from the same source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from provisioning_ui.guides import GUIDE_SLUGS, PLACEHOLDERS, guide
from provisioning_ui.guides import markdown as guide_markdown
from provisioning_ui.templatetags.portal import inline
from tenants.models import Company
from tests.provisioning_ui.test_access_rights import TOKEN_RE, credentials, signed_in

BASIC_RE = re.compile(r"hcb_[0-9A-Za-z]{38}")

# What each IdP's own screens call the fields and buttons (docs/connect-*.md, idp-flows.md).
IDP_WORDS = {
    "okta": [
        "SCIM connector base URL",
        "Unique identifier field for users",
        "Supported provisioning actions",
        "Push New Users",
        "Push Profile Updates",
        "Push Groups",
        "Authentication Mode",
        "HTTP Header",
        "Basic Auth",
        "Authenticate with Headcount",
        "Test API Credentials",
        "Create Users",
        "Update User Attributes",
        "Deactivate Users",
        "Authorize endpoint URI",
        "Access token endpoint URI",
    ],
    "entra": [
        "Provisioning Mode",
        "Automatic",
        "Tenant URL",
        "Secret Token",
        "Test Connection",
        "Matching attribute",
        "Provisioning Status",
        "Sync only assigned users and groups",
    ],
    "other": [
        "SCIM base URL",
        "Base URL",
        "Token Key",
        "SCIM Bearer Token",
        "JumpCloud",
        "OneLogin",
    ],
}


def page_text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


@pytest.mark.parametrize("slug", GUIDE_SLUGS)
def test_each_guide_shows_this_companys_url_and_the_idps_own_field_names(
    acme: Company, slug: str
) -> None:
    response = signed_in(acme).get(f"/t/acme/setup/{slug}/")
    html = response.content.decode()

    assert response.status_code == 200
    # The value to paste, in a copyable element with its Copy button.
    assert re.search(
        r'<code id="(v-[^"]+)">http://testserver/t/acme/scim/v2</code> '
        r'<button type="button" class="copy" data-copy="#\1"',
        html,
    )
    text = page_text(html)
    for words in IDP_WORDS[slug]:
        assert words in text, words
    assert "{" + "scim_base_url}" not in html
    assert 'id="token-form"' in html and 'name="guide" value="' + slug + '"' in html


def test_okta_guide_carries_this_companys_oauth_endpoints_and_policies(acme: Company) -> None:
    Company.objects.filter(pk=acme.pk).update(
        username_is_work_email=True,
        attribute_allowlist=["name", "emails"],
    )

    html = signed_in(acme).get("/t/acme/setup/okta/").content.decode()

    assert ">http://testserver/t/acme/oauth/authorize</code>" in html
    assert ">http://testserver/t/acme/oauth/token</code>" in html
    assert "userName must be the primary work email" in html
    assert "<code>name</code>, <code>emails</code>; others are ignored" in html


def test_the_overview_and_access_rights_link_every_guide(acme: Company) -> None:
    browser = signed_in(acme)

    for page in ("/t/acme/", "/t/acme/access/"):
        html = browser.get(page).content.decode()
        for slug in GUIDE_SLUGS:
            assert f'href="/t/acme/setup/{slug}/"' in html, (page, slug)


def test_a_token_generated_from_the_guide_is_shown_once_there(acme: Company) -> None:
    browser = signed_in(acme)
    form = browser.get("/t/acme/setup/entra/").content.decode()

    posted = browser.post(
        "/t/acme/access/tokens/", {"name": "Entra ID", "expires_in": "", "guide": "entra"}
    )
    shown = browser.get("/t/acme/setup/entra/")
    reloaded = browser.get("/t/acme/setup/entra/").content.decode()
    access_rights = browser.get("/t/acme/access/").content.decode()

    assert 'value="Entra ID"' in form  # the name is suggested
    assert posted.status_code == 302 and posted["Location"] == "/t/acme/setup/entra/#reveal"
    (secret,) = set(TOKEN_RE.findall(shown.content.decode()))
    assert "no-store" in shown["Cache-Control"]
    assert "won't see it again" in shown.content.decode()
    assert secret not in reloaded and "won't see it again" not in reloaded
    assert secret not in access_rights
    (stored,) = credentials(acme)
    assert stored.name == "Entra ID" and stored.kind == "token"


def test_basic_credentials_generated_from_the_okta_guide_are_shown_once(acme: Company) -> None:
    browser = signed_in(acme)

    posted = browser.post("/t/acme/access/basic/", {"note": "", "guide": "okta"})
    shown = browser.get("/t/acme/setup/okta/").content.decode()
    reloaded = browser.get("/t/acme/setup/okta/").content.decode()

    assert posted.status_code == 302 and posted["Location"] == "/t/acme/setup/okta/#reveal"
    (secret,) = set(BASIC_RE.findall(shown))
    (pair,) = credentials(acme)
    assert pair.username in shown
    assert secret not in reloaded
    # Basic credentials exist now: the guide offers to regenerate, not a second pair.
    assert 'id="basic-form"' not in reloaded and "regenerate the secret" in reloaded


def test_regenerating_basic_credentials_redirects_before_the_reveal(acme: Company) -> None:
    browser = signed_in(acme)
    browser.post("/t/acme/access/basic/", {}, follow=True)
    (pair,) = credentials(acme)

    posted = browser.post(f"/t/acme/access/basic/{pair.pk}/regenerate/")
    shown = browser.get("/t/acme/access/").content.decode()
    reloaded = browser.get("/t/acme/access/").content.decode()

    assert posted.status_code == 302 and posted["Location"] == "/t/acme/access/#reveal"
    (secret,) = set(BASIC_RE.findall(shown))
    assert secret not in reloaded
    assert len(credentials(acme)) == 1


def test_a_secret_for_a_step_this_guide_lacks_is_still_shown_once(acme: Company) -> None:
    browser = signed_in(acme)
    browser.post("/t/acme/access/basic/", {"guide": "okta"})

    shown = browser.get("/t/acme/setup/entra/").content.decode()  # no Basic step in Entra's
    reloaded = browser.get("/t/acme/setup/entra/").content.decode()

    (secret,) = set(BASIC_RE.findall(shown))
    assert secret not in reloaded


def test_regenerating_from_the_guide_shows_the_new_secret_back_in_the_guide(
    acme: Company,
) -> None:
    browser = signed_in(acme)
    browser.post("/t/acme/access/basic/", {"guide": "okta"}, follow=True)
    (pair,) = credentials(acme)
    guide_page = browser.get("/t/acme/setup/okta/").content.decode()
    link = f"/t/acme/access/basic/{pair.pk}/regenerate/?guide=okta"

    confirm = browser.get(link).content.decode()
    posted = browser.post(link.split("?")[0], {"guide": "okta"})
    shown = browser.get("/t/acme/setup/okta/").content.decode()

    assert f'href="{link}"' in guide_page
    assert '<input type="hidden" name="guide" value="okta">' in confirm
    assert posted["Location"] == "/t/acme/setup/okta/#reveal"
    assert len(set(BASIC_RE.findall(shown))) == 1


def test_a_refused_form_on_the_guide_comes_back_to_the_guide(acme: Company) -> None:
    browser = signed_in(acme)

    response = browser.post("/t/acme/access/tokens/", {"name": "", "guide": "okta"}, follow=True)

    assert response.redirect_chain == [("/t/acme/setup/okta/#credential-token", 302)]
    html = response.content.decode()
    assert "Connect Okta" in html and "This field is required." in html
    assert credentials(acme) == []


def token_name_field(html: str) -> str:
    field = re.search(r'<input type="text" name="name"[^>]*>', html)
    assert field
    value = re.search(r'value="([^"]*)"', field.group())
    return value.group(1) if value else ""


def test_a_return_visit_says_the_token_exists_and_suggests_a_free_name(acme: Company) -> None:
    browser = signed_in(acme)
    first = browser.get("/t/acme/setup/okta/").content.decode()
    browser.post("/t/acme/access/tokens/", {"name": token_name_field(first), "guide": "okta"})
    browser.get("/t/acme/setup/okta/")  # the reveal

    again = browser.get("/t/acme/setup/okta/").content.decode()
    posted = browser.post(
        "/t/acme/access/tokens/", {"name": token_name_field(again), "guide": "okta"}
    )

    assert token_name_field(first) == "Okta" and 'id="token-exists"' not in first
    assert "has a token named “Okta” already" in again
    assert token_name_field(again) == "Okta 2"
    assert posted["Location"] == "/t/acme/setup/okta/#reveal"
    assert sorted(c.name for c in credentials(acme)) == ["Okta", "Okta 2"]


def test_a_name_clash_on_the_guide_comes_back_to_the_guide_once(acme: Company) -> None:
    browser = signed_in(acme)
    browser.post("/t/acme/access/tokens/", {"name": "Okta", "guide": "okta"})
    browser.get("/t/acme/setup/okta/")  # the reveal

    clash = browser.post(
        "/t/acme/access/tokens/",
        {"name": "okta", "note": "second try", "guide": "okta"},
        follow=True,
    )
    reloaded = browser.get("/t/acme/setup/okta/").content.decode()

    html = clash.content.decode()
    assert clash.redirect_chain == [("/t/acme/setup/okta/#credential-token", 302)]
    assert "A token named &quot;okta&quot; exists already" in html
    assert token_name_field(html) == "okta" and "second try</textarea>" in html
    assert "exists already. Choose another name" not in reloaded  # shown once, not kept
    assert [c.name for c in credentials(acme)] == ["Okta"]


def test_a_forged_guide_name_falls_back_to_access_rights(acme: Company) -> None:
    browser = signed_in(acme)

    posted = browser.post("/t/acme/access/tokens/", {"name": "Okta", "guide": "//evil.example/"})

    assert posted["Location"] == "/t/acme/access/#reveal"


def test_viewers_read_the_guide_without_the_generate_forms(acme: Company) -> None:
    viewer = signed_in(acme, role=User.Role.VIEWER, email="vic@acme.test")

    html = viewer.get("/t/acme/setup/okta/").content.decode()
    forged = viewer.post("/t/acme/access/tokens/", {"name": "Okta", "guide": "okta"})

    assert "http://testserver/t/acme/scim/v2" in html
    assert 'id="token-form"' not in html and 'id="basic-form"' not in html
    assert "read-only access" in html
    assert forged.status_code == 403
    assert credentials(acme) == []


def test_while_scim_is_off_the_guide_says_so_and_cannot_generate(acme: Company) -> None:
    Company.objects.filter(pk=acme.pk).update(scim_enabled=False)
    browser = signed_in(acme)

    html = browser.get("/t/acme/setup/okta/").content.decode()
    forged = browser.post("/t/acme/access/tokens/", {"name": "Okta", "guide": "okta"})

    assert "SCIM provisioning is not active" in html
    assert re.search(r'<button type="submit" class="primary"\s+disabled', html)
    assert forged.status_code == 403 and "Connect Okta" in forged.content.decode()
    assert credentials(acme) == []


def test_unknown_guides_are_404_and_anonymous_visitors_sign_in_first(
    acme: Company, client: Client
) -> None:
    browser = signed_in(acme)

    assert browser.get("/t/acme/setup/google/").status_code == 404
    anonymous = client.get("/t/acme/setup/okta/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/t/acme/login/")


def test_another_companys_pending_secret_is_not_shown_here(
    acme: Company, outsider: Company
) -> None:
    # One person may administer two companies in one browser: each company's session is its
    # own (cookie path and schema), so a secret made for one never shows at the other.
    browser = signed_in(acme)
    make_outsider_admin = signed_in(outsider, email="ada@acme.test")
    browser.cookies.update(make_outsider_admin.cookies)

    browser.post("/t/acme/access/tokens/", {"name": "Okta", "guide": "okta"})
    theirs = browser.get("/t/outsider/setup/okta/").content.decode()
    ours = browser.get("/t/acme/setup/okta/").content.decode()

    assert not TOKEN_RE.search(theirs)
    assert TOKEN_RE.search(ours)


# --- One source of truth: the docs are generated from the guides ------------------------------


@pytest.mark.parametrize("slug", GUIDE_SLUGS)
def test_committed_docs_are_what_the_guide_renders(slug: str) -> None:
    committed = guide_markdown.docs_path(slug).read_text(encoding="utf-8")

    assert committed == guide_markdown.render_docs(slug), (
        f"docs/connect-{slug}.md differs from provisioning_ui/guides/{slug}.toml: run `make docs`"
    )


def test_render_guides_check_fails_on_a_stale_doc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "provisioning_ui.management.commands.render_guides.docs_path",
        lambda slug: tmp_path / f"connect-{slug}.md",
    )
    call_command("render_guides")
    call_command("render_guides", "--check")
    (tmp_path / "connect-entra.md").write_text("edited by hand\n", encoding="utf-8")

    with pytest.raises(CommandError, match=r"connect-entra\.md"):
        call_command("render_guides", "--check")


@pytest.mark.parametrize("slug", GUIDE_SLUGS)
def test_every_placeholder_in_a_guide_is_known(slug: str) -> None:
    source = (Path(guide_markdown.GUIDE_DIR) / f"{slug}.toml").read_text(encoding="utf-8")
    # Placeholder-shaped names that are not placeholders: path parameters in examples.
    literal = {"id"}

    used = set(re.findall(r"\{([a-z_]+)\}", source))

    assert used - PLACEHOLDERS - literal == set()
    assert guide(slug).filled(guide_markdown.EXAMPLE_VALUES).summary


def test_guide_markup_is_escaped_and_links_are_only_web_links() -> None:
    html = inline("**Save** `<b>` [ok](https://okta.com/x) [bad](javascript:alert) <i>")

    assert html == (
        "<strong>Save</strong> <code>&lt;b&gt;</code> "
        '<a href="https://okta.com/x">ok</a> bad <i>'.replace("<i>", "&lt;i&gt;")
    )


def test_every_guide_is_reachable_from_the_readme() -> None:
    readme = (Path(guide_markdown.GUIDE_DIR).parents[1] / "README.md").read_text()

    for slug in GUIDE_SLUGS:
        assert f"docs/connect-{slug}.md" in readme


def test_secrets_are_not_kept_in_the_session_after_the_reveal(acme: Company) -> None:
    from django.contrib.sessions.models import Session

    browser = signed_in(acme)
    browser.post("/t/acme/access/tokens/", {"name": "Okta", "guide": "okta"})
    with schema_context(acme.schema_name):
        # Between the form and the page that shows it: the session row holds no usable secret.
        waiting = [s.get_decoded() for s in Session.objects.all()]
    (secret,) = set(TOKEN_RE.findall(browser.get("/t/acme/setup/okta/").content.decode()))

    with schema_context(acme.schema_name):
        stored = [s.get_decoded() for s in Session.objects.all()]
    assert waiting and all(secret not in str(data) for data in waiting)
    assert stored and all(secret not in str(data) for data in stored)
