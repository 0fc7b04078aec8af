"""The admin web page in a real browser: Debian's headless Chromium driven by playwright.

Run by tests/ui/browser.rs, in file order (each test builds on the previous ones).
Environment:
  ACCESS_URL             base URL of a fresh node (required)
  ACCESS_ADMIN_PASSWORD  the bootstrap admin's password (required)
  SCREENSHOT_DIR         where the screenshots go (required)
"""
import json
import os
import subprocess

import pytest
from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
VIEWER, VIEWER_PASSWORD = "viewer", "viewer-password-1"


def env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"environment variable {name} is not set", pytrace=False)
    return value


BASE = env("ACCESS_URL").rstrip("/")
SHOTS = env("SCREENSHOT_DIR")
# What the tests hand on to each other.
STATE = {}


def shot(page, name):
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def curl_status(token, path="/access/api/v1/tokens/me"):
    """The HTTP status curl gets for a call with `token` as Bearer."""
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
         "-H", f"Authorization: Bearer {token}", BASE + path],
        capture_output=True, text=True, check=True, timeout=60)
    return int(out.stdout)


def admin_api_token():
    """A revocable token of admin's, minted through the JSON API with curl."""
    out = subprocess.run(
        ["curl", "-s", "-u", f"admin:{env('ACCESS_ADMIN_PASSWORD')}", "-d", "expires_in=0",
         BASE + "/access/api/v1/tokens"],
        capture_output=True, text=True, check=True, timeout=60)
    body = json.loads(out.stdout)
    return body["access_token"], body["token_id"]


