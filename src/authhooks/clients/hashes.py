"""Stored client secrets: PBKDF2-HMAC-SHA256 hashes (RFC 8018 §5.2) in the layout of Django's
``PBKDF2PasswordHasher``, ``pbkdf2_sha256$<iterations>$<salt>$<base64 hash>``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass

__all__ = [
    "DEFAULT_ITERATIONS",
    "HASH_SCHEME",
    "MIN_ITERATIONS",
    "SecretHash",
    "hash_client_secret",
    "new_client_secret",
    "parse_secret_hash",
]

HASH_SCHEME = "pbkdf2_sha256"
"""The one secret-hash scheme: PBKDF2-HMAC-SHA256 (RFC 8018 §5.2)."""
DEFAULT_ITERATIONS = 600_000
"""PBKDF2 iterations of a new hash (OWASP Password Storage Cheat Sheet, 2023, for PBKDF2-HMAC-SHA256)."""
MIN_ITERATIONS = 100_000
"""The fewest iterations a configured hash may have."""
_SALT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


@dataclass(frozen=True, slots=True, repr=False)
class SecretHash:
    """A parsed ``pbkdf2_sha256$<iterations>$<salt>$<hash>``; ``compute`` derives a secret's digest."""

    iterations: int
    salt: str
    digest: bytes

    def compute(self, secret: bytes) -> bytes:
        """The PBKDF2 digest of ``secret`` with this salt and count (compare it with :attr:`digest`)."""
        return hashlib.pbkdf2_hmac("sha256", secret, self.salt.encode("ascii"), self.iterations)


def parse_secret_hash(text: str) -> SecretHash:
    """Parse ``pbkdf2_sha256$<iterations>$<salt>$<base64 hash>``; ``ValueError`` saying what is wrong (never the
    value)."""
    parts = text.strip().split("$")
    if len(parts) != 4 or parts[0] != HASH_SCHEME:
        raise ValueError(f"expected {HASH_SCHEME}$<iterations>$<salt>$<hash> (make one with `authhooks client-secret`)")
    _, iterations, salt, encoded = parts
    if not iterations.isdigit() or len(iterations) > 9:
        raise ValueError("the iteration count is not a number")
    if int(iterations) < MIN_ITERATIONS:
        raise ValueError(f"the iteration count is below {MIN_ITERATIONS}")
    if not 8 <= len(salt) <= 128 or not set(salt) <= _SALT_CHARS:
        raise ValueError("the salt must be 8-128 characters of A-Z, a-z, 0-9, '-' and '_'")
    try:
        digest = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the hash is not base64") from None
    if len(digest) != 32:
        raise ValueError("the hash is not 32 bytes (SHA-256)")
    return SecretHash(int(iterations), salt, digest)


def hash_client_secret(secret: str, *, iterations: int = DEFAULT_ITERATIONS) -> str:
    """The stored form of ``secret``: ``pbkdf2_sha256$<iterations>$<random salt>$<base64 hash>``.

    Raises:
        ValueError: fewer than :data:`MIN_ITERATIONS` iterations, or an empty secret.
    """
    if not secret:
        raise ValueError("a client secret may not be empty")
    if iterations < MIN_ITERATIONS:
        raise ValueError(f"at least {MIN_ITERATIONS} iterations")
    salt = secrets.token_urlsafe(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), salt.encode("ascii"), iterations)
    return f"{HASH_SCHEME}${iterations}${salt}${base64.b64encode(digest).decode('ascii')}"


def new_client_secret(*, iterations: int = DEFAULT_ITERATIONS) -> tuple[str, str]:
    """A new random client secret (256 bits, base64url: nothing to escape in Basic or a form) and its hash."""
    secret = secrets.token_urlsafe(32)
    return secret, hash_client_secret(secret, iterations=iterations)
