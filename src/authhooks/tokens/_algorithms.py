"""The JWS algorithms authhooks accepts (RFC 7518 §3, RFC 8037 §3.1, RFC 9864 §2.2) and their prepared sign/verify
callables.

PyJWT's algorithm objects load, export and sign keys; verification calls ``cryptography`` (and ``hmac``)
directly with everything prepared once per key, because the verify call is the hot path and PyJWT's generic
plumbing around it costs more than the check itself for HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.algorithms import Algorithm, get_default_algorithms

__all__ = ["ALGORITHMS", "FAMILIES", "AlgSpec", "Signer", "Verifier", "make_signer", "make_verifier"]

Verifier = Callable[[bytes, bytes], bool]
"""``verify(signing_input, signature) -> bool``."""
Signer = Callable[[bytes], bytes]
"""``sign(signing_input) -> signature``."""

_PYJWT = get_default_algorithms()


@dataclass(frozen=True, slots=True)
class AlgSpec:
    """One JWS ``alg`` value.

    Attributes:
        name: the registered name (RFC 7518 §3.1).
        kty: the JWK key type it needs (RFC 7518 §6.1).
        hash_name: the hashlib name of its hash (``None`` for EdDSA).
        digest_size: the hash output size in bytes; also the shortest HMAC secret accepted (RFC 7518 §3.2).
        curve: the curve an ``ES*`` key must be on (RFC 7518 §3.4), or the one the fully-specified ``Ed25519`` /
            ``Ed448`` algorithms name (RFC 9864 §2.2); ``None`` for ``EdDSA``, which serves both curves.
        impl: PyJWT's algorithm object (key loading, export and signing). PyJWT does not know the RFC 9864 names:
            ``Ed25519`` and ``Ed448`` sign with its ``EdDSA`` object, which is the same algorithm on a key of
            that curve.
    """

    name: str
    kty: str
    hash_name: str | None
    digest_size: int
    curve: str | None
    impl: Algorithm


def _spec(name: str, kty: str, hash_name: str | None, curve: str | None = None) -> AlgSpec:
    size = hashlib.new(hash_name).digest_size if hash_name else 0
    return AlgSpec(name, kty, hash_name, size, curve, _PYJWT[name if kty != "OKP" else "EdDSA"])


ALGORITHMS: dict[str, AlgSpec] = {
    spec.name: spec
    for spec in (
        _spec("HS256", "oct", "sha256"),
        _spec("HS384", "oct", "sha384"),
        _spec("HS512", "oct", "sha512"),
        _spec("RS256", "RSA", "sha256"),
        _spec("RS384", "RSA", "sha384"),
        _spec("RS512", "RSA", "sha512"),
        _spec("PS256", "RSA", "sha256"),
        _spec("PS384", "RSA", "sha384"),
        _spec("PS512", "RSA", "sha512"),
        _spec("ES256", "EC", "sha256", "P-256"),
        _spec("ES384", "EC", "sha384", "P-384"),
        _spec("ES512", "EC", "sha512", "P-521"),
        _spec("EdDSA", "OKP", None),
        _spec("Ed25519", "OKP", None, "Ed25519"),
        _spec("Ed448", "OKP", None, "Ed448"),
    )
}
"""Every algorithm authhooks signs and verifies with. ``none`` is absent on purpose (RFC 8725 §3.1)."""

FAMILIES: dict[str, tuple[str, ...]] = {
    "oct": ("HS256", "HS384", "HS512"),
    "RSA": ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    "P-256": ("ES256",),
    "P-384": ("ES384",),
    "P-521": ("ES512",),
    "Ed25519": ("EdDSA", "Ed25519"),
    "Ed448": ("EdDSA", "Ed448"),
}
"""The algorithms a key of each type (or curve) allows when its JWK names no ``alg``: its whole family, never
another key type's (RFC 7518 §3.1, RFC 8037 §3.1, RFC 9864 §2.2; RFC 8725 §3.1)."""

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_CURVE_BYTES = {"P-256": 32, "P-384": 48, "P-521": 66}


_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


def _hmac_states(secret: bytes, hash_name: str) -> tuple[Any, Any]:
    """The hash states after the inner and the outer padded key of HMAC (RFC 2104 §2: a key longer than the
    hash's block is hashed first, a shorter one padded with zeros), computed once per key: a verification then
    copies them instead of redoing the key schedule, which halves ``hmac.digest``'s cost per token. Checked
    against :func:`hmac.digest` by the tests, for every key length around the block size."""
    new = getattr(hashlib, hash_name)
    block = new().block_size
    if len(secret) > block:
        secret = new(secret).digest()
    padded = secret.ljust(block, b"\0")
    return new(padded.translate(_IPAD)), new(padded.translate(_OPAD))


def make_verifier(spec: AlgSpec, key: Any) -> Verifier:
    """Return a prepared ``verify(signing_input, signature)`` for ``key`` (secret bytes or a public key).

    The caller has already checked that ``key`` suits ``spec`` (type, size, curve).
    """
    if spec.kty == "oct":
        inner, outer = _hmac_states(key, spec.hash_name or "")
        compare = hmac.compare_digest

        def verify_hmac(msg: bytes, sig: bytes) -> bool:
            # HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)), RFC 2104 §2, from the two prepared states.
            inside = inner.copy()
            inside.update(msg)
            mac = outer.copy()
            mac.update(inside.digest())
            return compare(mac.digest(), sig)

        return verify_hmac
    if spec.kty == "RSA":
        rsa_key: rsa.RSAPublicKey = key
        hash_obj = _HASHES[spec.hash_name or ""]()
        pad: padding.AsymmetricPadding
        if spec.name.startswith("PS"):
            # RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash output.
            pad = padding.PSS(mgf=padding.MGF1(hash_obj), salt_length=spec.digest_size)
        else:
            pad = padding.PKCS1v15()
        rsa_verify = rsa_key.verify

        def verify_rsa(msg: bytes, sig: bytes) -> bool:
            try:
                rsa_verify(sig, msg, pad, hash_obj)
            except InvalidSignature:
                return False
            return True

        return verify_rsa
    if spec.kty == "EC":
        ec_key: ec.EllipticCurvePublicKey = key
        size = _CURVE_BYTES[spec.curve or ""]
        ecdsa = ec.ECDSA(_HASHES[spec.hash_name or ""]())
        ec_verify = ec_key.verify
        from_bytes = int.from_bytes

        def verify_ec(msg: bytes, sig: bytes) -> bool:
            # RFC 7518 §3.4: the signature is R || S, each exactly the curve's size; DER is what OpenSSL wants.
            if len(sig) != 2 * size:
                return False
            der = encode_dss_signature(from_bytes(sig[:size], "big"), from_bytes(sig[size:], "big"))
            try:
                ec_verify(der, msg, ecdsa)
            except InvalidSignature:
                return False
            return True

        return verify_ec
    okp_key: ed25519.Ed25519PublicKey | ed448.Ed448PublicKey = key
    okp_verify = okp_key.verify

    def verify_okp(msg: bytes, sig: bytes) -> bool:
        try:
            okp_verify(sig, msg)
        except InvalidSignature:
            return False
        return True

    return verify_okp


def make_signer(spec: AlgSpec, key: Any) -> Signer:
    """Return a prepared ``sign(signing_input)`` for ``key`` (secret bytes or a private key), via PyJWT."""
    impl = spec.impl

    def sign(msg: bytes) -> bytes:
        return impl.sign(msg, key)

    return sign
