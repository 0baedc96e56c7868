"""Single sign-on in Debian's headless Chromium: a real service configured for a real OpenID Connect provider
process (oidc-provider-mock), both on loopback. The page's "Sign in with SSO" leads to the provider's page, whose
form chooses the subject; back at NewRemora the user exists with the role its groups map to. An identity that
maps to no role reads why on the page. A bearer JWT of the same provider works against the real service too."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, Page, expect

from tests.harness.cli import newremora
from tests.harness.oidc_provider import OidcProvider
from tests.harness.service import Service

pytestmark = pytest.mark.slow

PAGE_MS = 15_000
CLIENT_ID = "newremora-e2e"
CLIENT_SECRET = "e2e-oidc-client-secret"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    started = OidcProvider(tmp_path_factory.mktemp("oidc-e2e")).start()
    started.set_user("dana-sub", {"preferred_username": "dana", "name": "Dana D", "groups": ["web-team"]})
    started.set_user("root-sub", {"preferred_username": "root", "groups": ["ops-admins"]})
    started.set_user("eve-sub", {"preferred_username": "eve", "groups": ["sales"]})
    yield started
    started.stop()


@pytest.fixture(scope="module")
def service(provider: OidcProvider, tmp_path_factory: pytest.TempPathFactory, control_root: Path) -> Iterator[Service]:
    workdir = tmp_path_factory.mktemp("oidc-service")
    env = {
        "NEWREMORA_DATA_DIR": str(workdir / "var"),
        "NEWREMORA_SECRET_KEY": Fernet.generate_key().decode(),
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_RATE_LIMIT": "0",
        "NEWREMORA_OIDC_ISSUER": provider.issuer,
        "NEWREMORA_OIDC_CLIENT_ID": CLIENT_ID,
        "NEWREMORA_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "NEWREMORA_OIDC_ROLE_MAP": "ops-admins=admin;web-team=operator:groups=web",
    }
    started = Service.start(workdir, env)
    yield started
    started.stop()


def _sign_in_with_sso(page: Page, service: Service, provider: OidcProvider, sub: str) -> None:
    page.goto(f"{service.base_url}/")
    # OIDC on: the API is not open, the page asks for credentials and offers single sign-on.
    sso = page.locator(".sso-signin:visible a")
    expect(sso).to_be_visible(timeout=PAGE_MS)
    sso.click()
    page.wait_for_url(f"{provider.issuer}/oauth2/authorize**", timeout=PAGE_MS)
    page.locator("input[name=sub]").fill(sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{service.base_url}/**", timeout=PAGE_MS)


def test_sso_sign_in_from_the_page_makes_the_user_with_its_mapped_role(
    browser: Browser, provider: OidcProvider, service: Service
) -> None:
    token = provider.id_token("root-sub", CLIENT_ID)  # a JWT of the provider: the API's bearer credential
    with httpx.Client(base_url=f"{service.base_url}/api/v1", headers={"Authorization": f"Bearer {token}"}) as admin:
        _scenario(browser, provider, service, admin)


def _scenario(browser: Browser, provider: OidcProvider, service: Service, admin: httpx.Client) -> None:
    assert httpx.get(f"{service.base_url}/api/v1/me").status_code == 401

    context = browser.new_context()
    try:
        page = context.new_page()
        _sign_in_with_sso(page, service, provider, "dana-sub")
        assert page.url.startswith(f"{service.base_url}/")
        assert "/auth/oidc/callback" not in page.url  # the callback redirected to the page

        # Signed in: the page's session names the user, with the role its groups map to.
        me = page.evaluate("fetch('/api/v1/me').then((response) => response.json())")["data"]
        assert (me["kind"], me["name"], me["role"]) == ("user", "dana", "operator")
        expect(page.locator("#signin-dialog")).not_to_be_visible()
        expect(page.locator("#key-dialog")).not_to_be_visible()
        users = {user["username"]: user for user in admin.get("/users").json()["data"]["users"]}
        assert users["dana"]["role"] == "operator"
        assert users["dana"]["display_name"] == "Dana D"

        refused = context.new_page()
        _sign_in_with_sso_refused(refused, service, "eve-sub")
        expect(refused.locator("#signin-message")).to_contain_text("maps to no NewRemora role", timeout=PAGE_MS)
        assert "eve" not in {user["username"] for user in admin.get("/users").json()["data"]["users"]}
    finally:
        context.close()
    audit = admin.get("/audit", params={"action": "auth.signin_failed"}).json()["data"]["events"]
    assert [(row["actor"], row["summary"]["reason"]) for row in audit] == [("oidc:eve-sub", "no_role")]
    assert CLIENT_SECRET not in service.log()


def _sign_in_with_sso_refused(page: Page, service: Service, sub: str) -> None:
    page.goto(f"{service.base_url}/auth/oidc/login")
    page.locator("input[name=sub]").fill(sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{service.base_url}/auth/oidc/callback*", timeout=PAGE_MS)


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"NEWREMORA_OIDC_ROLE_MAP": "ops=root"}, "NEWREMORA_OIDC_ROLE_MAP: entry 'ops=root': not a role"),
        ({"NEWREMORA_OIDC_ROLE_MAP": "ops=admin:teams=x"}, "expected a limit groups=a,b or servers=x,y"),
        ({"NEWREMORA_OIDC_CLIENT_ID": "nr"}, "NEWREMORA_OIDC_ROLE_MAP is required"),
    ],
)
def test_a_bad_single_sign_on_configuration_stops_the_start(
    tmp_path: Path, settings: dict[str, str], says: str
) -> None:
    env = {
        "NEWREMORA_DATA_DIR": str(tmp_path / "var"),
        "NEWREMORA_SECRET_KEY": Fernet.generate_key().decode(),
        "NEWREMORA_PORT": "0",
        "NEWREMORA_OIDC_ISSUER": "http://127.0.0.1:9",
        **settings,
    }
    done = newremora("serve", env=env, timeout=60)
    assert done.returncode != 0
    assert says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "var" / "newremora.db").exists()  # refused before the database was made or migrated
