"""The built-in signature verifiers, with real keys and signatures made by real libraries."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import base58
import coincurve
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from authhooks.errors import ConfigurationError, InvalidRequest
from authhooks.verifiers import (
    Ed25519Verifier,
    P256Verifier,
    VerifierRegistry,
    bitcoin_verifier,
    evrmore_verifier,
)
from authhooks.verifiers import signed_message as sm
from authhooks.verifiers._codec import b58check_decode, b58decode, b58encode, b64decode_any, b64url_encode
from authhooks.verifiers._ripemd160 import ripemd160, ripemd160_pure

MESSAGE = b"example.com wants you to sign in\nNonce: abc"


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ed25519_identity() -> tuple[Ed25519PrivateKey, str]:
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key, _b64u(raw)


def ed25519_did(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "did:key:z" + base58.b58encode(b"\xed\x01" + raw).decode()


def btc_sign(priv: coincurve.PrivateKey, message: bytes, magic: bytes, compressed: bool = True) -> str:
    """Sign like Bitcoin Core's ``signmessage`` (header byte + compact r||s), with coincurve."""
    rec = priv.sign_recoverable(sm.message_hash(message, magic), hasher=None)
    header = 27 + rec[64] + (4 if compressed else 0)
    return base64.b64encode(bytes([header]) + rec[:64]).decode()


# -- encodings ---------------------------------------------------------------------------------------------


def test_ripemd160_known_vectors_pure_and_hashlib() -> None:
    """The test vectors of the RIPEMD-160 paper, and agreement with hashlib across padding boundaries."""
    assert ripemd160_pure(b"").hex() == "9c1185a5c5e9fc54612808977ee8f548b2258d31"
    assert ripemd160_pure(b"abc").hex() == "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"
    assert ripemd160_pure(b"a" * 1_000_000).hex() == "52783243c1697bdbe16d37f97f68f08325dc1528"
    for n in (0, 1, 55, 56, 63, 64, 65, 119, 120, 200):
        data = bytes(range(256))[:n]
        assert ripemd160(data) == ripemd160_pure(data) == hashlib.new("ripemd160", data).digest()


