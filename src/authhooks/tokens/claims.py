"""JWT claims validation (RFC 7519 §4 and §7.2, RFC 9068 §2 and §4, RFC 8725 §3.8-3.11).

- ``exp`` is always required; ``exp``, ``nbf``, ``iat`` and ``auth_time`` must be JSON numbers (never booleans
  or strings) and finite (RFC 7519 §2 "NumericDate").
- ``nbf`` or ``iat`` in the future beyond the leeway → :class:`TokenNotYetValid`; ``exp`` reached (minus the
  leeway) → :class:`ExpiredToken`. The leeway is bounded to 0-300 s.
- ``iss`` must equal the configured issuer; ``aud`` (a string or an array of strings) must contain a
  configured audience, and a token carrying ``aud`` is refused when no audience is configured
  (RFC 7519 §4.1.3: a recipient that does not identify itself with a value in ``aud`` must reject it).
- ``sub``, ``jti`` and ``iss`` are strings when present; a non-string ``jti`` would escape revocation.
- Explicit typing (RFC 8725 §3.11, RFC 9068 §2.1): by default an access token must carry ``typ: at+jwt``
  (``application/at+jwt`` too, case-insensitive, RFC 7515 §4.1.9), so a refresh token (``refresh+jwt``) or an ID
  token (``JWT`` or untyped) is refused with :class:`WrongTokenType`. ``token_types`` may add ``jwt`` and
  ``None`` (untyped; spelt ``none`` in ``AUTHHOOKS_ACCESS_TOKEN_TYPES``), for third-party issuers that do not
  type their access tokens (``allow_plain_jwt`` adds both). Whatever is accepted, a token not typed ``at+jwt``
  that carries the ID-token claims ``nonce`` or ``at_hash`` (OpenID Connect Core §2, §3.1.3.6) is refused: only
  the explicit ``at+jwt`` type tells an access token from an ID token.
- ``iss``: the key that verified the token may be bound to an issuer (keys fetched through discovery are bound to
  the discovered issuer, RFC 9068 §4 and OpenID Connect Discovery §4.3); then ``iss`` must equal it, whatever
  ``issuer`` says.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from authhooks.errors import (
    ConfigurationError,
    ExpiredToken,
    MalformedToken,
    MissingClaim,
    TokenNotYetValid,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from authhooks.records import Principal
from authhooks.tokens._json import loads_object
from authhooks.tokens.jws import normalize_typ

__all__ = [
    "MAX_LEEWAY_SECONDS",
    "UNTYPED",
    "ClaimsPolicy",
    "parse_token_types",
    "principal_from_claims",
    "validate_claims",
]

MAX_LEEWAY_SECONDS = 300
_INF = math.inf
_NUMERIC_DATES = ("nbf", "iat", "auth_time")
_STRINGS = ("sub", "jti", "iss", "client_id")


@dataclass(frozen=True, slots=True)
class ClaimsPolicy:
    """What a valid token's claims must satisfy; computed once, shared by every validation.

    Attributes:
        issuer: the expected ``iss``; ``None`` skips the check.
        audience: the accepted ``aud`` values; empty means tokens must not carry ``aud``.
        leeway: clock-skew allowance in seconds for ``exp``/``nbf``/``iat`` (0-300).
        required: claims that must be present besides ``exp`` (default ``sub``, which a principal needs).
        token_types: accepted header ``typ`` values (normalized: lower case, no ``application/``); ``None``
            accepts an untyped token.
        allow_plain_jwt: also accept ``typ: JWT`` and untyped tokens that are not ID tokens.
        token_type: the label put on the :class:`Principal` (``access``, ``refresh``…).
        max_claims: the most top-level claims a token may carry.
        clock: the time source (Unix seconds) used when no ``now`` is passed.
    """

    issuer: str | None = None
    audience: tuple[str, ...] = ()
    leeway: float = 30
    required: tuple[str, ...] = ("sub",)
    token_types: tuple[str | None, ...] = ("at+jwt",)
    allow_plain_jwt: bool = False
    token_type: str = "access"
    max_claims: int = 64
    clock: Callable[[], float] = field(default=time.time, compare=False)
    accepted_types: frozenset[str | None] = field(init=False, repr=False, compare=False)
    audience_set: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        raw: Any = self.audience  # a lone string is accepted for convenience
        audience = (raw,) if isinstance(raw, str) else tuple(raw)
        object.__setattr__(self, "audience", audience)
        object.__setattr__(self, "required", tuple(self.required))
        if isinstance(self.leeway, bool) or not 0 <= self.leeway <= MAX_LEEWAY_SECONDS:
            raise ConfigurationError(f"leeway must be between 0 and {MAX_LEEWAY_SECONDS} seconds")
        if not 1 <= self.max_claims <= 1024:
            raise ConfigurationError("max_claims must be between 1 and 1024")
        types: set[str | None] = {None if t is None else normalize_typ(t) for t in self.token_types}
        if self.allow_plain_jwt:
            types |= {"jwt", None}
        object.__setattr__(self, "accepted_types", frozenset(types))
        object.__setattr__(self, "audience_set", frozenset(audience))

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> ClaimsPolicy:
        """The access-token policy of :class:`~authhooks.config.Settings`: issuer, audience, leeway, accepted
        ``typ`` values (``access_token_types``) and required claims (``required_claims``, besides ``sub``)."""
        values: dict[str, Any] = {
            "issuer": settings.issuer,
            "audience": settings.audience,
            "leeway": settings.leeway_seconds,
            "token_types": parse_token_types(getattr(settings, "access_token_types", ("at+jwt",))),
            "required": ("sub", *(c for c in getattr(settings, "required_claims", ()) if c != "sub")),
        }
        values.update(overrides)
        return cls(**values)


UNTYPED = "none"
"""How ``AUTHHOOKS_ACCESS_TOKEN_TYPES`` spells "no ``typ`` header"."""


def parse_token_types(values: tuple[str, ...] | list[str]) -> tuple[str | None, ...]:
    """``AUTHHOOKS_ACCESS_TOKEN_TYPES`` as :attr:`ClaimsPolicy.token_types`: each value a media type compared
    case-insensitively with or without ``application/`` (RFC 7515 §4.1.9), ``none`` for an untyped token.

    Raises:
        ConfigurationError: an empty list, or a value that is not a media type name.
    """
    types: list[str | None] = []
    for value in values:
        typ = normalize_typ(value.strip())
        if typ == UNTYPED:
            types.append(None)
        elif typ and all(c.isalnum() or c in "+-._" for c in typ):
            types.append(typ)
        else:
            raise ConfigurationError(f"AUTHHOOKS_ACCESS_TOKEN_TYPES: {value[:40]!r} is not a token type")
    if not types:
        raise ConfigurationError("AUTHHOOKS_ACCESS_TOKEN_TYPES: accept at least one token type (default at+jwt)")
    return tuple(dict.fromkeys(types))


def _numeric(value: Any) -> float:
    """A finite NumericDate: an int or a float, never a bool or a string (RFC 7519 §2); an integer beyond a
    float's range is as malformed as ``1e400``."""
    kind = type(value)
    if kind is int:
        try:
            return float(value)
        except OverflowError:  # an integer of hundreds of digits: no date (json_number makes it inf)
            raise MalformedToken() from None
    if kind is float:
        if value != value or value == _INF or value == -_INF:
            raise MalformedToken()
        return float(value)
    raise MissingClaim()


