"""Bitcoin-style "signed message" signatures: Evrmore and Bitcoin wallet logins (``signmessage``).

The format (Bitcoin Core ``signmessage``/``verifymessage``; Evrmore inherits it with its own magic):

- the message hash is ``SHA256(SHA256(varint(len(magic)) || magic || varint(len(msg)) || msg))`` with magic
  ``"Evrmore Signed Message:\\n"`` or ``"Bitcoin Signed Message:\\n"``;
- the signature is base64 of 65 bytes: a header byte ``27 + recid (+ 4 when the key is compressed)`` and the
  compact ``r || s``;
- the public key is recovered from the signature (secp256k1) and turned into a P2PKH address:
  ``base58check(version || RIPEMD160(SHA256(pubkey)))``, version 33 for Evrmore mainnet (``E…``), 0 for
  Bitcoin mainnet (``1…``); the signature is valid when that address is the subject.

Key recovery needs the optional ``coincurve`` package (``pip install authhooks[evrmore]``); it is imported on
first use, and a missing package is a :class:`~authhooks.errors.ConfigurationError`, not a refused login.
Subject validation (:meth:`SignedMessageVerifier.normalize_subject`) needs nothing beyond the standard library.
"""

from __future__ import annotations

import hashlib
import hmac
from types import ModuleType
from typing import Any

from authhooks.errors import ConfigurationError
from authhooks.verifiers._codec import b58check_decode, b58check_encode, b64decode_any
from authhooks.verifiers._ripemd160 import ripemd160
from authhooks.verifiers.base import MAX_SIGNATURE_CHARS, bad_subject

__all__ = [
    "BITCOIN_MAGIC",
    "EVRMORE_MAGIC",
    "SignedMessageVerifier",
    "bitcoin_verifier",
    "evrmore_verifier",
    "message_hash",
    "p2pkh_address",
]

EVRMORE_MAGIC = b"Evrmore Signed Message:\n"
BITCOIN_MAGIC = b"Bitcoin Signed Message:\n"

_coincurve: ModuleType | None = None


def _load_coincurve() -> ModuleType:
    global _coincurve
    if _coincurve is None:
        try:
            import coincurve
        except ImportError as exc:
            raise ConfigurationError(
                "the evrmore and bitcoin signature schemes need the 'coincurve' package: "
                "pip install 'authhooks[evrmore]'"
            ) from exc
        _coincurve = coincurve
    return _coincurve


def _varint(n: int) -> bytes:
    """Bitcoin's CompactSize encoding of ``n``."""
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def message_hash(message: bytes, magic: bytes) -> bytes:
    """The 32-byte digest a signed-message signature signs (double SHA-256 of the framed message)."""
    framed = _varint(len(magic)) + magic + _varint(len(message)) + message
    return hashlib.sha256(hashlib.sha256(framed).digest()).digest()


def p2pkh_address(public_key: bytes, version: int) -> str:
    """The base58check P2PKH address of a SEC1-encoded public key for the network ``version`` byte."""
    return b58check_encode(bytes([version]) + ripemd160(hashlib.sha256(public_key).digest()))


class SignedMessageVerifier:
    """Signed-message verification for one network (see the module docstring).

    Args:
        scheme: the scheme name (``"evrmore"``).
        magic: the message prefix (``EVRMORE_MAGIC``).
        version: the P2PKH address version byte (33 for Evrmore mainnet).
    """

    def __init__(self, scheme: str, magic: bytes, version: int) -> None:
        self.scheme = scheme
        self.magic = magic
        self.version = version

    def __repr__(self) -> str:
        return f"SignedMessageVerifier(scheme={self.scheme!r}, version={self.version})"

    def normalize_subject(self, subject: str) -> str:
        """The address itself, once its base58check checksum and version byte are right.

        Raises:
            InvalidRequest: not a P2PKH address of this network.
        """
        payload = b58check_decode(subject) if isinstance(subject, str) and len(subject) <= 64 else None
        if payload is None or len(payload) != 21 or payload[0] != self.version:
            raise bad_subject(self.scheme)
        return subject

    def recover_address(self, message: bytes, signature: str) -> str | None:
        """The address whose key made ``signature`` over ``message``, or ``None`` when the signature is malformed.

        Raises:
            ConfigurationError: ``coincurve`` is not installed.
        """
        coincurve: Any = _load_coincurve()
        if not isinstance(signature, str) or len(signature) > MAX_SIGNATURE_CHARS:
            return None
        sig = b64decode_any(signature)
        if sig is None or len(sig) != 65 or not 27 <= sig[0] <= 34:
            return None
        header = sig[0] - 27
        compressed, recid = header >= 4, header & 3
        try:
            key = coincurve.PublicKey.from_signature_and_message(
                sig[1:] + bytes([recid]), message_hash(message, self.magic), hasher=None
            )
            public = key.format(compressed=compressed)
        except Exception:  # coincurve raises ValueError/Exception for unrecoverable signatures
            return None
        return p2pkh_address(public, self.version)

    def verify(self, subject: str, message: bytes, signature: str) -> bool:
        """True when the key recovered from ``signature`` over ``message`` has the address ``subject``.

        Raises:
            ConfigurationError: ``coincurve`` is not installed.
        """
        address = self.recover_address(message, signature)
        if address is None or not isinstance(subject, str):
            return False
        return hmac.compare_digest(address.encode(), subject.encode())


def evrmore_verifier() -> SignedMessageVerifier:
    """The ``evrmore`` scheme: Evrmore mainnet P2PKH addresses (version 33, ``E…``)."""
    return SignedMessageVerifier("evrmore", EVRMORE_MAGIC, 33)


def bitcoin_verifier() -> SignedMessageVerifier:
    """The ``bitcoin`` scheme: Bitcoin mainnet P2PKH addresses (version 0, ``1…``)."""
    return SignedMessageVerifier("bitcoin", BITCOIN_MAGIC, 0)
