"""The first hour (issue 14 items 5 and 6), as an operator or a newcomer meets it: every refused request leaves a
span, an ``authorize`` span names the scopes it needed, reasons are snake_case, ``zipkin`` is accepted or named,
the demo honours ``OTEL_*`` and finds a free port, and a challenge for a subject that is not a key of its scheme is
refused at once."""

from __future__ import annotations

import base64
import importlib.machinery
import re
import socket
import sys
import types
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from authhooks import AuthHooks, Secret
from authhooks.errors import ConfigurationError, InvalidRequest
from authhooks.exporters.memory import InMemoryTelemetry
from authhooks.middleware import AuthHooksMiddleware

SECRET = Secret(b"first-hour-telemetry-secret-0123456789abcdef")


@pytest.fixture
def telemetry() -> Iterator[InMemoryTelemetry]:
    with InMemoryTelemetry() as recorded:
        yield recorded


@pytest.fixture
async def auth(tmp_path: Path, telemetry: InMemoryTelemetry) -> AsyncIterator[AuthHooks]:
    engine = AuthHooks(secret=SECRET, store_url="memory://", state_dir=tmp_path)
    engine.add_observer(telemetry.observer())
    yield engine
    await engine.aclose()


def _client(auth: AuthHooks) -> httpx.AsyncClient:
    async def ok(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = AuthHooksMiddleware(
        Starlette(routes=[Route("/private", ok), Route("/admin", ok)]),
        auth=auth,
        protect=["/private", "/admin"],
        required_scopes={"/admin": ["admin", "write"]},
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def _attributes(telemetry: InMemoryTelemetry, flow: str) -> dict[str, Any]:
    (span,) = telemetry.flow_spans(flow)
    return dict(span.attributes or {})


# -- item 5: a span for every refused request --------------------------------------------------------------------


async def test_a_401_for_a_missing_token_leaves_a_validate_token_span(
    auth: AuthHooks, telemetry: InMemoryTelemetry
) -> None:
    async with _client(auth) as client:
        response = await client.get("/private")
    assert response.status_code == 401
    attrs = _attributes(telemetry, "validate_token")
    assert attrs["authhooks.outcome"] == "failure"
    assert attrs["authhooks.reason"] == "missing_credentials"
    assert "error.type" not in attrs  # a refusal, not a fault
    outcomes = telemetry.metric_value(
        "authhooks.flow.outcomes", {"authhooks.flow": "validate_token", "authhooks.reason": "missing_credentials"}
    )
    assert outcomes == 1


async def test_a_400_for_a_malformed_authorization_header_leaves_a_span_with_its_reason(
    auth: AuthHooks, telemetry: InMemoryTelemetry
) -> None:
    async with _client(auth) as client:
        malformed = await client.get("/private", headers={"Authorization": "Bearer=abc"})
        two = await client.get("/private", headers={"Authorization": "Bearer abc def"})
    assert (malformed.status_code, two.status_code) == (400, 400)
    reasons = [dict(s.attributes or {})["authhooks.reason"] for s in telemetry.flow_spans("validate_token")]
    assert reasons == ["malformed_header", "two_credentials"]


async def test_a_token_of_another_scheme_leaves_a_span(auth: AuthHooks, telemetry: InMemoryTelemetry) -> None:
    async with _client(auth) as client:
        response = await client.get("/private", headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"})
    assert response.status_code == 401
    assert _attributes(telemetry, "validate_token")["authhooks.reason"] == "unsupported_scheme"


async def test_a_refused_token_still_has_exactly_one_span(auth: AuthHooks, telemetry: InMemoryTelemetry) -> None:
    async with _client(auth) as client:
        response = await client.get("/private", headers={"Authorization": "Bearer not.a.token"})
    assert response.status_code == 401
    assert _attributes(telemetry, "validate_token")["authhooks.reason"] == "malformed_token"


# -- item 5: required scopes on authorize spans --------------------------------------------------------------------


async def test_the_authorize_span_names_the_required_scopes(auth: AuthHooks, telemetry: InMemoryTelemetry) -> None:
    token = (await auth.issue_token("alice", {"scope": "read"})).token
    async with _client(auth) as client:
        response = await client.get("/admin", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    attrs = _attributes(telemetry, "authorize")
    assert attrs["authhooks.authorize.required_scopes"] == ("admin", "write")
    assert attrs["authhooks.reason"] == "insufficient_scope"


async def test_the_authorize_span_shows_the_scopes_a_hook_required(
    auth: AuthHooks, telemetry: InMemoryTelemetry
) -> None:
    auth.add_hook("authorize.pre", lambda required_scopes: {"required_scopes": (*required_scopes, "audit")})
    principal = await auth.validate_token((await auth.issue_token("alice", {"scope": "admin audit"})).token)
    await auth.authorize(principal, ["admin"])
    assert _attributes(telemetry, "authorize")["authhooks.authorize.required_scopes"] == ("admin", "audit")


# -- item 5: snake_case reasons everywhere ---------------------------------------------------------------------------


def test_a_fault_reason_is_snake_case_on_the_span(auth: AuthHooks, telemetry: InMemoryTelemetry) -> None:
    from authhooks.errors import KeySetUnavailableError
    from authhooks.events import Flow
    from authhooks.flows.effects import FlowGen, flow

    @flow(Flow.VALIDATE_TOKEN)
    def unreachable_keys() -> FlowGen[None]:
        raise KeySetUnavailableError("the JWKS endpoint is down")
        yield  # a generator

    with pytest.raises(KeySetUnavailableError):
        auth.run_flow_sync(unreachable_keys())
    attrs = _attributes(telemetry, "validate_token")
    assert attrs["authhooks.reason"] == "key_set_unavailable"
    assert attrs["error.type"] == "key_set_unavailable"


# -- item 5: zipkin --------------------------------------------------------------------------------------------------


def _hide_zipkin(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name.startswith("opentelemetry.exporter.zipkin"):
            monkeypatch.delitem(sys.modules, name)
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        if name.startswith("opentelemetry.exporter.zipkin"):
            return None
        return real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_zipkin_without_its_package_is_refused_naming_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from authhooks.exporters.setup import setup

    _hide_zipkin(monkeypatch)
    with pytest.raises(ConfigurationError) as caught:
        setup(environ={"OTEL_TRACES_EXPORTER": "zipkin"})
    message = str(caught.value)
    assert "OTEL_TRACES_EXPORTER=zipkin" in message
    assert "pip install opentelemetry-exporter-zipkin-proto-http" in message


def test_zipkin_with_its_package_is_accepted_and_batched(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    from authhooks.exporters import setup as setup_module

    class ZipkinExporter(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    parent = types.ModuleType("opentelemetry.exporter.zipkin")
    parent.__path__ = []
    parent.__spec__ = importlib.machinery.ModuleSpec("opentelemetry.exporter.zipkin", None, is_package=True)
    module = types.ModuleType("opentelemetry.exporter.zipkin.json")
    module.__spec__ = importlib.machinery.ModuleSpec("opentelemetry.exporter.zipkin.json", None)
    module.ZipkinExporter = ZipkinExporter  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.zipkin", parent)
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.zipkin.json", module)
    monkeypatch.delitem(sys.modules, "opentelemetry.exporter.zipkin.proto.http", raising=False)
    monkeypatch.delitem(sys.modules, "opentelemetry.exporter.zipkin.proto", raising=False)
    proto = types.ModuleType("opentelemetry.exporter.zipkin.proto")
    proto.__path__ = []
    proto.__spec__ = importlib.machinery.ModuleSpec("opentelemetry.exporter.zipkin.proto", None, is_package=True)
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.zipkin.proto", proto)

    exporter, batched = setup_module._span_exporter("zipkin", {})
    assert isinstance(exporter, ZipkinExporter)
    assert batched


# -- item 5: the demo honours OTEL_* ---------------------------------------------------------------------------------


def test_the_demo_uses_otel_traces_exporter_when_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from authhooks.demo import app as demo_app

    asked: list[object] = []

    class Handle:
        installed = True

    def setup_telemetry(*, exporter: object = None) -> Handle:
        asked.append(exporter)
        return Handle()

    engine = AuthHooks(secret=SECRET, store_url="memory://", state_dir=tmp_path)
    monkeypatch.setattr(engine, "setup_telemetry", setup_telemetry)
    demo_app._setup_telemetry(engine)  # OTEL_TRACES_EXPORTER unset (the autouse fixture): compact lines
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    demo_app._setup_telemetry(engine)  # set: OTEL_* decide
    assert asked == ["compact", None]
    engine.close()


# -- item 6: a free port -----------------------------------------------------------------------------------------


@pytest.fixture
def port_8000_taken() -> Iterator[int]:
    """Hold 127.0.0.1:8000 when it is free (else something else holds it already); yields 8000."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 8000))
        holder.listen()
    except OSError:
        holder.close()
        holder = None  # type: ignore[assignment]
    try:
        yield 8000
    finally:
        if holder is not None:
            holder.close()


@pytest.mark.slow
def test_the_walkthrough_binds_a_free_port_when_8000_is_taken(
    port_8000_taken: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from authhooks.demo import demo_main

    monkeypatch.setenv("AUTHHOOKS_STATE_DIR", str(tmp_path))
    status = demo_main(["--walkthrough"])
    out = capsys.readouterr().out
    assert status in (0, 1), out  # it ran (whether each step answered as the walkthrough expects is not this test's)
    assert "cannot listen" not in out
    found = re.search(r"walkthrough against http://127\.0\.0\.1:(\d+)", out)
    assert found is not None, out
    assert int(found.group(1)) != port_8000_taken


def test_serving_falls_back_to_a_free_port_when_8000_is_taken(
    port_8000_taken: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from authhooks.demo import _server, demo_main

    served: list[int] = []

    def run_server(app: object, sock: socket.socket, *, log_level: str = "info") -> None:
        served.append(sock.getsockname()[1])
        sock.close()

    monkeypatch.setattr(_server, "run_server", run_server)
    monkeypatch.setenv("AUTHHOOKS_STATE_DIR", str(tmp_path))
    assert demo_main([]) == 0
    (port,) = served
    assert port != port_8000_taken
    out = capsys.readouterr().out
    assert "port 8000 is taken; using a free port" in out
    assert f"authhooks demo on http://127.0.0.1:{port}" in out


# -- item 6: subjects checked by their scheme at challenge time ------------------------------------------------


def _ed25519_subject() -> str:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_a_challenge_for_a_subject_that_is_not_a_key_of_its_scheme_is_a_400(auth: AuthHooks) -> None:
    key = _ed25519_subject()
    async with _client(auth) as client:
        wrong = await client.post("/auth/challenge", json={"subject": key, "scheme": "p256"})
        text = await client.post("/auth/challenge", json={"subject": "alice", "scheme": "ed25519"})
        right = await client.post("/auth/challenge", json={"subject": key, "scheme": "ed25519"})
        unknown = await client.post("/auth/challenge", json={"subject": key, "scheme": "rot13"})
        without = await client.post("/auth/challenge", json={"subject": "alice"})
    for refused in (wrong, text):
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_request"
        assert "subject" in refused.json()["error_description"]
    assert wrong.json()["error_description"] == "The subject is not a valid p256 identity."
    assert unknown.status_code == 400
    assert unknown.json()["error_description"] == "The signature scheme is not supported."
    assert right.status_code == 200 and right.json()["subject"] == key
    assert without.status_code == 200  # without a scheme any well-formed subject still gets a challenge


def test_the_flow_api_checks_the_subject_by_scheme(tmp_path: Path) -> None:
    with AuthHooks(secret=SECRET, store_url="memory://", state_dir=tmp_path) as engine:
        with pytest.raises(InvalidRequest) as caught:
            engine.sync.generate_challenge(_ed25519_subject(), scheme="p256")
        assert caught.value.reason == "invalid_subject"
        did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
        assert engine.sync.generate_challenge(did, scheme="ed25519").subject == did