def test_ripemd160_falls_back_when_hashlib_lacks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real_new = hashlib.new

    def no_ripemd(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "ripemd160":
            raise ValueError("unsupported hash type")
        return real_new(name, *args, **kwargs)

    monkeypatch.setattr(hashlib, "new", no_ripemd)
    assert ripemd160(b"abc").hex() == "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"


def test_base58_matches_reference_package() -> None:
    for data in (b"", b"\x00", b"\x00\x00\x01", b"hello world", bytes(range(40))):
        assert b58encode(data) == base58.b58encode(data).decode()
        assert b58decode(b58encode(data)) == (data or None)
    assert b58decode("0OIl") is None
    assert b58decode("") is None
    assert b58check_decode(base58.b58encode_check(b"\x21" + b"\x07" * 20).decode()) == b"\x21" + b"\x07" * 20
    tampered = base58.b58encode(base58.b58decode_check(base58.b58encode_check(b"abc"))[:2] + b"d" + b"1234")
    assert b58check_decode(tampered.decode()) is None


def test_b64decode_any_accepts_both_alphabets_and_refuses_garbage() -> None:
    data = bytes(range(250, 256)) + b"\xfb\xff"
    assert b64decode_any(base64.b64encode(data).decode()) == data
    assert b64decode_any(base64.urlsafe_b64encode(data).decode()) == data
    assert b64decode_any(b64url_encode(data)) == data
    for bad in ("a", "ab!c", "a+b_", "====", "é"):
        assert b64decode_any(bad) is None


# -- ed25519 -----------------------------------------------------------------------------------------------


def test_ed25519_verifies_raw_and_did_key_subjects() -> None:
    key, subject = ed25519_identity()
    sig = key.sign(MESSAGE)
    v = Ed25519Verifier()
    assert v.verify(subject, MESSAGE, _b64u(sig))
    assert v.verify(subject, MESSAGE, base64.b64encode(sig).decode())  # standard base64 with padding
    did = ed25519_did(key)
    assert did.startswith("did:key:z6Mk")
    assert v.normalize_subject(did) == did
    assert v.verify(did, MESSAGE, _b64u(sig))


def test_ed25519_refuses_wrong_key_message_and_garbage() -> None:
    key, subject = ed25519_identity()
    _, other = ed25519_identity()
    sig = _b64u(key.sign(MESSAGE))
    v = Ed25519Verifier()
    assert not v.verify(other, MESSAGE, sig)
    assert not v.verify(subject, MESSAGE + b"!", sig)
    for garbage in ("", "!!!", sig[:-4], "A" * 5000, _b64u(b"\x00" * 64)):
        assert not v.verify(subject, MESSAGE, garbage)
    assert not v.verify("not a key", MESSAGE, sig)


@pytest.mark.parametrize(
    "subject", ["", "abc", "did:key:z6MkBAD0", "did:key:zDnaeTest", _b64u(b"\x01" * 31), "x" * 10_000]
)
def test_ed25519_normalize_refuses_malformed_subjects(subject: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        Ed25519Verifier().normalize_subject(subject)
    assert info.value.reason == "invalid_subject"
    assert str(info.value) == "The subject is not a valid ed25519 identity."  # never echoes the input


def test_ed25519_normalize_drops_padding() -> None:
    _, subject = ed25519_identity()
    assert Ed25519Verifier().normalize_subject(subject + "=") == subject


# -- p256 --------------------------------------------------------------------------------------------------


def p256_identity(compressed: bool = False) -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    fmt = serialization.PublicFormat.CompressedPoint if compressed else serialization.PublicFormat.UncompressedPoint
    return key, _b64u(key.public_key().public_bytes(serialization.Encoding.X962, fmt))


@pytest.mark.parametrize("compressed", [False, True])
def test_p256_verifies_der_and_raw_signatures(compressed: bool) -> None:
    key, subject = p256_identity(compressed)
    der = key.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # what WebCrypto returns
    v = P256Verifier()
    assert v.verify(subject, MESSAGE, _b64u(der))
    assert v.verify(subject, MESSAGE, _b64u(raw))
    assert not v.verify(subject, MESSAGE + b"x", _b64u(raw))
    _, other = p256_identity(compressed)
    assert not v.verify(other, MESSAGE, _b64u(der))


def test_p256_did_key_subject() -> None:
    key, _ = p256_identity()
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    did = "did:key:z" + base58.b58encode(b"\x80\x24" + point).decode()
    assert did.startswith("did:key:zDn")
    v = P256Verifier()
    assert v.normalize_subject(did) == did
    assert v.verify(did, MESSAGE, _b64u(key.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))))


def test_p256_refuses_points_off_the_curve_and_garbage_signatures() -> None:
    v = P256Verifier()
    with pytest.raises(InvalidRequest):
        v.normalize_subject(_b64u(b"\x04" + b"\x01" * 64))
    _key, subject = p256_identity()
    for garbage in ("", "$$", _b64u(b"\x30" + b"\x00" * 70), _b64u(b"\x00" * 64), _b64u(b"\x01" * 100)):
        assert not v.verify(subject, MESSAGE, garbage)


# -- evrmore / bitcoin -------------------------------------------------------------------------------------


def test_p2pkh_address_of_known_key() -> None:
    """Private key 1: the well-known Bitcoin addresses of its compressed and uncompressed public keys."""
    pub = coincurve.PrivateKey.from_int(1).public_key
    assert sm.p2pkh_address(pub.format(compressed=True), 0) == "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"
    assert sm.p2pkh_address(pub.format(compressed=False), 0) == "1EHNa6Q4Jz2uvNExL497mE43ikXhwF6kZm"
    assert sm.p2pkh_address(pub.format(compressed=True), 33).startswith("E")


