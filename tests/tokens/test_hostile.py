"""Every hostile token class of product.md §5 is refused, with the reason a client and telemetry would see."""

from __future__ import annotations

import json
import math
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenkit import NOW, claims, forge, header, make_key, policy, seg

from authhooks.errors import (
    BadAlgorithm,
    BadSignature,
    ExpiredToken,
    InvalidToken,
    MalformedToken,
    MissingClaim,
    TokenNotYetValid,
    UnknownKey,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from authhooks.tokens import Key, KeySet, TokenValidator, verify_compact
from authhooks.tokens._b64 import b64url_encode


def _validator(*keys: Key, **overrides: Any) -> TokenValidator:
    return TokenValidator(KeySet(keys), policy(**overrides))


def _refused(validator: TokenValidator, token: str, error: type[InvalidToken]) -> InvalidToken:
    with pytest.raises(error) as info:
        validator.validate(token)
    # The message is the generic description, never token contents.
    assert str(info.value) == error.default_description
    return info.value


def test_a_valid_token_is_accepted(hs_key: Key) -> None:
    principal = _validator(hs_key).validate(forge(hs_key, header(hs_key), claims()))
    assert principal.subject == "alice"
    assert principal.scopes == {"orders:read", "orders:write"}
    assert principal.jti == "jti-1"
    assert principal.token_type == "access"


# -- algorithm ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "NONE", "None", "nOnE"])
def test_alg_none_is_refused_in_any_spelling(hs_key: Key, alg: str) -> None:
    token = f"{seg(header(hs_key, alg=alg))}.{seg(claims())}.c2ln"
    _refused(_validator(hs_key), token, BadAlgorithm)


def test_alg_none_with_empty_signature_is_malformed(hs_key: Key) -> None:
    token = f"{seg(header(hs_key, alg='none'))}.{seg(claims())}."
    _refused(_validator(hs_key), token, MalformedToken)


def test_alg_outside_the_keys_allow_list_is_refused() -> None:
    key = Key.from_secret(b"k" * 64, ("HS256", "HS512"), kid="k")
    only_256 = Key.from_secret(b"k" * 64, ("HS256",), kid="k")
    token = forge(key, header(key, alg="HS512"), claims(), alg="HS512")
    assert _validator(key).validate(token).subject == "alice"
    _refused(_validator(only_256), token, BadAlgorithm)


def test_unsupported_alg_is_refused(hs_key: Key) -> None:
    token = forge(hs_key, header(hs_key, alg="HS1"), claims())
    _refused(_validator(hs_key), token, BadAlgorithm)


def test_non_string_alg_is_malformed(hs_key: Key) -> None:
    _refused(_validator(hs_key), forge(hs_key, header(hs_key, alg=["HS256"]), claims()), MalformedToken)


def test_hs256_signed_with_the_rsa_public_key_is_refused(rs_key: Key) -> None:
    """The classic key confusion: an attacker HMACs with the public key PEM (RFC 8725 §2.1)."""
    from cryptography.hazmat.primitives import serialization

    pem = rs_key.verify_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    attacker = Key.from_secret(pem, ("HS256",), kid="rs")
    token = forge(attacker, header(rs_key, alg="HS256"), claims())
    _refused(_validator(rs_key), token, BadAlgorithm)
    # ... and without kid too
    token = forge(attacker, header(rs_key, alg="HS256", kid=...), claims())
    _refused(_validator(rs_key), token, BadAlgorithm)


# -- key selection -----------------------------------------------------------------------------------------


def test_unknown_kid_is_refused(hs_key: Key) -> None:
    _refused(_validator(hs_key), forge(hs_key, header(hs_key, kid="other"), claims()), UnknownKey)


def test_kid_must_be_a_string(hs_key: Key) -> None:
    _refused(_validator(hs_key), forge(hs_key, header(hs_key, kid=7), claims()), MalformedToken)


def test_kid_of_an_encryption_key_is_refused(rsa_private: Any) -> None:
    jwk = dict(Key.from_crypto_key(rsa_private.public_key()).public_jwk or {})
    enc = Key.from_jwk({**jwk, "kid": "enc", "use": "enc"})
    signer = Key.from_crypto_key(rsa_private, kid="enc")
    _refused(_validator(enc), forge(signer, header(signer), claims()), UnknownKey)


def test_kid_of_a_key_without_verify_op_is_refused(rsa_private: Any) -> None:
    jwk = dict(Key.from_crypto_key(rsa_private.public_key()).public_jwk or {})
    wrap = Key.from_jwk({k: v for k, v in jwk.items() if k != "use"} | {"kid": "w", "key_ops": ["wrapKey"]})
    signer = Key.from_crypto_key(rsa_private, kid="w")
    _refused(_validator(wrap), forge(signer, header(signer), claims()), UnknownKey)


@pytest.mark.parametrize("member", ["jku", "x5u", "jwk", "x5c"])
def test_key_location_headers_never_select_a_key(hs_key: Key, member: str) -> None:
    attacker = make_key("EdDSA", kid="attacker")
    pointer: Any = {
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "jwk": dict(attacker.public_jwk or {}),
        "x5c": ["MIIBattacker"],
    }[member]
    trusted = make_key("EdDSA", kid="trusted")
    # Signed by the attacker, naming the attacker's kid: unknown to the trusted set.
    _refused(_validator(trusted), forge(attacker, header(attacker, **{member: pointer}), claims()), UnknownKey)
    # Signed by the attacker, claiming the trusted kid: the trusted key is used, and the signature fails.
    _refused(
        _validator(trusted),
        forge(attacker, header(attacker, kid="trusted", **{member: pointer}), claims()),
        BadSignature,
    )
    # Without kid: only trusted keys are tried.
    _refused(
        _validator(trusted), forge(attacker, header(attacker, kid=..., **{member: pointer}), claims()), BadSignature
    )


def test_without_kid_only_keys_allowing_the_alg_are_tried(hs_key: Key) -> None:
    ed = make_key("EdDSA", kid="ed")
    token = forge(ed, header(ed, kid=...), claims())
    assert _validator(hs_key, ed).validate(token).subject == "alice"
    _refused(_validator(hs_key), token, BadAlgorithm)


def test_empty_key_set_refuses_everything(hs_key: Key) -> None:
    _refused(_validator(), forge(hs_key, header(hs_key), claims()), UnknownKey)


def test_bad_signature_is_refused(hs_key: Key) -> None:
    other = Key.from_secret(b"t" * 32, kid="hs")
    _refused(_validator(hs_key), forge(other, header(hs_key), claims()), BadSignature)


def test_tampered_payload_is_refused(hs_key: Key) -> None:
    token = forge(hs_key, header(hs_key), claims())
    h, _, s = token.split(".")
    _refused(_validator(hs_key), f"{h}.{seg(claims(sub='mallory'))}.{s}", BadSignature)


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512"])
def test_ecdsa_signature_of_the_wrong_length_or_der_is_refused(alg: str) -> None:
    key = make_key(alg, kid="ec")
    token = forge(key, header(key), claims())
    h, p, s = token.split(".")
    raw = jwt.utils.base64url_decode(s)
    for bad in (raw[:-1], raw + b"\0", b"\0" * len(raw)):
        _refused(_validator(key), f"{h}.{p}.{b64url_encode(bad)}", BadSignature)


# -- header rules ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("crit", [["exp"], ["b64"], ["https://example.com/ext"], []])
def test_crit_is_refused(hs_key: Key, crit: list[str]) -> None:
    _refused(_validator(hs_key), forge(hs_key, header(hs_key, crit=crit), claims()), MalformedToken)


def test_b64_false_is_refused(hs_key: Key) -> None:
    _refused(_validator(hs_key), forge(hs_key, header(hs_key, b64=False), claims()), MalformedToken)


def test_header_must_be_a_strict_json_object(hs_key: Key) -> None:
    v = _validator(hs_key)
    dup = b'{"alg":"none","alg":"HS256","typ":"at+jwt","kid":"hs"}'
    _refused(v, forge(hs_key, dup, claims()), MalformedToken)
    _refused(v, forge(hs_key, b'["HS256"]', claims()), MalformedToken)
    _refused(v, forge(hs_key, b"\xff\xfe", claims()), MalformedToken)


def test_oversized_header_is_refused(hs_key: Key) -> None:
    _refused(_validator(hs_key), forge(hs_key, header(hs_key, pad="x" * 2000), claims()), MalformedToken)


def test_oversized_token_is_refused(hs_key: Key) -> None:
    token = forge(hs_key, header(hs_key), claims(pad="x" * 9000))
    _refused(_validator(hs_key), token, MalformedToken)
    with pytest.raises(MalformedToken):
        verify_compact(token, KeySet([hs_key]))
    assert verify_compact(token, KeySet([hs_key]), max_bytes=20000).key is hs_key


# -- serialization -----------------------------------------------------------------------------------------


def test_non_canonical_base64_is_refused(hs_key: Key) -> None:
    token = forge(hs_key, header(hs_key), claims())
    h, p, s = token.split(".")
    v = _validator(hs_key)
    # Flip unused trailing bits of the signature: decodes to the same bytes, but is another spelling.
    assert len(s) % 4 == 3
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = s[:-1] + alphabet[alphabet.index(s[-1]) | 1]
    assert jwt.utils.base64url_decode(twin) == jwt.utils.base64url_decode(s)
    _refused(v, f"{h}.{p}.{twin}", MalformedToken)
    for bad in (f"{h}.{p}.{s}=", f"{h}.{p}.{s}==", f"{h}.{p}+.{s}", f"{h}.{p}/.{s}", f"{h}.{p}.{s}A"):
        with pytest.raises((MalformedToken, BadSignature)):
            v.validate(bad)
    _refused(v, f"{h}=.{p}.{s}", MalformedToken)


@pytest.mark.parametrize(
    "shape",
    ["{t}.extra", "{t}.", ".{t}", "{t} ", " {t}", "{t}\n", "{h}.{p}", "{h}.{p}.{s}.{s}", "{h} .{p}.{s}"],
)
def test_wrong_shapes_are_malformed(hs_key: Key, shape: str) -> None:
    token = forge(hs_key, header(hs_key), claims())
    h, p, s = token.split(".")
    _refused(_validator(hs_key), shape.format(t=token, h=h, p=p, s=s), MalformedToken)


def test_empty_payload_is_a_jws_but_not_a_jwt(hs_key: Key) -> None:
    token = forge(hs_key, header(hs_key), b"")
    assert token.split(".")[1] == ""
    assert verify_compact(token, KeySet([hs_key])).payload == b""
    _refused(_validator(hs_key), token, MalformedToken)


@pytest.mark.parametrize("value", [None, b"eyJ", 12, ""])
def test_non_strings_and_empty_are_malformed(hs_key: Key, value: Any) -> None:
    _refused(_validator(hs_key), value, MalformedToken)


def test_non_ascii_token_is_malformed(hs_key: Key) -> None:
    token = forge(hs_key, header(hs_key), claims())
    _refused(_validator(hs_key), token[:-2] + "é" + token[-1], MalformedToken)


# -- payload JSON ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b'{"sub":"alice","exp":NaN}',
        b'{"sub":"alice","exp":Infinity}',
        b'{"sub":"alice","exp":-Infinity}',
        b'{"sub":"alice","exp":1,"exp":99999999999}',
        b'{"sub":"alice","exp":99999999999,"nested":{"a":1,"a":2}}',
        b'["sub","alice"]',
        b'"alice"',
        b"\xff\xfe{}",
        '{"sub":"alice","exp":99999999999}'.encode("utf-16"),
        b'\xef\xbb\xbf{"sub":"alice","exp":99999999999}',
        b'{"sub":"alice","exp":99999999999}garbage',
        b"",
    ],
)
def test_payload_must_be_strict_json_object(hs_key: Key, payload: bytes) -> None:
    _refused(_validator(hs_key), forge(hs_key, header(hs_key), payload), MalformedToken)


