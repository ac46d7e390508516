"""An immutable set of keys with the selection rules of RFC 7515 §4.1.4 and RFC 8725 §3.1."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from authhooks.errors import BadAlgorithm, ConfigurationError, UnknownKey
from authhooks.tokens._algorithms import Verifier
from authhooks.tokens.keys import Key

__all__ = ["MAX_KIDLESS_CANDIDATES", "KeySet"]

MAX_KIDLESS_CANDIDATES = 3
"""A token without ``kid`` is tried against at most this many keys that allow its algorithm."""

_HEADER_CACHE_SIZE = 256


class KeySet:
    """An immutable, ordered set of :class:`Key` objects, selected by ``kid`` and algorithm.

    Keys whose ``use`` is not ``sig`` or whose ``key_ops`` lack ``verify`` are kept (and listed) but never
    selected for verification (RFC 7517 §4.2-4.3).

    Args:
        keys: the keys; their ``kid`` values must be distinct.

    Raises:
        ConfigurationError: two keys share a ``kid``.
    """

    __slots__ = ("_by_alg", "_by_kid", "_keys", "header_cache")

    def __init__(self, keys: Iterable[Key] = ()) -> None:
        self._keys: tuple[Key, ...] = tuple(keys)
        self._by_kid: dict[str, Key] = {}
        by_alg: dict[str, list[tuple[Key, Verifier]]] = {}
        for key in self._keys:
            if key.kid in self._by_kid:
                raise ConfigurationError(f"two keys share the kid {key.kid!r}")
            self._by_kid[key.kid] = key
            if key.can_verify:
                for alg, verifier in key.verifiers.items():
                    by_alg.setdefault(alg, []).append((key, verifier))
        self._by_alg: dict[str, tuple[tuple[Key, Verifier], ...]] = {
            alg: tuple(found[:MAX_KIDLESS_CANDIDATES]) for alg, found in by_alg.items()
        }
        self.header_cache: dict[str, Any] = {}
        """Parsed header segments of verified tokens, private to :mod:`authhooks.tokens.jws`."""

    def __iter__(self) -> Iterator[Key]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, kid: object) -> bool:
        return kid in self._by_kid

    def __repr__(self) -> str:
        return f"KeySet(kids={[k.kid for k in self._keys]!r})"

    @property
    def kids(self) -> tuple[str, ...]:
        """The key ids, in order."""
        return tuple(self._by_kid)

    def get(self, kid: str) -> Key | None:
        """The key with this ``kid``, usable or not, or ``None``."""
        return self._by_kid.get(kid)

    def select(self, kid: str | None, alg: str) -> tuple[tuple[Key, Verifier], ...]:
        """The keys (with their prepared verifier) a token with this ``kid`` and ``alg`` may be checked against.

        With a ``kid``, exactly that key; without, the first :data:`MAX_KIDLESS_CANDIDATES` usable keys whose
        allow-list contains ``alg``. The token's ``alg`` only narrows the choice: it never adds an algorithm
        to a key (RFC 8725 §3.1).

        Raises:
            UnknownKey: no usable key has this ``kid``; reason ``no_usable_key`` when the set is empty (e.g. the
                issuer's JWKS was fetched but held no key authhooks can use: a 401, not a 503).
            BadAlgorithm: the selected key (or, without ``kid``, every key) does not allow ``alg``.
        """
        if not self._keys:
            raise UnknownKey(reason="no_usable_key")
        if kid is not None:
            key = self._by_kid.get(kid)
            if key is None or not key.can_verify:
                raise UnknownKey()
            verifier = key.verifiers.get(alg)
            if verifier is None:
                raise BadAlgorithm()
            return ((key, verifier),)
        found = self._by_alg.get(alg)
        if found is None:
            raise BadAlgorithm()
        return found

    def union(self, other: Iterable[Key]) -> KeySet:
        """A new set with this set's keys followed by ``other``'s (a shared ``kid`` is an error)."""
        return KeySet((*self._keys, *other))

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public JWK Set (RFC 7517 §5): asymmetric keys only, never private or secret members."""
        return {"keys": [dict(k.public_jwk) for k in self._keys if k.public_jwk is not None]}


def cache_header(keys: KeySet, segment: str, entry: Any) -> None:
    """Remember a verified header segment's parsed form (bounded; cleared when full)."""
    cache = keys.header_cache
    if len(cache) >= _HEADER_CACHE_SIZE:
        cache.clear()
    cache[segment] = entry
