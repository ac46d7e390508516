"""Per-key algorithm inference, RFC 9864's ``Ed25519``, the ROCA fingerprint and static JWK Set files (issue 13)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from tokenkit import _RSA, claims, forge, header, policy

from authhooks.config import Settings
from authhooks.errors import BadAlgorithm, BadSignature, ConfigurationError, WrongIssuer
from authhooks.tokens import Key, KeySet, TokenValidator
from authhooks.tokens._b64 import b64url_encode
from authhooks.tokens._roca import has_roca_fingerprint
from authhooks.tokens.loading import keys_from_settings


def _public_jwk(private: Any, **extra: Any) -> dict[str, Any]:
    jwk = dict(Key.from_crypto_key(private.public_key()).public_jwk or {})
    jwk.pop("alg", None)
    jwk.update(extra)
    return jwk


def _signer(private: Any, alg: str, kid: str) -> Key:
    return Key.from_crypto_key(private, (alg,), kid=kid)


# -- 3. a JWK without alg allows its type's family, never another type's --------------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"])
def test_rsa_jwk_without_alg_allows_rs_and_ps(alg: str) -> None:
    verifier = Key.from_jwk(_public_jwk(_RSA, kid="r"))
    token = forge(_signer(_RSA, alg, "r"), header(verifier, alg=alg), claims())
    assert TokenValidator(KeySet([verifier]), policy()).validate(token).subject == "alice"


@pytest.mark.parametrize(
    ("curve", "alg", "others"),
    [(ec.SECP256R1(), "ES256", "ES384"), (ec.SECP384R1(), "ES384", "ES256"), (ec.SECP521R1(), "ES512", "ES256")],
)
def test_ec_jwk_without_alg_allows_its_curve_only(curve: ec.EllipticCurve, alg: str, others: str) -> None:
    private = ec.generate_private_key(curve)
    verifier = Key.from_jwk(_public_jwk(private, kid="e"))
    assert verifier.algorithms == (alg,)
    token = forge(_signer(private, alg, "e"), header(verifier, alg=alg), claims())
    assert TokenValidator(KeySet([verifier]), policy()).validate(token).subject == "alice"
    with pytest.raises(BadAlgorithm):
        TokenValidator(KeySet([verifier]), policy()).validate(
            forge(_signer(private, alg, "e"), header(verifier, alg=others), claims())
        )


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
@pytest.mark.parametrize("jwk_alg", [None, "EdDSA", "Ed25519"])
def test_ed25519_header_alg_eddsa_and_rfc9864_ed25519(alg: str, jwk_alg: str | None) -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    extra = {"kid": "o"} if jwk_alg is None else {"kid": "o", "alg": jwk_alg}
    verifier = Key.from_jwk(_public_jwk(private, **extra))
    signer = Key.from_crypto_key(private, ("EdDSA",), kid="o")
    token = forge(signer, header(verifier, alg=alg), claims())
    assert TokenValidator(KeySet([verifier]), policy()).validate(token).subject == "alice"


def test_ed25519_is_not_ed448() -> None:
    ed448_key = Key.from_jwk(_public_jwk(ed448.Ed448PrivateKey.generate(), kid="o"))
    assert "Ed25519" not in ed448_key.verifiers and "Ed448" in ed448_key.verifiers
    with pytest.raises(ConfigurationError):
        Key.from_jwk(_public_jwk(ed448.Ed448PrivateKey.generate(), kid="o", alg="Ed25519"))


@pytest.mark.parametrize(
    ("jwk", "alg"),
    [
        (lambda: _public_jwk(_RSA, kid="k"), "ES256"),
        (lambda: _public_jwk(_RSA, kid="k"), "HS256"),
        (lambda: _public_jwk(_RSA, kid="k"), "EdDSA"),
        (lambda: _public_jwk(ec.generate_private_key(ec.SECP256R1()), kid="k"), "RS256"),
        (lambda: _public_jwk(ed25519.Ed25519PrivateKey.generate(), kid="k"), "ES256"),
        (lambda: {"kty": "oct", "kid": "k", "k": b64url_encode(b"s" * 32)}, "RS256"),
        (lambda: {"kty": "oct", "kid": "k", "k": b64url_encode(b"s" * 32)}, "HS384"),  # too short for HS384
    ],
)
def test_inference_never_crosses_key_types(jwk: Any, alg: str) -> None:
    key = Key.from_jwk(jwk())
    assert alg not in key.verifiers
    with pytest.raises(BadAlgorithm):
        KeySet([key]).select("k", alg)


def test_oct_jwk_without_alg_allows_what_its_length_supports() -> None:
    assert Key.from_jwk({"kty": "oct", "k": b64url_encode(b"s" * 64)}).algorithms == ("HS256", "HS384", "HS512")
    assert Key.from_jwk({"kty": "oct", "k": b64url_encode(b"s" * 48)}).algorithms == ("HS256", "HS384")
    with pytest.raises(ConfigurationError, match="too short"):
        Key.from_jwk({"kty": "oct", "k": b64url_encode(b"s" * 16)})


def test_allowed_algorithms_narrow_the_family() -> None:
    key = Key.from_jwk(_public_jwk(_RSA, kid="r"), ("PS256", "ES256"))
    assert key.algorithms == ("PS256",)


# -- 6. ROCA ----------------------------------------------------------------------------------------------------------


def _primorial(limit: int) -> int:
    product = 1
    for n in range(2, limit + 1):
        if all(n % d for d in range(2, int(n**0.5) + 1)):
            product *= n
    return product


def _roca_modulus(bits: int = 2048) -> int:
    """A modulus with the fingerprint: ``65537^c mod M`` plus a multiple of ``M`` (residues mod every prime of M
    in 65537's subgroup, as a product of two RSALib primes has them). Only the residues matter to the test."""
    m = _primorial(701)  # the primorial RSALib uses for 2048-bit keys (paper, Table 1)
    c = secrets.randbelow(1 << 40)
    k = secrets.randbits(bits - m.bit_length()) | (1 << (bits - m.bit_length() - 1))
    return k * m + pow(65537, c, m)


def test_roca_fingerprint_detected_and_honest_keys_pass() -> None:
    assert has_roca_fingerprint(_roca_modulus())
    assert not has_roca_fingerprint(_RSA.public_key().public_numbers().n)
    assert not any(
        has_roca_fingerprint(rsa.generate_private_key(65537, 2048).public_key().public_numbers().n) for _ in range(3)
    )


def test_roca_weak_key_in_a_jwks_is_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    import httpx

    from authhooks.tokens import RemoteKeySet

    n = _roca_modulus()
    weak = {"kty": "RSA", "kid": "weak", "n": b64url_encode(n.to_bytes(256, "big")), "e": "AQAB"}
    good = _public_jwk(_RSA, kid="good")
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"keys": [weak, good]}))
    keys = RemoteKeySet("https://idp.example/keys", transport=transport).get_sync()
    assert keys.kids == ("good",)
    assert "kid='weak': the RSA key has the ROCA fingerprint (CVE-2017-15361)" in caplog.text
    with pytest.raises(ConfigurationError, match="ROCA"):
        Key.from_jwk(weak)


