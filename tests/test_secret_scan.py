"""Secret scan: every flow runs with known secret values, through the real middleware and the plain API (async and
``_sync``); none of those values may appear in any exported span, metric, log record, audit record or console
line, and no refusal may echo the credential it refused.

Secrets: the HMAC secret, every token issued (whole, each segment, the signature segment), every refresh token,
every signature sent, the ``Authorization`` header values, the observed route's password and, with
``record_subject=False``, every subject.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import time
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authhooks import AuthError, AuthHooks, Deny, Principal
from authhooks.config import Settings
from authhooks.exporters import CompactConsoleSpanExporter, InMemoryTelemetry
from authhooks.middleware import AuthHooksMiddleware, ObservedRoute

HMAC_SECRET = "scan-hmac-secret-Zq8vR2mW7kT4yP1nB6xC3hL9fD5gJ0sA-0123456789abcdef"  # 68 bytes
PASSWORD = "pw-Kx7Qm2Vt9Rz4Lw8N"
APP_USER = "user-Hn3Jd8Sg1Pq6"
REFUSED = {400, 401, 403, 404, 429, 503}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Key:
    """An Ed25519 identity whose subject is its base64url raw public key."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.subject = b64url(self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, message: str | bytes) -> str:
        return b64url(self.key.sign(message.encode() if isinstance(message, str) else message))


class Secrets:
    """The known secret values, as they are produced."""

    def __init__(self) -> None:
        self.values: set[str] = {HMAC_SECRET, PASSWORD, APP_USER}

    def token(self, token: str) -> str:
        self.values.add(token)
        self.values.add(f"Bearer {token}")
        if token.count(".") == 2:
            self.values.update(part for part in token.split(".") if len(part) >= 8)
        return token

    def add(self, *values: str) -> None:
        self.values.update(v for v in values if v)


def tamper(token: str) -> str:
    head, payload, sig = token.split(".")
    middle = len(sig) // 2
    flipped = "A" if sig[middle] != "A" else "B"
    return f"{head}.{payload}.{sig[:middle]}{flipped}{sig[middle + 1 :]}"


def expired(token: str) -> str:
    """The same token re-signed with the real secret, expired an hour ago."""
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    now = int(time.time())
    claims.update(iat=now - 7200, nbf=now - 7200, exp=now - 3600, jti=claims["jti"] + "x")
    return jwt.encode(claims, HMAC_SECRET.encode(), algorithm=header["alg"], headers=header)


