"""Keys: constructors, allow-lists, weak keys, RFC 7638 thumbprints, JWKS export, default key, settings."""

from __future__ import annotations

import logging
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x25519
from tokenkit import ALL_ALGORITHMS, claims, forge, header, make_key, policy

from authhooks.config import Secret, Settings
from authhooks.errors import BadAlgorithm, ConfigurationError
from authhooks.tokens import Key, KeySet, RemoteKeySet, TokenValidator, keys_from_settings, load_or_create_default_key
from authhooks.tokens.keys import thumbprint

RFC7638_JWK = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV"
    "4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zg"
    "dAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur"
    "-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}


def _pem(key: Any, private: bool) -> bytes:
    if private:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_rfc7638_thumbprint_of_the_rfcs_example() -> None:
    assert thumbprint(RFC7638_JWK) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    key = Key.from_jwk({k: v for k, v in RFC7638_JWK.items() if k != "kid"})
    assert key.thumbprint == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    assert key.kid == key.thumbprint  # default kid
    assert Key.from_jwk(RFC7638_JWK).kid == "2011-04-29"


@pytest.mark.parametrize(
    ("private", "expected"),
    [
        (ed25519.Ed25519PrivateKey.generate(), ("EdDSA",)),
        (ed448.Ed448PrivateKey.generate(), ("EdDSA",)),
        (ec.generate_private_key(ec.SECP256R1()), ("ES256",)),
        (ec.generate_private_key(ec.SECP384R1()), ("ES384",)),
        (ec.generate_private_key(ec.SECP521R1()), ("ES512",)),
    ],
)
def test_from_pem_infers_the_algorithm(private: Any, expected: tuple[str, ...]) -> None:
    signer = Key.from_pem(_pem(private, True))
    verifier = Key.from_pem(_pem(private, False).decode())
    assert signer.algorithms == verifier.algorithms == expected
    assert signer.can_sign
    assert not verifier.can_sign
    assert signer.kid == verifier.kid
    token = forge(signer, header(signer), claims())
    assert TokenValidator(KeySet([verifier]), policy()).validate(token).subject == "alice"


