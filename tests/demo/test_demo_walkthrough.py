"""``authhooks demo``: the app's hooks, the walkthrough end to end, and the command's failure modes."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from authhooks import AuthHooks
from authhooks.demo import demo_main
from authhooks.demo.app import CHALLENGE_LIMIT, create_app, install_hooks
from authhooks.demo.serve import try_it
from authhooks.demo.walkthrough import Ed25519Identity

JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


@pytest.fixture
async def auth(tmp_path: Path) -> AsyncIterator[AuthHooks]:
    engine = install_hooks(AuthHooks(store_url="memory://", state_dir=tmp_path, service_name="authhooks-demo"))
    yield engine
    await engine.aclose()


def client_for(auth: AuthHooks) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(auth)), base_url="http://demo")


async def test_challenge_rate_limit_answers_429_with_retry_after(auth: AuthHooks) -> None:
    me = Ed25519Identity()
    async with client_for(auth) as client:
        statuses = [
            (await client.post("/auth/challenge", json={"subject": me.subject})).status_code
            for _ in range(CHALLENGE_LIMIT)
        ]
        denied = await client.post("/auth/challenge", json={"subject": me.subject})
        other = await client.post("/auth/challenge", json={"subject": Ed25519Identity().subject})
    assert statuses == [200] * CHALLENGE_LIMIT
    assert denied.status_code == 429
    assert 1 <= int(denied.headers["retry-after"]) <= 60
    assert other.status_code == 200  # the limit is per subject


async def test_login_gets_the_demo_claims_and_admin_is_403(auth: AuthHooks) -> None:
    me = Ed25519Identity()
    async with client_for(auth) as client:
        issued = (await client.post("/auth/challenge", json={"subject": me.subject})).json()
        signature = me.sign(issued["message"])
        body = {"subject": me.subject, "challenge": issued["nonce"], "signature": signature, "scheme": "ed25519"}
        token = (await client.post("/auth/login", json=body)).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        profile = await client.get("/me", headers=bearer)
        admin = await client.get("/admin", headers=bearer)
    assert profile.json() == {"subject": me.subject, "scopes": [], "plan": "free", "demo": True}
    assert admin.status_code == 403
    assert 'scope="admin"' in admin.headers["www-authenticate"]


def test_openapi_shows_the_bearer_requirements(auth: AuthHooks) -> None:
    paths = create_app(auth).openapi()["paths"]
    assert paths["/me"]["get"]["security"] == [{"AuthHooksBearer": []}]
    assert paths["/admin"]["get"]["security"] == [{"AuthHooksBearer": ["admin"]}]
    assert "security" not in paths["/public"]["get"]


@pytest.mark.slow
def test_walkthrough_runs_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTHHOOKS_STATE_DIR", str(tmp_path))
    status = demo_main(["--walkthrough", "--port", "0"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "walkthrough complete" in out
    assert "✗" not in out
    for expected in (
        "GET  /me              401",
        "POST /auth/login      400",  # a failed login is invalid_grant (RFC 6749 §5.2)
        "POST /auth/login      200",
        "GET  /admin           403",
        "POST /auth/challenge  429",
        "POST /auth/refresh    200",
        "POST /auth/logout     204",
        "POST /auth/refresh    400",
        "demo_rate_limit@challenge.pre=deny(rate_limited)",
        "demo_add_claims@login.verified=modify",
        "insufficient_scope",
        "log  login failed: reason=bad_signature",
        "log  refused a token: reason=token_revoked",
    ):
        assert expected in out, f"{expected!r} missing from:\n{out}"
    assert JWT.search(out) is None  # tokens only as fingerprints
    assert (tmp_path / "signing-key.pem").exists()  # the embedded default key, in the state dir


@pytest.mark.slow
def test_walkthrough_as_a_command(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHHOOKS_", "OTEL_"))}
    env["AUTHHOOKS_STATE_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "authhooks.demo", "--walkthrough", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "walkthrough complete" in result.stdout


def test_demo_reports_a_port_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTHHOOKS_STATE_DIR", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = demo_main(["--walkthrough", "--port", str(port)])
    assert status == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_demo_without_the_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import authhooks.demo as demo

    monkeypatch.setattr(demo, "_missing_extra", lambda: "uvicorn")
    assert demo_main([]) == 2
    assert "pip install 'authhooks[demo]'" in capsys.readouterr().err


def test_try_it_text_names_the_commands() -> None:
    text = try_it("http://127.0.0.1:8123")
    assert "curl -s http://127.0.0.1:8123/public" in text
    assert "python -m authhooks.demo.walkthrough http://127.0.0.1:8123" in text


@pytest.mark.slow
def test_serving_prints_how_to_try_it_traces_each_flow_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHHOOKS_", "OTEL_"))}
    env["AUTHHOOKS_STATE_DIR"] = str(tmp_path)
    server = subprocess.Popen(
        [sys.executable, "-m", "authhooks.demo", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = None
        for line in server.stdout:
            found = re.search(r"authhooks demo on (http://127\.0\.0\.1:\d+)", line)
            if found:
                url = found.group(1)
                break
        assert url is not None, "the banner was not printed"
        public = None
        for _ in range(200):  # the banner comes before uvicorn accepts connections
            try:
                public = httpx.get(f"{url}/public", timeout=5.0)
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        assert public is not None and public.status_code == 200
        challenge = httpx.post(f"{url}/auth/challenge", json={"subject": Ed25519Identity().subject}, timeout=5.0)
        assert challenge.status_code == 200
    finally:
        server.send_signal(signal.SIGINT)
        rest, _ = server.communicate(timeout=30)
    assert server.returncode == 0
    assert "authhooks.challenge success" in rest  # the compact telemetry line, with the hook decision
    assert "demo_rate_limit:continue" in rest
