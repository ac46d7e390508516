"""Every catalogue point is fired by its flow, and no flow fires a point outside its own stages; a point added to
a flow is seen on the validated-token cache path too (the driver derives what a flow needs from the catalogue)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import authhooks._auth_flows
import authhooks._sync
from authhooks import AuthHooks, InvalidCredentials, InvalidGrant, InvalidRequest, InvalidToken
from authhooks.events import Flow
from authhooks.flows import validate_token as validate_module
from authhooks.flows.effects import FlowCall, FlowGen, RunHooks, flow
from authhooks.hooks.points import CATALOGUE, HookPoint, PointKind
from authhooks.oauth import ExternalLoginFailed, OAuthProvider, OAuthService
from authhooks.records import Principal
from authhooks.sessions import InvalidSession
from authhooks.testing import HookRecorder
from flows._identity import Ed25519Key
from oauth._fake_provider import ISSUER, FakeProvider

# ``request.*`` is fired by the middleware's observe mode (tests/middleware/test_observe.py), not by a flow.
FLOW_POINTS = {name for name, point in CATALOGUE.items() if point.flow != Flow.REQUEST.value}


def test_every_catalogue_flow_is_a_flow_member() -> None:
    assert {point.flow for point in CATALOGUE.values()} == {flow.value for flow in Flow}


async def test_every_catalogue_point_is_fired_by_its_flow(tmp_path: Path) -> None:
    """One recording hook at every point; a run of every flow through its success and failure paths."""
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False)
    recorder = HookRecorder()
    auth.add_observer(recorder)
    for name in FLOW_POINTS:
        auth.add_hook(name, lambda: None, name=f"record_{name.replace('.', '_')}", inline=True)
    key, other = Ed25519Key(), Ed25519Key()
    challenge = await auth.generate_challenge(key.subject)
    pair = await auth.authenticate(key.subject, challenge.nonce, key.sign(challenge.message))
    with pytest.raises(InvalidCredentials):
        await auth.authenticate(other.subject, "A" * 32, other.sign("x"))
    principal = await auth.validate_token(pair.access_token)
    with pytest.raises(InvalidToken):
        await auth.validate_token("not.a.token")
    again = await auth.generate_challenge(key.subject)
    await auth.reauthenticate(principal, {"challenge": again.nonce, "signature": key.sign(again.message)})
    with pytest.raises(InvalidCredentials):
        await auth.reauthenticate(principal, {"challenge": "A" * 32, "signature": key.sign("x")})
    await auth.authorize(principal)
    with pytest.raises(Exception, match="scope"):
        await auth.authorize(principal, ["admin"])
    await auth.register(other.subject)
    with pytest.raises(InvalidRequest):
        await auth.register(other.subject)
    fresh = await auth.refresh_token(str(pair.refresh_token))
    with pytest.raises(InvalidGrant):
        await auth.refresh_token("ahr_unknown")
    await auth.invalidate_token(fresh.access_token)
    await _sign_in_and_sessions(auth)
    fired = [(record.point, run.flow) for run in recorder.flows for record in run.hooks]
    assert {point for point, _ in fired} == FLOW_POINTS  # no declared point that nothing fires
    assert all(CATALOGUE[point].flow == flow for point, flow in fired)  # no point fired outside its flow
    await auth.aclose()


async def _sign_in_and_sessions(auth: AuthHooks) -> None:
    """The OAuth flows (success and failure) and the session flows, against a fake provider."""
    fake = FakeProvider()
    provider = OAuthProvider(name="fake", issuer=ISSUER, client_id="shop", client_secret="s3cret", keep_tokens=True)
    auth.oauth = OAuthService(auth.settings, [provider], transport=fake.transport)
    started = await auth.oauth_authorize("fake", redirect_uri="https://app.test/cb")
    done = await auth.oauth_callback("fake", fake.consent(started.url), binding=started.binding, session=True)
    grant = done.login.session
    assert grant is not None
    started = await auth.oauth_authorize("fake", redirect_uri="https://app.test/cb")
    fake.nonce = "wrong"
    with pytest.raises(ExternalLoginFailed):
        await auth.oauth_callback("fake", fake.consent(started.url), binding=started.binding)
    await auth.oauth_refresh("fake", done.login.principal.subject)
    with pytest.raises(ExternalLoginFailed):
        await auth.oauth_refresh("fake", "nobody")
    await auth.validate_session(grant.session_id)
    await auth.end_session(grant.session_id)
    with pytest.raises(InvalidSession):
        await auth.validate_session(grant.session_id)


@pytest.fixture
def extra_point(monkeypatch: pytest.MonkeyPatch) -> HookPoint:
    """A new catalogue row in the ``validate_token`` flow, fired by the flow after ``post`` — what a developer
    adding a stage writes: the row, and the one ``yield`` in the flow."""
    point = HookPoint(
        "validate_token.seen", Flow.VALIDATE_TOKEN.value, "seen", PointKind.NOTIFICATION, frozenset({"principal"})
    )
    monkeypatch.setitem(CATALOGUE, point.name, point)
    original = validate_module.validate_token.__wrapped__  # type: ignore[attr-defined]

    @flow(Flow.VALIDATE_TOKEN, shortcut=validate_module._cached)
    def with_extra_stage(deps: Any, token: str) -> FlowGen[Principal]:
        principal = yield from original(deps, token)
        yield RunHooks(point, {"principal": principal})
        return principal

    monkeypatch.setattr(authhooks._auth_flows, "validate_token", with_extra_stage)
    monkeypatch.setattr(authhooks._sync, "validate_token", with_extra_stage)
    return point


async def test_a_new_point_of_a_flow_fires_for_cached_tokens_too(tmp_path: Path, extra_point: HookPoint) -> None:
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False)
    seen: list[str] = []
    auth.add_hook(extra_point.name, lambda principal: seen.append(principal.subject), inline=True)
    token = (await auth.issue_token("alice")).token
    for _ in range(3):  # the first validation fills the cache; the next two are cache hits
        await auth.validate_token(token)
    auth.sync.validate_token(token)
    assert seen == ["alice"] * 4
    await auth.aclose()


async def test_an_idle_flow_answers_a_cached_token_without_running(tmp_path: Path) -> None:
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False)
    token = (await auth.issue_token("alice")).token
    await auth.validate_token(token)
    call: FlowCall[Principal] = validate_module.validate_token(auth.deps, token)
    assert call.quick() is not None  # the flow's shortcut: a cache hit
    assert auth._runtime.idle(Flow.VALIDATE_TOKEN)
    auth.add_hook("validate_token.post", lambda: None, inline=True)
    assert not auth._runtime.idle(Flow.VALIDATE_TOKEN)  # derived from the catalogue, not a list kept by hand
    await auth.aclose()
