"""Ed25519 (RFC 8032) and ECDSA P-256 (FIPS 186-5, SHA-256) signatures over challenge messages.

Subjects (the public key itself, so no user database is needed):

- ``ed25519``: the raw 32-byte public key in base64url (RFC 4648 §5, padding optional; canonical form without
  padding), or a ``did:key:z6Mk…`` identifier (W3C did:key: multibase ``z`` = base58btc of the multicodec
  ``ed25519-pub`` prefix ``0xed 0x01`` and the key).
- ``p256``: the SEC1 public point (compressed, 33 bytes, or uncompressed, 65 bytes) in base64url, or a
  ``did:key:zDn…`` identifier (multicodec ``p256-pub`` ``0x80 0x24``, compressed point). The canonical form of a
  base64url subject is the encoding the client chose, without padding: compressed and uncompressed forms of one
  key are different subjects.

Signatures are base64url or base64 text. Ed25519: the 64-byte signature. P-256: either the 64-byte raw
``r || s`` that WebCrypto's ``sign({name: "ECDSA", hash: "SHA-256"})`` returns, or a DER ``ECDSA-Sig-Value``
(RFC 3279 §2.2.3) as OpenSSL and most libraries produce.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from authhooks.verifiers._codec import b58decode, b64decode_any, b64url_encode
from authhooks.verifiers.base import MAX_SIGNATURE_CHARS, bad_subject

__all__ = ["Ed25519Verifier", "P256Verifier", "did_key_decode"]

_DID_KEY = "did:key:z"
_ED25519_CODEC = b"\xed\x01"
_P256_CODEC = b"\x80\x24"
_MAX_SUBJECT = 256


def did_key_decode(subject: str, codec: bytes) -> bytes | None:
    """The key bytes of a ``did:key:z…`` identifier with multicodec prefix ``codec``, else ``None``."""
    if not subject.startswith(_DID_KEY) or len(subject) > _MAX_SUBJECT:
        return None
    raw = b58decode(subject[len(_DID_KEY) :])
    if raw is None or not raw.startswith(codec):
        return None
    return raw[len(codec) :]


def _signature_bytes(signature: str) -> bytes | None:
    if not isinstance(signature, str) or len(signature) > MAX_SIGNATURE_CHARS:
        return None
    return b64decode_any(signature)


class Ed25519Verifier:
    """Ed25519 signatures (RFC 8032 §5.1.7); see the module docstring for the subject forms."""

    scheme = "ed25519"

    def _key_bytes(self, subject: str) -> bytes | None:
        if not isinstance(subject, str) or len(subject) > _MAX_SUBJECT:
            return None
        raw = did_key_decode(subject, _ED25519_CODEC) if subject.startswith("did:") else b64decode_any(subject)
        return raw if raw is not None and len(raw) == 32 else None

    def normalize_subject(self, subject: str) -> str:
        """The subject as given (``did:key``) or re-encoded as unpadded base64url.

        Raises:
            InvalidRequest: not a base64url 32-byte key nor an Ed25519 ``did:key``.
        """
        raw = self._key_bytes(subject)
        if raw is None:
            raise bad_subject(self.scheme)
        return subject if subject.startswith("did:") else b64url_encode(raw)

    def verify(self, subject: str, message: bytes, signature: str) -> bool:
        """True when ``signature`` is a valid Ed25519 signature of ``message`` by the subject's key."""
        raw, sig = self._key_bytes(subject), _signature_bytes(signature)
        if raw is None or sig is None or len(sig) != 64:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(sig, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class P256Verifier:
    """ECDSA over P-256 with SHA-256; see the module docstring for the subject and signature forms."""

    scheme = "p256"

    def _key(self, subject: str) -> ec.EllipticCurvePublicKey | None:
        if not isinstance(subject, str) or len(subject) > _MAX_SUBJECT:
            return None
        raw = did_key_decode(subject, _P256_CODEC) if subject.startswith("did:") else b64decode_any(subject)
        if raw is None or len(raw) not in (33, 65):
            return None
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError:  # not a point on the curve
            return None

    def normalize_subject(self, subject: str) -> str:
        """The subject as given (``did:key``) or re-encoded as unpadded base64url.

        Raises:
            InvalidRequest: not a SEC1 P-256 point in base64url nor a P-256 ``did:key``.
        """
        if self._key(subject) is None:
            raise bad_subject(self.scheme)
        if subject.startswith("did:"):
            return subject
        raw = b64decode_any(subject)
        assert raw is not None  # _key decoded it
        return b64url_encode(raw)

    def verify(self, subject: str, message: bytes, signature: str) -> bool:
        """True when ``signature`` (raw ``r||s`` or DER) is a valid ECDSA P-256/SHA-256 signature of ``message``."""
        key, sig = self._key(subject), _signature_bytes(signature)
        if key is None or sig is None:
            return False
        if len(sig) == 64:
            sig = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        elif not 8 <= len(sig) <= 72 or sig[0] != 0x30:
            return False
        try:
            key.verify(sig, message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True
