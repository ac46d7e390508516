"""ID token validation (OpenID Connect Core 1.0 §3.1.3.7), without I/O: the keys are fetched by the flow.

Rules, each failure an :class:`~authhooks.oauth.errors.ExternalLoginFailed` with its ``reason``:

1. a compact JWS verified with the provider's published keys (RFC 7515; ``none`` and symmetric keys refused by
   the token layer), whose ``alg`` is one the provider advertises in ``id_token_signing_alg_values_supported``
   (OIDC Core §3.1.3.7 step 7, RFC 8725 §3.1: a key without ``alg`` allows its type's whole family, RS* and
   PS* for RSA, and the provider's list narrows it) and never ``none`` or an HMAC one (an ID token keyed by
   the client secret, which this client never verifies with) — ``id_token_invalid``;
2. ``iss`` equals the provider's issuer exactly (§3.1.3.7 step 2) — ``wrong_issuer``;
3. ``aud`` is or contains the client id, and with several audiences ``azp`` is the client id (steps 3-5) —
   ``wrong_audience``;
4. ``exp`` is in the future (with ``leeway`` seconds of clock skew), ``iat`` is a number not after
   ``now + leeway`` and ``nbf``, when present, not after ``now + leeway`` either (steps 9-10; RFC 7519 §4.1.5) —
   ``id_token_expired`` / ``id_token_invalid``;
5. ``nonce`` equals the one sent in the authorization request (step 11) — ``nonce_mismatch``;
6. ``at_hash``, when present, is the left half of the access token's hash under the algorithm's hash function,
   base64url (§3.1.3.8; §3.2.2.9) — ``at_hash_mismatch``;
7. ``sub`` is a string of 1 to 255 characters (§2), without control characters — ``id_token_invalid``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from authhooks.errors import InvalidToken
from authhooks.oauth.errors import ExternalLoginFailed
from authhooks.tokens._b64 import b64url_encode
from authhooks.tokens._json import json_number
from authhooks.tokens.jws import parse_compact, verify_compact
from authhooks.tokens.keyset import KeySet

__all__ = ["MAX_ID_TOKEN_BYTES", "at_hash", "id_token_kid", "validate_id_token"]

MAX_ID_TOKEN_BYTES = 16384

_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


def id_token_kid(id_token: object) -> str | None:
    """The ``kid`` of an ID token's header (to fetch the right keys), before any check.

    Raises:
        ExternalLoginFailed: (``id_token_missing`` / ``id_token_invalid``) not a compact JWS.
    """
    if not isinstance(id_token, str) or not id_token:
        raise ExternalLoginFailed(reason="id_token_missing")
    try:
        return parse_compact(id_token, max_bytes=MAX_ID_TOKEN_BYTES).kid
    except InvalidToken:
        raise ExternalLoginFailed(reason="id_token_invalid") from None


def at_hash(access_token: str, alg: str) -> str:
    """The ``at_hash`` of ``access_token`` for a token signed with ``alg`` (OIDC Core §3.1.3.6): the left half of
    its SHA-2 hash (the size ``alg`` names; SHA-512 for ``EdDSA`` with Ed25519), base64url. (A non-ASCII access
    token, which RFC 6749 Appendix A.12 rules out, is hashed as UTF-8 and so never matches a provider's value.)"""
    digest = (hashlib.sha512 if alg == "EdDSA" else _HASHES.get(alg[-3:], hashlib.sha256))(
        access_token.encode("utf-8", "surrogatepass")
    ).digest()
    return b64url_encode(digest[: len(digest) // 2])


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExternalLoginFailed(reason="id_token_invalid")
    return json_number(value)


def validate_id_token(
    id_token: str,
    keys: KeySet,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    now: float,
    leeway: float = 30.0,
    access_token: str | None = None,
    algorithms: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Validate ``id_token`` by the rules of the module docstring; return its claims.

    Args:
        algorithms: the provider's advertised ID token algorithms (empty: the keys' own rules alone).

    Raises:
        ExternalLoginFailed: a rule failed; ``reason`` says which.
    """
    try:
        verified = verify_compact(id_token, keys, max_bytes=MAX_ID_TOKEN_BYTES)
        claims = json.loads(verified.payload)
    except (InvalidToken, ValueError, UnicodeDecodeError):
        raise ExternalLoginFailed(reason="id_token_invalid") from None
    alg = verified.header.get("alg")
    if not isinstance(alg, str) or alg == "none" or alg.startswith("HS") or (algorithms and alg not in algorithms):
        raise ExternalLoginFailed(reason="id_token_invalid")
    if not isinstance(claims, dict):
        raise ExternalLoginFailed(reason="id_token_invalid")
    if claims.get("iss") != issuer:
        raise ExternalLoginFailed(reason="wrong_issuer")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audiences or (len(audiences) > 1 and claims.get("azp") != client_id):
        raise ExternalLoginFailed(reason="wrong_audience")
    if "azp" in claims and claims["azp"] != client_id:
        raise ExternalLoginFailed(reason="wrong_audience")
    if _number(claims, "exp") + leeway <= now:
        raise ExternalLoginFailed(reason="id_token_expired")
    if _number(claims, "iat") > now + leeway or ("nbf" in claims and _number(claims, "nbf") > now + leeway):
        raise ExternalLoginFailed(reason="id_token_invalid")
    sent = claims.get("nonce")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), nonce.encode()):
        raise ExternalLoginFailed(reason="nonce_mismatch")
    given = claims.get("at_hash")
    if given is not None and (
        not isinstance(given, str)
        or access_token is None
        or not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), at_hash(access_token, alg).encode())
    ):
        raise ExternalLoginFailed(reason="at_hash_mismatch")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 1 <= len(sub) <= 255 or not sub.isprintable():
        raise ExternalLoginFailed(reason="id_token_invalid")
    return claims