def test_whitespace_around_json_is_fine(hs_key: Key) -> None:
    body = b"  " + json.dumps(claims()).encode() + b"\n"
    assert _validator(hs_key).validate(forge(hs_key, header(hs_key), body)).subject == "alice"


def test_huge_exponent_is_not_a_finite_date(hs_key: Key) -> None:
    payload = json.dumps(claims()).replace(str(int(NOW) + 600), "1e400").encode()
    _refused(_validator(hs_key), forge(hs_key, header(hs_key), payload), MalformedToken)


def test_too_many_claims_are_refused(hs_key: Key) -> None:
    many = claims(**{f"c{i}": i for i in range(80)})
    _refused(_validator(hs_key), forge(hs_key, header(hs_key), many), MalformedToken)
    assert _validator(hs_key, max_claims=200).validate(forge(hs_key, header(hs_key), many)).subject == "alice"


def test_deep_nesting_is_malformed_not_a_crash(hs_key: Key) -> None:
    payload = b'{"sub":"alice","exp":99999999999,"x":' + b"[" * 3000 + b"]" * 3000 + b"}"
    token = forge(hs_key, header(hs_key), payload)
    with pytest.raises(MalformedToken):
        TokenValidator(KeySet([hs_key]), policy(), max_bytes=20000).validate(token)


