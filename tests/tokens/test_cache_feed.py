"""The validated-token cache follows the revocation feed: bypassed while the feed is down, empty after a gap."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

from authhooks import AuthHooks
from authhooks.config import Settings
from authhooks.events import Principal
from authhooks.flows.effects import Effect, StoreCall
from authhooks.flows.validate_token import validate_token
from authhooks.stores.base import MessageHandler, StatusHandler
from authhooks.stores.memory import MemoryStore
from authhooks.testing import FlowStepper
from authhooks.tokens import ValidatedTokenCache
from authhooks.tokens.service import REVOCATION_CHANNEL, TokenService


def _principal(jti: str = "j1") -> Principal:
    return Principal("alice", MappingProxyType({"sub": "alice", "exp": 1000, "jti": jti}))


def test_suspended_cache_misses_refuses_and_resumes_empty() -> None:
    cache = ValidatedTokenCache(10)
    cache.put("t", _principal())
    assert cache.get("t", 500) is not None
    cache.suspend()
    assert cache.suspended
    assert cache.get("t", 500) is None
    cache.put("u", _principal("j2"))  # a validation finishing during the gap is not remembered
    assert len(cache) == 0
    cache.resume()
    assert not cache.suspended
    assert cache.get("t", 500) is None  # nothing from before the gap
    assert cache.get("u", 500) is None
    cache.put("t", _principal())
    assert cache.get("t", 500) is not None


class _GappyStore:
    """A store whose feed the test turns off and on, as a Redis subscription that loses its connection."""

    def __init__(self) -> None:
        self.on_status: StatusHandler | None = None
        self.handler: MessageHandler | None = None
        self.live = False

    def subscribe(self, channel: str, handler: MessageHandler, on_status: StatusHandler | None = None) -> _GappyStore:
        assert channel == REVOCATION_CHANNEL
        self.handler, self.on_status = handler, on_status
        return self

    def set(self, live: bool) -> None:
        self.live = live
        assert self.on_status is not None
        self.on_status(live)

    def close(self) -> None:
        self.live = False


def _service() -> TokenService:
    return TokenService(Settings(secret="s" * 48, telemetry=False))


def test_service_serves_from_cache_only_while_the_feed_is_live() -> None:
    svc = _service()
    store = _GappyStore()
    svc.subscribe(store)
    assert svc.cache.suspended  # until the store confirms the subscription
    store.set(True)
    svc.cache.put("t", _principal())
    assert svc.cache.get("t", 500) is not None
    store.set(False)
    assert svc.cache.get("t", 500) is None
    store.set(True)
    assert svc.cache.get("t", 500) is None  # the gap may have hidden its revocation: checked again


def test_service_with_the_memory_store_is_live_at_once() -> None:
    svc = _service()
    svc.subscribe(MemoryStore())
    assert not svc.cache.suspended


class _OldStore:
    """A user store written before ``on_status``: trusted as before (no gap reports)."""

    def subscribe(self, channel: str, handler: MessageHandler) -> _OldStore:
        return self

    def close(self) -> None:
        return None


def test_service_with_a_store_without_status_reports_keeps_the_cache() -> None:
    svc = _service()
    svc.subscribe(_OldStore())
    assert not svc.cache.suspended


def test_a_put_is_refused_when_a_revocation_or_gap_came_after_its_epoch() -> None:
    cache = ValidatedTokenCache(10)
    epoch = cache.epoch
    cache.drop_jti("someone-else")  # a revocation heard while this validation was looking up
    cache.put("t", _principal(), epoch)
    assert cache.get("t", 500) is None
    for interrupt in (cache.clear, cache.suspend, cache.resume):
        epoch = cache.epoch
        interrupt()
        cache.put("t", _principal(), epoch)
        assert cache.get("t", 500) is None
    cache.put("t", _principal(), cache.epoch)
    assert cache.get("t", 500) is not None


def test_validation_does_not_cache_a_token_revoked_during_its_lookup(tmp_path: Path) -> None:
    """Stepping the sans-IO flow by hand: the revocation message arrives between the store's "not revoked"
    answer and the cache write; the token must not be served from the cache afterwards."""
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False)
    token = auth.sync.issue_token("alice").token
    jti = auth.sync.validate_token(token).jti
    assert jti is not None
    auth.tokens.cache.clear()
    stepper = FlowStepper(validate_token(auth.deps, token))

    def answer(effect: Effect) -> None:
        if isinstance(effect, StoreCall) and effect.op == "get_many":
            # The store answered "not revoked"; the revocation is heard before the flow resumes with that answer.
            auth.tokens.cache.drop_jti(jti)
            return [None] * len(effect.args[0])
        return stepper.default(effect)  # type: ignore[no-any-return]

    assert stepper.run(answer).subject == "alice"
    # a token outside any login: its jti and its subject's not-before mark, in one round trip
    assert [e.op for e in stepper.effects if isinstance(e, StoreCall)] == ["get_many"]
    assert auth.tokens.cache.get(token) is None
    auth.close()
