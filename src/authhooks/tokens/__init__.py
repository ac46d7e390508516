"""The token layer: strict JWS/JWT, keys, remote key sets, the validated-token cache and refresh helpers.

Everything here is pure (no I/O) except :class:`RemoteKeySet` and :func:`load_or_create_default_key`, so the
flows can call it from sans-IO generators. Typical use::

    signing, keyset, remote = keys_from_settings(settings)
    issuer = TokenIssuer([signing], issuer=settings.issuer, audience=settings.audience)
    validator = TokenValidator(issuer.keyset, ClaimsPolicy.from_settings(settings))
    principal = validator.validate(issuer.issue("alice", {"scope": "read"}).token)
"""

from __future__ import annotations

from authhooks.tokens.cache import ValidatedTokenCache
from authhooks.tokens.claims import ClaimsPolicy, principal_from_claims, validate_claims
from authhooks.tokens.issuer import IssuedToken, TokenIssuer, new_jti
from authhooks.tokens.jwks import RemoteKeySet
from authhooks.tokens.jws import (
    MAX_TOKEN_BYTES,
    ParsedJWS,
    VerifiedJWS,
    parse_compact,
    verify_compact,
)
from authhooks.tokens.keys import Key, thumbprint
from authhooks.tokens.keyset import KeySet
from authhooks.tokens.loading import keys_from_settings, load_or_create_default_key
from authhooks.tokens.refresh import RefreshRecord, hash_refresh_token, new_refresh_token
from authhooks.tokens.validator import TokenValidator

__all__ = [
    "MAX_TOKEN_BYTES",
    "ClaimsPolicy",
    "IssuedToken",
    "Key",
    "KeySet",
    "ParsedJWS",
    "RefreshRecord",
    "RemoteKeySet",
    "TokenIssuer",
    "TokenValidator",
    "ValidatedTokenCache",
    "VerifiedJWS",
    "hash_refresh_token",
    "keys_from_settings",
    "load_or_create_default_key",
    "new_jti",
    "new_refresh_token",
    "parse_compact",
    "principal_from_claims",
    "thumbprint",
    "validate_claims",
    "verify_compact",
]