# -- claims ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("exp", ["1900000000", True, None, [1900000000], {"t": 1}])
def test_exp_must_be_a_number(hs_key: Key, exp: Any) -> None:
    _refused(_validator(hs_key), forge(hs_key, header(hs_key), claims(exp=exp)), MissingClaim)


def test_missing_exp_is_refused(hs_key: Key) -> None:
    _refused(_validator(hs_key), forge(hs_key, header(hs_key), claims(exp=...)), MissingClaim)


@pytest.mark.parametrize("name", ["nbf", "iat", "auth_time"])
@pytest.mark.parametrize("value", ["1", False])
def test_other_dates_must_be_numbers(hs_key: Key, name: str, value: Any) -> None:
    _refused(_validator(hs_key), forge(hs_key, header(hs_key), claims(**{name: value})), MissingClaim)


def test_expiry_honours_the_leeway(hs_key: Key) -> None:
    v = _validator(hs_key)
    assert v.validate(forge(hs_key, header(hs_key), claims(exp=NOW - 29))).subject == "alice"
    assert v.validate(forge(hs_key, header(hs_key), claims(exp=NOW - 29.5))).subject == "alice"
    _refused(v, forge(hs_key, header(hs_key), claims(exp=NOW - 30)), ExpiredToken)
    _refused(v, forge(hs_key, header(hs_key), claims(exp=NOW - 3600)), ExpiredToken)
    _refused(_validator(hs_key, leeway=0), forge(hs_key, header(hs_key), claims(exp=NOW)), ExpiredToken)


