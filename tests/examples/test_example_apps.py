"""The runnable examples: each app driven in-process through a whole login, and ``client.py`` against real uvicorn."""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from authhooks import AuthHooks
from authhooks.demo._server import ServerThread

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def load(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` under a private module name."""
    spec = importlib.util.spec_from_file_location(f"_authhooks_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@pytest.fixture
async def auth(tmp_path: Path) -> AsyncIterator[AuthHooks]:
    engine = AuthHooks(store_url="memory://", state_dir=tmp_path)
    yield engine
    await engine.aclose()


async def login(client: httpx.AsyncClient) -> dict[str, Any]:
    key = Ed25519PrivateKey.generate()
    subject = b64url(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    challenge = await client.post("/auth/challenge", json={"subject": subject})
    assert challenge.status_code == 200, challenge.text
    issued = challenge.json()
    signature = b64url(key.sign(issued["message"].encode("utf-8")))
    body = {"subject": subject, "challenge": issued["nonce"], "signature": signature, "scheme": "ed25519"}
    response = await client.post("/auth/login", json=body)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    tokens["subject"] = subject
    return tokens


@pytest.mark.parametrize("name", ["fastapi_app", "starlette_app"])
async def test_example_app_serves_a_whole_session(name: str, auth: AuthHooks) -> None:
    app = load(name).create_app(auth)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
        assert (await client.get("/public")).status_code == 200
        anonymous = await client.get("/me")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer realm=")

        tokens = await login(client)
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = await client.get("/me", headers=bearer)
        assert me.status_code == 200
        assert me.json()["subject"] == tokens["subject"]

        admin = await client.get("/admin", headers=bearer)
        assert admin.status_code == 403
        assert 'error="insufficient_scope"' in admin.headers["www-authenticate"]

        refreshed = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200
        bearer = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
        assert (await client.post("/auth/logout", headers=bearer)).status_code in (200, 204)
        revoked = await client.get("/me", headers=bearer)
        assert revoked.status_code == 401
        assert 'error="invalid_token"' in revoked.headers["www-authenticate"]


async def test_fastapi_example_adds_the_plan_claim_and_documents_bearer(auth: AuthHooks) -> None:
    app = load("fastapi_app").create_app(auth)
    schema = app.openapi()
    assert schema["paths"]["/me"]["get"]["security"] == [{"AuthHooksBearer": []}, {"OAuth2Password": []}]
    assert schema["paths"]["/admin"]["get"]["security"] == [
        {"AuthHooksBearer": ["admin"]},
        {"OAuth2Password": ["admin"]},
    ]
    assert schema["components"]["securitySchemes"]["OAuth2Password"]["flows"]["password"]["tokenUrl"] == "/auth/login"
    assert "/auth/login" in schema["paths"] and "403" in schema["paths"]["/admin"]["get"]["responses"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://example") as client:
        tokens = await login(client)
        me = await client.get("/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json()["plan"] == "free"


def run_client(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "client.py"), url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_client_against_the_starlette_example_under_uvicorn(tmp_path: Path) -> None:
    auth = AuthHooks(state_dir=tmp_path)  # the embedded defaults: generated key and SQLite store in tmp_path
    app = load("starlette_app").create_app(auth)
    with ServerThread(app) as server:
        result = run_client(server.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all steps answered as expected" in result.stdout
    assert re.search(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", result.stdout) is None  # never a whole token


def _wsgi_session(app: Any) -> None:
    """The session of :func:`test_example_app_serves_a_whole_session`, in process, against a WSGI app."""
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://example") as client:
        assert client.get("/public").status_code == 200
        assert client.get("/me").status_code == 401
        key = Ed25519PrivateKey.generate()
        subject = b64url(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
        issued = client.post("/auth/challenge", json={"subject": subject}).json()
        signature = b64url(key.sign(issued["message"].encode("utf-8")))
        body = {"subject": subject, "challenge": issued["nonce"], "signature": signature}
        tokens = client.post("/auth/login", json=body).json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert client.get("/me", headers=bearer).json()["subject"] == subject
        admin = client.get("/admin", headers=bearer)
        assert admin.status_code == 403 and 'error="insufficient_scope"' in admin.headers["www-authenticate"]
        refreshed = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).json()
        bearer = {"Authorization": f"Bearer {refreshed['access_token']}"}
        assert client.post("/auth/logout", headers=bearer).status_code == 204
        assert client.get("/me", headers=bearer).status_code == 401


def test_flask_example_serves_a_whole_session(tmp_path: Path) -> None:
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path)
    app = load("flask_app").create_app(auth)
    _wsgi_session(app)
    app.extensions["authhooks"].close()


def _serve_and_run_client(command: list[str], env_extra: dict[str, str], tmp_path: Path) -> str:
    """Start ``command`` (its ``{port}`` filled in) from the repository root, run ``client.py`` against it."""
    from tests.e2e._servers import free_port, wait_until_answering

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHHOOKS_", "OTEL_"))}
    env.update(env_extra, AUTHHOOKS_STATE_DIR=str(tmp_path))
    server = subprocess.Popen(
        [part.format(port=port) for part in command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if not wait_until_answering(server, f"http://127.0.0.1:{port}/public", 30):
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            raise AssertionError("the example server did not start")
        result = run_client(f"http://127.0.0.1:{port}")
    finally:
        server.terminate()
        server.wait(timeout=20)
        if server.stderr is not None:
            server.stderr.close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all steps answered as expected" in result.stdout
    return result.stdout


@pytest.mark.slow
def test_documented_command_serves_the_fastapi_example_and_the_client_logs_in(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "uvicorn", "examples.fastapi_app:app", "--host", "127.0.0.1", "--port", "{port}"]
    stdout = _serve_and_run_client(command, {}, tmp_path)
    assert "/me" in stdout
    assert (tmp_path / "signing-key.pem").exists()


@pytest.mark.slow
def test_documented_command_serves_the_flask_example(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "waitress", "--listen=127.0.0.1:{port}", "--call", "examples.flask_app:create_app"]
    _serve_and_run_client(command, {}, tmp_path)


@pytest.mark.slow
def test_documented_command_serves_the_django_example(tmp_path: Path) -> None:
    manage = str(EXAMPLES / "django_app" / "manage.py")
    stdout = _serve_and_run_client(
        [sys.executable, manage, "runserver", "127.0.0.1:{port}", "--noreload"], {}, tmp_path
    )
    assert "/me" in stdout and "user=" in stdout  # request.user: the Django user RemoteUserBackend made
    assert (tmp_path / "django.sqlite3").exists()


@pytest.mark.slow
def test_client_reports_an_unreachable_server() -> None:
    result = run_client("http://127.0.0.1:9")
    assert result.returncode == 1
    assert "cannot talk to" in result.stderr
