"""The validated-token cache: bounded, exp re-checked on every hit, revocation by jti."""

from __future__ import annotations

import threading
from types import MappingProxyType
from typing import Any

from authhooks.events import Principal
from authhooks.tokens import ValidatedTokenCache


def _principal(jti: str | None = "j1", exp: Any = 1000, **claims: Any) -> Principal:
    body = {"sub": "alice", "exp": exp, **claims}
    if jti is not None:
        body["jti"] = jti
    return Principal("alice", MappingProxyType(body))


def test_hit_until_exp_then_dropped() -> None:
    cache = ValidatedTokenCache(10)
    p = _principal(exp=1000)
    cache.put("t", p)
    assert cache.get("t", 999.9) is p
    assert cache.get("other", 500) is None
    assert cache.get("t", 1000) is None
    assert len(cache) == 0  # the expired entry is gone, with its jti index
    assert cache.drop_jti("j1") == 0


def test_leeway_and_nbf() -> None:
    cache = ValidatedTokenCache(10, leeway=30)
    p = _principal(exp=1000, nbf=500)
    cache.put("t", p)
    assert cache.get("t", 1029) is p
    assert cache.get("t", 469) is None  # not yet valid: a miss, but kept
    assert cache.get("t", 471) is p
    assert cache.get("t", 1030) is None


def test_drop_jti_drops_every_token_with_it() -> None:
    cache = ValidatedTokenCache(10)
    cache.put("a", _principal("j1"))
    cache.put("b", _principal("j1"))
    cache.put("c", _principal("j2"))
    assert cache.drop_jti("j1") == 2
    assert cache.get("a", 0) is None
    assert cache.get("b", 0) is None
    assert cache.get("c", 0) is not None


def test_bounded_fifo() -> None:
    cache = ValidatedTokenCache(3)
    for i in range(10):
        cache.put(f"t{i}", _principal(f"j{i}"))
    assert len(cache) == 3
    assert [cache.get(f"t{i}", 0) is not None for i in range(10)] == [False] * 7 + [True] * 3
    assert cache.drop_jti("j0") == 0  # evicted entries left the jti index too
    assert cache.drop_jti("j9") == 1


def test_size_zero_disables() -> None:
    cache = ValidatedTokenCache(0)
    cache.put("t", _principal())
    assert cache.get("t", 0) is None
    assert len(cache) == 0


def test_tokens_without_numeric_exp_are_not_cached() -> None:
    cache = ValidatedTokenCache(10)
    cache.put("a", _principal(exp=None))
    cache.put("b", _principal(exp="1000"))
    cache.put("c", _principal(exp=float("inf")))
    assert len(cache) == 0


def test_clear() -> None:
    cache = ValidatedTokenCache(10)
    cache.put("a", _principal())
    cache.clear()
    assert cache.get("a", 0) is None
    assert cache.drop_jti("j1") == 0


def test_threads_keep_it_bounded_and_consistent() -> None:
    cache = ValidatedTokenCache(50)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(2000):
                token = f"{n}-{i % 120}"
                if cache.get(token, 0) is None:
                    cache.put(token, _principal(f"j{i % 7}"))
                if i % 97 == 0:
                    cache.drop_jti(f"j{i % 7}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cache) <= 50


def test_eviction_skips_dropped_entries_and_keeps_a_re_put_token_in_its_new_place() -> None:
    cache = ValidatedTokenCache(3)
    for name in "abc":
        cache.put(name, _principal(f"j-{name}"))
    assert cache.drop_jti("j-a") == 1  # a revoked: its slot in the eviction order is a leftover now
    cache.put("a", _principal("j-a2"))  # the same token string again, youngest now
    cache.put("d", _principal("j-d"))  # full: evicts b (the oldest live entry), not the new a
    assert [name for name in "abcd" if cache.get(name, 0) is not None] == ["a", "c", "d"]
    cache.put("e", _principal("j-e"))
    assert [name for name in "abcde" if cache.get(name, 0) is not None] == ["a", "d", "e"]
    assert cache.drop_jti("j-b") == 0 and cache.drop_jti("j-c") == 0  # evicted entries left the jti index


def test_eviction_order_stays_bounded_by_the_live_entries() -> None:
    # Entries dropped without an eviction (revoked, expired) leave leftovers in the O(1) eviction queue; it is
    # rebuilt before they outnumber the live entries, so a small cache with churn holds no dead principals.
    cache = ValidatedTokenCache(10000)
    for i in range(5000):
        cache.put(f"t{i}", _principal(f"j{i}"))
        cache.drop_jti(f"j{i}")
        assert len(cache._order) <= 2 * len(cache) + 64 + 1
    cache.put("live", _principal("j-live"))
    assert len(cache) == 1 and cache.get("live", 0) is not None


def test_drop_key_drops_only_that_keys_entries() -> None:
    cache = ValidatedTokenCache(10)
    cache.put("a", _principal("ja"), key="k1")
    cache.put("b", _principal("jb"), key="k2")
    cache.put("c", _principal("jc"), key="k1")
    assert cache.drop_key("k1") == 2
    assert [name for name in "abc" if cache.get(name, 0) is not None] == ["b"]
    assert cache.drop_jti("ja") == 0  # gone from the jti index too