def test_nbf_and_iat_in_the_future_are_refused(hs_key: Key) -> None:
    v = _validator(hs_key)
    assert v.validate(forge(hs_key, header(hs_key), claims(nbf=NOW + 25))).subject == "alice"
    _refused(v, forge(hs_key, header(hs_key), claims(nbf=NOW + 31)), TokenNotYetValid)
    assert v.validate(forge(hs_key, header(hs_key), claims(iat=NOW + 25))).subject == "alice"
    _refused(v, forge(hs_key, header(hs_key), claims(iat=NOW + 86400 * 365)), TokenNotYetValid)


def test_issuer_is_checked(hs_key: Key) -> None:
    v = _validator(hs_key)
    _refused(v, forge(hs_key, header(hs_key), claims(iss="https://evil.example")), WrongIssuer)
    _refused(v, forge(hs_key, header(hs_key), claims(iss=...)), MissingClaim)
    _refused(v, forge(hs_key, header(hs_key), claims(iss=["https://issuer.example"])), MissingClaim)
    assert _validator(hs_key, issuer=None).validate(forge(hs_key, header(hs_key), claims(iss=...))).subject


def test_audience_is_checked(hs_key: Key) -> None:
    v = _validator(hs_key)
    ok = [claims(aud=["other", "api://orders"]), claims(aud="api://orders")]
    for body in ok:
        assert v.validate(forge(hs_key, header(hs_key), body)).subject == "alice"
    _refused(v, forge(hs_key, header(hs_key), claims(aud="api://billing")), WrongAudience)
    _refused(v, forge(hs_key, header(hs_key), claims(aud=["a", "b"])), WrongAudience)
    _refused(v, forge(hs_key, header(hs_key), claims(aud=...)), MissingClaim)
    _refused(v, forge(hs_key, header(hs_key), claims(aud=[])), MissingClaim)
    _refused(v, forge(hs_key, header(hs_key), claims(aud=[1])), MissingClaim)
    # RFC 7519 §4.1.3: a token addressed to someone while we configured no audience is not for us.
    _refused(_validator(hs_key, audience=()), forge(hs_key, header(hs_key), claims()), WrongAudience)


@pytest.mark.parametrize("name", ["sub", "jti"])
def test_sub_and_jti_must_be_strings(hs_key: Key, name: str) -> None:
    _refused(_validator(hs_key), forge(hs_key, header(hs_key), claims(**{name: 42})), MissingClaim)


