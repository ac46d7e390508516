"""Resource-server mode against a (mock) identity provider, through ``AuthHooks`` (issue 13): the discovered
issuer binds ``iss``, accepted access-token types, required claims, an empty JWKS, null header members and the
precise reason of a failed discovery."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tokenkit import forge, make_key

from authhooks import AuthHooks
from authhooks.errors import (
    ConfigurationError,
    KeySetUnavailableError,
    MalformedToken,
    MissingClaim,
    UnknownKey,
    WrongIssuer,
    WrongTokenType,
)
from authhooks.tokens import Key, RemoteKeySet
from authhooks.tokens.claims import ClaimsPolicy, parse_token_types

ISSUER = "https://idp.example/realms/demo"
JWKS_URL = "https://idp.example/realms/demo/certs"
AUDIENCE = "api://orders"


class Idp:
    """A discovery document and a JWKS, as an OpenID provider serves them."""

    def __init__(self, *keys: Key, issuer: str = ISSUER) -> None:
        self.keys = list(keys)
        self.document: dict[str, Any] = {"issuer": issuer, "jwks_uri": JWKS_URL}
        self.jwks: dict[str, Any] | None = None

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/realms/demo/.well-known/openid-configuration":
            return httpx.Response(200, json=self.document)
        if request.url.path == "/realms/demo/certs":
            body = self.jwks if self.jwks is not None else {"keys": [dict(k.public_jwk or {}) for k in self.keys]}
            return httpx.Response(200, json=body)
        return httpx.Response(404)


def _auth(tmp_path: Path, idp: Idp, **settings: Any) -> AuthHooks:
    options: dict[str, Any] = {"oidc_issuer": ISSUER, "audience": (AUDIENCE,), "leeway_seconds": 0}
    options.update(settings)
    return AuthHooks(
        store_url="memory://",
        state_dir=tmp_path,
        telemetry=False,
        http_client=httpx.MockTransport(idp.handle),
        **options,
    )


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    body: dict[str, Any] = {"iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "iat": now, "exp": now + 300}
    body.update(extra)
    return {k: v for k, v in body.items() if v is not ...}


def _header(key: Key, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"alg": key.algorithms[0], "typ": "at+jwt", "kid": key.kid}
    body.update(extra)
    return {k: v for k, v in body.items() if v is not ...}


# -- 1. the discovered issuer binds iss ---------------------------------------------------------------------------


def test_only_oidc_issuer_set_requires_iss_to_be_the_discovered_issuer(tmp_path: Path) -> None:
    key = make_key("RS256", kid="k1")
    auth = _auth(tmp_path, Idp(key))
    assert auth.sync.validate_token(forge(key, _header(key), _claims())).subject == "alice"
    with pytest.raises(WrongIssuer):
        auth.sync.validate_token(forge(key, _header(key), _claims(iss="https://evil.example", jti="x")))
    with pytest.raises(MissingClaim):
        auth.sync.validate_token(forge(key, _header(key), _claims(iss=..., jti="y")))


def test_discovery_document_issuer_must_equal_the_configured_url_exactly(caplog: pytest.LogCaptureFixture) -> None:
    idp = Idp(make_key("RS256"), issuer=ISSUER + "/")  # a trailing slash is another issuer (OIDC Discovery §4.3)
    remote = RemoteKeySet(issuer=ISSUER, transport=httpx.MockTransport(idp.handle))
    with caplog.at_level(logging.WARNING, "authhooks"), pytest.raises(KeySetUnavailableError):
        remote.get_sync()
    assert f"issuer mismatch: the document names '{ISSUER}/', expected '{ISSUER}'" in caplog.text


# -- 2. accepted access-token types --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("types", "typ", "accepted"),
    [
        (("at+jwt",), "at+jwt", True),
        (("at+jwt",), "application/AT+JWT", True),
        (("at+jwt",), "JWT", False),
        (("at+jwt",), ..., False),
        (("JWT",), "JWT", True),
        (("jwt",), "application/jwt", True),
        (("JWT",), "at+jwt", False),
        (("JWT",), ..., False),
        (("none",), ..., True),
        (("none",), "JWT", False),
        (("at+jwt", "JWT", "none"), ..., True),
    ],
)
def test_access_token_types(tmp_path: Path, types: tuple[str, ...], typ: Any, accepted: bool) -> None:
    key = make_key("ES256", kid="k1")
    auth = _auth(tmp_path, Idp(key), access_token_types=types)
    token = forge(key, _header(key, typ=typ), _claims())
    if accepted:
        assert auth.sync.validate_token(token).subject == "alice"
    else:
        with pytest.raises(WrongTokenType):
            auth.sync.validate_token(token)


@pytest.mark.parametrize("typ", ["JWT", ...])
@pytest.mark.parametrize("id_claim", [{"nonce": "n-0S6"}, {"at_hash": "77QmUPtjPfzWtF2AnpK9RQ"}])
def test_id_tokens_are_refused_whatever_plain_type_is_accepted(
    tmp_path: Path, typ: Any, id_claim: dict[str, str]
) -> None:
    key = make_key("RS256", kid="k1")
    auth = _auth(tmp_path, Idp(key), access_token_types=("at+jwt", "JWT", "none"))
    with pytest.raises(WrongTokenType):
        auth.sync.validate_token(forge(key, _header(key, typ=typ), _claims(**id_claim)))


def test_access_token_types_from_the_environment() -> None:
    from authhooks.config import Settings

    settings = Settings.from_env({"AUTHHOOKS_ACCESS_TOKEN_TYPES": "JWT, none"})
    assert ClaimsPolicy.from_settings(settings).accepted_types == frozenset({"jwt", None})
    assert parse_token_types(("application/at+JWT",)) == ("at+jwt",)
    for bad in ((), ("a b",), ("",)):
        with pytest.raises(ConfigurationError, match="AUTHHOOKS_ACCESS_TOKEN_TYPES"):
            parse_token_types(bad)


def test_required_claims(tmp_path: Path) -> None:
    key = make_key("RS256", kid="k1")
    auth = _auth(tmp_path, Idp(key), required_claims=("client_id", "scope"))
    with pytest.raises(MissingClaim):
        auth.sync.validate_token(forge(key, _header(key), _claims(scope="read")))
    principal = auth.sync.validate_token(forge(key, _header(key), _claims(scope="read", client_id="app", jti="2")))
    assert principal.claims["client_id"] == "app"


# -- 5. a JWKS with no usable key -----------------------------------------------------------------------------------


def test_a_jwks_without_usable_key_is_invalid_token_not_unavailable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = make_key("RS256", kid="k1")
    idp = Idp(key)
    idp.jwks = {
        "keys": [
            {"kty": "oct", "kid": "shared", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI"},
            {"kty": "RSA", "kid": "small", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "k256", "crv": "secp256k1", "x": "AA", "y": "AA"},
        ]
    }
    auth = _auth(tmp_path, idp)
    with caplog.at_level(logging.WARNING, "authhooks"), pytest.raises(UnknownKey) as info:
        auth.sync.validate_token(forge(key, _header(key), _claims()))
    assert info.value.reason == "no_usable_key"
    assert info.value.status == 401
    lines = [r.getMessage() for r in caplog.records if "no usable key" in r.getMessage()]
    assert len(lines) == 1
    assert "kid='shared': a symmetric (oct) key is never trusted" in lines[0]
    assert "kid='small'" in lines[0] and "kid='k256'" in lines[0]
    with caplog.at_level(logging.WARNING, "authhooks"), pytest.raises(UnknownKey):
        auth.sync.validate_token(forge(key, _header(key, kid=...), _claims()))
    assert len([r for r in caplog.records if "no usable key" in r.getMessage()]) == 1  # logged once


# -- 6. null kid / typ -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("member", ["kid", "typ"])
@pytest.mark.parametrize("value", [None, 7, ["k1"], {"k": 1}])
def test_non_string_kid_or_typ_is_malformed(tmp_path: Path, member: str, value: Any) -> None:
    key = make_key("RS256", kid="k1")
    auth = _auth(tmp_path, Idp(key), access_token_types=("at+jwt", "none"))
    with pytest.raises(MalformedToken):
        auth.sync.validate_token(forge(key, _header(key, **{member: value}), _claims()))


# -- 8. the precise reason of a failed discovery ---------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (lambda r: httpx.Response(404), "openid-configuration: HTTP 404"),
        (lambda r: httpx.Response(200, text="<html>"), "openid-configuration: not JSON"),
        (lambda r: httpx.Response(200, json={"issuer": "https://other.example"}), "issuer mismatch"),
    ],
)
async def test_discovery_failure_reasons_are_logged(
    caplog: pytest.LogCaptureFixture, handler: Any, expected: str
) -> None:
    remote = RemoteKeySet(issuer=ISSUER, transport=httpx.MockTransport(handler))
    with caplog.at_level(logging.WARNING, "authhooks"), pytest.raises(KeySetUnavailableError):
        await remote.get()
    assert "discovery failed: idp.example:443 openid-configuration: " in caplog.text
    assert expected in caplog.text
    assert "oauth-authorization-server: " in caplog.text
    assert remote.last_failure is not None and expected in remote.last_failure


def test_connection_refused_names_host_and_port(caplog: pytest.LogCaptureFixture) -> None:
    port = _closed_port()
    remote = RemoteKeySet(issuer=f"http://127.0.0.1:{port}/realm")
    with caplog.at_level(logging.WARNING, "authhooks"), pytest.raises(KeySetUnavailableError):
        remote.get_sync()
    assert f"connection refused (127.0.0.1:{port})" in caplog.text


async def test_authhooks_check_reports_the_precise_reason() -> None:
    from authhooks._checks import doctor

    port = _closed_port()
    checks = await doctor(
        {"AUTHHOOKS_OIDC_ISSUER": f"http://127.0.0.1:{port}/realm", "AUTHHOOKS_STORE_URL": "memory://"}
    )
    line = next(c.line() for c in checks if c.name == "key set")
    assert "AUTHHOOKS_OIDC_ISSUER" in line
    assert f"connection refused (127.0.0.1:{port})" in line
    assert "discovery failed" in line


# -- 7. http_client= ------------------------------------------------------------------------------------------------


def test_http_client_sync_client_serves_sync_and_async_fetches(tmp_path: Path) -> None:
    key = make_key("PS256", kid="k1")
    idp = Idp(key)
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("x-proxy-hop", ""))
        return idp.handle(request)

    with httpx.Client(transport=httpx.MockTransport(handle), headers={"x-proxy-hop": "corp"}) as client:
        auth = AuthHooks(
            store_url="memory://", state_dir=tmp_path, telemetry=False, oidc_issuer=ISSUER, audience=(AUDIENCE,),
            http_client=client,
        )  # fmt: skip
        assert auth.sync.validate_token(forge(key, _header(key), _claims())).subject == "alice"
        assert seen and set(seen) == {"corp"}
        assert not client.is_closed
        auth.close()


async def test_http_client_async_client(tmp_path: Path) -> None:
    key = make_key("EdDSA", kid="k1")
    idp = Idp(key)
    async with httpx.AsyncClient(transport=httpx.MockTransport(idp.handle)) as client:
        auth = AuthHooks(
            store_url="memory://", state_dir=tmp_path, telemetry=False, oidc_issuer=ISSUER, audience=(AUDIENCE,),
            http_client=client,
        )  # fmt: skip
        principal = await auth.validate_token(forge(key, _header(key, alg="Ed25519"), _claims()))
        assert principal.subject == "alice"
        await auth.aclose()


def test_http_client_async_client_cannot_serve_a_sync_fetch(caplog: pytest.LogCaptureFixture) -> None:
    remote = RemoteKeySet(issuer=ISSUER, http_client=httpx.AsyncClient())
    with caplog.at_level(logging.WARNING, "authhooks"), pytest.raises(KeySetUnavailableError):
        remote.get_sync()
    assert "http_client is an httpx.AsyncClient" in caplog.text
    with pytest.raises(ConfigurationError, match="http_client"):
        RemoteKeySet(issuer=ISSUER, http_client=object())  # type: ignore[arg-type]
