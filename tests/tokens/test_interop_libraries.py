"""Tokens made by other JOSE libraries — python-jose, Authlib, joserfc, jwcrypto — accepted or refused as the
settings say (issue 13): every library x RS256, PS256, ES256, EdDSA, HS256 (where the library has it) x header
``typ`` ``at+jwt`` / ``JWT`` / absent x ``AUTHHOOKS_ACCESS_TOKEN_TYPES``; an ID token is refused whatever is
accepted. authhooks validates through ``AuthHooks`` with the keys in a static JWK Set file (``AUTHHOOKS_JWKS_FILE``)
whose members name no ``alg`` (the key type's family is inferred: one RSA key serves RS256 and PS256)."""

from __future__ import annotations

import json
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from authhooks import AuthHooks
from authhooks.errors import MalformedToken, WrongTokenType
from authhooks.tokens import Key
from authhooks.tokens._b64 import b64url_encode

pytestmark = pytest.mark.filterwarnings("ignore:authlib.jose module is deprecated")

ISSUER = "https://idp.example"
AUDIENCE = "api://orders"
ALGS = ("RS256", "PS256", "ES256", "EdDSA", "HS256")
TYPES = ("at+jwt", "JWT", None)  # None: no typ member at all
SETTINGS = {"at+jwt": ("at+jwt",), "JWT": ("JWT",), "none": ("none",), "all": ("at+jwt", "JWT", "none")}
SECRET = b"interop-secret-0123456789abcdef!"  # 32 bytes: HS256

_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_EC = ec.generate_private_key(ec.SECP256R1())
_ED = ed25519.Ed25519PrivateKey.generate()
KIDS = {"RS256": "rsa", "PS256": "rsa", "ES256": "ec", "EdDSA": "ed", "HS256": "hs"}


def _pem(private: Any) -> bytes:
    return private.private_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


PRIVATE_PEM = {"RS256": _pem(_RSA), "PS256": _pem(_RSA), "ES256": _pem(_EC), "EdDSA": _pem(_ED)}


def _header(alg: str, typ: str | None) -> dict[str, Any]:
    header: dict[str, Any] = {"alg": alg, "kid": KIDS[alg]}
    if typ is not None:
        header["typ"] = typ
    return header


# -- the four libraries ---------------------------------------------------------------------------------------------
# Each signer returns a compact JWS with exactly the header asked for, or calls pytest.skip when the library cannot.


def _python_jose(alg: str, typ: str | None, claims: dict[str, Any]) -> str:
    from jose import jwt
    from jose.constants import ALGORITHMS

    if alg not in ALGORITHMS.SUPPORTED:
        pytest.skip(f"python-jose has no {alg}")
    if typ is None:
        pytest.skip("python-jose always writes a typ member (None writes typ: null)")
    key: Any = SECRET.decode() if alg == "HS256" else PRIVATE_PEM[alg].decode()
    return str(jwt.encode(claims, key, algorithm=alg, headers=_header(alg, typ)))


def _authlib(alg: str, typ: str | None, claims: dict[str, Any]) -> str:
    from authlib.jose import JsonWebKey, JsonWebSignature

    key: Any = (
        JsonWebKey.import_key(SECRET, {"kty": "oct"}) if alg == "HS256" else JsonWebKey.import_key(PRIVATE_PEM[alg])
    )
    jws = JsonWebSignature(algorithms=[alg])
    return str(jws.serialize_compact(_header(alg, typ), json.dumps(claims).encode(), key).decode())


def _joserfc(alg: str, typ: str | None, claims: dict[str, Any]) -> str:
    from joserfc import jws
    from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

    kinds: dict[str, Any] = {"RS256": RSAKey, "PS256": RSAKey, "ES256": ECKey, "EdDSA": OKPKey}
    key = OctKey.import_key(SECRET) if alg == "HS256" else kinds[alg].import_key(PRIVATE_PEM[alg])
    return str(jws.serialize_compact(_header(alg, typ), json.dumps(claims), key, algorithms=[alg]))


