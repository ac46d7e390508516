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
from authhooks.demo.handlers import Receivers, example_file, load_example
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
    assert profile.json() == {"subject": me.subject, "scopes": [], "plan": "free", "demo": True, "tenant": None}
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
        # the declarative handlers of examples/handlers.toml, acting
        "handlers: 9 from ",
        "handler:tenant-claims@issue_token.pre=modify",
        "tenant=example",  # the add_claims handler's claim, read back from the token by /me
        "recv webhook /authhooks: login.post success subject=- (signature verified)",
        "log  log-failed-login: login failure (bad_signature) for - from -",
        "handler:mail-on-lockout@login.failed=queued",
        "recv mail to security@example.com: Account locked after failed logins",
        "POST /auth/login      403  a valid signature, but the subject is locked",
        "Retry-After: 1800",
        "handler:lockout@login.pre=deny(account_locked)",
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


def test_the_example_file_is_the_one_the_demo_loads() -> None:
    path = example_file()
    assert path is not None and path == Path(__file__).resolve().parents[2] / "examples" / "handlers.toml"


async def test_the_example_handlers_act_in_the_demo_app(tmp_path: Path) -> None:
    auth = install_hooks(AuthHooks(store_url="memory://", state_dir=tmp_path, service_name="authhooks-demo"))
    with Receivers() as receivers:
        assert load_example(auth, receivers) == example_file()
        assert "WEBHOOK_SECRET" not in os.environ  # the fresh secret is given to the loader, not to the process
        me, mallory = Ed25519Identity(), Ed25519Identity()
        try:
            async with client_for(auth) as client:
                issued = (await client.post("/auth/challenge", json={"subject": me.subject})).json()
                body = {"subject": me.subject, "challenge": issued["nonce"], "scheme": "ed25519"}
                login = await client.post("/auth/login", json={**body, "signature": me.sign(issued["message"])})
                token = login.json()["access_token"]
                profile = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
                assert receivers.wait(1)  # the webhook of the new login, signed with the fresh secret
                issued = (await client.post("/auth/challenge", json={"subject": mallory.subject})).json()
                body = {"subject": mallory.subject, "challenge": issued["nonce"], "scheme": "ed25519"}
                forged = mallory.sign("something else")
                failed = [
                    (await client.post("/auth/login", json={**body, "signature": forged})).status_code for _ in range(5)
                ]
                assert receivers.wait(2)  # the mail of the lock
                issued = (await client.post("/auth/challenge", json={"subject": mallory.subject})).json()
                body = {"subject": mallory.subject, "challenge": issued["nonce"], "scheme": "ed25519"}
                locked = await client.post("/auth/login", json={**body, "signature": mallory.sign(issued["message"])})
        finally:
            await auth.aclose()
        lines = receivers.drain()
    assert profile.json()["tenant"] == "example"
    assert failed == [400] * 5
    assert locked.status_code == 403 and locked.headers["retry-after"] == "1800"
    assert lines[0] == "webhook /authhooks: login.post success subject=- (signature verified)"
    assert lines[1].startswith("mail to security@example.com: Account locked after failed logins")
    assert len(lines) == 2  # one mail per lock, not one per refused attempt


def test_the_webhook_receiver_refuses_a_wrong_signature() -> None:
    from authhooks.handlers.signing import WebhookSecret, message_id

    with Receivers() as receivers:
        other = WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        body = b'{"type": "login.post", "data": {"outcome": "success"}}'
        stamp, msg = int(time.time()), message_id()
        headers = {
            "webhook-id": msg,
            "webhook-timestamp": str(stamp),
            "webhook-signature": other.sign(msg, stamp, body),
        }
        answer = httpx.post(receivers.webhook_url, content=body, headers=headers)
        assert receivers.wait(1)
        assert answer.status_code == 401
        assert receivers.drain() == ["webhook /authhooks: login.post success subject=- (signature MISMATCH)"]


def test_the_smtp_sink_receives_what_smtplib_sends() -> None:
    import smtplib
    from email.message import EmailMessage

    with Receivers() as receivers:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "a@example.com", "b@example.com", "hello"
        mail.set_content("line\n.\nafter a dot line")
        port = int(receivers.smtp_url.rsplit(":", 1)[1])
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(mail)
        assert receivers.wait(1)
        assert receivers.drain() == ["mail to b@example.com: hello"]