@pytest.mark.parametrize("compressed", [True, False])
@pytest.mark.parametrize(
    ("factory", "magic", "version"), [(evrmore_verifier, sm.EVRMORE_MAGIC, 33), (bitcoin_verifier, sm.BITCOIN_MAGIC, 0)]
)
def test_signed_message_round_trip(factory: Any, magic: bytes, version: int, compressed: bool) -> None:
    priv = coincurve.PrivateKey()
    address = sm.p2pkh_address(priv.public_key.format(compressed=compressed), version)
    v = factory()
    assert v.normalize_subject(address) == address
    sig = btc_sign(priv, MESSAGE, magic, compressed)
    assert v.verify(address, MESSAGE, sig)
    assert not v.verify(address, MESSAGE + b"!", sig)
    other = sm.p2pkh_address(coincurve.PrivateKey().public_key.format(), version)
    assert not v.verify(other, MESSAGE, sig)


def test_signed_message_magic_separates_networks() -> None:
    """A Bitcoin signature does not verify as an Evrmore one for the same key (different magic)."""
    priv = coincurve.PrivateKey()
    evr = sm.p2pkh_address(priv.public_key.format(), 33)
    assert not evrmore_verifier().verify(evr, MESSAGE, btc_sign(priv, MESSAGE, sm.BITCOIN_MAGIC))
    with pytest.raises(InvalidRequest):
        bitcoin_verifier().normalize_subject(evr)


def test_signed_message_refuses_malformed_signatures() -> None:
    priv = coincurve.PrivateKey()
    address = sm.p2pkh_address(priv.public_key.format(), 33)
    v = evrmore_verifier()
    good = base64.b64decode(btc_sign(priv, MESSAGE, sm.EVRMORE_MAGIC))
    bad_header = bytes([26]) + good[1:]
    zero_r = good[:1] + b"\x00" * 64
    for garbage in (
        "",
        "***",
        base64.b64encode(good[:64]).decode(),
        base64.b64encode(bad_header).decode(),
        base64.b64encode(zero_r).decode(),
        "A" * 4000,
    ):
        assert not v.verify(address, MESSAGE, garbage)


@pytest.mark.parametrize("subject", ["", "E" * 34, "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH", "did:key:z6Mk"])
def test_evrmore_normalize_refuses_non_evrmore_addresses(subject: str) -> None:
    with pytest.raises(InvalidRequest):
        evrmore_verifier().normalize_subject(subject)


def test_missing_coincurve_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_coincurve(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "coincurve":
            raise ImportError("No module named 'coincurve'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(sm, "_coincurve", None)
    monkeypatch.setattr(builtins, "__import__", no_coincurve)
    v = evrmore_verifier()
    address = sm.p2pkh_address(coincurve.PrivateKey().public_key.format(), 33)
    assert v.normalize_subject(address) == address  # subject checks need no coincurve
    with pytest.raises(ConfigurationError, match=r"authhooks\[evrmore\]"):
        v.verify(address, MESSAGE, "AAAA")


# -- registry ----------------------------------------------------------------------------------------------


def test_registry_selects_by_scheme_and_detects_subjects() -> None:
    reg = VerifierRegistry()
    assert reg.schemes == ("ed25519", "p256", "evrmore", "bitcoin")
    assert reg.get("ED25519").scheme == "ed25519"
    with pytest.raises(InvalidRequest) as info:
        reg.get("rsa")
    assert info.value.reason == "unsupported_scheme"
    _, ed = ed25519_identity()
    _, p = p256_identity()
    evr = sm.p2pkh_address(coincurve.PrivateKey().public_key.format(), 33)
    assert (reg.detect(ed), reg.detect(p), reg.detect(evr), reg.detect("nope")) == ("ed25519", "p256", "evrmore", None)


def test_registry_refuses_non_verifiers_and_duplicates() -> None:
    reg = VerifierRegistry([])
    reg.register(Ed25519Verifier())
    with pytest.raises(ConfigurationError):
        reg.register(Ed25519Verifier())
    reg.register(Ed25519Verifier(), replace=True)
    with pytest.raises(ConfigurationError):
        reg.register(object())  # type: ignore[arg-type]
    assert "ed25519" in reg
    assert "p256" not in reg