@pytest.fixture(scope="module")
def browser():
    # Fail, never skip: a machine without Chromium must not look green.
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing (apt-get install chromium)"
    os.makedirs(SHOTS, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def admin_page(browser):
    context = browser.new_context(base_url=BASE, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def sign_in(page, user, password):
    page.goto("/ui/")
    expect(page).to_have_url(BASE + "/ui/login")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[type=submit]")


def test_sign_in_sets_strict_headers_and_cookie(admin_page):
    page = admin_page
    response = page.goto("/ui/login")
    headers = response.headers
    assert headers["content-security-policy"] == CSP
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    shot(page, "01-sign-in")
    # A wrong password gives the form again with a message, and no session.
    page.fill("#username", "admin")
    page.fill("#password", "wrong-password")
    page.click("button[type=submit]")
    expect(page.locator(".notice.error")).to_contain_text("Wrong user name or password")
    assert not [c for c in page.context.cookies() if c["name"] == "access_session"]
    sign_in(page, "admin", env("ACCESS_ADMIN_PASSWORD"))
    expect(page).to_have_url(BASE + "/ui/tokens")
    expect(page.locator("#signed-in-as")).to_have_text("admin")
    session = [c for c in page.context.cookies() if c["name"] == "access_session"]
    assert len(session) == 1, page.context.cookies()
    cookie = session[0]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"
    assert cookie["secure"] is False  # plain http here; tests/ui/http.rs checks TLS
    # The page runs no script at all, so the CSP needs none.
    assert page.locator("script").count() == 0


def test_create_token_in_the_form_use_it_then_revoke_it(admin_page):
    page = admin_page
    page.goto("/ui/tokens")
    form = page.locator("#create-token")
    form.locator("#username").fill("ci-bot")
    form.locator("input[name=api]").check()
    form.locator("#expiry").select_option("0")
    form.locator("#description").fill("made in the browser")
    shot(page, "02-tokens")
    form.locator("button[type=submit]").click()
    expect(page.locator("#new-token")).to_be_visible()
    shot(page, "03-new-token")
    token = page.locator("#new-token").inner_text().strip()
    token_id = page.locator("#new-token-id").inner_text().strip()
    assert token.startswith("eyJ"), token
    assert page.locator("dl.secret").inner_text().count("applied-permissions/user api:*") == 1
    assert curl_status(token) == 200
    STATE["admin_made_token_id"] = token_id

    # Search finds it by description; revoke it from its row.
    page.goto("/ui/tokens")
    page.fill("#q", "in the browser")
    page.click("form.search button")
    row = page.locator(f"tr[data-token-id='{token_id}']")
    expect(row).to_contain_text("ci-bot")
    row.locator("button", has_text="Revoke").click()
    expect(page.locator(".notice.ok")).to_have_text("Token revoked.")
    expect(page.locator(f"tr[data-token-id='{token_id}']")).to_have_count(0)
    assert curl_status(token) == 401


def test_bad_input_gives_a_page_with_the_reason(admin_page):
    page = admin_page
    page.goto("/ui/tokens")
    form = page.locator("#create-token")
    form.locator("#extra_scope").fill("no-such-scope:x")
    with page.expect_navigation() as nav:
        form.locator("button[type=submit]").click()
    assert nav.value.status == 400
    expect(page.locator("#error")).to_contain_text("invalid scope")
    shot(page, "04-bad-input")


def test_admin_manages_users_groups_keys_and_sees_the_cluster(admin_page):
    page = admin_page
    page.goto("/ui/groups")
    page.fill("#group-name", "readers")
    page.fill("#group-description", "people who read")
    page.click("#create-group button[type=submit]")
    expect(page.locator("tr[data-group='readers']")).to_contain_text("people who read")

    page.goto("/ui/users")
    page.fill("#new-username", VIEWER)
    page.fill("#new-password", VIEWER_PASSWORD)
    page.locator("#create-user input[name=groups][value=readers]").check()
    page.click("#create-user button[type=submit]")
    expect(page.locator(f"tr[data-user='{VIEWER}']")).to_contain_text("readers")
    shot(page, "05-users")
    # A password that is too short is refused with the reason.
    page.fill("#new-username", "shorty")
    page.fill("#new-password", "short")
    with page.expect_navigation() as nav:
        page.click("#create-user button[type=submit]")
    assert nav.value.status == 400
    expect(page.locator("#error")).to_contain_text("password must be 8 to 1024 characters")

    page.goto("/ui/groups")
    expect(page.locator("tr[data-group='readers']")).to_contain_text(VIEWER)
    shot(page, "06-groups")

    page.goto("/ui/keys")
    expect(page.locator("#keys")).to_contain_text("active")
    # The reset asks for a confirmation the browser enforces (and the server checks).
    page.locator("#reset-key button[type=submit]").click()
    expect(page.locator(".notice")).to_have_count(0)
    page.locator("#reset-key input[name=confirm]").check()
    page.locator("#reset-key button[type=submit]").click()
    expect(page.locator(".notice.ok")).to_have_text("The root key was reset.")
    expect(page.locator("#keys")).to_contain_text("retired")
    shot(page, "07-keys")

    page.goto("/ui/cluster")
    expect(page.locator("#members")).to_contain_text("leader")
    expect(page.locator("#members")).to_contain_text("yes")
    shot(page, "08-cluster")

    # Recent audit events: what this test did, filtered as the API filters.
    page.goto("/ui/audit")
    expect(page.locator("#events")).to_contain_text("token.created")
    expect(page.locator("#events")).to_contain_text("user.created")
    page.fill("#audit-kind", "token.revoked")
    page.click("#audit-filter button[type=submit]")
    kinds = page.locator("#events tbody tr").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert kinds and set(kinds) == {"token.revoked"}, kinds
    shot(page, "08b-audit")
    response = page.goto("/ui/audit?since=yesterday")
    assert response.status == 400


def test_posts_without_the_right_csrf_token_are_refused(admin_page):
    page = admin_page
    request = page.context.request
    token_id = STATE["admin_made_token_id"]
    same_origin = {"Origin": BASE}
    for form, why in [
        ({"token_id": token_id}, "carries no CSRF token"),
        ({"token_id": token_id, "csrf": "0" * 64}, "CSRF token is wrong"),
    ]:
        r = request.post("/ui/tokens/revoke", form=form, headers=same_origin, max_redirects=0)
        assert r.status == 403, r.text()
        assert why in r.text()
    # The right token from another origin is refused too.
    page.goto("/ui/tokens")
    csrf = page.locator("#create-token input[name=csrf]").get_attribute("value")
    r = request.post("/ui/groups", form={"csrf": csrf, "name": "evil"},
                     headers={"Origin": "http://evil.example"}, max_redirects=0)
    assert r.status == 403
    assert "not posted from this site" in r.text()
    page.goto("/ui/groups")
    expect(page.locator("tr[data-group='evil']")).to_have_count(0)


def test_admin_manages_oidc_providers_and_mappings(admin_page):
    page = admin_page
    page.goto("/ui/oidc")
    expect(page.locator("main")).to_contain_text("No identity providers.")
    page.fill("#provider-name", "github")
    page.fill("#provider-issuer", "https://token.actions.githubusercontent.com")
    page.locator("#provider-type").select_option("GitHub")
    page.fill("#provider-audience", "access-node")
    page.click("#add-provider button[type=submit]")
    expect(page.locator("tr[data-provider='github']")).to_contain_text("access-node")
    # A mapping with a pattern for the user and claims as JSON.
    page.fill("#mapping-name", "main")
    page.fill("#mapping-priority", "2")
    page.fill("#mapping-claims", '{"repository": "octo-org/*"}')
    page.fill("#mapping-user", "gh-{{actor}}")
    page.click("#add-mapping button[type=submit]")
    row = page.locator("tr[data-mapping='main']")
    expect(row).to_contain_text("octo-org/*")
    expect(row).to_contain_text("user gh-{{actor}}")
    shot(page, "08c-oidc")
    # Bad claims are refused with the reason.
    page.fill("#mapping-name", "broken")
    page.fill("#mapping-claims", "not json")
    page.fill("#mapping-user", "x")
    with page.expect_navigation() as nav:
        page.click("#add-mapping button[type=submit]")
    assert nav.value.status == 400
    expect(page.locator("#error")).to_contain_text("claims must be a JSON object")
    # The JSON API sees what the page made.
    out = subprocess.run(
        ["curl", "-s", "-u", f"admin:{env('ACCESS_ADMIN_PASSWORD')}",
         BASE + "/access/api/v1/oidc/github/identity_mappings"],
        capture_output=True, text=True, check=True, timeout=60)
    mappings = json.loads(out.stdout)
    assert mappings[0]["token_spec"]["username_pattern"] == "gh-{{actor}}", mappings
    page.goto("/ui/oidc")
    page.locator("tr[data-mapping='main'] button").click()
    expect(page.locator("tr[data-mapping='main']")).to_have_count(0)
    page.locator("tr[data-provider='github'] button").click()
    expect(page.locator("main")).to_contain_text("No identity providers.")


def test_a_non_admin_sees_only_their_own_and_no_admin_views(browser):
    context = browser.new_context(base_url=BASE, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, VIEWER, VIEWER_PASSWORD)
    expect(page).to_have_url(BASE + "/ui/tokens")
    expect(page.locator("nav")).not_to_contain_text("Users")
    for path in ["/ui/users", "/ui/groups", "/ui/keys", "/ui/oidc", "/ui/cluster", "/ui/audit"]:
        response = page.goto(path)
        assert response.status == 403, path
        expect(page.locator("#error")).to_contain_text("requires an admin")
    shot(page, "09-non-admin-forbidden")

    page.goto("/ui/tokens")
    assert page.locator("#create-token #username").count() == 0
    page.locator("#create-token #expiry").select_option("3600")
    page.fill("#create-token #description", "viewer's own")
    page.click("#create-token button[type=submit]")
    token = page.locator("#new-token").inner_text().strip()
    # A 1-hour token is not stored (not revocable), so ask something any caller may.
    assert curl_status(token, "/access/api/v1/permissions/check?path=repo/a&action=r") == 200
    page.goto("/ui/tokens")
    users = page.locator("#tokens tbody tr td:first-child").all_inner_texts()
    assert users and set(users) == {VIEWER}, users
    shot(page, "10-non-admin-tokens")

    # Forms that name someone else are refused by the same rules as the API.
    csrf = page.locator("#create-token input[name=csrf]").get_attribute("value")
    origin = {"Origin": BASE}
    r = context.request.post("/ui/tokens", headers=origin, max_redirects=0, form={
        "csrf": csrf, "username": "admin", "base": "user", "expiry": "3600"})
    assert r.status == 403 and "only create tokens for themselves" in r.text()
    admins, admins_id = admin_api_token()
    r = context.request.post("/ui/tokens/revoke", headers=origin, max_redirects=0,
                             form={"csrf": csrf, "token_id": admins_id})
    assert r.status == 403 and "only admins or the token's owner" in r.text()
    r = context.request.post("/ui/tokens/revoke-user", headers=origin, max_redirects=0,
                             form={"csrf": csrf, "username": "admin"})
    assert r.status == 403
    assert curl_status(admins) == 200
    r = context.request.post("/ui/groups", headers=origin, max_redirects=0,
                             form={"csrf": csrf, "name": "mine"})
    assert r.status == 403
    context.close()


def test_sign_out_ends_the_session(admin_page):
    page = admin_page
    page.goto("/ui/tokens")
    shot(page, "12-tokens-of-everyone")
    old = [c for c in page.context.cookies() if c["name"] == "access_session"][0]["value"]
    page.click("header button[type=submit]")
    expect(page).to_have_url(BASE + "/ui/login?signed_out")
    expect(page.locator(".notice.ok")).to_have_text("Signed out.")
    shot(page, "11-signed-out")
    # The old cookie no longer opens anything: the session was revoked, not just forgotten.
    r = page.context.request.get("/ui/tokens", headers={"Cookie": f"access_session={old}"},
                                 max_redirects=0)
    assert r.status == 303 and r.headers["location"] == "/ui/login"