def register_hooks(auth: AuthHooks, secrets: Secrets, marked: set[str]) -> None:
    """Hooks everywhere: quoting credentials in exception messages, denying, failing closed, in the background.

    ``marked``: subjects the rate limit denies and tokens whose validation fails closed (filled in later).
    """

    def collect_issued(token: str) -> None:
        secrets.token(token)

    def collect_pair(tokens: Any) -> None:
        secrets.token(tokens.access_token)
        secrets.add(tokens.refresh_token)

    def leak(*parts: Any) -> None:
        raise RuntimeError("hook saw " + " ".join(repr(p) for p in parts) + f" secret={HMAC_SECRET}")

    # challenge
    auth.add_hook("challenge.pre", lambda subject: Deny(429, "rate_limited", {"Retry-After": "1"})
                  if subject in marked else None, name="rate_limit")  # fmt: skip
    auth.add_hook("challenge.post", lambda challenge, subject: leak(challenge, subject), name="challenge_post_leak")
    # login
    auth.add_hook("login.pre", lambda credentials, subject: leak(credentials, subject), on_error="ignore",
                  name="login_pre_leak")  # fmt: skip
    auth.add_hook("login.verified", lambda principal, claims: None, name="mfa_gate")
    auth.add_hook("login.post", collect_pair, name="collect_login")
    auth.add_hook("login.post", lambda tokens, principal: leak(tokens, principal), background=True,
                  name="login_post_bg_leak")  # fmt: skip
    auth.add_hook("login.failed", lambda error, subject: leak(error, subject), name="login_failed_leak")
    auth.add_hook("login.failed", lambda error, subject: leak(error, subject), background=True,
                  name="login_failed_bg_leak")  # fmt: skip
    # signatures
    auth.add_hook("verify_signature.pre", lambda signature, message: leak(signature, message), enforce=False,
                  name="verify_shadow_leak")  # fmt: skip
    auth.add_hook("verify_signature.post", lambda subject, valid: leak(subject, valid), name="verify_post_leak")
    # tokens
    auth.add_hook("issue_token.pre", lambda claims: {"claims": {**claims, "plan": "gold"}}, name="add_plan")
    auth.add_hook("issue_token.pre", lambda claims: leak(claims) if "boom" in claims else None, on_error="raise",
                  name="raise_policy")  # fmt: skip
    auth.add_hook("issue_token.post", collect_issued, name="collect_issued")
    auth.add_hook("issue_token.post", lambda token, claims: leak(token, claims), name="issue_post_leak")

    def fail_closed(token: str) -> None:
        if token in marked:
            leak(token)

    auth.add_hook("validate_token.pre", fail_closed, name="fail_closed")
    auth.add_hook("validate_token.pre", lambda token: leak(token), on_error="ignore", name="validate_pre_leak")
    auth.add_hook("validate_token.post", lambda principal, token: Deny(403, "account_locked")
                  if principal.claims.get("locked") else None, name="lockout")  # fmt: skip

    def slow(principal: Principal, token: str) -> None:
        if principal.claims.get("slow"):
            time.sleep(0.1)
            leak(token)

    auth.add_hook("validate_token.post", slow, timeout=0.02, name="slow_check")
    auth.add_hook("validate_token.failed", lambda error, reason: leak(error, reason), name="validate_failed_leak")
    auth.add_hook("refresh_token.pre", lambda refresh_token: leak(refresh_token), on_error="ignore",
                  name="refresh_pre_leak")  # fmt: skip
    auth.add_hook("refresh_token.post", collect_pair, name="collect_refresh")
    auth.add_hook("refresh_token.post", lambda tokens: leak(tokens), background=True, name="refresh_post_bg_leak")
    auth.add_hook("refresh_token.failed", lambda error, family: leak(error, family), name="refresh_failed_leak")
    auth.add_hook("invalidate_token.pre", lambda token, jti: leak(token, jti), on_error="ignore",
                  name="invalidate_pre_leak")  # fmt: skip
    auth.add_hook("invalidate_token.post", lambda principal: leak(principal), background=True,
                  name="invalidate_post_bg_leak")  # fmt: skip
    # reauthenticate, authorize, register
    auth.add_hook("reauthenticate.pre", lambda credentials: leak(credentials), on_error="ignore",
                  name="reauth_pre_leak")  # fmt: skip
    auth.add_hook("reauthenticate.failed", lambda error, principal: leak(error, principal), name="reauth_failed_leak")
    auth.add_hook("authorize.pre", lambda principal: leak(principal), on_error="ignore", name="authorize_pre_leak")
    auth.add_hook("authorize.failed", lambda principal, required_scopes: leak(principal, required_scopes),
                  background=True, name="authorize_failed_bg_leak")  # fmt: skip
    auth.add_hook("register.pre", lambda subject, attributes: leak(subject, attributes), on_error="ignore",
                  name="register_pre_leak")  # fmt: skip
    auth.add_hook("register.post", lambda principal: leak(principal), name="register_post_leak")
    # observed routes
    auth.add_hook("request.pre", lambda body, identifier: leak(body, identifier), on_error="ignore",
                  name="request_pre_leak")  # fmt: skip
    auth.add_hook("request.post", lambda identifier: leak(identifier), background=True, name="request_post_bg_leak")


