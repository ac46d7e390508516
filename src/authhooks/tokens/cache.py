"""A bounded cache of validated tokens, so a client's repeated requests skip signature verification.

Entries are keyed by the exact token string (any other spelling misses and is validated in full). A hit
re-checks the token's own validity window (``nbf``/``exp`` with the validator's leeway) every time, so a cached
token never outlives its ``exp``; :meth:`ValidatedTokenCache.drop_jti` forgets every entry of a revoked ``jti``,
:meth:`ValidatedTokenCache.drop_subject` every entry of a subject whose tokens were all revoked. Eviction is
first-in-first-out: tokens of one issuer share a lifetime, so the oldest entry is about the first to expire, and a
FIFO needs no bookkeeping on the hit path. The insertion order is a ``deque`` of the entries themselves, so an
eviction is O(1): an entry dropped earlier (revoked, expired) is skipped when it comes up, since the dict no longer
holds that very entry; the queue is rebuilt from the dict when such leftovers outnumber the live entries (a
``dict`` alone would do, but taking its first key scans every slot deleted from its front since its last resize).

Keys: :meth:`~ValidatedTokenCache.put` files each entry under the RFC 7638 thumbprint of the key that verified it,
and :meth:`~ValidatedTokenCache.drop_key` forgets every entry of a key that left the key set (an emergency rotation
at the issuer, a local key withdrawn), at once rather than at each token's ``exp`` (a scan of the entries: a key
leaves rarely, and an index per key would cost every ``put``).

Thread safety: the hit path is lock-free (single ``dict`` operations are atomic under the GIL); writers take a
lock. A request racing a revocation may still see the token once, as it would without a cache.

Epochs close the window between a validation's revocation lookup and its :meth:`~ValidatedTokenCache.put`: every
revocation heard (:meth:`~ValidatedTokenCache.drop_jti`), every clear, suspend and resume starts a new epoch, and
a ``put`` made with the epoch read before the lookup is refused if the epoch moved meanwhile — so a revocation (or a
whole gap in the feed) that lands during a validation never leaves that token cached.

Revocation feed: the cache is only as fresh as the feed that tells it about revocations. While that feed is down
(:meth:`ValidatedTokenCache.suspend`) the cache is empty and refuses entries, so every token is checked in full
(including the store's revocation lookup); :meth:`ValidatedTokenCache.resume` starts it again from empty, so
nothing cached before a gap in the feed is ever served after it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from authhooks.records import Principal

__all__ = ["ValidatedTokenCache"]

_Entry = tuple[Principal, float, float, str | None, str | None, str]
"""``(principal, expires at incl. leeway, not before incl. leeway, key thumbprint, jti, token)``."""

_SPARE = 64
"""Leftovers (dropped entries) the insertion queue may hold beyond twice the live entries before a rebuild."""


class ValidatedTokenCache:
    """Validated tokens and their principals, at most ``maxsize`` of them.

    Args:
        maxsize: the bound; ``0`` disables the cache (``get`` always misses, ``put`` does nothing).
        leeway: the clock-skew leeway of the validator, applied to ``exp`` and ``nbf`` the same way.
        clock: the wall clock (Unix seconds) a hit is checked against.
    """

    __slots__ = (
        "_by_jti",
        "_clock",
        "_entries",
        "_epoch",
        "_leeway",
        "_lock",
        "_maxsize",
        "_order",
        "_suspended",
    )

    def __init__(self, maxsize: int = 10000, *, leeway: float = 0.0, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        if maxsize < 0:
            raise ValueError("maxsize must be >= 0")
        self._maxsize = maxsize
        self._leeway = float(leeway)
        self._entries: dict[str, _Entry] = {}
        self._by_jti: dict[str, str | set[str]] = {}
        self._order: deque[_Entry] = deque()  # insertion order, with leftovers of dropped entries (see above)
        self._lock = threading.Lock()
        self._suspended = False
        self._epoch = 0

    @property
    def epoch(self) -> int:
        """The current epoch: read it before a revocation lookup and hand it to :meth:`put`."""
        return self._epoch

    @property
    def maxsize(self) -> int:
        """The bound on the number of entries."""
        return self._maxsize

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"ValidatedTokenCache(size={len(self._entries)}, maxsize={self._maxsize})"

    def get(self, token: str, now: float | None = None) -> Principal | None:
        """The principal of a cached, still-valid token, else ``None`` (an expired entry is dropped).

        Args:
            token: the token exactly as received.
            now: the current Unix time (default: the cache's clock).
        """
        entry = self._entries.get(token)
        if entry is None:
            return None
        if now is None:
            now = self._clock()
        if now < entry[1]:
            return entry[0] if now >= entry[2] else None
        self._discard(token)
        return None

    def put(self, token: str, principal: Principal, epoch: int | None = None, key: str | None = None) -> None:
        """Remember a token the validator accepted. Tokens without a numeric ``exp`` are not cached.

        Args:
            token / principal: the token exactly as received and what it validated to.
            epoch: :attr:`epoch` as read before the validation (at the latest before the revocation lookup); the
                entry is refused if a revocation or a key withdrawal was heard (or the cache cleared) since.
            key: the RFC 7638 thumbprint of the key that verified the token (:meth:`drop_key` forgets it).
        """
        claims = principal.claims  # exp, nbf and jti read here once (Principal.expires_at and .jti read the same)
        exp = claims.get("exp")
        if self._maxsize == 0 or not isinstance(exp, (int, float)) or not math.isfinite(exp):
            return
        nbf = claims.get("nbf")
        leeway = self._leeway
        not_before = float(nbf) - leeway if isinstance(nbf, (int, float)) else -math.inf
        jti = claims.get("jti")
        if not isinstance(jti, str):
            jti = None
        entry: _Entry = (principal, float(exp) + leeway, not_before, key, jti, token)
        with self._lock:
            entries = self._entries
            if self._suspended or token in entries or (epoch is not None and epoch != self._epoch):
                return
            order = self._order
            while len(entries) >= self._maxsize:  # O(1): the oldest live entry (leftovers are skipped)
                oldest = order.popleft()
                if entries.get(oldest[5]) is oldest:
                    self._discard_locked(oldest[5])
            if len(order) > 2 * len(entries) + _SPARE:
                self._order = order = deque(entries.values())  # drop the leftovers, keep the order
            entries[token] = entry
            order.append(entry)
            if jti is not None:
                # One token per jti is the rule; a set is built only for the rare second spelling of it.
                known = self._by_jti.get(jti)
                if known is None:
                    self._by_jti[jti] = token
                elif isinstance(known, str):
                    self._by_jti[jti] = {known, token}
                else:
                    known.add(token)

    def drop_jti(self, jti: str) -> int:
        """Forget every entry whose ``jti`` is ``jti`` (revocation); return how many were dropped."""
        with self._lock:
            self._epoch += 1
            known = self._by_jti.pop(jti, ())
            tokens = (known,) if isinstance(known, str) else known
            for token in tokens:
                self._entries.pop(token, None)
            return len(tokens)

    def drop_key(self, thumbprint: str) -> int:
        """Forget every entry verified by the key with this RFC 7638 thumbprint (it left the key set); return how
        many were dropped. Starts a new epoch, so a validation by that key in flight is not cached either."""
        with self._lock:
            self._epoch += 1
            tokens = [token for token, entry in self._entries.items() if entry[3] == thumbprint]
            for token in tokens:
                self._discard_locked(token)
            return len(tokens)

    def drop_subject(self, subject: str) -> int:
        """Forget every entry of ``subject`` (its tokens were revoked: :mod:`authhooks.tokens.subjects`); return
        how many were dropped. Starts a new epoch, so a validation of that subject in flight is not cached either.

        A scan of the entries (at most ``maxsize``, about a millisecond for 10,000) instead of an index: a subject
        revocation is rare, and an index would cost every :meth:`put`."""
        with self._lock:
            self._epoch += 1
            tokens = [token for token, entry in self._entries.items() if entry[0].subject == subject]
            for token in tokens:
                self._discard_locked(token)
            return len(tokens)

    @property
    def suspended(self) -> bool:
        """Whether the cache is bypassed because the revocation feed is down (see :meth:`suspend`)."""
        return self._suspended

    def suspend(self) -> None:
        """Stop serving and accepting entries, and forget every entry: the revocation feed is down.

        Until :meth:`resume`, :meth:`get` always misses and :meth:`put` does nothing, so every token gets the full
        check. An entry being added concurrently is refused (the flag is set under the writers' lock first).
        """
        with self._lock:
            self._suspended = True
        self.clear()

    def resume(self) -> None:
        """Serve again, starting from empty: the revocation feed is back, but what it said during the gap is lost."""
        with self._lock:
            self._suspended = False
        self.clear()

    def clear(self) -> None:
        """Forget everything (e.g. after a key was withdrawn)."""
        with self._lock:
            self._epoch += 1
            self._entries.clear()
            self._by_jti.clear()
            self._order.clear()

    def _discard(self, token: str) -> None:
        with self._lock:
            self._discard_locked(token)

    def _discard_locked(self, token: str) -> None:
        entry = self._entries.pop(token, None)
        if entry is None:
            return
        jti = entry[4]
        if jti is not None:
            known = self._by_jti.get(jti)
            if known is None:
                return
            if isinstance(known, str):
                if known == token:
                    del self._by_jti[jti]
                return
            known.discard(token)
            if not known:
                del self._by_jti[jti]