def check_claims(
    claims: dict[str, Any], typ: str | None, policy: ClaimsPolicy, now: float, issuer: str | None = None
) -> dict[str, Any]:
    """Apply ``policy`` to decoded ``claims`` and the header's normalized ``typ``; return ``claims``.

    ``issuer`` (the verifying key's issuer, when it is bound to one) replaces ``policy.issuer``.

    Raises:
        InvalidToken: the subclass naming the first broken rule (see the module docstring).
    """
    if len(claims) > policy.max_claims:
        raise MalformedToken()
    if typ not in policy.accepted_types or (typ != "at+jwt" and ("nonce" in claims or "at_hash" in claims)):
        raise WrongTokenType()
    leeway = policy.leeway
    exp = claims.get("exp")
    if exp is None:
        raise MissingClaim()
    if _numeric(exp) <= now - leeway:  # RFC 7519 §4.1.4: not accepted on or after exp
        raise ExpiredToken()
    for name in _NUMERIC_DATES:
        value = claims.get(name)
        if value is not None and _numeric(value) > now + leeway and name != "auth_time":
            raise TokenNotYetValid()  # RFC 7519 §4.1.5; an iat in the future is as suspect
    for name in _STRINGS:
        value = claims.get(name)
        if value is not None and type(value) is not str:
            raise MissingClaim()
    expected = issuer or policy.issuer
    if expected is not None:
        iss = claims.get("iss")
        if iss is None:
            raise MissingClaim()
        if iss != expected:
            raise WrongIssuer()
    aud = claims.get("aud")
    if aud is not None:
        if type(aud) is str:
            accepted = aud in policy.audience_set
        elif type(aud) is list and aud and all(type(a) is str for a in aud):
            accepted = not policy.audience_set.isdisjoint(aud)
        else:
            raise MissingClaim()
        if not accepted:
            raise WrongAudience()
    elif policy.audience:
        raise MissingClaim()
    for name in policy.required:
        if name not in claims:
            raise MissingClaim()
    return claims


