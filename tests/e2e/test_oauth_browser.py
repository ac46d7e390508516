"""A real headless Chromium (Debian's ``chromium``, driven by Playwright) signs in with the real OpenID provider
through ``examples/oauth_app.py`` under uvicorn: click "Sign in", log in on the provider's own page, consent, land
back signed in with the ``__Host-`` session cookie, open the protected page, sign out, be refused.

The app is served over plain http on 127.0.0.1: Chromium treats loopback as a potentially trustworthy origin and
keeps ``Secure`` (so ``__Host-``) cookies set from it, so the test runs with the production cookie, not the
development ``AUTHHOOKS_SESSION_INSECURE_COOKIE``. Chromium is never downloaded: ``scripts/check`` installs the
Debian package; without it the test is skipped (a failure under ``CI=true``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ._oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider, generate_key
from ._servers import free_port, serve_oauth_app, stop_process

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip without Debian's Chromium or Playwright for Python (fail under ``CI=true``)."""
    missing = None
    if shutil.which("chromium") is None or not Path(CHROMIUM).exists():
        missing = "chromium is not installed (scripts/check installs Debian's package)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "playwright is not installed (pip install -e .[dev])"
    if missing is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{missing}; under CI the browser test must run")
    pytest.skip(missing)


@pytest.fixture
def app_server(tmp_path: Path) -> Iterator[tuple[str, OidcProvider]]:
    """The provider and ``examples/oauth_app.py`` under uvicorn, both on 127.0.0.1."""
    require_chromium()
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    keys = [generate_key("rsa", kid="rsa-1", alg="RS256")]
    idp = OidcProvider(tmp_path, keys, redirect_uri=f"{app_url}/auth/oauth/idp/callback")
    idp.start()
    providers = tmp_path / "providers.toml"
    secret = tmp_path / "client-secret"
    secret.write_text(CLIENT_SECRET)
    providers.write_text(
        f'[provider.idp]\nissuer = "{idp.issuer}"\nclient_id = "{CLIENT_ID}"\nclient_secret_file = "{secret}"\n'
    )
    settings = {
        "AUTHHOOKS_SESSIONS": "true",
        "AUTHHOOKS_OAUTH_PROVIDERS_FILE": str(providers),
        "AUTHHOOKS_STATE_DIR": str(tmp_path / "state"),
        "AUTHHOOKS_STORE_URL": "memory://",
        "AUTHHOOKS_TELEMETRY": "false",
    }
    try:
        proc = serve_oauth_app(port, settings, tmp_path / "app.log")
        try:
            yield app_url, idp
        finally:
            stop_process(proc)
    finally:
        idp.stop()


def test_sign_in_with_a_real_browser(app_server: tuple[str, OidcProvider]) -> None:
    from playwright.sync_api import sync_playwright

    app_url, _ = app_server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            context = browser.new_context()
            page = context.new_page()
            page.goto(app_url)
            page.get_by_text("Sign in with idp").click()
            # the provider's own login page (devInteractions: any login name and password), then consent
            page.locator("input[name=login]").fill("alice")
            page.locator("input[name=password]").fill("wonderland")
            page.get_by_role("button", name="Sign-in").click()
            page.get_by_role("button", name="Continue").click()  # the consent page (waited for by its button)
            page.wait_for_url(f"{app_url}/account")
            assert page.locator("#subject").inner_text() == "idp:alice"
            cookies = {c["name"]: c for c in context.cookies(app_url)}
            session = cookies["__Host-authhooks_session"]
            assert session["secure"] and session["httpOnly"] and session["sameSite"] == "Lax" and session["path"] == "/"
            again = page.goto(f"{app_url}/account")  # the protected page, with the session cookie only
            assert again is not None and again.status == 200
            with page.expect_response(f"{app_url}/auth/logout") as logged_out:
                page.get_by_text("Sign out").click()
            assert logged_out.value.status == 204
            # Chromium shows no page for an empty 401 (the bare challenge): ask with the page's own fetch
            assert page.evaluate("fetch('/account').then(r => r.status)") == 401
            assert "__Host-authhooks_session" not in {c["name"] for c in context.cookies(app_url)}
        finally:
            browser.close()