def test_rsa_defaults_to_rs256_and_takes_listed_algorithms(rsa_private: rsa.RSAPrivateKey) -> None:
    assert Key.from_pem(_pem(rsa_private, True)).algorithms == ("RS256",)
    both = Key.from_pem(_pem(rsa_private, False), ("RS256", "PS256"))
    assert both.algorithms == ("RS256", "PS256")
    assert "alg" not in (both.public_jwk or {})


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Key.from_secret(b"x" * 31), "at least 32 bytes"),
        (lambda: Key.from_secret(b"x" * 47, ("HS384",)), "at least 48 bytes"),
        (lambda: Key.from_secret(b"x" * 63, ("HS512",)), "at least 64 bytes"),
        (lambda: Key.from_secret(b"x" * 32, ("HS256", "HS512")), "at least 64 bytes"),
        (lambda: Key.from_crypto_key(rsa.generate_private_key(65537, 1024)), "2048"),
        (lambda: Key.from_crypto_key(ec.generate_private_key(ec.SECP256R1()), ("ES384",)), "P-384"),
        (lambda: Key.from_crypto_key(ec.generate_private_key(ec.SECP256K1())), "curve"),
        (lambda: Key.from_crypto_key(x25519.X25519PrivateKey.generate()), "unsupported key type"),
        (lambda: Key.from_secret(b"x" * 64, ("RS256",)), "does not suit"),
        (lambda: Key.from_secret(b"x" * 64, ("none",)), "unsupported algorithm"),
        (lambda: Key.from_secret(b"x" * 64, ()), "at least one algorithm"),
        (lambda: Key.from_pem(b"not a pem"), "not a PEM"),
        (lambda: Key.generate("none"), "unsupported algorithm"),
    ],
)
def test_weak_or_mismatched_keys_are_refused(build: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build()


def test_secret_from_masked_setting() -> None:
    key = Key.from_secret(Secret("k" * 32))
    assert key.verify(b"a", key.sign(b"a"), "HS256")


def test_encrypted_pem_is_refused(rsa_private: rsa.RSAPrivateKey) -> None:
    pem = rsa_private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(ConfigurationError, match="encrypted"):
        Key.from_pem(pem)


def test_key_material_never_in_repr_or_errors() -> None:
    secret = b"supersecretvalue" * 4
    key = Key.from_secret(secret, ("HS256",))
    assert "supersecret" not in repr(key)
    with pytest.raises(ConfigurationError) as info:
        Key.from_secret(secret[:20])
    assert "supersecret" not in str(info.value)


@pytest.mark.parametrize("alg", ALL_ALGORITHMS)
def test_jwks_never_holds_private_or_secret_material(alg: str) -> None:
    key = make_key(alg)
    published = KeySet([key]).jwks()["keys"]
    if alg.startswith("HS"):
        assert published == []
        return
    (jwk,) = published
    assert not PRIVATE_MEMBERS & jwk.keys()
    assert jwk["kid"] == key.kid
    assert jwk["alg"] == alg
    assert jwk["use"] == "sig"
    # The published JWK is a working verification key.
    public = Key.from_jwk(jwk)
    assert not public.can_sign
    token = forge(key, header(key), claims())
    assert TokenValidator(KeySet([public]), policy()).validate(token).subject == "alice"


def test_from_jwk_with_private_members_signs_but_never_exports_them(rsa_private: rsa.RSAPrivateKey) -> None:
    from jwt.algorithms import RSAAlgorithm

    jwk = RSAAlgorithm.to_jwk(rsa_private, as_dict=True)
    key = Key.from_jwk(jwk)
    assert key.can_sign
    assert not PRIVATE_MEMBERS & dict(key.public_jwk or {}).keys()


def test_from_jwk_honours_alg_use_and_key_ops(rsa_private: rsa.RSAPrivateKey) -> None:
    base = dict(Key.from_crypto_key(rsa_private.public_key()).public_jwk or {})
    base.pop("alg")
    assert Key.from_jwk({**base, "alg": "PS256"}).algorithms == ("PS256",)
    assert Key.from_jwk(base, ("RS256", "PS384", "ES256")).algorithms == ("RS256", "PS384")
    with pytest.raises(ConfigurationError):
        Key.from_jwk({**base, "alg": "PS256"}, ("RS256",))
    with pytest.raises(ConfigurationError):
        Key.from_jwk({**base, "alg": "ES256"})
    with pytest.raises(ConfigurationError):
        Key.from_jwk({**base, "alg": "none"})
    assert not Key.from_jwk({**base, "use": "enc"}).can_verify
    assert not Key.from_jwk({**base, "use": ..., "key_ops": ["encrypt"]} | {"use": "sig"}).can_verify
    assert Key.from_jwk({**base, "key_ops": ["verify"]}).can_verify
    for bad in ({**base, "n": "!!"}, {"kty": "RSA"}, {"kty": "foo"}, {**base, "kid": 3}, {**base, "key_ops": "verify"}):
        with pytest.raises(ConfigurationError):
            Key.from_jwk(bad)


def test_keyset_selection() -> None:
    a, b = make_key("EdDSA", kid="a"), make_key("ES256", kid="b")
    keys = KeySet([a, b])
    assert keys.select("a", "EdDSA")[0][0] is a
    assert [k for k, _ in keys.select(None, "ES256")] == [b]
    with pytest.raises(BadAlgorithm):
        keys.select("a", "ES256")
    assert "a" in keys
    assert len(keys) == 2
    assert list(keys) == [a, b]
    assert keys.kids == ("a", "b")
    with pytest.raises(ConfigurationError, match="share"):
        KeySet([a, make_key("EdDSA", kid="a")])


def test_kidless_candidates_are_bounded() -> None:
    keys = [make_key("EdDSA", kid=f"k{i}") for i in range(6)]
    last = keys[-1]
    token = forge(last, header(last, kid=...), claims())
    with pytest.raises(Exception, match="signature"):
        TokenValidator(KeySet(keys), policy()).validate(token)
    assert TokenValidator(KeySet(keys[3:]), policy()).validate(token).subject == "alice"


# -- default key and settings ------------------------------------------------------------------------------


def test_default_key_is_created_once_with_0600(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "state" / "nested"
    with caplog.at_level(logging.WARNING, logger="authhooks"):
        key = load_or_create_default_key(state)
    path = state / "signing-key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key.algorithms == ("EdDSA",)
    assert key.can_sign
    assert str(path) in caplog.text
    assert "PRIVATE KEY" not in caplog.text
    assert not [p for p in state.iterdir() if p.name != "signing-key.pem"]  # no temp file left
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="authhooks"):
        again = load_or_create_default_key(state)
    assert again.kid == key.kid
    assert caplog.text == ""


def test_default_key_file_that_is_broken_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "signing-key.pem").write_text("garbage")
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_STATE_DIR"):
        load_or_create_default_key(tmp_path)


