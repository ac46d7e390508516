"""The fast access-token check: strict JWS verification, claims policy and principal in one call, no I/O."""

from __future__ import annotations

from types import MappingProxyType

from authhooks.errors import MissingClaim
from authhooks.records import Principal
from authhooks.tokens._json import loads_object
from authhooks.tokens.claims import ClaimsPolicy, check_claims, scopes_of
from authhooks.tokens.jws import MAX_TOKEN_BYTES, decode_segment, verify_segments
from authhooks.tokens.keys import Key
from authhooks.tokens.keyset import KeySet

__all__ = ["TokenValidator"]


class TokenValidator:
    """Validates JWTs against a key set and a claims policy; everything is prepared at construction.

    Args:
        keyset: the trusted keys (may be replaced per call, e.g. with a freshly fetched remote set).
        policy: the claims rules.
        max_bytes: the longest token accepted.

    The validator holds no per-call state and is safe to share between threads and tasks.
    """

    __slots__ = ("_clock", "_keyset", "_max_bytes", "_policy", "_token_type")

    def __init__(self, keyset: KeySet | None, policy: ClaimsPolicy, *, max_bytes: int = MAX_TOKEN_BYTES) -> None:
        self._keyset = keyset if keyset is not None else KeySet()
        self._policy = policy
        self._max_bytes = max_bytes
        self._clock = policy.clock
        self._token_type = policy.token_type

    @property
    def keyset(self) -> KeySet:
        """The default key set."""
        return self._keyset

    @property
    def policy(self) -> ClaimsPolicy:
        """The claims policy."""
        return self._policy

    def validate(self, token: str, now: float | None = None, *, keys: KeySet | None = None) -> Principal:
        """Verify ``token`` and its claims; return its principal (RFC 7515 §5.2, RFC 7519 §7.2).

        Args:
            token: the compact JWT, exactly as received.
            now: the current Unix time (default: the policy's clock).
            keys: a key set to use instead of the default one for this call.

        Raises:
            InvalidToken: the subclass naming why (malformed, algorithm, key, signature, claims, type).
        """
        return self.validate_keyed(token, now, keys=keys)[0]

    def validate_keyed(
        self, token: str, now: float | None = None, *, keys: KeySet | None = None
    ) -> tuple[Principal, Key]:
        """:meth:`validate`, also returning the key that verified the signature (the validated-token cache files
        each entry under it, so that a key leaving the key set evicts what it vouched for).

        A key bound to an issuer (:meth:`Key.bound_to`) requires exactly that ``iss``.
        """
        entry, payload, key = verify_segments(token, keys if keys is not None else self._keyset, self._max_bytes)
        claims = check_claims(
            loads_object(decode_segment(payload)),
            entry.typ,
            self._policy,
            self._clock() if now is None else now,
            key.issuer,
        )
        sub = claims.get("sub")
        if type(sub) is not str:
            raise MissingClaim()
        return Principal(sub, MappingProxyType(claims), scopes_of(claims), self._token_type), key
