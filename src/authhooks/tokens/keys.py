"""Signing and verification keys: :class:`Key`, built from a secret, a PEM file, a JWK or freshly generated.

A key carries its own algorithm allow-list (RFC 8725 §3.1: the algorithm is a property of the key, never of the
token), its ``use``/``key_ops`` (RFC 7517 §4.2-4.3), its RFC 7638 thumbprint (the default ``kid``) and
verify/sign callables prepared once, so the hot path never re-parses key material. Weak keys are refused at
construction (RFC 7518 §3.2, §3.3, §3.4; RFC 8725 §3.5), and so are RSA keys with the ROCA fingerprint
(CVE-2017-15361, :mod:`authhooks.tokens._roca`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.exceptions import PyJWTError

from authhooks.config import Secret
from authhooks.errors import ConfigurationError
from authhooks.tokens._algorithms import ALGORITHMS, FAMILIES, Signer, Verifier, make_signer, make_verifier
from authhooks.tokens._b64 import b64url_encode
from authhooks.tokens._roca import has_roca_fingerprint

__all__ = ["MIN_RSA_BITS", "Key", "thumbprint"]

MIN_RSA_BITS = 2048
"""The smallest RSA modulus accepted (RFC 7518 §3.3)."""

_CURVES: dict[type[ec.EllipticCurve], str] = {ec.SECP256R1: "P-256", ec.SECP384R1: "P-384", ec.SECP521R1: "P-521"}
_CURVE_ALG = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_GEN_CURVES: dict[str, type[ec.EllipticCurve]] = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1}
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

_Private = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 §3 JWK thumbprint: SHA-256 over the required members, sorted, without whitespace."""
    members = ("k", "kty") if jwk.get("kty") == "oct" else _THUMBPRINT_MEMBERS[str(jwk.get("kty"))]
    canonical = json.dumps({m: jwk[m] for m in members}, sort_keys=True, separators=(",", ":"))
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Key:
    """One JWS key with its allow-list; build it with a ``from_*`` constructor or :meth:`generate`.

    Attributes:
        kid: the key id; by default the RFC 7638 thumbprint.
        kty: the JWK key type (``oct``, ``RSA``, ``EC``, ``OKP``).
        algorithms: the JWS algorithms this key may be used with, never taken from a token.
        use: the JWK ``use`` (RFC 7517 §4.2), ``None`` when unspecified.
        key_ops: the JWK ``key_ops`` (RFC 7517 §4.3), ``None`` when unspecified.
        thumbprint: the RFC 7638 SHA-256 thumbprint, base64url.
        public_jwk: the public JWK (read-only), or ``None`` for a symmetric key, which is never published.
        verify_key: the prepared verification key (a public key object or the secret bytes).
        signing_key: the prepared signing key (a private key object or the secret bytes), or ``None``.
        issuer: the only ``iss`` a token this key verifies may carry, or ``None`` (the claims policy decides).

    ``repr`` shows the kid, type and algorithms only; key material never appears in a message or log.
    """

    kid: str
    kty: str
    algorithms: tuple[str, ...]
    use: str | None
    key_ops: tuple[str, ...] | None
    thumbprint: str
    public_jwk: Mapping[str, Any] | None
    verify_key: Any
    signing_key: Any
    verifiers: Mapping[str, Verifier] = field(default_factory=dict)
    signers: Mapping[str, Signer] = field(default_factory=dict)
    issuer: str | None = None

    def bound_to(self, issuer: str | None) -> Key:
        """This key, bound to ``issuer``: a token it verifies must carry exactly that ``iss`` (RFC 9068 §4;
        OpenID Connect Discovery §4.3: the keys of a discovered issuer vouch for that issuer only)."""
        return self if issuer == self.issuer else dataclasses.replace(self, issuer=issuer)

    def __repr__(self) -> str:
        return f"Key(kid={self.kid!r}, kty={self.kty!r}, algorithms={self.algorithms!r})"

    # -- capabilities ---------------------------------------------------------------------------------------

    @property
    def can_verify(self) -> bool:
        """True unless ``use`` is not ``sig`` or ``key_ops`` lacks ``verify`` (RFC 7517 §4.2-4.3)."""
        return (self.use is None or self.use == "sig") and (self.key_ops is None or "verify" in self.key_ops)

    @property
    def can_sign(self) -> bool:
        """True when the key holds private (or secret) material and may sign."""
        return (
            self.signing_key is not None
            and (self.use is None or self.use == "sig")
            and (self.key_ops is None or "sign" in self.key_ops)
        )

    def verify(self, signing_input: bytes, signature: bytes, alg: str) -> bool:
        """Check ``signature`` over ``signing_input`` with ``alg``; False when ``alg`` is not allowed."""
        verifier = self.verifiers.get(alg)
        return verifier is not None and verifier(signing_input, signature)

    def sign(self, signing_input: bytes, alg: str | None = None) -> bytes:
        """Sign ``signing_input`` with ``alg`` (default: the first allowed algorithm).

        Raises:
            ConfigurationError: the key cannot sign, or ``alg`` is not in its allow-list.
        """
        signer = self.signers.get(alg or self.algorithms[0])
        if signer is None or not self.can_sign:
            raise ConfigurationError(f"key {self.kid!r} cannot sign with {alg or self.algorithms[0]}")
        return signer(signing_input)

    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM; handle the result as a secret.

        Raises:
            ConfigurationError: the key is symmetric or public only.
        """
        if self.kty == "oct" or self.signing_key is None:
            raise ConfigurationError(f"key {self.kid!r} has no private key to export")
        pem: bytes = self.signing_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return pem

    # -- constructors ---------------------------------------------------------------------------------------

    @classmethod
    def from_secret(
        cls, secret: str | bytes | Secret, algorithms: Iterable[str] = ("HS256",), *, kid: str | None = None
    ) -> Key:
        """An HMAC key; the secret must be at least as long as the longest allowed hash (RFC 7518 §3.2).

        Raises:
            ConfigurationError: an unknown/non-HMAC algorithm or a secret that is too short.
        """
        raw = bytes(secret) if isinstance(secret, Secret) else secret
        raw = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
        return cls._build("oct", raw, raw, tuple(algorithms), kid=kid)

    @classmethod
    def from_pem(cls, data: str | bytes, algorithms: Iterable[str] | None = None, *, kid: str | None = None) -> Key:
        """A key from a PEM private key (which signs and verifies) or public key (which verifies).

        Args:
            data: the PEM text (unencrypted).
            algorithms: the allow-list; by default the one algorithm the key type implies (Ed25519/Ed448 →
                ``EdDSA``, P-256 → ``ES256``, P-384 → ``ES384``, P-521 → ``ES512``, RSA → ``RS256``).
            kid: the key id (default: the RFC 7638 thumbprint).

        Raises:
            ConfigurationError: not a PEM key, an encrypted or unsupported key, or a weak one.
        """
        blob = data.encode("ascii", "replace") if isinstance(data, str) else bytes(data)
        private: Any = None
        try:
            private = serialization.load_pem_private_key(blob, password=None)
            public = private.public_key()
        except TypeError:
            raise ConfigurationError("encrypted PEM private keys are not supported") from None
        except (ValueError, UnsupportedAlgorithm):
            try:
                public = serialization.load_pem_public_key(blob)
            except (ValueError, UnsupportedAlgorithm):
                raise ConfigurationError("not a PEM private or public key") from None
        return cls.from_crypto_key(private if private is not None else public, algorithms, kid=kid)

    @classmethod
    def from_crypto_key(cls, key: Any, algorithms: Iterable[str] | None = None, *, kid: str | None = None) -> Key:
        """A key from a ``cryptography`` private or public key object (see :meth:`from_pem`)."""
        private: Any = key if isinstance(key, _Private) else None
        public: Any = key.public_key() if private is not None else key
        if isinstance(public, rsa.RSAPublicKey):
            kty, default = "RSA", ("RS256",)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            curve = _CURVES.get(type(public.curve))
            if curve is None:
                raise ConfigurationError("unsupported elliptic curve (use P-256, P-384 or P-521)")
            kty, default = "EC", (_CURVE_ALG[curve],)
        elif isinstance(public, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            kty, default = "OKP", ("EdDSA",)
        else:
            raise ConfigurationError("unsupported key type (use RSA, EC P-256/384/521, Ed25519 or Ed448)")
        algs = default if algorithms is None else tuple(algorithms)
        return cls._build(kty, public, private, algs, kid=kid)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any], algorithms: Iterable[str] | None = None) -> Key:
        """A key from a JWK (RFC 7517 §4), honouring ``kid``, ``alg``, ``use`` and ``key_ops``.

        A JWK with private members may sign; those members are never exported again. Without ``alg`` the key
        allows its type's whole family (:data:`~authhooks.tokens._algorithms.FAMILIES`: RSA → ``RS*`` and ``PS*``,
        EC → its curve's ``ES*``, Ed25519 → ``EdDSA``/``Ed25519``, oct → the ``HS*`` its length supports), never
        another key type's algorithm.

        Args:
            jwk: the JWK object.
            algorithms: an allow-list to restrict to; a JWK ``alg`` outside it is refused.

        Raises:
            ConfigurationError: malformed, unsupported or weak key, or an ``alg`` not allowed.
        """
        if not isinstance(jwk, Mapping):
            raise ConfigurationError("a JWK must be a JSON object")
        kty, kid, alg, use, ops = (jwk.get(m) for m in ("kty", "kid", "alg", "use", "key_ops"))
        if kid is not None and not isinstance(kid, str):
            raise ConfigurationError("JWK kid must be a string")
        if use is not None and not isinstance(use, str):
            raise ConfigurationError("JWK use must be a string")
        if ops is not None and (not isinstance(ops, list) or not all(isinstance(o, str) for o in ops)):
            raise ConfigurationError("JWK key_ops must be an array of strings")
        if alg is not None and (not isinstance(alg, str) or alg not in ALGORITHMS):
            raise ConfigurationError("JWK alg is missing or unsupported")
        restrict = None if algorithms is None else tuple(algorithms)
        algs: tuple[str, ...] | None = None
        if alg is not None:
            if restrict is not None and alg not in restrict:
                raise ConfigurationError(f"JWK alg {alg} is not an allowed algorithm")
            algs = (alg,)
        try:
            if kty == "oct":
                material: Any = ALGORITHMS["HS256"].impl.from_jwk(dict(jwk))
                verify_key, signing_key = material, material
            elif kty in ("RSA", "EC", "OKP"):
                impl = ALGORITHMS[{"RSA": "RS256", "EC": "ES256", "OKP": "EdDSA"}[kty]].impl
                material = impl.from_jwk(dict(jwk))
                signing_key = material if isinstance(material, _Private) else None
                verify_key = material.public_key() if signing_key is not None else material
                cls.from_crypto_key(verify_key)  # refuses an unsupported curve
            else:
                raise ConfigurationError("unsupported JWK kty")
        except (PyJWTError, ValueError, KeyError, TypeError, UnsupportedAlgorithm):
            raise ConfigurationError("malformed JWK") from None
        if algs is None:
            # RFC 8725 §3.1: the key, not the token, decides; a JWK without ``alg`` allows its type's family.
            family = FAMILIES[_family(kty, verify_key)]
            algs = tuple(a for a in family if kty != "oct" or len(verify_key) >= ALGORITHMS[a].digest_size)
            if restrict is not None:
                algs = tuple(a for a in algs if a in restrict)
            if not algs:
                raise ConfigurationError(
                    "no allowed algorithm suits this JWK" if restrict is not None else "the JWK's secret is too short"
                )
        elif ALGORITHMS[algs[0]].kty != kty:
            raise ConfigurationError(f"JWK alg {algs[0]} does not suit a {kty} key")
        return cls._build(kty, verify_key, signing_key, algs, kid=kid, use=use, key_ops=ops)

    @classmethod
    def generate(cls, alg: str = "EdDSA", *, kid: str | None = None) -> Key:
        """A fresh random key for ``alg``: Ed25519, a P-256/384/521 key, RSA 2048 or a hash-sized secret."""
        spec = ALGORITHMS.get(alg)
        if spec is None:
            raise ConfigurationError(f"unsupported algorithm {alg!r}")
        if spec.kty == "oct":
            return cls.from_secret(secrets.token_bytes(spec.digest_size), (alg,), kid=kid)
        private: Any
        if spec.kty == "RSA":
            private = rsa.generate_private_key(public_exponent=65537, key_size=MIN_RSA_BITS)
        elif spec.kty == "EC":
            private = ec.generate_private_key(_GEN_CURVES[alg]())
        else:
            private = ed25519.Ed25519PrivateKey.generate()
        return cls.from_crypto_key(private, (alg,), kid=kid)

    @classmethod
    def _build(
        cls,
        kty: str,
        verify_key: Any,
        signing_key: Any,
        algorithms: tuple[str, ...],
        *,
        kid: str | None,
        use: str | None = None,
        key_ops: Iterable[str] | None = None,
    ) -> Key:
        if not algorithms:
            raise ConfigurationError("a key needs at least one algorithm")
        for alg in algorithms:
            _check_strength(kty, verify_key, alg)
        if kty == "oct":
            public_jwk = None
            thumb = thumbprint({"kty": "oct", "k": b64url_encode(verify_key)})
        else:
            exported = dict(ALGORITHMS[algorithms[0]].impl.to_jwk(verify_key, as_dict=True))
            base = {m: exported[m] for m in _THUMBPRINT_MEMBERS[kty]}
            thumb = thumbprint(base)
            public_jwk = dict(base)
            public_jwk.update(kid=kid or thumb, use=use or "sig")
            if len(algorithms) == 1:
                public_jwk["alg"] = algorithms[0]
            if key_ops is not None:
                public_jwk["key_ops"] = [op for op in key_ops if op == "verify"]
            assert not _PRIVATE_MEMBERS & public_jwk.keys()
        ops = None if key_ops is None else tuple(key_ops)
        return cls(
            kid=kid or thumb,
            kty=kty,
            algorithms=tuple(dict.fromkeys(algorithms)),
            use=use,
            key_ops=ops,
            thumbprint=thumb,
            public_jwk=None if public_jwk is None else MappingProxyType(public_jwk),
            verify_key=verify_key,
            signing_key=signing_key,
            verifiers=MappingProxyType(_verifiers(kty, verify_key, algorithms)),
            signers=MappingProxyType(
                {} if signing_key is None else {a: make_signer(ALGORITHMS[a], signing_key) for a in algorithms}
            ),
        )


def _family(kty: str, key: Any) -> str:
    """The :data:`FAMILIES` entry of a key: its type, or its curve for EC and OKP keys."""
    if kty == "EC":
        return _CURVES[type(key.curve)]
    if kty == "OKP":
        return "Ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else "Ed448"
    return kty


def _verifiers(kty: str, key: Any, algorithms: tuple[str, ...]) -> dict[str, Verifier]:
    """One prepared verifier per allowed algorithm; on an OKP key ``EdDSA`` and its curve's fully-specified name
    (RFC 9864 §2.2: ``Ed25519`` *is* EdDSA on an Ed25519 key) verify alike, whichever of the two is allowed."""
    verifiers = {a: make_verifier(ALGORITHMS[a], key) for a in algorithms}
    if kty == "OKP":
        curve = _family(kty, key)
        if verifiers.keys() & {"EdDSA", curve}:
            verifiers.setdefault("EdDSA", make_verifier(ALGORITHMS["EdDSA"], key))
            verifiers.setdefault(curve, verifiers["EdDSA"])
    return verifiers


def _check_strength(kty: str, key: Any, alg: str) -> None:
    """Refuse an algorithm the key does not suit, and weak keys (RFC 7518 §3.2-3.4, RFC 8725 §3.5)."""
    spec = ALGORITHMS.get(alg)
    if spec is None:
        raise ConfigurationError(f"unsupported algorithm {alg!r}")
    if spec.kty != kty:
        raise ConfigurationError(f"algorithm {alg} does not suit a {kty} key")
    if kty == "oct" and len(key) < spec.digest_size:
        raise ConfigurationError(f"an {alg} secret must be at least {spec.digest_size} bytes long")
    if kty == "RSA" and key.key_size < MIN_RSA_BITS:
        raise ConfigurationError(f"RSA keys must have at least {MIN_RSA_BITS} bits")
    if kty == "RSA" and has_roca_fingerprint(_public(key).public_numbers().n):
        raise ConfigurationError("the RSA key has the ROCA fingerprint (CVE-2017-15361): its primes can be recovered")
    if kty == "EC" and _CURVES.get(type(key.curve)) != spec.curve:
        raise ConfigurationError(f"algorithm {alg} needs a {spec.curve} key")
    if kty == "OKP" and spec.curve is not None and _family(kty, _public(key)) != spec.curve:
        raise ConfigurationError(f"algorithm {alg} needs an {spec.curve} key")


def _public(key: Any) -> Any:
    return key.public_key() if isinstance(key, _Private) else key