# -- 7. AUTHHOOKS_JWKS_FILE: several keys, several HMAC keys with their kids -------------------------------------------


def _write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(document))
    os.chmod(path, 0o600)
    return path


def test_static_jwks_file_with_several_keys_and_hmac_kids(tmp_path: Path) -> None:
    hs_a, hs_b = Key.from_secret(b"a" * 64, kid="hs-a"), Key.from_secret(b"b" * 64, ("HS512",), kid="hs-b")
    ec_private = ec.generate_private_key(ec.SECP256R1())
    path = _write(
        tmp_path,
        {
            "keys": [
                {"kty": "oct", "kid": "hs-a", "k": b64url_encode(b"a" * 64)},
                {"kty": "oct", "kid": "hs-b", "k": b64url_encode(b"b" * 64), "alg": "HS512"},
                _public_jwk(_RSA, kid="rsa"),
                _public_jwk(ec_private, kid="ec"),
            ]
        },
    )
    settings = Settings(jwks_file=path, state_dir=tmp_path)
    _signing, keyset, remote = keys_from_settings(settings, create_default=False)
    assert keyset is not None and remote is None
    assert set(keyset.kids) == {"hs-a", "hs-b", "rsa", "ec"}
    validator = TokenValidator(keyset, policy())
    for signer in (hs_a, hs_b, _signer(_RSA, "PS256", "rsa"), _signer(ec_private, "ES256", "ec")):
        assert validator.validate(forge(signer, header(signer), claims())).subject == "alice"
    # a token of one HMAC key under the other's kid is refused
    with pytest.raises(BadSignature):
        validator.validate(forge(hs_b, header(hs_b, kid="hs-a"), claims()))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "is not a JSON object"),
        ({"keys": []}, "at least one key"),
        ({"keys": [{"kty": "oct", "kid": "x", "k": "c2hvcnQ"}]}, "key #0 (kid 'x'): the JWK's secret is too short"),
        (
            {"keys": [{"kty": "oct", "kid": "x", "k": b64url_encode(b"a" * 32)}] * 2},
            "key #1 (kid 'x'): two keys share the kid",
        ),
    ],
)
def test_bad_jwks_file_names_the_variable_and_the_key(tmp_path: Path, document: Any, message: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    with pytest.raises(ConfigurationError) as info:
        keys_from_settings(Settings(jwks_file=path), create_default=False)
    assert str(info.value).startswith("AUTHHOOKS_JWKS_FILE: ")
    assert message in str(info.value)


def test_jwks_file_from_the_environment(tmp_path: Path) -> None:
    path = _write(tmp_path, {"keys": [{"kty": "oct", "kid": "k1", "k": b64url_encode(b"a" * 32)}]})
    settings = Settings.from_env({"AUTHHOOKS_JWKS_FILE": str(path), "AUTHHOOKS_REQUIRED_CLAIMS": "client_id,scope"})
    assert settings.jwks_file == path and settings.required_claims == ("client_id", "scope")


def test_key_bound_to_an_issuer_requires_that_iss() -> None:
    key = Key.from_crypto_key(_RSA, ("RS256",), kid="rs").bound_to("https://idp.example")
    validator = TokenValidator(KeySet([key]), policy(issuer=None))
    assert validator.validate(forge(key, header(key), claims(iss="https://idp.example"))).subject == "alice"
    with pytest.raises(WrongIssuer):
        validator.validate(forge(key, header(key), claims(iss="https://other.example")))