def make_app(auth: AuthHooks) -> Starlette:
    async def me(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def app_login(request: Request) -> Response:
        form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        raw = await request.body()
        data = dict(urllib.parse.parse_qsl(raw.decode())) if form else json.loads(raw)
        ok = data.get("password") == PASSWORD
        return JSONResponse({"ok": ok}, status_code=200 if ok else 401)

    app = Starlette(
        routes=[Route("/api/me", me), Route("/api/admin", me), Route("/app-login", app_login, methods=["POST"])]
    )
    app.add_middleware(
        AuthHooksMiddleware,
        auth=auth,
        protect=["/api/**"],
        required_scopes={"/api/admin": ["admin"]},
        observe=[ObservedRoute("/app-login", "POST", flow="login", identifier_field="username")],
    )
    return app


class Responses:
    """Every response the client got, with the credentials it sent."""

    def __init__(self) -> None:
        self.seen: list[tuple[httpx.Response, tuple[str, ...]]] = []

    def add(self, response: httpx.Response, *sent: str, status: int | None = None) -> httpx.Response:
        self.seen.append((response, sent))
        if status is not None:
            assert response.status_code == status, (response.status_code, response.text)
        return response

    def check(self) -> None:
        for response, sent in self.seen:
            text = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
            assert PASSWORD not in text, f"the password is in a {response.status_code} response"
            if response.status_code in REFUSED:
                for value in sent:
                    assert value not in text, f"a refused credential is echoed by a {response.status_code} response"


async def http_flows(auth: AuthHooks, secrets: Secrets, marked: set[str], responses: Responses) -> None:
    key, denied = Key(), Key()
    marked.add(denied.subject)  # the rate_limit hook denies it
    secrets.add(key.subject, denied.subject)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(make_app(auth)), base_url="http://testserver", timeout=10
    ) as c:
        responses.add(await c.post("/auth/challenge", json={"subject": denied.subject}), status=429)
        challenge = responses.add(await c.post("/auth/challenge", json={"subject": key.subject}), status=200).json()
        bad_signature = key.sign("not the challenge")
        secrets.add(bad_signature)
        body = {"subject": key.subject, "challenge": challenge["nonce"], "signature": bad_signature}
        responses.add(await c.post("/auth/login", json=body), bad_signature, status=400)

        challenge = responses.add(await c.post("/auth/challenge", json={"subject": key.subject}), status=200).json()
        signature = secrets.token(key.sign(challenge["message"]))
        body = {"subject": key.subject, "challenge": challenge["nonce"], "signature": signature}
        pair = responses.add(await c.post("/auth/login", data=body), status=200).json()
        access, refresh = secrets.token(pair["access_token"]), pair["refresh_token"]
        secrets.add(refresh)
        responses.add(await c.post("/auth/login", json=body), signature, status=400)  # the challenge is used

        responses.add(await c.get("/api/me", headers={"authorization": f"Bearer {access}"}), status=200)
        responses.add(await c.get("/api/admin", headers={"authorization": f"Bearer {access}"}), access, status=403)
        bad = secrets.token(tamper(access))
        responses.add(await c.get("/api/me", headers={"authorization": f"Bearer {bad}"}), bad, status=401)
        old = secrets.token(expired(access))
        responses.add(await c.get("/api/me", headers={"authorization": f"Bearer {old}"}), old, status=401)
        responses.add(await c.get("/api/me", headers={"authorization": f"Basic {HMAC_SECRET}"}), HMAC_SECRET)
        responses.add(await c.get("/api/me", headers={"authorization": f"Bearer {access} x"}), access, status=400)

        faulty = (await auth.issue_token(key.subject, {"scope": "read"})).token
        marked.add(faulty)
        responses.add(await c.get("/api/me", headers={"authorization": f"Bearer {faulty}"}), faulty, status=503)
        locked = (await auth.issue_token(key.subject, {"scope": "read", "locked": True})).token
        responses.add(await c.get("/api/me", headers={"authorization": f"Bearer {locked}"}), locked, status=403)

        slow = (await auth.issue_token(key.subject, {"scope": "read", "slow": True})).token
        responses.add(await c.get("/api/me", headers={"authorization": f"Bearer {slow}"}), slow, status=503)
        garbage = f"eyJ{PASSWORD}.{HMAC_SECRET}.x"
        responses.add(await c.get("/api/me", headers={"authorization": f"Bearer {garbage}"}), garbage, status=401)

        fresh = responses.add(await c.post("/auth/refresh", json={"refresh_token": refresh}), status=200).json()
        secrets.token(fresh["access_token"])
        secrets.add(fresh["refresh_token"])
        reuse = await c.post("/auth/refresh", data={"grant_type": "refresh_token", "refresh_token": refresh})
        responses.add(reuse, refresh, status=400)
        responses.add(await c.post("/auth/refresh", json={"refresh_token": fresh["refresh_token"]}),
                      fresh["refresh_token"], status=400)  # fmt: skip  # the family was revoked by the reuse

        caller = (await auth.issue_token("resource-server-Wd4", {"scope": "introspect"})).token
        secrets.add("resource-server-Wd4")
        headers = {"authorization": f"Bearer {caller}"}
        live = (await auth.issue_token(key.subject, {"scope": "read"})).token
        intro = responses.add(await c.post("/auth/introspect", headers=headers, data={"token": live}), status=200)
        assert intro.json()["active"] is True
        intro = responses.add(await c.post("/auth/introspect", headers=headers, data={"token": bad}), bad, status=200)
        assert intro.json() == {"active": False}

        again = await c.post("/auth/challenge", json={"subject": key.subject})
        challenge = responses.add(again, status=200).json()
        signature = secrets.token(key.sign(challenge["message"]))
        body = {"subject": key.subject, "challenge": challenge["nonce"], "signature": signature}
        second = responses.add(await c.post("/auth/login", json=body), status=200).json()
        secrets.token(second["access_token"])
        secrets.add(second["refresh_token"])
        logout = await c.post("/auth/logout", headers={"authorization": f"Bearer {second['access_token']}"},
                              json={"refresh_token": second["refresh_token"]})  # fmt: skip
        responses.add(logout, status=204)
        after = await c.get("/api/me", headers={"authorization": f"Bearer {second['access_token']}"})
        responses.add(after, second["access_token"], status=401)
        responses.add(await c.post("/auth/revoke", data={"token": live, "token_type_hint": "access_token"}),
                      status=200)  # fmt: skip
        responses.add(await c.post("/auth/revoke", data={"token": fresh["refresh_token"]}), status=200)
        responses.add(await c.get("/api/me", headers={"authorization": f"Bearer {live}"}), live, status=401)

        ok = await c.post("/app-login", json={"username": APP_USER, "password": PASSWORD})
        responses.add(ok, PASSWORD, status=200)
        wrong = f"{PASSWORD}-wrong"
        secrets.add(wrong)
        refused = await c.post("/app-login", json={"username": APP_USER, "password": wrong})
        responses.add(refused, wrong, status=401)
        form = await c.post("/app-login", content=f"username={APP_USER}&password={PASSWORD}".encode(),
                            headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
        responses.add(form, PASSWORD, status=200)


async def api_flows(auth: AuthHooks, secrets: Secrets) -> None:
    key = Key()
    secrets.add(key.subject)
    challenge = await auth.generate_challenge(key.subject)
    signature = secrets.token(key.sign(challenge.message))
    pair = await auth.authenticate(key.subject, challenge.nonce, signature)
    principal = await auth.validate_token(pair.access_token)
    with pytest.raises(AuthError):
        await auth.validate_token(tamper(secrets.token(pair.access_token)))
    with pytest.raises(AuthError):
        await auth.validate_token(secrets.token(expired(pair.access_token)))
    fresh = await auth.refresh_token(str(pair.refresh_token))
    with pytest.raises(AuthError):
        await auth.refresh_token(str(pair.refresh_token))
    assert await auth.introspect(fresh.access_token) == {"active": False}  # the family was revoked
    challenge = await auth.generate_challenge(key.subject)
    credentials = {"challenge": challenge.nonce, "signature": secrets.token(key.sign(challenge.message))}
    assert (await auth.reauthenticate(principal, credentials)).attributes["fresh"] is True
    challenge = await auth.generate_challenge(key.subject)
    wrong = {"challenge": challenge.nonce, "signature": secrets.token(key.sign("other"))}
    with pytest.raises(AuthError):
        await auth.reauthenticate(principal, wrong)
    with pytest.raises(AuthError):
        await auth.authorize(principal, ["admin"])
    issued = await auth.issue_token(key.subject, {"scope": "read"})
    assert await auth.invalidate_token(issued.token) is True
    with pytest.raises(AuthError):
        await auth.validate_token(issued.token)
    assert (await auth.verify_signature(key.subject, "hello", key.sign("bye"))) is False
    with pytest.raises(RuntimeError):
        await auth.issue_token(key.subject, {"boom": PASSWORD})
    with pytest.raises(AuthError):
        await auth.validate_token(f"eyJ{PASSWORD}.{HMAC_SECRET}.x")
    newcomer = Key()
    secrets.add(newcomer.subject)
    await auth.register(newcomer.subject, attributes={"name": "n"})
    with pytest.raises(AuthError):
        await auth.register(newcomer.subject)


def sync_flows(auth: AuthHooks, secrets: Secrets) -> None:
    key = Key()
    secrets.add(key.subject)
    challenge = auth.sync.generate_challenge(key.subject)
    signature = secrets.token(key.sign(challenge.message))
    pair = auth.sync.login(key.subject, {"challenge": challenge.nonce, "signature": signature})
    principal = auth.sync.validate_token(pair.access_token)
    with pytest.raises(AuthError):
        auth.sync.validate_token(tamper(secrets.token(pair.access_token)))
    with pytest.raises(AuthError):
        auth.sync.validate_token(secrets.token(expired(pair.access_token)))
    fresh = auth.sync.refresh_token(str(pair.refresh_token))
    with pytest.raises(AuthError):
        auth.sync.refresh_token(str(pair.refresh_token))
    assert auth.sync.introspect(fresh.access_token) == {"active": False}
    challenge = auth.sync.generate_challenge(key.subject)
    credentials = {"challenge": challenge.nonce, "signature": secrets.token(key.sign(challenge.message))}
    assert auth.sync.reauthenticate(principal, credentials).attributes["fresh"] is True
    with pytest.raises(AuthError):
        auth.sync.authorize(principal, ["admin"])
    issued = auth.sync.issue_token(key.subject, {"scope": "read"})
    assert auth.sync.invalidate_token(issued.token) is True
    with pytest.raises(AuthError):
        auth.sync.validate_token(issued.token)
    with pytest.raises(RuntimeError):
        auth.sync.issue_token(key.subject, {"boom": PASSWORD})
    newcomer = Key()
    secrets.add(newcomer.subject)
    auth.sync.register(newcomer.subject)


# -- the scan ------------------------------------------------------------------------------------------------


def span_texts(span: ReadableSpan) -> Iterable[tuple[str, str]]:
    where = f"span {span.name}"
    yield where, span.name
    yield f"{where} attributes", repr(dict(span.attributes or {}))
    for event in span.events:
        yield f"{where} event {event.name}", event.name + repr(dict(event.attributes or {}))
    yield f"{where} status", str(span.status.description)
    for link in span.links:
        yield f"{where} link", repr(dict(link.attributes or {}))
    yield f"{where} json", span.to_json()


def log_texts(records: list[logging.LogRecord]) -> Iterable[tuple[str, str]]:
    for record in records:
        where = f"log {record.name}:{record.levelname} {record.msg!r}"[:120]
        yield where, record.getMessage()
        yield where, str(record.msg)
        yield where, repr(record.args)
        if record.exc_text:
            yield f"{where} exc_text", record.exc_text
        elif record.exc_info:
            yield f"{where} exception", logging.Formatter().formatException(record.exc_info)
        if record.stack_info:
            yield f"{where} stack", record.stack_info


def scan(outputs: Iterable[tuple[str, str]], secrets: set[str]) -> list[str]:
    found = []
    for where, text in outputs:
        for secret in secrets:
            if secret in text:
                found.append(f"{secret[:16]}… in {where}")
    return found


@pytest.mark.parametrize("mode", ["event", "span"])
async def test_no_known_secret_in_any_output(
    tmp_path: Path, mode: Literal["event", "span"], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="authhooks")
    audit = tmp_path / "audit.jsonl"
    settings = Settings(hook_telemetry=mode, record_subject=False)
    secrets, responses, marked = Secrets(), Responses(), set[str]()
    console = io.StringIO()
    with InMemoryTelemetry() as telemetry:
        telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(CompactConsoleSpanExporter(console)))
        auth = AuthHooks(
            secret=HMAC_SECRET,
            store_url="memory://",
            state_dir=tmp_path,
            audit_log_file=audit,
            record_subject=False,
            hook_telemetry=mode,
            telemetry=False,
            observers=[telemetry.observer(settings)],
        )
        register_hooks(auth, secrets, marked)
        try:
            await http_flows(auth, secrets, marked, responses)
            await api_flows(auth, secrets)
            await asyncio.to_thread(sync_flows, auth, secrets)
        finally:
            await auth.aclose()
        spans = telemetry.spans()
        points = telemetry.metrics()
        metrics_json = telemetry.metric_reader.get_metrics_data()

    flows = {span.name for span in spans}
    expected = {"challenge", "login", "validate_token", "refresh_token", "invalidate_token", "authorize",
                "reauthenticate", "register", "issue_token", "verify_signature", "request"}  # fmt: skip
    assert {f"authhooks.{flow}" for flow in expected} <= flows, flows
    lines = audit.read_text().splitlines()
    assert len(lines) > 40 and all(json.loads(line)["mac"] for line in lines)
    assert console.getvalue().count("authhooks.") > 40
    hook_errors = [r for r in caplog.records if "hook" in r.getMessage() and "failed" in r.getMessage()]
    assert hook_errors, "the failing hooks were not logged"

    known = {s for s in secrets.values if len(s) >= 8}
    assert len([s for s in known if s.count(".") == 2]) >= 15  # the access tokens were collected
    known.add((tmp_path / "audit-key").read_text().strip())  # the audit key generated in state_dir
    outputs: list[tuple[str, str]] = []
    for span in spans:
        outputs.extend(span_texts(span))
    outputs.extend((f"metric {p.name}", repr(dict(p.attributes))) for p in points)
    outputs.append(("metrics json", metrics_json.to_json() if metrics_json is not None else ""))
    outputs.extend(log_texts(caplog.records))
    outputs.append(("caplog text", caplog.text))
    outputs.extend((f"audit line {i}", line) for i, line in enumerate(lines, 1))
    outputs.append(("audit checkpoint", audit.with_name(audit.name + ".checkpoint").read_text()))
    outputs.append(("console", console.getvalue()))
    found = scan(outputs, known)
    assert not found, "\n".join(found[:20])
    responses.check()


