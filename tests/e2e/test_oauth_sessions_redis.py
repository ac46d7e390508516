"""Two uvicorn processes of ``examples/oauth_app.py`` share Redis: a browser signs in at one through the real
OpenID provider, its session cookie works at the other, and a logout at the first refuses it at the second at
once (nothing about a session is cached in a process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from _redis import REDIS_URL, redis_prefix

from ._oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider, generate_key
from ._servers import free_port, serve_oauth_app, stop_process


@pytest.fixture
def two_instances(tmp_path: Path) -> Iterator[tuple[str, str, OidcProvider]]:
    with redis_prefix("authhooks-test-oauth") as prefix:
        ports = free_port(), free_port()
        first = f"http://127.0.0.1:{ports[0]}"
        idp = OidcProvider(
            tmp_path, [generate_key("rsa", kid="rsa-1", alg="RS256")], redirect_uri=f"{first}/auth/oauth/idp/callback"
        )
        idp.start()
        providers = tmp_path / "providers.toml"
        providers.write_text(
            f'[provider.idp]\nissuer = "{idp.issuer}"\nclient_id = "{CLIENT_ID}"\nclient_secret = "{CLIENT_SECRET}"\n'
            f'redirect_uri = "{idp.redirect_uri}"\n'
        )
        settings = {
            "AUTHHOOKS_SESSIONS": "true",
            "AUTHHOOKS_OAUTH_PROVIDERS_FILE": str(providers),
            "AUTHHOOKS_STATE_DIR": str(tmp_path / "state"),
            "AUTHHOOKS_STORE_URL": REDIS_URL,
            "AUTHHOOKS_STORE_KEY_PREFIX": prefix,
            "AUTHHOOKS_TELEMETRY": "false",
        }
        procs = []
        try:
            for i, port in enumerate(ports):
                procs.append(serve_oauth_app(port, settings, tmp_path / f"app-{i}.log"))
            yield first, f"http://127.0.0.1:{ports[1]}", idp
        finally:
            for proc in procs:
                stop_process(proc)
            idp.stop()


def _set_cookies(response: httpx.Response) -> dict[str, str]:
    found = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        found[name] = rest.split(";", 1)[0]
    return found


def test_logout_in_one_instance_refuses_the_cookie_in_the_other(two_instances: tuple[str, str, OidcProvider]) -> None:
    first, second, idp = two_instances
    # httpx keeps no Secure cookie over plain http, so the test carries the cookies itself, as the browser does
    start = httpx.get(f"{first}/auth/oauth/idp/start?return_to=/account")
    assert start.status_code == 302
    binding = _set_cookies(start)["__Host-authhooks_oauth"]
    with httpx.Client(timeout=10.0) as browser:
        callback = idp.browse_login(browser, start.headers["location"], "alice")
    parts = urlsplit(callback)
    landed = httpx.get(f"{first}{parts.path}?{parts.query}", headers={"cookie": f"__Host-authhooks_oauth={binding}"})
    assert landed.status_code == 303 and landed.headers["location"] == "/account"
    cookies = _set_cookies(landed)
    session = f"__Host-authhooks_session={cookies['__Host-authhooks_session']}"
    assert httpx.get(f"{second}/account", headers={"cookie": session}).status_code == 200
    out = httpx.post(
        f"{first}/auth/logout", headers={"cookie": session, "x-csrf-token": cookies["__Host-authhooks_csrf"]}
    )
    assert out.status_code == 204
    assert httpx.get(f"{second}/account", headers={"cookie": session}).status_code == 401
    assert httpx.get(f"{first}/account", headers={"cookie": session}).status_code == 401