def validate_claims(
    header: Mapping[str, Any], payload: bytes, policy: ClaimsPolicy, now: float | None = None
) -> dict[str, Any]:
    """Decode a verified JWS payload as JWT claims and check them against ``policy`` (no I/O).

    Args:
        header: the verified protected header (its ``typ`` is checked).
        payload: the verified payload bytes.
        policy: the rules to apply.
        now: the current Unix time (default ``policy.clock()``).

    Returns:
        The claims, a fresh dict.

    Raises:
        MalformedToken: the payload is not a strict JSON object (RFC 7519 §7.2 steps 9-10), has too many
            claims, or a non-finite NumericDate.
        WrongTokenType, MissingClaim, ExpiredToken, TokenNotYetValid, WrongIssuer, WrongAudience.
    """
    typ = header.get("typ")
    if typ is not None and type(typ) is not str:
        raise MalformedToken()
    claims = loads_object(payload)
    return check_claims(
        claims, None if typ is None else normalize_typ(typ), policy, policy.clock() if now is None else now
    )


def scopes_of(claims: Mapping[str, Any]) -> frozenset[str]:
    scope = claims.get("scope")
    if scope is not None:
        if type(scope) is not str:
            raise MissingClaim()
        return frozenset(scope.split())  # RFC 9068 §2.2.3, RFC 6749 §3.3: space-delimited
    scp = claims.get("scp")
    if scp is not None:
        if type(scp) is str:
            return frozenset(scp.split())
        if type(scp) is not list or not all(type(s) is str for s in scp):
            raise MissingClaim()
        return frozenset(scp)
    return frozenset()


def principal_from_claims(
    claims: Mapping[str, Any],
    *,
    token_type: str | None = "access",
) -> Principal:
    """Build the :class:`Principal` of validated claims: ``sub``, read-only claims, scopes.

    Scopes come from ``scope`` (a space-separated string, RFC 9068 §2.2.3) or else ``scp`` (an array of
    strings, or a string, as some issuers send it).

    Raises:
        MissingClaim: no string ``sub``, or a ``scope``/``scp`` of the wrong type.
    """
    sub = claims.get("sub")
    if type(sub) is not str:
        raise MissingClaim()
    return Principal(
        subject=sub,
        claims=MappingProxyType(dict(claims)) if not isinstance(claims, MappingProxyType) else claims,
        scopes=scopes_of(claims),
        token_type=token_type,
    )
