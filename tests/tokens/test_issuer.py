"""Issuing: every algorithm round-trips, reserved claims win, rotation keeps old tokens valid."""

from __future__ import annotations

import jwt
import pytest
from tokenkit import ALL_ALGORITHMS, AUDIENCE, ISSUER, NOW, make_key, policy

from authhooks.errors import ConfigurationError, WrongTokenType
from authhooks.tokens import Key, KeySet, TokenIssuer, TokenValidator, parse_compact, verify_compact


def _issuer(*keys: Key, **kwargs: object) -> TokenIssuer:
    return TokenIssuer(list(keys), issuer=ISSUER, audience=[AUDIENCE], clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("alg", ALL_ALGORITHMS)
def test_every_algorithm_round_trips(alg: str) -> None:
    key = make_key(alg)
    issued = _issuer(key).issue("alice", {"scope": "read write"})
    principal = TokenValidator(KeySet([key]), policy()).validate(issued.token)
    assert principal.subject == "alice"
    assert principal.scopes == {"read", "write"}
    assert principal.jti == issued.jti
    parsed = parse_compact(issued.token)
    assert parsed.header == {"alg": alg, "kid": key.thumbprint, "typ": "at+jwt"}
    # PyJWT agrees (interoperability).
    decoded = jwt.decode(
        issued.token,
        key.verify_key,
        algorithms=[alg],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert decoded == dict(issued.claims)


def test_issued_claims() -> None:
    issued = _issuer(make_key("EdDSA")).issue("alice", ttl=60)
    body = dict(issued.claims)
    assert body["iss"] == ISSUER
    assert body["aud"] == AUDIENCE
    assert body["iat"] == int(NOW)
    assert body["exp"] == int(NOW) + 60 == issued.expires_at
    assert "nbf" not in body
    assert len(jwt.utils.base64url_decode(issued.jti)) == 16
    assert issued.token not in repr(issued)


def test_reserved_claims_are_set_by_the_issuer() -> None:
    hostile = {"iss": "evil", "sub": "root", "exp": 9_999_999_999, "iat": 0, "jti": "fixed", "role": "admin"}
    issued = _issuer(make_key("EdDSA")).issue("alice", hostile)
    assert issued.claims["iss"] == ISSUER
    assert issued.claims["sub"] == "alice"
    assert issued.claims["exp"] == int(NOW) + 900
    assert issued.claims["iat"] == int(NOW)
    assert issued.claims["jti"] != "fixed"
    assert issued.claims["role"] == "admin"


def test_jti_is_unique() -> None:
    issuer = _issuer(make_key("HS256"))
    assert len({issuer.issue("a").jti for _ in range(200)}) == 200


def test_token_types() -> None:
    key = make_key("EdDSA")
    issuer = _issuer(key)
    validator = TokenValidator(KeySet([key]), policy())
    refresh = issuer.issue("alice", token_type="refresh")
    assert parse_compact(refresh.token).header["typ"] == "refresh+jwt"
    with pytest.raises(WrongTokenType):
        validator.validate(refresh.token)
    refresh_policy = TokenValidator(KeySet([key]), policy(token_types=("refresh+jwt",), token_type="refresh"))
    assert refresh_policy.validate(refresh.token).token_type == "refresh"
    assert parse_compact(issuer.issue("a", token_type="invite").token).header["typ"] == "invite+jwt"


def test_bad_claims_are_refused() -> None:
    issuer = _issuer(make_key("EdDSA"))
    with pytest.raises(ValueError):
        issuer.issue("alice", {"x": float("nan")})
    with pytest.raises(TypeError):
        issuer.issue("alice", {1: "x"})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        issuer.issue("")


def test_issuer_needs_a_signing_key() -> None:
    public = Key.from_jwk(dict(make_key("EdDSA").public_jwk or {}))
    with pytest.raises(ConfigurationError):
        TokenIssuer([public])
    with pytest.raises(ConfigurationError):
        TokenIssuer([])


def test_key_rotation_newest_signs_all_validate() -> None:
    old = make_key("ES256")
    old_token = _issuer(old).issue("alice").token
    new = make_key("EdDSA")
    rotated = _issuer(new, old)
    assert rotated.signing_key is new
    new_token = rotated.issue("bob").token
    assert parse_compact(new_token).kid == new.kid
    validator = TokenValidator(rotated.keyset, policy())
    assert validator.validate(old_token).subject == "alice"
    assert validator.validate(new_token).subject == "bob"
    assert [k["kid"] for k in rotated.jwks()["keys"]] == [new.kid, old.kid]
    # Once the old key is retired, its tokens stop validating.
    retired = TokenValidator(_issuer(new).keyset, policy())
    with pytest.raises(Exception, match="unknown key"):
        retired.validate(old_token)


def test_verify_compact_serves_non_jwt_payloads() -> None:
    key = make_key("EdDSA")
    from tokenkit import forge

    token = forge(key, {"alg": "EdDSA", "kid": key.kid, "typ": "dpop+jwt"}, b"\x00 arbitrary bytes")
    verified = verify_compact(token, KeySet([key]))
    assert verified.payload == b"\x00 arbitrary bytes"
    assert verified.key is key
    assert verified.header["typ"] == "dpop+jwt"
