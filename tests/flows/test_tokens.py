"""The token flows through the public API: issue, validate, refresh (rotation, reuse), invalidate, introspect,
and the hooks around each of them, under both drivers."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from authhooks import (
    AuthHooks,
    BadSignature,
    ConfigurationError,
    Deny,
    InvalidGrant,
    MalformedToken,
    Principal,
    RevokedToken,
    StoreUnavailableError,
    TokenPair,
    WrongTokenType,
)
from authhooks.config import Secret
from authhooks.stores.memory import MemoryStore
from authhooks.testing import HookRecorder

T = TypeVar("T")
SECRET = Secret("s" * 48)


@pytest.fixture
def auth(tmp_path: Path) -> AuthHooks:
    return AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False)


@pytest.fixture(params=["async", "sync"])
def call(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Call ``auth.<name>(...)`` through the async API or its ``*_sync`` twin."""

    def run(auth: AuthHooks, name: str, *args: Any, **kwargs: Any) -> Any:
        if request.param == "sync":
            return getattr(auth.sync, name)(*args, **kwargs)
        coro: Awaitable[Any] = getattr(auth, name)(*args, **kwargs)
        return asyncio.run(_await(coro))

    return run


async def _await(coro: Awaitable[T]) -> T:
    return await coro


def test_issue_validate_round_trip_with_scopes_and_generated_key(auth: AuthHooks, call: Any, tmp_path: Path) -> None:
    pair = call(auth, "issue_tokens", "alice", {"plan": "gold"}, scopes=["write", "read"])
    assert pair.token_type == "Bearer" and pair.scope == "read write" and pair.refresh_token.startswith("ahr_")
    principal = call(auth, "validate_token", pair.access_token)
    assert principal.subject == "alice"
    assert principal.scopes == {"read", "write"}
    assert principal.claims["plan"] == "gold"
    assert (tmp_path / "signing-key.pem").exists()
    assert auth.jwks()["keys"][0]["kty"] == "OKP"