def test_sub_is_required_by_default(hs_key: Key) -> None:
    _refused(_validator(hs_key), forge(hs_key, header(hs_key), claims(sub=...)), MissingClaim)


@pytest.mark.parametrize("scope", [["a"], 1])
def test_scope_must_be_a_string(hs_key: Key, scope: Any) -> None:
    _refused(_validator(hs_key), forge(hs_key, header(hs_key), claims(scope=scope)), MissingClaim)


def test_scp_array_gives_scopes(hs_key: Key) -> None:
    p = _validator(hs_key).validate(forge(hs_key, header(hs_key), claims(scope=..., scp=["a", "b"])))
    assert p.scopes == {"a", "b"}


# -- token types -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
def test_access_token_types(hs_key: Key, typ: str) -> None:
    assert _validator(hs_key).validate(forge(hs_key, header(hs_key, typ=typ), claims())).subject == "alice"


@pytest.mark.parametrize(
    ("typ", "extra"),
    [
        ("refresh+jwt", {}),
        ("JWT", {"nonce": "n-0S6_WzA2Mj"}),
        ("JWT", {"at_hash": "77QmUPtjPfzWtF2AnpK9RQ"}),
        (..., {"nonce": "n-0S6_WzA2Mj"}),
        ("JWT", {}),
        (..., {}),
        ("dpop+jwt", {}),
        ("application/jwt", {}),
    ],
)
def test_refresh_and_id_tokens_are_not_access_tokens(hs_key: Key, typ: Any, extra: dict[str, Any]) -> None:
    token = forge(hs_key, header(hs_key, typ=typ), claims(**extra))
    _refused(_validator(hs_key), token, WrongTokenType)


def test_plain_jwt_flag_accepts_untyped_access_tokens_but_not_id_tokens(hs_key: Key) -> None:
    v = _validator(hs_key, allow_plain_jwt=True)
    assert v.validate(forge(hs_key, header(hs_key, typ="JWT"), claims())).subject == "alice"
    assert v.validate(forge(hs_key, header(hs_key, typ=...), claims())).subject == "alice"
    _refused(v, forge(hs_key, header(hs_key, typ="JWT"), claims(nonce="n")), WrongTokenType)
    _refused(v, forge(hs_key, header(hs_key, typ=...), claims(at_hash="h")), WrongTokenType)
    _refused(v, forge(hs_key, header(hs_key, typ="refresh+jwt"), claims()), WrongTokenType)


def test_typ_must_be_a_string(hs_key: Key) -> None:
    _refused(_validator(hs_key), forge(hs_key, header(hs_key, typ=1), claims()), MalformedToken)


# -- NumericDate values of any size and shape (a 500 class: float() of a huge JSON integer overflowed) ------------

DATE_TEXTS = st.one_of(
    st.integers().map(str),
    st.integers(min_value=10**300, max_value=10**2000).map(str),  # beyond a float's range
    st.integers(min_value=10**300, max_value=10**2000).map(lambda n: str(-n)),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1e400", "-1e400", "1E309", "0.0", "-0", "true", "null", '"1800000000"', "[]", "{}"]),
)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(["exp", "nbf", "iat", "auth_time"]), text=DATE_TEXTS)
def test_a_date_claim_of_any_json_number_is_judged_never_a_fault(name: str, text: str) -> None:
    """Whatever JSON a signed token puts in a NumericDate claim (integers of thousands of digits included), the
    validator accepts it or refuses it with an ``InvalidToken``: no ``OverflowError`` reaches the caller (it was
    a 500 through the middleware for an ``exp`` of 1 followed by 400 zeros)."""
    key = make_key("HS256")
    body = json.dumps({k: v for k, v in claims().items() if k != name})
    payload = body[:-1] + f', "{name}": {text}}}'
    try:
        principal = _validator(key).validate(forge(key, header(key), payload), now=NOW)
    except InvalidToken:
        return
    value = principal.claims[name]
    # accepted: a finite number, or (an optional date only) null, read as absent
    assert (type(value) in (int, float) and math.isfinite(value)) or (value is None and name != "exp")


def test_an_integer_beyond_a_float_in_exp_is_a_malformed_token(hs_key: Key) -> None:
    body = json.dumps(claims())
    assert '"exp"' in body
    payload = body.replace(f'"exp": {claims()["exp"]}', '"exp": 1' + "0" * 400)
    _refused(_validator(hs_key), forge(hs_key, header(hs_key), payload), MalformedToken)
