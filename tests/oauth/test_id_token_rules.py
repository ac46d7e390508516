"""ID token rules beyond the signature (OIDC Core §3.1.3.7), on :func:`authhooks.oauth.id_token.validate_id_token`
and through the code exchange: the ``alg`` is one the provider advertises and never ``none`` or HMAC (RFC 8725
§3.1), ``iat``/``nbf`` are not in the future beyond the leeway, and hostile claim values (lone surrogates in
``nonce``/``at_hash``, a non-ASCII access token) are refusals, never a fault."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from authhooks.oauth import ExternalLoginFailed
from authhooks.oauth.client import ProviderMetadata
from authhooks.oauth.id_token import at_hash, validate_id_token
from authhooks.tokens.keys import Key
from authhooks.tokens.keyset import KeySet

ISSUER, CLIENT, NONCE = "https://idp.test", "shop", "n-0123456789"
_PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SIGNER = Key.from_crypto_key(_PRIVATE, ("RS256", "RS384", "PS256", "PS384"), kid="k1")
# The provider's JWKS names no "alg" (as Google's, Keycloak's and many others' do): the key allows RS* and PS*.
KEYS = KeySet([Key.from_jwk({k: v for k, v in dict(SIGNER.public_jwk or {}).items() if k != "alg"})])


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(alg: str = "RS256", raw_claims: str | None = None, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": CLIENT, "sub": "u1", "iat": now, "exp": now + 300, "nonce": NONCE, **claims}
    header = b64u(json.dumps({"alg": alg, "kid": "k1"}).encode())
    payload = b64u((raw_claims or json.dumps(body)).encode("utf-8", "surrogatepass"))
    signing_input = f"{header}.{payload}".encode()
    return f"{header}.{payload}.{b64u(SIGNER.sign(signing_input, alg))}"


def check(id_token: str, algorithms: tuple[str, ...] = ("RS256",), access_token: str | None = None) -> Any:
    return validate_id_token(
        id_token, KEYS, issuer=ISSUER, client_id=CLIENT, nonce=NONCE, now=time.time(), leeway=30,
        access_token=access_token, algorithms=algorithms,
    )  # fmt: skip


def test_an_advertised_algorithm_is_accepted() -> None:
    assert check(token("RS256"))["sub"] == "u1"
    assert check(token("PS256"), ("RS256", "PS256"))["sub"] == "u1"


@pytest.mark.parametrize("alg", ["PS256", "RS384", "PS384"])
def test_an_algorithm_the_provider_does_not_advertise_is_refused(alg: str) -> None:
    """The key alone would verify it (an RSA JWK without ``alg`` allows RS* and PS*); the provider said RS256."""
    with pytest.raises(ExternalLoginFailed) as caught:
        check(token(alg))
    assert caught.value.reason == "id_token_invalid"


def test_none_and_hmac_are_refused_even_when_advertised() -> None:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CLIENT, "sub": "u1", "iat": now, "exp": now + 300, "nonce": NONCE}
    payload = b64u(json.dumps(claims).encode())
    unsigned = b64u(b'{"alg":"none"}') + "." + payload + "."
    _, body, signature = token("RS256").split(".")
    hmac_header = b64u(b'{"alg":"HS256","kid":"k1"}') + "." + body + "." + signature
    for bad in (unsigned, hmac_header):
        with pytest.raises(ExternalLoginFailed):
            check(bad, ("RS256", "HS256", "none"))


def test_the_discovery_document_carries_the_algorithms() -> None:
    base = {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/a",
        "token_endpoint": f"{ISSUER}/t",
        "jwks_uri": f"{ISSUER}/k",
    }
    doc = {**base, "id_token_signing_alg_values_supported": ["RS256", "ES256"]}
    assert ProviderMetadata.from_document(doc, ISSUER).id_token_algs == ("RS256", "ES256")
    assert ProviderMetadata.from_document(base, ISSUER).id_token_algs == ()


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_a_token_from_the_future_is_refused(claim: str) -> None:
    with pytest.raises(ExternalLoginFailed) as caught:
        check(token(**{claim: int(time.time()) + 3600}))
    assert caught.value.reason == "id_token_invalid"
    assert check(token(**{claim: int(time.time()) + 10}))["sub"] == "u1"  # within the leeway


@settings(max_examples=60, deadline=None)
@given(
    nonce=st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=4),
    access=st.text(min_size=1, max_size=20),
)
def test_hostile_claim_values_are_refusals_not_faults(nonce: str, access: str) -> None:
    now = int(time.time())
    for claims in (
        {"nonce": nonce},
        {"at_hash": nonce},
    ):
        body = {"iss": ISSUER, "aud": CLIENT, "sub": "u1", "iat": now, "exp": now + 300, "nonce": NONCE, **claims}
        raw = json.dumps(body)  # lone surrogates as \\ud8xx escapes, as a provider could send them
        with pytest.raises(ExternalLoginFailed):
            check(token(raw_claims=raw), access_token=access)
    good_hash = at_hash(access, "RS256")
    if not access.isascii():
        with pytest.raises(ExternalLoginFailed):
            check(token(at_hash=b64u(b"x" * 16)), access_token=access)
    assert isinstance(good_hash, str)


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(["exp", "iat", "nbf"]),
    text=st.one_of(
        st.integers(min_value=10**300, max_value=10**2000).map(str),
        st.integers(min_value=10**300, max_value=10**2000).map(lambda n: str(-n)),
        st.integers().map(str),
        st.sampled_from(["1e400", "-1e400", "true", "null", '"0"']),
    ),
)
def test_a_date_claim_of_any_json_number_is_a_refusal_or_an_acceptance(name: str, text: str) -> None:
    """An ID token whose ``exp``/``iat``/``nbf`` is an integer beyond a float's range is judged like ``1e400``;
    it raised ``OverflowError`` (a 500 at the callback) before."""
    now = int(time.time())
    body = {"iss": ISSUER, "aud": CLIENT, "sub": "u1", "iat": now, "exp": now + 300, "nonce": NONCE}
    body.pop(name, None)
    raw = json.dumps(body)[:-1] + f', "{name}": {text}}}'
    outcome: Any
    try:
        outcome = check(token(raw_claims=raw))["sub"]
    except ExternalLoginFailed as refused:
        outcome = refused.reason
    assert outcome in {"u1", "id_token_invalid", "id_token_expired"}
