"""A provider's answers are read within bounds (sync and async): no further than ``MAX_DOCUMENT_BYTES`` (an
endless answer is not pulled into memory before its size is judged) and within the timeout as a whole (a token
endpoint trickling its answer byte by byte does not hold a sign-in for longer)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from authhooks.oauth import OAuthProvider, ProviderUnavailable
from authhooks.oauth.client import MAX_DOCUMENT_BYTES, ProviderClient

ISSUER = "https://idp.test"
DISCOVERY = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/authorize",
    "token_endpoint": f"{ISSUER}/token",
    "jwks_uri": f"{ISSUER}/jwks",
}
TOTAL = 8 * 1024 * 1024
CHUNK = 16 * 1024


class Endless:
    """A token endpoint answering 8 MiB, counting what the client pulled."""

    def __init__(self) -> None:
        self.pulled = 0

    def chunks(self) -> Iterator[bytes]:
        for _ in range(TOTAL // CHUNK):
            self.pulled += CHUNK
            yield b" " * CHUNK

    async def achunks(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks():
            yield chunk

    def transport(self, asynchronous: bool) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/.well-known/openid-configuration":
                return httpx.Response(200, json=DISCOVERY)
            return httpx.Response(200, content=self.achunks() if asynchronous else self.chunks())

        return httpx.MockTransport(handle)


def _client(transport: httpx.MockTransport, timeout: float = 5.0) -> ProviderClient:
    provider = OAuthProvider(name="p", issuer=ISSUER, client_id="c", client_secret="s")
    return ProviderClient(provider, timeout=timeout, transport=transport)


def test_an_endless_answer_is_not_read_past_the_bound_sync() -> None:
    endless = Endless()
    with pytest.raises(ProviderUnavailable) as caught:
        _client(endless.transport(False)).token_sync({"grant_type": "x"}, "refused")
    assert caught.value.reason == "provider_answer_too_large"
    assert endless.pulled <= MAX_DOCUMENT_BYTES + 2 * CHUNK


async def test_an_endless_answer_is_not_read_past_the_bound_async() -> None:
    endless = Endless()
    with pytest.raises(ProviderUnavailable) as caught:
        await _client(endless.transport(True)).token({"grant_type": "x"}, "refused")
    assert caught.value.reason == "provider_answer_too_large"
    assert endless.pulled <= MAX_DOCUMENT_BYTES + 2 * CHUNK


def test_a_trickled_answer_is_bounded_by_the_timeout_as_a_whole() -> None:
    """Each byte arrives well within the timeout, the whole answer takes ~3 s: with a 0.5 s timeout the read
    stops (before, it waited for all of it and answered)."""
    answer = json.dumps({"access_token": "a", "token_type": "Bearer"}).encode()

    def trickle() -> Iterator[bytes]:
        for byte in answer:
            time.sleep(3 / len(answer))
            yield bytes([byte])

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json=DISCOVERY)
        return httpx.Response(200, content=trickle())

    client = _client(httpx.MockTransport(handle), timeout=0.5)
    client.metadata_sync()
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable):
        client.token_sync({"grant_type": "x"}, "refused")
    assert time.monotonic() - started < 2.5