def test_keys_from_settings_secret() -> None:
    signing, keyset, remote = keys_from_settings(Settings(secret=Secret("k" * 64), algorithms=("HS512",)))
    assert signing is not None
    assert signing.algorithms == ("HS512",)
    assert keyset is not None
    assert list(keyset) == [signing]
    assert remote is None
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_SECRET"):
        keys_from_settings(Settings(secret=Secret("short")))
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_SECRET"):
        keys_from_settings(Settings(secret=Secret("k" * 64), algorithms=("EdDSA",)))


def test_keys_from_settings_files(tmp_path: Path, rsa_private: rsa.RSAPrivateKey) -> None:
    private = tmp_path / "sign.pem"
    private.write_bytes(_pem(rsa_private, True))
    other = ed25519.Ed25519PrivateKey.generate()
    public = tmp_path / "pub.pem"
    public.write_bytes(_pem(other, False))
    settings = Settings(signing_key_file=private, public_key_file=public, algorithms=("RS256", "PS256", "EdDSA"))
    signing, keyset, remote = keys_from_settings(settings)
    assert signing is not None
    assert signing.algorithms == ("RS256", "PS256")
    assert keyset is not None
    assert len(keyset) == 2
    assert remote is None
    assert not list(keyset)[1].can_sign


@pytest.mark.parametrize("variable", ["signing_key_file", "public_key_file"])
def test_keys_from_settings_names_the_variable(tmp_path: Path, variable: str) -> None:
    with pytest.raises(ConfigurationError, match=f"AUTHHOOKS_{variable.upper()}"):
        keys_from_settings(Settings(**{variable: tmp_path / "missing.pem"}))
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(ConfigurationError, match=f"AUTHHOOKS_{variable.upper()}"):
        keys_from_settings(Settings(**{variable: bad}))


def test_signing_key_file_must_be_private(tmp_path: Path) -> None:
    public = tmp_path / "pub.pem"
    public.write_bytes(_pem(ed25519.Ed25519PrivateKey.generate(), False))
    with pytest.raises(ConfigurationError, match=r"AUTHHOOKS_SIGNING_KEY_FILE.*private key"):
        keys_from_settings(Settings(signing_key_file=public))


def test_keys_from_settings_remote_and_default(tmp_path: Path) -> None:
    _, keyset, remote = keys_from_settings(Settings(jwks_url="https://issuer.example/jwks", state_dir=tmp_path))
    assert keyset is None
    assert isinstance(remote, RemoteKeySet)
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_JWKS_URL"):
        keys_from_settings(Settings(jwks_url="http://issuer.example/jwks"))
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_ALGORITHMS"):
        keys_from_settings(Settings(algorithms=("none",)))
    assert keys_from_settings(Settings(state_dir=tmp_path), create_default=False) == (None, None, None)
    signing, keyset, remote = keys_from_settings(Settings(state_dir=tmp_path))
    assert signing is not None
    assert (tmp_path / "signing-key.pem").exists()
    assert remote is None
