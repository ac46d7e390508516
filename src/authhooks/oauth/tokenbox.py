"""The provider's tokens at rest: AES-256-GCM (NIST SP 800-38D) under a key from ``AUTHHOOKS_OAUTH_TOKEN_KEY`` or,
unset, ``state_dir/oauth-token-key`` (32 random bytes as hex, created once with mode 0600, like the audit key).

The configured secret (at least 32 bytes) is stretched with HKDF-SHA256 (RFC 5869) into the AES key, so a
passphrase-like value and a random one are used the same way. Each record is ``nonce (12 bytes) || ciphertext
|| tag``; the store key is the associated data, so a record moved to another subject's key does not decrypt.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from authhooks._files import key_file
from authhooks.config import Settings
from authhooks.errors import ConfigurationError

__all__ = ["KEY_FILENAME", "TokenBox"]

logger = logging.getLogger("authhooks")

KEY_FILENAME = "oauth-token-key"
MIN_KEY_BYTES = 32


def _checked(key: bytes, where: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise ConfigurationError(f"{where}: the key must be at least {MIN_KEY_BYTES} bytes, got {len(key)}")
    return key


def _read(path: Path) -> bytes:
    try:
        return _checked(path.read_bytes().strip(), f"oauth token key file {path}")
    except OSError as exc:
        raise ConfigurationError(f"oauth token key file {path}: cannot read it ({exc.strerror})") from None


def _key_material(settings: Settings) -> bytes:
    if settings.oauth_token_key is not None:
        return _checked(bytes(settings.oauth_token_key), "AUTHHOOKS_OAUTH_TOKEN_KEY")
    path = settings.state_dir / KEY_FILENAME
    key, created = key_file(path, _read)
    if created:
        logger.warning(
            "authhooks: no AUTHHOOKS_OAUTH_TOKEN_KEY configured; generated one at %s (mode 0600). Every instance "
            "must share it to read the provider tokens the others kept",
            path,
        )
    return key


class TokenBox:
    """Encrypts and decrypts the provider tokens kept in the store.

    Args:
        settings: where the key comes from (``oauth_token_key`` or ``state_dir``).

    Raises:
        ConfigurationError: a key shorter than 32 bytes, or a key file that cannot be read or written.
    """

    __slots__ = ("_aead",)

    def __init__(self, settings: Settings) -> None:
        material = _key_material(settings)
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"authhooks oauth tokens").derive(material)
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "TokenBox()"

    def seal(self, plaintext: bytes, context: str) -> bytes:
        """Encrypt ``plaintext`` bound to ``context`` (the store key)."""
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode("utf-8"))

    def open(self, sealed: bytes, context: str) -> bytes | None:
        """Decrypt what :meth:`seal` made for ``context``; ``None`` when it was altered, made for another context or
        under another key."""
        if len(sealed) < 12 + 16:
            return None
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], context.encode("utf-8"))
        except InvalidTag:
            return None
