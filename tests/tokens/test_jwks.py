"""Remote key sets: discovery, TTL, rotation, unknown-kid floods, outages and slow endpoints.

Each behaviour runs against ``httpx.MockTransport``; fetch, discovery, outage and slowness also against a real
HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tokenkit import claims, forge, header, make_key, policy

from authhooks.errors import ConfigurationError, KeySetUnavailableError, UnknownKey
from authhooks.tokens import Key, RemoteKeySet, TokenValidator, parse_compact
from authhooks.tokens.jwks import discovery_urls

ISSUER = "https://id.example/tenant"
JWKS_URL = "https://id.example/keys"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Issuer:
    """A fake identity provider: serves a JWKS and discovery, counts requests, can go down."""

    def __init__(self, *keys: Key) -> None:
        self.keys = list(keys)
        self.requests: list[str] = []
        self.down = False
        self.discovery: dict[str, Any] = {"issuer": ISSUER, "jwks_uri": JWKS_URL}

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        if self.down:
            raise httpx.ConnectError("down")
        if request.url.path == "/tenant/.well-known/openid-configuration":
            return httpx.Response(200, json=self.discovery)
        if request.url.path == "/keys":
            return httpx.Response(200, json={"keys": [dict(k.public_jwk or {}) for k in self.keys]})
        return httpx.Response(404)

    @property
    def fetches(self) -> int:
        return self.requests.count("/keys")


def _remote(idp: Issuer, clock: Clock, **kwargs: Any) -> RemoteKeySet:
    options: dict[str, Any] = {"ttl": 300, "cooldown": 30, "timeout": 1, "clock": clock}
    options.update(kwargs)
    url = options.pop("url", JWKS_URL)
    return RemoteKeySet(url, transport=httpx.MockTransport(idp.handle), **options)


def test_fetch_and_validate() -> None:
    key = make_key("RS256")
    remote = _remote(Issuer(key), Clock())
    keys = remote.get_sync(key.kid)
    token = forge(key, header(key), claims())
    assert TokenValidator(keys, policy()).validate(token).subject == "alice"
    assert keys.get(key.kid) is not None
    assert not keys.get(key.kid).can_sign  # type: ignore[union-attr]


def test_ttl_refresh_and_rotation_at_the_issuer() -> None:
    old, new = make_key("ES256"), make_key("EdDSA")
    idp, clock = Issuer(old), Clock()
    remote = _remote(idp, clock)
    assert old.kid in remote.get_sync()
    idp.keys = [new, old]  # the issuer rotates
    clock.now += 10
    assert new.kid not in remote.get_sync(new.kid)  # within the cooldown of the first load
    clock.now += 21
    # unknown kid after the cooldown: refetched in the background; this call is answered from the cache
    assert new.kid not in remote.get_sync(new.kid)
    assert remote.wait_for_fetch_sync()
    keys = remote.get_sync(new.kid)
    assert new.kid in keys
    assert idp.fetches == 2
    clock.now += 10
    assert remote.get_sync(new.kid) is keys  # fresh: no fetch
    assert idp.fetches == 2
    clock.now += 301
    assert remote.get_sync(new.kid) is keys  # stale: served, refetched in the background
    assert remote.wait_for_fetch_sync()
    assert idp.fetches == 3


def test_unknown_kid_flood_costs_one_fetch_per_cooldown() -> None:
    key = make_key("EdDSA")
    idp, clock = Issuer(key), Clock()
    remote = _remote(idp, clock)
    remote.get_sync()
    for i in range(500):
        keys = remote.get_sync(f"invented-{i}")
        assert f"invented-{i}" not in keys
    assert idp.fetches == 1  # the first load; the flood came within its cooldown
    clock.now += 31
    for i in range(500):
        remote.get_sync(f"again-{i}")
    assert remote.wait_for_fetch_sync()
    assert idp.fetches == 2  # one (background) refetch for the whole flood
    clock.now += 31
    for i in range(500):
        remote.get_sync(f"more-{i}")
    assert remote.wait_for_fetch_sync()
    assert idp.fetches == 3


async def test_unknown_kid_flood_async_shares_one_fetch() -> None:
    key = make_key("EdDSA")
    idp, clock = Issuer(key), Clock()
    remote = _remote(idp, clock)
    results = await asyncio.gather(*(remote.get(f"kid-{i}") for i in range(200)))
    assert idp.fetches == 1
    assert all(r is results[0] for r in results)
    await asyncio.gather(*(remote.get(f"other-{i}") for i in range(200)))
    assert idp.fetches == 1  # within the cooldown


def test_down_endpoint_serves_stale_keys(caplog: pytest.LogCaptureFixture) -> None:
    key = make_key("EdDSA")
    idp, clock = Issuer(key), Clock()
    remote = _remote(idp, clock)
    keys = remote.get_sync()
    idp.down = True
    clock.now += 1000
    assert remote.get_sync(key.kid) is keys
    assert remote.wait_for_fetch_sync()
    attempts = len(idp.requests)
    for _ in range(50):
        assert remote.get_sync(key.kid) is keys
    assert len(idp.requests) == attempts  # failed attempts back off for the cooldown
    # the reason names host:port (issue 13: a wrong URL must be diagnosable), never the path or query
    assert "cannot connect (id.example:443)" in caplog.text
    assert "/keys" not in caplog.text


async def test_down_endpoint_serves_stale_keys_async() -> None:
    key = make_key("EdDSA")
    idp, clock = Issuer(key), Clock()
    remote = _remote(idp, clock)
    keys = await remote.get()
    idp.down = True
    clock.now += 1000
    assert await remote.get(key.kid) is keys


def test_nothing_cached_and_down_is_unavailable() -> None:
    idp, clock = Issuer(make_key("EdDSA")), Clock()
    idp.down = True
    remote = _remote(idp, clock)
    with pytest.raises(KeySetUnavailableError) as info:
        remote.get_sync("k")
    assert "id.example" not in str(info.value)
    with pytest.raises(KeySetUnavailableError):
        remote.get_sync("k")  # within the cooldown: fails fast, no new attempt
    assert len(idp.requests) == 1
    idp.down = False
    clock.now += 31
    assert len(remote.get_sync()) == 1


async def test_nothing_cached_and_down_is_unavailable_async() -> None:
    idp = Issuer(make_key("EdDSA"))
    idp.down = True
    with pytest.raises(KeySetUnavailableError):
        await _remote(idp, Clock()).get("k")


def test_discovery() -> None:
    key = make_key("EdDSA")
    idp = Issuer(key)
    remote = RemoteKeySet(issuer=ISSUER, transport=httpx.MockTransport(idp.handle))
    assert key.kid in remote.get_sync()
    assert idp.requests == ["/tenant/.well-known/openid-configuration", "/keys"]


def test_discovery_falls_back_to_rfc8414_and_checks_the_issuer() -> None:
    key = make_key("EdDSA")
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/.well-known/oauth-authorization-server/tenant":
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": JWKS_URL})
        if request.url.path == "/keys":
            return httpx.Response(200, json={"keys": [dict(key.public_jwk or {})]})
        return httpx.Response(404)

    assert key.kid in RemoteKeySet(issuer=ISSUER, transport=httpx.MockTransport(handle)).get_sync()
    assert seen[:2] == ["/tenant/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/tenant"]
    assert discovery_urls("https://a.example") == (
        "https://a.example/.well-known/openid-configuration",
        "https://a.example/.well-known/oauth-authorization-server",
    )


@pytest.mark.parametrize(
    "document",
    [
        {"issuer": "https://evil.example", "jwks_uri": JWKS_URL},
        {"issuer": ISSUER, "jwks_uri": "http://id.example/keys"},
        {"issuer": ISSUER},
    ],
)
async def test_discovery_mismatch_is_unavailable(document: dict[str, Any]) -> None:
    idp = Issuer(make_key("EdDSA"))
    idp.discovery = document
    remote = RemoteKeySet(issuer=ISSUER, transport=httpx.MockTransport(idp.handle))
    with pytest.raises(KeySetUnavailableError):
        remote.get_sync()
    assert "/keys" not in idp.requests


def test_unusable_jwks_members_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    good = make_key("EdDSA", kid="good")
    weak = Key.from_crypto_key(rsa.generate_private_key(65537, 2048))  # placeholder, replaced below
    weak_jwk = dict(weak.public_jwk or {})
    weak_jwk["n"] = weak_jwk["n"][:100]  # a 600-bit modulus
    weak_jwk["kid"] = "weak"
    secret = {"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2U", "kid": "oct"}
    document = {
        "keys": [
            {"kty": "EC", "crv": "secp256k1", "kid": "k1", "x": "AA", "y": "AA"},
            {"kty": "foo", "kid": "foo"},
            weak_jwk,
            secret,
            "not an object",
            dict(good.public_jwk or {}),
        ]
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=document))
    with caplog.at_level("DEBUG", logger="authhooks"):
        keys = RemoteKeySet(JWKS_URL, transport=transport).get_sync()
    assert keys.kids == ("good",)
    assert "c2VjcmV0" not in caplog.text


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"keys": 1}'])  # an empty set: test_rs_validation
def test_broken_documents_are_failures(body: bytes) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    with pytest.raises(KeySetUnavailableError):
        RemoteKeySet(JWKS_URL, transport=transport).get_sync()


def test_only_https_or_loopback_http() -> None:
    for url in ("http://id.example/keys", "ftp://id.example/keys", "keys"):
        with pytest.raises(ConfigurationError):
            RemoteKeySet(url)
    RemoteKeySet("http://127.0.0.1:1/keys")
    RemoteKeySet("http://localhost:1/keys")
    RemoteKeySet("http://id.example/keys", allow_http=True)
    with pytest.raises(ConfigurationError):
        RemoteKeySet()


def test_validation_flow_with_remote_keys() -> None:
    """The flow the lead wires: parse (no keys), fetch by kid, validate with the fetched set."""
    key = make_key("RS256")
    remote = _remote(Issuer(key), Clock())
    validator = TokenValidator(None, policy())
    token = forge(key, header(key), claims())
    keys = remote.get_sync(parse_compact(token).kid)
    assert validator.validate(token, keys=keys).subject == "alice"
    with pytest.raises(UnknownKey):
        validator.validate(token)


# -- a real HTTP server on 127.0.0.1 -----------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        state = self.server
        state.hits.append(self.path)
        if state.delay:
            time.sleep(state.delay)
        if self.path == "/.well-known/openid-configuration":
            body = {"issuer": state.base, "jwks_uri": state.base + "/keys"}
        elif self.path == "/keys":
            body = {"keys": [dict(k.public_jwk or {}) for k in state.keys]}
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (slow-endpoint test)
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    keys: list[Key]
    hits: list[str]
    delay: float
    base: str


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.keys, srv.hits, srv.delay = [make_key("EdDSA")], [], 0.0
    srv.base = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


def test_real_server_fetch_and_discovery(server: _Server) -> None:
    kid = server.keys[0].kid
    assert kid in RemoteKeySet(server.base + "/keys").get_sync()
    assert kid in RemoteKeySet(issuer=server.base).get_sync()
    assert server.hits == ["/keys", "/.well-known/openid-configuration", "/keys"]


async def test_real_server_async_and_rotation(server: _Server) -> None:
    clock = Clock()
    remote = RemoteKeySet(server.base + "/keys", clock=clock)
    first = server.keys[0]
    assert first.kid in await remote.get(first.kid)
    second = make_key("ES256")
    server.keys = [second, first]
    clock.now += 31
    assert second.kid not in await remote.get(second.kid)  # answered from the cache; refetch in the background
    await remote.wait_for_fetch()
    assert second.kid in await remote.get(second.kid)
    assert server.hits.count("/keys") == 2
    await remote.aclose()


def test_real_server_slow_endpoint_is_bounded(server: _Server) -> None:
    server.delay = 2.0
    remote = RemoteKeySet(server.base + "/keys", timeout=0.3)
    started = time.monotonic()
    with pytest.raises(KeySetUnavailableError):
        remote.get_sync()
    assert time.monotonic() - started < 1.0


async def test_real_server_slow_endpoint_is_bounded_async(server: _Server) -> None:
    server.delay = 2.0
    remote = RemoteKeySet(server.base + "/keys", timeout=0.3)
    started = time.monotonic()
    with pytest.raises(KeySetUnavailableError):
        await remote.get()
    assert time.monotonic() - started < 1.0


def test_real_server_down_serves_stale(server: _Server) -> None:
    clock = Clock()
    remote = RemoteKeySet(server.base + "/keys", clock=clock, timeout=0.5)
    keys = remote.get_sync()
    server.shutdown()
    server.server_close()
    clock.now += 1000
    assert remote.get_sync("unknown") is keys
    remote.close()
    with pytest.raises(KeySetUnavailableError):
        RemoteKeySet(server.base + "/keys", timeout=0.5).get_sync()