def _jwcrypto(alg: str, typ: str | None, claims: dict[str, Any]) -> str:
    from jwcrypto import jwk, jwt

    key = jwk.JWK(kty="oct", k=b64url_encode(SECRET)) if alg == "HS256" else jwk.JWK.from_pem(PRIVATE_PEM[alg])
    token = jwt.JWT(header=_header(alg, typ), claims=claims)
    token.make_signed_token(key)
    return str(token.serialize())


LIBRARIES: dict[str, Callable[[str, str | None, dict[str, Any]], str]] = {
    "python-jose": _python_jose,
    "authlib": _authlib,
    "joserfc": _joserfc,
    "jwcrypto": _jwcrypto,
}


# -- authhooks, one instance per AUTHHOOKS_ACCESS_TOKEN_TYPES value ----------------------------------------------------


def _jwks_document() -> dict[str, Any]:
    keys = []
    for private, kid in ((_RSA, "rsa"), (_EC, "ec"), (_ED, "ed")):
        jwk = dict(Key.from_crypto_key(private.public_key()).public_jwk or {})
        jwk.pop("alg", None)  # no alg: the family is inferred (RSA → RS256 and PS256 alike)
        jwk["kid"] = kid
        keys.append(jwk)
    keys.append({"kty": "oct", "kid": "hs", "k": b64url_encode(SECRET)})
    return {"keys": keys}


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, AuthHooks]]:
    folder = tmp_path_factory.mktemp("interop")
    path = folder / "jwks.json"
    path.write_text(json.dumps(_jwks_document()))
    path.chmod(0o600)
    built = {
        name: AuthHooks(
            store_url="memory://",
            state_dir=folder / name,
            telemetry=False,
            jwks_file=path,
            issuer=ISSUER,
            audience=(AUDIENCE,),
            access_token_types=types,
        )
        for name, types in SETTINGS.items()
    }
    yield built
    for auth in built.values():
        auth.close()


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}
    body.update(extra)
    return body


def _sign(library: str, alg: str, typ: str | None, claims: dict[str, Any]) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # libraries warn about their own deprecations
        return LIBRARIES[library](alg, typ, claims)


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("typ", TYPES, ids=lambda t: f"typ={t}")
@pytest.mark.parametrize("alg", ALGS)
@pytest.mark.parametrize("library", list(LIBRARIES))
def test_tokens_of_other_libraries(
    instances: dict[str, AuthHooks], library: str, alg: str, typ: str | None, setting: str
) -> None:
    token = _sign(library, alg, typ, _claims())
    accepted = ("none" if typ is None else typ.lower()) in {t.lower() for t in SETTINGS[setting]}
    auth = instances[setting]
    if accepted:
        assert auth.sync.validate_token(token).subject == "alice"
    else:
        with pytest.raises(WrongTokenType):
            auth.sync.validate_token(token)


@pytest.mark.parametrize("id_claim", ["nonce", "at_hash"])
@pytest.mark.parametrize("typ", ["JWT", None], ids=lambda t: f"typ={t}")
@pytest.mark.parametrize("library", list(LIBRARIES))
def test_id_tokens_are_refused(instances: dict[str, AuthHooks], library: str, typ: str | None, id_claim: str) -> None:
    token = _sign(library, "RS256", typ, _claims(**{id_claim: "n-0S6_WzA2Mj"}))
    with pytest.raises(WrongTokenType):
        instances["all"].sync.validate_token(token)


def test_python_jose_typ_none_is_a_null_typ_and_malformed(instances: dict[str, AuthHooks]) -> None:
    from jose import jwt

    token = jwt.encode(_claims(), SECRET.decode(), algorithm="HS256", headers={"kid": "hs", "typ": None})
    with pytest.raises(MalformedToken):  # RFC 7515 §4.1.9: typ is a string; null is not "absent"
        instances["all"].sync.validate_token(token)


def test_the_key_set_file_is_what_the_instances_use(instances: dict[str, AuthHooks], tmp_path: Path) -> None:
    assert set(instances["all"].tokens.keys.kids) >= {"rsa", "ec", "ed", "hs"}
