"""The hostile-request tests, written once and run against each driver (``test_hostile`` for ASGI,
``test_hostile_wsgi`` for WSGI): the hypothesis strategies, an in-process ASGI caller with a silent client, and
:func:`hostile_requests`, whose tests each driver's module inherits by giving two fixtures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, MutableMapping
from typing import Any, Protocol

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TARGETS = [
    "/api/me",
    "/api/admin",
    "/health",
    "/login",
    "/public/echo",
    "/auth/challenge",
    "/auth/login",
    "/auth/refresh",
    "/auth/logout",
    "/auth/revoke",
    "/auth/introspect",
    "/auth/jwks.json",
]
HEADER_NAMES = [b"authorization", b"content-type", b"content-length", b"cookie", b"x-any"]
CONTENT_TYPES = [
    b"application/json",
    b"application/x-www-form-urlencoded",
    b"text/plain",
    b"application/json; charset=x",
]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

header_value = st.one_of(
    st.binary(max_size=80),
    st.sampled_from(CONTENT_TYPES),
    st.builds(lambda t: b"Bearer " + t, st.binary(max_size=60)),
    st.builds(lambda n: str(n).encode(), st.integers(min_value=-5, max_value=10**7)),
)
body = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda d: json.dumps(d).encode(), st.dictionaries(st.text(max_size=12), st.text(max_size=30))),
    st.builds(lambda s: s.encode("utf-8", "surrogatepass"), st.text(max_size=200)),
)
printable = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=60
)


async def call_asgi(
    app: Any, scope: dict[str, Any], chunks: Iterable[bytes]
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run one HTTP request through ``app`` in process: the body arrives as ``chunks``, then the client stays silent
    (10 s) before disconnecting — a driver must answer without waiting for it. Returns status, headers, body."""
    pending = list(chunks)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return {"type": "http.request", "body": pending.pop(0), "more_body": len(pending) > 0}
        await asyncio.sleep(10)  # a client that stays silent: must not be waited for forever
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(start["status"]), list(start.get("headers", [])), content


class InProcess(Protocol):
    """What a driver's ``in_process`` fixture yields: one app behind the middleware, called without a server."""

    token: str  # a valid read token for "alice"

    def call(self, method: str, path: str, headers: list[tuple[bytes, bytes]], content: bytes) -> tuple[int, bytes]: ...


class Served(Protocol):
    """What a driver's ``server`` fixture yields (with a valid read token for "alice"): a real server's base URL."""

    url: str


def hostile_requests() -> type[Any]:
    """A fresh class of the hostile-request tests, to subclass once per driver. The subclass's module provides the
    module-scoped fixtures ``in_process`` (an :class:`InProcess`) and ``server`` (a ``(Served, token)`` pair).

    Fresh per driver because hypothesis refuses one test function run with two different ``self`` types (its
    ``differing_executors`` health check); each driver's tests are their own functions, as they were when written
    out in each module.
    """

    class HostileRequests:
        """The hostile-request tests, for the module whose fixtures ``in_process`` and ``server`` they use."""

        @SETTINGS
        @given(
            method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]),
            target=st.one_of(st.sampled_from(TARGETS), st.text(max_size=40)),
            headers=st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_value), max_size=5),
            content=body,
        )
        def test_generated_requests_never_500_or_hang(
            self, in_process: InProcess, method: str, target: str, headers: list[tuple[bytes, bytes]], content: bytes
        ) -> None:
            status, response = in_process.call(method, target, headers, content)
            assert status < 500, (status, response)
            for _, value in headers:
                if value.startswith(b"Bearer ") and len(value) > 16:
                    assert value[7:] not in response

        @SETTINGS
        @given(
            token=st.one_of(
                st.binary(max_size=200),
                st.from_regex(rb"[A-Za-z0-9_\-]{1,40}(\.[A-Za-z0-9_\-]{0,60}){2}", fullmatch=True),
            )
        )
        def test_generated_tokens_are_refused_cleanly(self, in_process: InProcess, token: bytes) -> None:
            status, response = in_process.call("GET", "/api/me", [(b"authorization", b"Bearer " + token)], b"")
            assert status in (400, 401)
            if len(token) > 8:
                assert token not in response

        def test_the_app_still_works_after_the_storm(self, in_process: InProcess) -> None:
            status, content = in_process.call(
                "GET", "/api/me", [(b"authorization", b"Bearer " + in_process.token.encode())], b""
            )
            assert status == 200 and b'"identity":"alice"' in content

        # -- the same over a real server ----------------------------------------------------------------------------

        @pytest.mark.slow
        @settings(max_examples=60, deadline=None)
        @given(
            target=st.sampled_from(TARGETS),
            auth_value=st.one_of(st.none(), printable, st.builds(lambda s: "Bearer " + s, printable)),
            content_type=st.one_of(st.none(), st.sampled_from([c.decode() for c in CONTENT_TYPES]), printable),
            content=body,
            path_suffix=st.text(alphabet="abc/%.2eE0F\x00", max_size=12),
        )
        def test_generated_requests_over_http(
            self,
            server: tuple[Served, str],
            target: str,
            auth_value: str | None,
            content_type: str | None,
            content: bytes,
            path_suffix: str,
        ) -> None:
            srv, _ = server
            headers = {}
            if auth_value is not None:
                headers["authorization"] = auth_value.strip()
            if content_type is not None:
                headers["content-type"] = content_type.strip()
            url = srv.url + target + path_suffix.replace("\x00", "%00")
            with httpx.Client(timeout=5) as http:
                try:
                    raw = [(k.encode(), v.encode("latin-1")) for k, v in headers.items()]
                    r = http.post(url, headers=raw, content=content)
                except httpx.LocalProtocolError:
                    return  # the client refused to send it (an illegal header): nothing reached the server
            assert r.status_code < 500

        @pytest.mark.slow
        def test_server_still_answers_after_the_storm(self, server: tuple[Served, str]) -> None:
            srv, token = server
            with httpx.Client(timeout=5) as http:
                r = http.get(srv.url + "/api/me", headers={"authorization": f"Bearer {token}"})
            assert r.status_code == 200 and r.json()["identity"] == "alice"

    return HostileRequests
