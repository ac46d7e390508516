"""Helpers for the token tests: a real key of every algorithm, claims/headers and a raw token forger."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from authhooks.tokens import ClaimsPolicy, Key
from authhooks.tokens._b64 import b64url_encode

ALL_ALGORITHMS = (
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip
ISSUER = "https://issuer.example"
AUDIENCE = "api://orders"
NOW = 1_800_000_000.0

_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_CURVES = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}


def make_key(alg: str, *, kid: str | None = None) -> Key:
    """A real key for ``alg`` (RSA keys share one 2048-bit key to keep the suite fast)."""
    if alg.startswith("HS"):
        return Key.from_secret(b"s" * {"HS256": 32, "HS384": 48, "HS512": 64}[alg], (alg,), kid=kid)
    if alg[:2] in ("RS", "PS"):
        return Key.from_crypto_key(_RSA, (alg,), kid=kid)
    if alg.startswith("ES"):
        return Key.from_crypto_key(ec.generate_private_key(_CURVES[alg]), (alg,), kid=kid)
    return Key.from_crypto_key(ed25519.Ed25519PrivateKey.generate(), (alg,), kid=kid)


def seg(value: dict[str, Any] | bytes | str) -> str:
    """Encode a header/payload: a dict as compact JSON, bytes or str taken raw."""
    if isinstance(value, dict):
        value = json.dumps(value, separators=(",", ":"))
    if isinstance(value, str):
        value = value.encode("utf-8")
    return b64url_encode(value)


def forge(
    key: Key, header: dict[str, Any] | bytes | str, payload: dict[str, Any] | bytes | str, alg: str | None = None
) -> str:
    """A compact JWS over exactly these header/payload bytes, signed by ``key`` with ``alg``."""
    signing_input = f"{seg(header)}.{seg(payload)}"
    signature = key.sign(signing_input.encode("ascii"), alg or key.algorithms[0])
    return f"{signing_input}.{b64url_encode(signature)}"


def claims(**extra: Any) -> dict[str, Any]:
    """Valid access-token claims at :data:`NOW`."""
    body: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": AUDIENCE,
        "iat": int(NOW) - 10,
        "exp": int(NOW) + 600,
        "jti": "jti-1",
        "scope": "orders:read orders:write",
    }
    body.update(extra)
    return {k: v for k, v in body.items() if v is not ...}


def header(key: Key, **extra: Any) -> dict[str, Any]:
    """A valid access-token header for ``key``."""
    body: dict[str, Any] = {"alg": key.algorithms[0], "typ": "at+jwt", "kid": key.kid}
    body.update(extra)
    return {k: v for k, v in body.items() if v is not ...}


def policy(**overrides: Any) -> ClaimsPolicy:
    values: dict[str, Any] = {"issuer": ISSUER, "audience": (AUDIENCE,), "leeway": 30, "clock": lambda: NOW}
    values.update(overrides)
    return ClaimsPolicy(**values)