# -- the HTTP server span of opentelemetry-instrumentation-asgi ---------------------------------------------


async def _server_span_outputs(app: Any, token: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://testserver") as c:
        r = await c.get(f"/api/me?access_token={token}", headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 200
        r = await c.get(f"/api/me?access_token={token}")
        assert r.status_code == 401 and token not in r.text


@pytest.fixture
def global_telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterable[InMemoryTelemetry]:
    """An in-memory provider installed as the global one for the test (the ASGI instrumentation uses it)."""
    from opentelemetry import trace

    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", ".*")
    with InMemoryTelemetry() as telemetry:
        monkeypatch.setattr(trace, "_TRACER_PROVIDER", telemetry.tracer_provider)
        yield telemetry


async def test_instrument_asgi_server_span_holds_no_token(tmp_path: Path, global_telemetry: InMemoryTelemetry) -> None:
    auth = AuthHooks(secret=HMAC_SECRET, store_url="memory://", state_dir=tmp_path, telemetry=False)
    app = Starlette(routes=[Route("/api/me", lambda request: JSONResponse({}))])
    app.add_middleware(AuthHooksMiddleware, auth=auth, protect=["/api/**"], instrument_asgi=True)
    token = (await auth.issue_token("alice", {"scope": "read"})).token
    await _server_span_outputs(app, token)
    await auth.aclose()
    spans = global_telemetry.spans()
    assert any(span.kind.name == "SERVER" for span in spans)
    secrets = Secrets()
    secrets.token(token)
    found = scan([o for span in spans for o in span_texts(span)], secrets.values)
    assert not found, "\n".join(found[:10])


async def test_otel_asgi_options_keep_tokens_out_of_the_server_span(tmp_path: Path) -> None:
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    from authhooks.telemetry.asgi import otel_asgi_options

    auth = AuthHooks(secret=HMAC_SECRET, store_url="memory://", state_dir=tmp_path, telemetry=False)
    inner = Starlette(routes=[Route("/api/me", lambda request: JSONResponse({}))])
    inner.add_middleware(AuthHooksMiddleware, auth=auth, protect=["/api/**"])
    token = (await auth.issue_token("alice", {"scope": "read"})).token
    with InMemoryTelemetry() as telemetry, pytest.MonkeyPatch.context() as mp:
        mp.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", ".*")
        app = OpenTelemetryMiddleware(inner, tracer_provider=telemetry.tracer_provider, **otel_asgi_options())
        await _server_span_outputs(app, token)
        spans = telemetry.spans()
    await auth.aclose()
    server = [span for span in spans if span.kind.name == "SERVER"]
    assert len(server) == 2
    assert all("/api/me?access_token=[REDACTED]" in str((s.attributes or {}).get("http.url")) for s in server)
    secrets = Secrets()
    secrets.token(token)
    found = scan([o for span in spans for o in span_texts(span)], secrets.values)
    assert not found, "\n".join(found[:10])


# -- sign-in with a provider, sessions, registered clients, webhooks ----------------------------------------------


class _Receiver:
    """A local webhook receiver keeping every payload and header set it got."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.seen: list[str] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                seen.append(
                    body.decode("utf-8", "replace") + "\n" + "\n".join(f"{k}: {v}" for k, v in self.headers.items())
                )
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_no_secret_of_sign_in_sessions_clients_or_webhooks_in_any_output(
    tmp_path: Path,
    global_telemetry: InMemoryTelemetry,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sign-in with an OpenID provider (its state, code, nonce, PKCE verifier, browser binding and the provider's
    tokens), the session it makes (id and CSRF token, used, refused cross-site, ended), callback failures (another
    browser, a replay, the provider refusing), registered clients failing and succeeding, and webhooks on every
    step: none of those values in any span (the server span of opentelemetry-instrumentation-asgi included, whose
    URL holds the callback's query), log record, audit record, webhook payload or refusal."""
    from urllib.parse import parse_qs, urlencode, urlsplit

    from authhooks.clients import hash_client_secret
    from authhooks.oauth import OAuthProvider, OAuthService
    from oauth._fake_provider import ISSUER, FakeProvider

    caplog.set_level(logging.DEBUG, logger="authhooks")
    webhook_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    client_secret = "client-secret-Hq7Zp3Lm9Wx2"
    monkeypatch.setenv("SCAN_WEBHOOK_SECRET", webhook_secret)
    receiver = _Receiver()
    fake = FakeProvider()
    provider_answers: list[dict[str, Any]] = []
    handle = fake.handle

    def recording(request: httpx.Request) -> httpx.Response:
        response = handle(request)
        if request.url.path == "/token" and response.status_code == 200:
            provider_answers.append(json.loads(response.content))
        return response

    fake.handle = recording  # type: ignore[method-assign]
    hook = {"url": receiver.url, "secret_env": "SCAN_WEBHOOK_SECRET", "backoff": 0.0, "retries": 0}
    events = ["oauth_callback.pre", "oauth_callback.failed", "oauth_exchange.post", "session.created",
              "session.validated", "session.failed", "session.ended", "login.verified"]  # fmt: skip
    handlers = {"handler": [{"name": f"w{i}", "event": e, "action": "webhook", "options": hook}
                            for i, e in enumerate(events)]}  # fmt: skip
    audit = tmp_path / "audit.jsonl"
    auth = AuthHooks(
        secret=HMAC_SECRET,
        store_url="memory://",
        state_dir=tmp_path,
        audit_log_file=audit,
        record_subject=False,
        telemetry=False,
        observers=[global_telemetry.observer(Settings(record_subject=False))],
        sessions=True,
        session_paths=("/me",),
        bearer_paths=("/api/**",),
        clients=(f"rs:{hash_client_secret(client_secret, iterations=100_000)}",),
        handlers=handlers,
    )
    provider = OAuthProvider(name="fake", issuer=ISSUER, client_id=fake.client_id, client_secret=fake.client_secret,
                             redirect_uri="https://app.test/auth/oauth/fake/callback")  # fmt: skip
    auth.oauth = OAuthService(auth.settings, [provider], transport=fake.transport)
    inner = Starlette(routes=[Route("/me", lambda request: JSONResponse({}), methods=["GET", "POST"])])
    inner.add_middleware(AuthHooksMiddleware, auth=auth, protect=["/me", "/api/**"], instrument_asgi=True)
    secrets = Secrets()
    secrets.add(webhook_secret, client_secret, str(fake.client_secret))
    responses = Responses()

    async with httpx.AsyncClient(transport=httpx.ASGITransport(inner), base_url="https://app.test") as c:

        async def start() -> tuple[dict[str, str], str]:
            r = responses.add(await c.get("/auth/oauth/fake/start?return_to=/me"), status=302)
            binding = c.cookies["__Host-authhooks_oauth"]
            params = fake.consent(r.headers["location"])
            query = parse_qs(urlsplit(r.headers["location"]).query)
            secrets.add(binding, params["code"], params["state"], query["nonce"][0])
            return params, binding

        params, _ = await start()  # from another browser: refused, the state spent
        c.cookies.delete("__Host-authhooks_oauth")
        refused = await c.get(f"/auth/oauth/fake/callback?{urlencode(params)}")
        responses.add(refused, params["code"], params["state"], status=400)
        params, _ = await start()  # the provider refuses the code
        fake.codes.clear()
        responses.add(await c.get(f"/auth/oauth/fake/callback?{urlencode(params)}"), params["code"], status=400)
        params, _ = await start()  # the real sign-in
        done = responses.add(await c.get(f"/auth/oauth/fake/callback?{urlencode(params)}"), status=303)
        responses.add(await c.get(f"/auth/oauth/fake/callback?{urlencode(params)}"), params["code"], status=400)
        session_id, csrf = c.cookies["__Host-authhooks_session"], c.cookies["__Host-authhooks_csrf"]
        secrets.add(session_id, csrf)
        assert done.headers["location"] == "/me"
        responses.add(await c.get("/me"), status=200)
        responses.add(await c.post("/me", headers={"x-csrf-token": "forged-csrf-Xy12"}), session_id, status=403)
        responses.add(await c.post("/me", headers={"x-csrf-token": csrf, "origin": "https://evil.test"}), csrf,
                      status=403)  # fmt: skip
        tampered = session_id[:-2] + ("AA" if not session_id.endswith("AA") else "BB")
        secrets.add(tampered)
        responses.add(
            await c.get("/me", headers={"cookie": f"__Host-authhooks_session={tampered}"}), tampered, status=401
        )
        responses.add(await c.post("/auth/logout", headers={"x-csrf-token": csrf}), status=204)
        responses.add(
            await c.get("/me", headers={"cookie": f"__Host-authhooks_session={session_id}"}), session_id, status=401
        )

        token = (await auth.issue_token("resource-user", {"scope": "read"})).token
        secrets.token(token)
        wrong = "wrong-client-secret-Jk4"
        secrets.add(wrong)
        for secret in (wrong, client_secret):
            pair = base64.b64encode(f"rs:{secret}".encode()).decode()
            secrets.add(pair)
            r = await c.post("/auth/introspect", data={"token": token}, headers={"authorization": f"Basic {pair}"})
            responses.add(r, pair, secret, status=401 if secret == wrong else 200)
        posted = await c.post("/auth/introspect", data={"token": token, "client_id": "rs", "client_secret": wrong})
        responses.add(posted, wrong, status=401)
    await auth.aclose()
    receiver.stop()

    for answer in provider_answers:
        secrets.add(answer["access_token"], answer["refresh_token"], answer["id_token"])
        secrets.token(answer["id_token"])
    secrets.add(*(form.get("code_verifier", "") for form in fake.token_requests))
    assert len(provider_answers) == 1 and fake.token_requests
    assert len(receiver.seen) >= 6, receiver.seen
    spans = global_telemetry.spans()
    assert any(span.kind.name == "SERVER" for span in spans)
    outputs: list[tuple[str, str]] = [o for span in spans for o in span_texts(span)]
    outputs.extend(log_texts(caplog.records))
    outputs.append(("caplog text", caplog.text))
    outputs.extend((f"audit line {i}", line) for i, line in enumerate(audit.read_text().splitlines(), 1))
    outputs.extend((f"webhook payload {i}", text) for i, text in enumerate(receiver.seen, 1))
    found = scan(outputs, {s for s in secrets.values if len(s) >= 8})
    assert not found, "\n".join(found[:20])
    responses.check()