def test_refresh_rotates_and_reuse_revokes_the_whole_family(auth: AuthHooks, call: Any) -> None:
    recorder = HookRecorder()
    auth.add_observer(recorder)
    failed: list[tuple[Any, ...]] = []
    auth.add_hook(
        "refresh_token.failed", lambda reason, family_revoked, subject: failed.append((reason, family_revoked, subject))
    )
    first = call(auth, "issue_tokens", "alice", scopes=["read"])
    second = call(auth, "refresh_token", first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert call(auth, "validate_token", second.access_token).scopes == {"read"}
    with pytest.raises(InvalidGrant) as reused:
        call(auth, "refresh_token", first.refresh_token)
    assert reused.value.reason == "refresh_token_reused"
    assert failed == [("refresh_token_reused", True, "alice")]
    # the family is gone: the newest refresh token and every access token issued in it
    with pytest.raises(InvalidGrant) as revoked:
        call(auth, "refresh_token", second.refresh_token)
    assert revoked.value.reason in {"refresh_token_revoked", "refresh_token_reused"}
    for token in (first.access_token, second.access_token):
        with pytest.raises(RevokedToken):
            call(auth, "validate_token", token)


@pytest.mark.parametrize("bad", ["", "ahr_unknown", "not-a-refresh-token", "ahr_" + "x" * 500])
def test_unknown_refresh_tokens_are_invalid_grant(auth: AuthHooks, call: Any, bad: str) -> None:
    with pytest.raises(InvalidGrant) as info:
        call(auth, "refresh_token", bad)
    assert info.value.status == 400 and info.value.error == "invalid_grant"


def test_invalidate_access_token_then_validation_says_revoked(auth: AuthHooks, call: Any) -> None:
    seen: list[Any] = []
    auth.add_hook("invalidate_token.post", lambda jti, subject: seen.append((jti, subject)))
    pair = call(auth, "issue_tokens", "bob")
    principal = call(auth, "validate_token", pair.access_token)  # now cached
    assert call(auth, "invalidate_token", pair.access_token) is True
    with pytest.raises(RevokedToken) as info:
        call(auth, "validate_token", pair.access_token)
    assert info.value.reason == "token_revoked"
    assert seen == [(principal.jti, "bob")]
    assert call(auth, "introspect", pair.access_token) == {"active": False}


def test_invalidate_refresh_token_revokes_its_family(auth: AuthHooks, call: Any) -> None:
    pair = call(auth, "issue_tokens", "bob")
    assert call(auth, "invalidate_token", pair.refresh_token) is True
    with pytest.raises(InvalidGrant):
        call(auth, "refresh_token", pair.refresh_token)
    with pytest.raises(RevokedToken):
        call(auth, "validate_token", pair.access_token)


@pytest.mark.parametrize("junk", ["", "garbage", "a.b.c", "ahr_nothing"])
def test_invalidating_junk_is_false_not_an_error(auth: AuthHooks, call: Any, junk: str) -> None:
    assert call(auth, "invalidate_token", junk) is False


def test_introspect_active_token_has_rfc7662_fields(auth: AuthHooks, call: Any) -> None:
    pair = call(auth, "issue_tokens", "carol", scopes=["a"])
    body = call(auth, "introspect", pair.access_token)
    assert body["active"] is True and body["sub"] == "carol" and body["scope"] == "a"
    assert body["token_type"] == "Bearer"  # RFC 7662 §2.2 wants the RFC 6749 §7.1 type, not "access_token"
    assert {"exp", "iat", "jti"} <= body.keys()
    assert call(auth, "introspect", "nonsense") == {"active": False}


def test_issue_token_pre_adds_claims_and_can_stop_the_world(auth: AuthHooks, call: Any) -> None:
    """Joken's "add a claim" and "halt" examples."""
    auth.add_hook("before_generate", lambda claims: {"claims": {**claims, "role": "admin"}}, name="add_role")
    issued = call(auth, "issue_token", "dave")
    assert call(auth, "validate_token", issued.token).claims["role"] == "admin"

    def halt(subject: str) -> Deny | None:
        return Deny(status=403, reason="issuing_halted") if subject == "mallory" else None

    auth.add_hook("issue_token.pre", halt)
    with pytest.raises(Deny) as info:
        call(auth, "issue_token", "mallory")
    assert info.value.reason == "issuing_halted"


def test_issue_token_post_sees_the_created_tokens(auth: AuthHooks, call: Any) -> None:
    """lback's access/refresh token created signals."""
    created: list[str] = []
    auth.add_hook("issue_token.post", lambda token_type: created.append(token_type))
    call(auth, "issue_tokens", "erin")
    assert created == ["access", "refresh"]


def test_validate_post_enriches_and_denies(auth: AuthHooks, call: Any) -> None:
    def enrich(principal: Principal) -> dict[str, Any] | Deny:
        if principal.subject == "banned":
            return Deny(status=403, reason="banned")
        return {"principal": Principal(principal.subject, principal.claims, principal.scopes, "access", {"tier": 2})}

    auth.add_hook("validate_token.post", enrich)
    good = call(auth, "issue_token", "frank")
    assert call(auth, "validate_token", good.token).attributes == {"tier": 2}
    banned = call(auth, "issue_token", "banned")
    with pytest.raises(Deny):
        call(auth, "validate_token", banned.token)


def test_validate_failed_gets_the_reason(auth: AuthHooks, call: Any) -> None:
    """lback's "token decode failed" with its reason type."""
    reasons: list[str] = []
    auth.add_hook("validate_token.failed", lambda reason, error: reasons.append(f"{reason}:{type(error).__name__}"))
    token = call(auth, "issue_token", "gina").token
    head, payload, sig = token.split(".")
    with pytest.raises(MalformedToken):
        call(auth, "validate_token", "garbage")
    with pytest.raises(BadSignature):
        call(auth, "validate_token", f"{head}.{payload}.{sig[:-4]}AAAA")
    assert reasons == ["malformed_token:MalformedToken", "bad_signature:BadSignature"]


def test_refresh_token_is_never_an_access_token(auth: AuthHooks, call: Any) -> None:
    refresh_jwt = call(auth, "issue_token", "hank", token_type="refresh").token
    with pytest.raises(WrongTokenType):
        call(auth, "validate_token", refresh_jwt)


def test_verify_signature_hooks_wrap_the_jws_check(auth: AuthHooks, call: Any) -> None:
    """Joken's before_verify / after_verify: inspect the verify result."""
    results: list[tuple[str, bool]] = []
    auth.add_hook("after_verify", lambda scheme, valid: results.append((scheme, valid)))
    token = call(auth, "issue_token", "ivy").token
    call(auth, "validate_token", token)
    with pytest.raises(BadSignature):
        call(auth, "validate_token", token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    assert results == [("jws", True), ("jws", False)]


def test_validate_pre_may_deny(auth: AuthHooks, call: Any) -> None:
    auth.add_hook("pre_token_validate", lambda token: Deny(status=401, reason="blocked") if token == "x.y.z" else None)
    with pytest.raises(Deny):
        call(auth, "validate_token", "x.y.z")


class _DownStore(MemoryStore):
    """A memory store whose reads fail as if the server were unreachable."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        real_get, real_get_many = self.sync.get, self.sync.get_many

        def get(key: str) -> bytes | None:
            if self.down:
                raise StoreUnavailableError("store down")
            return real_get(key)

        def get_many(keys: Sequence[str]) -> list[bytes | None]:
            if self.down:
                raise StoreUnavailableError("store down")
            return real_get_many(keys)

        self.sync.get = get  # type: ignore[method-assign]
        self.sync.get_many = get_many  # type: ignore[method-assign]

    async def get(self, key: str) -> bytes | None:
        return self.sync.get(key)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return self.sync.get_many(keys)


@pytest.mark.parametrize("policy", ["closed", "open"])
def test_store_down_fails_closed_by_default(tmp_path: Path, call: Any, policy: str) -> None:
    store = _DownStore()
    auth = AuthHooks(store=store, state_dir=tmp_path, telemetry=False, store_failure=policy, token_cache_size=0)
    token = call(auth, "issue_token", "jack").token
    store.down = True
    if policy == "closed":
        with pytest.raises(StoreUnavailableError):
            call(auth, "validate_token", token)
    else:
        assert call(auth, "validate_token", token).subject == "jack"


def test_revocation_reaches_another_instance_sharing_the_store(tmp_path: Path) -> None:
    store = MemoryStore()
    one = AuthHooks(store=store, secret=SECRET, state_dir=tmp_path, telemetry=False)
    two = AuthHooks(store=store, secret=SECRET, state_dir=tmp_path, telemetry=False)
    token = one.sync.issue_token("kim").token
    assert two.sync.validate_token(token).subject == "kim"  # cached in two
    assert len(two.tokens.cache) == 1
    assert one.sync.invalidate_token(token) is True
    assert len(two.tokens.cache) == 0
    with pytest.raises(RevokedToken):
        two.sync.validate_token(token)


def test_repeated_token_hits_the_cache_and_still_fires_hooks_when_registered(auth: AuthHooks) -> None:
    token = auth.sync.issue_token("lee").token
    auth.sync.validate_token(token)
    assert len(auth.tokens.cache) == 1
    seen: list[str] = []
    auth.add_hook("validate_token.post", lambda principal: seen.append(principal.subject))
    auth.sync.validate_token(token)
    assert seen == ["lee"]


def test_flow_outcomes_are_observed(auth: AuthHooks) -> None:
    recorder = HookRecorder()
    auth.add_observer(recorder)
    token = auth.sync.issue_token("max").token
    auth.sync.validate_token(token)
    with pytest.raises(MalformedToken):
        auth.sync.validate_token("nope")
    outcomes = [(flow, outcome.value, reason) for flow, outcome, reason in recorder.outcomes()]
    assert outcomes == [
        ("issue_token", "success", None),
        ("validate_token", "success", None),
        ("validate_token", "failure", "malformed_token"),
    ]


async def test_concurrent_uses_of_one_refresh_token_succeed_once_and_revoke_the_family(auth: AuthHooks) -> None:
    """RFC 9700 §4.14.2: of concurrent redemptions one wins; the other is a reuse and revokes the family."""
    pair = await auth.issue_tokens("olga")
    results = await asyncio.gather(*(auth.refresh_token(pair.refresh_token) for _ in range(5)), return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, InvalidGrant)]
    assert len(winners) == 1
    assert len(losers) == 4
    assert {e.reason for e in losers} == {"refresh_token_reused"}
    with pytest.raises(InvalidGrant):
        await auth.refresh_token(winners[0].refresh_token)


def test_concurrent_threads_redeem_one_refresh_token_once(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    auth = AuthHooks(store_url=f"sqlite:///{tmp_path}/s.sqlite3", state_dir=tmp_path, telemetry=False)
    pair = auth.sync.issue_tokens("pete")

    def redeem(_: int) -> str:
        try:
            auth.sync.refresh_token(pair.refresh_token)
        except InvalidGrant as exc:
            return exc.reason
        return "ok"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(redeem, range(8)))
    assert outcomes.count("ok") == 1
    assert outcomes.count("refresh_token_reused") == 7
    auth.close()


@pytest.mark.parametrize("after", range(6))
def test_two_redemptions_of_one_refresh_token_have_one_winner_whatever_their_interleaving(
    tmp_path: Path, after: int
) -> None:
    """Every interleaving of two redemptions, stepped by hand: the second runs to its end right after the first's
    store call number ``after``. Exactly one answers with a pair, the other is a reuse (RFC 9700 §4.14.2), and the
    family is revoked, the winner's new pair with it. (A winner that read the family mark after its claim was
    refused as revoked when a loser revoked the family in between, and the race had no winner.)"""
    from authhooks.flows.effects import StoreCall
    from authhooks.flows.refresh_token import refresh_token
    from authhooks.testing import FlowStepper

    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False)
    pair = auth.sync.issue_tokens("pete")
    first = FlowStepper(refresh_token(auth.deps, pair.refresh_token))
    calls: list[str] = []
    outcomes: dict[str, object] = {}

    def answer(effect: Any) -> Any:
        if not isinstance(effect, StoreCall):
            return first.default(effect)
        result = getattr(auth.store.sync, effect.op)(*effect.args)
        calls.append(effect.op)
        if len(calls) == after + 1:
            try:
                outcomes["second"] = auth.sync.refresh_token(pair.refresh_token)
            except InvalidGrant as exc:
                outcomes["second"] = exc.reason
        return result

    try:
        outcomes["first"] = first.run(answer)
    except InvalidGrant as exc:
        outcomes["first"] = exc.reason
    assert len(calls) > after, f"the first redemption made only {len(calls)} store calls"
    winners = [o for o in outcomes.values() if isinstance(o, TokenPair)]
    assert len(winners) == 1, outcomes
    assert sorted(o for o in outcomes.values() if isinstance(o, str)) == ["refresh_token_reused"]
    with pytest.raises(RevokedToken):
        auth.sync.validate_token(winners[0].access_token)
    auth.close()


# -- a login ends as a whole (issue 11, items 0 and 2) -----------------------------------------------------


def test_invalidating_an_access_token_ends_its_whole_login(auth: AuthHooks, call: Any) -> None:
    """Logout with only the access token: the refresh token and every other access token of the login die."""
    first = call(auth, "issue_tokens", "alice", scopes=["read"])
    second = call(auth, "refresh_token", first.refresh_token)
    assert call(auth, "validate_token", first.access_token).subject == "alice"  # refresh does not revoke it
    assert call(auth, "invalidate_token", first.access_token) is True
    for token in (first.access_token, second.access_token):
        with pytest.raises(RevokedToken):
            call(auth, "validate_token", token)
    with pytest.raises(InvalidGrant):
        call(auth, "refresh_token", second.refresh_token)


def test_every_token_of_a_login_carries_its_login_id_whatever_the_hooks_do(auth: AuthHooks, call: Any) -> None:
    auth.add_hook("issue_token.pre", lambda claims: {"claims": {**claims, "sid": "forged"}}, name="forge")
    auth.add_hook(
        "issue_token.pre", lambda claims: {"claims": {k: v for k, v in claims.items() if k != "sid"}}, name="drop"
    )
    first = call(auth, "issue_tokens", "alice")
    second = call(auth, "refresh_token", first.refresh_token)
    sids = {call(auth, "validate_token", pair.access_token).claims["sid"] for pair in (first, second)}
    assert len(sids) == 1 and "forged" not in sids
    lone = call(auth, "issue_token", "bob").token
    assert "sid" not in call(auth, "validate_token", lone).claims
    assert call(auth, "invalidate_token", lone) is True  # a token outside any login is revoked alone
    with pytest.raises(RevokedToken):
        call(auth, "validate_token", lone)
    assert call(auth, "validate_token", second.access_token).subject == "alice"


def _shared_store_urls(tmp_path: Path) -> list[str]:
    urls = [f"sqlite:///{tmp_path / 'shared.db'}"]
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        probe = AuthHooks(store_url=redis_url, state_dir=tmp_path, telemetry=False, secret=SECRET)
        probe.store.sync.ping()
        probe.close()
        urls.append(redis_url)
    except Exception:
        if os.environ.get("CI"):
            raise
    return urls


def _force_the_refresh_race(url: str, tmp_path: Path) -> None:
    prefix = f"race-{uuid.uuid4().hex}:"
    options: dict[str, Any] = {
        "store_url": url,
        "state_dir": tmp_path,
        "telemetry": False,
        "secret": SECRET,
        "store_key_prefix": prefix,
    }
    winner, loser, fresh = AuthHooks(**options), AuthHooks(**options), AuthHooks(**options)
    pair = winner.sync.issue_tokens("alice")
    lost: list[InvalidGrant] = []

    def interleave(token_type: str) -> None:
        if token_type == "access" and not lost:
            try:
                loser.sync.refresh_token(pair.refresh_token)
            except InvalidGrant as exc:
                lost.append(exc)

    winner.add_hook("issue_token.pre", interleave, name="interleave")
    won = winner.sync.refresh_token(pair.refresh_token)
    assert lost and lost[0].reason == "refresh_token_reused"
    for instance in (winner, loser, fresh):
        for token in (pair.access_token, won.access_token):
            with pytest.raises(RevokedToken):
                instance.sync.validate_token(token)
    with pytest.raises(InvalidGrant):
        fresh.sync.refresh_token(won.refresh_token)
    for instance in (winner, loser, fresh):
        instance.close()


def test_a_token_issued_while_its_family_is_revoked_is_refused_everywhere(tmp_path: Path) -> None:
    """The refresh-reuse race, forced: the loser revokes the family between the winner's claim and the winner's
    new access token. That token must be refused by both instances and by a fresh one (SQLite and Redis)."""
    for url in _shared_store_urls(tmp_path):
        _force_the_refresh_race(url, tmp_path)


def test_a_store_missing_an_operation_is_refused_at_construction(tmp_path: Path) -> None:
    """A store written for an older protocol (no ``get_many``) is named at construction, not a failed request."""

    class _Old(MemoryStore):
        get_many = None  # type: ignore[assignment]

    with pytest.raises(ConfigurationError, match=r"store: _Old lacks get_many\(\)"):
        AuthHooks(store=_Old(), state_dir=tmp_path, telemetry=False)
