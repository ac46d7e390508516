"""Framework agreement, as a test: the middleware's verdict against Starlette's own router, on generated paths.

For each generated request target (percent-encodings, control bytes, ``//``, ``;``, ``%2f``, trailing dots and
spaces, Unicode, mixed case, a ``root_path``), the router is asked which endpoint it would dispatch the decoded
path to (:func:`dispatch`, the loop of ``Router.app``, descending into ``Mount``), and the same request is sent
through middleware and app in process:

* to a protected endpoint without a token: refused (400 or 401) and the endpoint never runs;
* to a scoped endpoint with a token lacking the scope: refused (400 or 403), the endpoint never runs;
* with a token holding every scope: the endpoint the router chose runs, unless the path was refused with 400.

A mismatch is a bypass (``/admin/stats%0a`` was one: ``$`` in the router's ``^…$`` matches before a final ``\\n``).
"""

from __future__ import annotations

import asyncio
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator, MutableMapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from authhooks import AuthHooks
from authhooks.middleware import AuthHooksMiddleware

from ._support import make_auth

HTTP_EXAMPLES = 1800
WS_EXAMPLES = 700

# The endpoint each pattern of authhooks' grammar guards, spelt as the route is.
PROTECT = [
    "/admin/stats",  # exact
    "/users/*",  # one segment: Route("/users/{id}")
    "/files/**",  # a subtree: Route("/files/{rest:path}")
    "/vault/**",  # a Mount with sub-routes
    "/m/secret",  # one sub-route of a Mount whose other routes are open
    "/download/*.txt",  # '*' inside a segment
    "/Admin/Panel",  # mixed case
    "/café/menu",  # non-ASCII
    "/reports/*",
    "/ws/admin",  # WebSocket
    "/ws/rooms/*",
]
PUBLIC = ["/health", "/public/**"]
REQUIRED_SCOPES = {"/reports/*": ["reports"], "/admin/**": ["admin"], "/ws/rooms/*": "rooms"}
PROTECTED = {
    "admin_stats",
    "user",
    "files",
    "vault_root",
    "vault_item",
    "m_secret",
    "download",
    "admin_panel",
    "cafe_menu",
    "reports",
    "ws_admin",
    "ws_room",
}
SCOPED = {"reports": "reports", "admin_stats": "admin", "ws_room": "rooms"}
READ_ONLY = "read"
EVERY_SCOPE = "read admin reports rooms"


def _app(ran: list[str]) -> tuple[Starlette, dict[Any, str]]:
    """The app under test and a map from endpoint function to its name; every endpoint records that it ran."""
    names: dict[Any, str] = {}

    def http(name: str) -> Any:
        async def endpoint(request: Request) -> Response:
            ran.append(name)
            return PlainTextResponse(name)

        names[endpoint] = name
        return endpoint

    def ws(name: str) -> Any:
        async def endpoint(websocket: WebSocket) -> None:
            ran.append(name)
            await websocket.accept()
            await websocket.close()

        names[endpoint] = name
        return endpoint

    routes: list[BaseRoute] = [
        Route("/", http("root")),
        Route("/admin/stats", http("admin_stats")),
        Route("/admin/statsx", http("admin_statsx")),
        Route("/users/{id}", http("user")),
        Route("/users/{id}/posts", http("user_posts")),
        Route("/files/{rest:path}", http("files")),
        Mount("/vault", routes=[Route("/", http("vault_root")), Route("/{item}", http("vault_item"))]),
        Mount(
            "/m",
            routes=[Route("/", http("m_root")), Route("/secret", http("m_secret")), Route("/open", http("m_open"))],
        ),
        Route("/download/{name}.txt", http("download")),
        Route("/download/{name}", http("download_other")),
        Route("/Admin/Panel", http("admin_panel")),
        Route("/café/menu", http("cafe_menu")),
        Route("/reports/{name}", http("reports")),
        Route("/health", http("health")),
        Route("/public/{rest:path}", http("public")),
        Route("/{anything}/stats", http("any_stats")),
        WebSocketRoute("/ws/admin", ws("ws_admin")),
        WebSocketRoute("/ws/rooms/{room}", ws("ws_room")),
        WebSocketRoute("/ws/open", ws("ws_open")),
        WebSocketRoute("/ws/{rest:path}", ws("ws_any")),
    ]
    return Starlette(routes=routes), names


def dispatch(routes: Sequence[BaseRoute], scope: dict[str, Any], names: dict[Any, str]) -> str | None:
    """The endpoint Starlette's router runs for ``scope`` (``None``: 404, 405 or a ``redirect_slashes`` 307).

    The loop of ``Router.app``: the first route whose ``matches`` is ``Match.FULL`` handles the request; a
    ``Mount`` hands its child scope (with its ``root_path``) to its own router, which loops again.
    """
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            if isinstance(route, Mount):
                return dispatch(route.routes, {**scope, **child}, names)
            return names[child["endpoint"]]
        # Match.PARTIAL is a method mismatch: a 405, the endpoint does not run (every request here is a GET).
    return None


class Harness:
    """One app, one engine and one event loop for every example; counts what the examples reached."""

    def __init__(self, tmp_path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.ran: list[str] = []
        self.app, self.names = _app(self.ran)
        self.auth: AuthHooks = make_auth(tmp_path, telemetry=False)
        self.guarded = AuthHooksMiddleware(
            self.app, auth=self.auth, protect=PROTECT, public_paths=PUBLIC, required_scopes=REQUIRED_SCOPES
        )
        self.read_only = self.auth.sync.issue_token("alice", {"scope": READ_ONLY}).token
        self.every_scope = self.auth.sync.issue_token("root", {"scope": EVERY_SCOPE}).token
        self.reached: Counter[str] = Counter()
        self.checked = 0

    def expected(self, scope: dict[str, Any]) -> str | None:
        return dispatch(self.app.router.routes, dict(scope), self.names)

    def call(self, scope: dict[str, Any], token: str | None) -> tuple[list[str], list[MutableMapping[str, Any]]]:
        """Send ``scope`` (a fresh copy) through the middleware; the endpoints that ran and what was sent."""
        self.ran.clear()
        headers = [(b"host", b"testserver")]
        if token is not None:
            headers.append((b"authorization", b"Bearer " + token.encode()))
        sent: list[MutableMapping[str, Any]] = []
        first = {"type": "http.request", "body": b"", "more_body": False}
        if scope["type"] == "websocket":
            first = {"type": "websocket.connect"}
        messages = [first]

        async def receive() -> MutableMapping[str, Any]:
            if messages:
                return messages.pop()
            return {"type": "http.disconnect" if scope["type"] == "http" else "websocket.disconnect", "code": 1000}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        request = {**scope, "headers": headers}
        self.loop.run_until_complete(asyncio.wait_for(self.guarded(request, receive, send), 5))
        return list(self.ran), sent

    def close(self) -> None:
        self.loop.run_until_complete(self.auth.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    h = Harness(tmp_path_factory.mktemp("differential"))
    yield h
    h.close()


# -- generated request targets --------------------------------------------------------------------------------

BASES = [
    "/",
    "/admin/stats",
    "/admin/statsx",
    "/users/42",
    "/users/42/posts",
    "/files/a/b.txt",
    "/files/",
    "/vault",
    "/vault/",
    "/vault/gold",
    "/m/",
    "/m/secret",
    "/m/open",
    "/download/a.txt",
    "/download/a",
    "/Admin/Panel",
    "/café/menu",
    "/reports/q1",
    "/health",
    "/public/x",
    "/x/stats",
]
WS_BASES = ["/ws/admin", "/ws/rooms/r1", "/ws/open", "/ws/x/y", "/admin/stats"]
CONTROLS = [chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]]
ENCODED_CONTROLS = ["%0a", "%0A", "%0d", "%09", "%00", "%7f", "%1b", "%c2%85", "%C2%9F", "%0d%0a"]
INSERTS = [
    *ENCODED_CONTROLS,
    "/",
    "//",
    "%2f",
    "%2F",
    "%252f",
    "%5c",
    "\\",
    ";",
    ";x=1",
    ".",
    "..",
    "/.",
    "/..",
    " ",
    "%20",
    "\u00a0",
    "\u2028",
    "\u2029",
    "\ufeff",
    "%ff",
    "%e2%80%a8",
    "\u017f",  # LATIN SMALL LETTER LONG S: folds to "s"
    "\u212a",  # KELVIN SIGN: folds to "k"
    "\uff0f",  # FULLWIDTH SOLIDUS
    "\u0301",  # COMBINING ACUTE ACCENT
    "%",
    "%2",
    "?",
    "#",
    "*",
    "stats",
    "admin",
    "secret",
]


# What a router is lenient about at the end of a route path: "$" before a final "\n", a "{id}" or "{rest:path}"
# that takes anything, a redirect to the slash variant.
TAILS = ["\n", "%0a", "%0A", "/\n", "\r\n", "%0d%0a", "/", "//", ";x", ".", " ", "%20", "%09", "\x7f", "%c2%85", "%2f"]


def _mutate(target: str, edits: list[tuple[str, int, str]]) -> str:
    for kind, position, text in edits:
        index = position % (len(target) + 1)
        if kind == "insert":
            target = target[:index] + text + target[index:]
        elif kind == "append":
            target = target + text
        elif kind == "case" and target:
            index = min(index, len(target) - 1)
            target = target[:index] + target[index].swapcase() + target[index + 1 :]
        elif kind == "nfd":
            target = unicodedata.normalize("NFD", target)
        elif kind == "double":
            target = target.replace("/", "//", 1 + position % 2)
        elif kind == "trail":
            target = target.rstrip("/") + text
    return target


edit = st.tuples(
    st.sampled_from(["insert", "insert", "append", "append", "case", "nfd", "double", "trail"]),
    st.integers(min_value=0, max_value=64),
    st.one_of(
        st.sampled_from(INSERTS),
        st.sampled_from(CONTROLS),
        st.sampled_from([".", " ", "/", "..", ". ", "%2e", "%20", "\n", "/\n", "%0a", ";", "~"]),
    ),
)
word = st.one_of(
    st.sampled_from(["admin", "stats", "users", "files", "vault", "m", "secret", "ws", "rooms", "reports", "Admin"]),
    st.sampled_from(INSERTS),
    st.text(st.characters(codec="utf-8", exclude_characters="?#"), min_size=1, max_size=3),
)
free = st.builds(
    lambda segments: "/" + "/".join("".join(parts) for parts in segments),
    st.lists(st.lists(word, max_size=3), max_size=4),
)


def targets(bases: Sequence[str]) -> st.SearchStrategy[str]:
    """Request targets: a route path as is, or with one edit at its end (where a router's ``$`` and
    ``{rest:path}`` are lenient), or with up to three edits anywhere, or free-form."""
    tail_edit = st.tuples(
        st.sampled_from(["append", "append", "trail", "case"]),
        st.integers(min_value=0, max_value=64),
        st.one_of(st.sampled_from(TAILS), edit.map(lambda e: e[2])),
    )
    light = st.builds(_mutate, st.sampled_from(bases), st.lists(tail_edit, min_size=1, max_size=1))
    mutated = st.builds(_mutate, st.sampled_from(bases), st.lists(edit, max_size=3))
    return st.one_of(st.sampled_from(bases), light, mutated, free)


def _scope(kind: str, target: str, root_path: str) -> dict[str, Any]:
    """The scope a server builds for ``target``: ``path`` is percent-decoded (UTF-8, as uvicorn does)."""
    path = root_path + unquote(target)
    scope: dict[str, Any] = {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "http" if kind == "http" else "ws",
        "path": path,
        "raw_path": (root_path + target).encode("utf-8", "surrogatepass"),
        "root_path": root_path,
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    if kind == "http":
        scope["method"] = "GET"
    else:
        scope["subprotocols"] = []
    return scope


def _status(sent: list[MutableMapping[str, Any]]) -> int:
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


def _refused_handshake(sent: list[MutableMapping[str, Any]]) -> bool:
    return bool(sent) and sent[0]["type"] == "websocket.close" and sent[0]["code"] == 1008


def check_http(harness: Harness, target: str, root_path: str) -> None:
    scope = _scope("http", target, root_path)
    expected = harness.expected(scope)
    harness.reached[expected or "-"] += 1
    harness.checked += 1

    ran, sent = harness.call(scope, None)
    if expected in PROTECTED:
        assert ran == [] and _status(sent) in (400, 401), (scope["path"], expected, ran, _status(sent))
    else:
        assert ran == ([expected] if expected else []) or (ran == [] and _status(sent) == 400), (scope["path"], ran)

    if expected in SCOPED:
        ran, sent = harness.call(scope, harness.read_only)
        assert ran == [] and _status(sent) in (400, 403), (scope["path"], expected, ran, _status(sent))

    ran, sent = harness.call(scope, harness.every_scope)
    assert ran == ([expected] if expected else []) or (ran == [] and _status(sent) == 400), (scope["path"], ran)


def check_websocket(harness: Harness, target: str, root_path: str) -> None:
    scope = _scope("websocket", target, root_path)
    expected = harness.expected(scope)
    harness.reached[expected or "-"] += 1
    harness.checked += 1

    ran, sent = harness.call(scope, None)
    if expected in PROTECTED:
        assert ran == [] and _refused_handshake(sent), (scope["path"], expected, ran, sent)
    else:
        assert ran == ([expected] if expected else []) or _refused_handshake(sent), (scope["path"], ran, sent)
    if expected in SCOPED:
        ran, sent = harness.call(scope, harness.read_only)
        assert ran == [] and _refused_handshake(sent), (scope["path"], expected, ran, sent)
    ran, sent = harness.call(scope, harness.every_scope)
    assert ran == ([expected] if expected else []) or _refused_handshake(sent), (scope["path"], ran, sent)


ROOT_PATHS = st.sampled_from(["", "", "", "/prefix", "/prefix/"])


def _settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )


def _with_examples(test: Any, bases: Sequence[str]) -> Any:
    """Every route path as is and with the final ``%0a`` of issue 11, under both root paths, on every run."""
    for base in bases:
        for root_path in ("", "/prefix"):
            for tail in ("", "%0a"):
                test = example(target=base + tail, root_path=root_path)(test)
    return test


def test_http_dispatch_never_reaches_a_protected_endpoint_unchecked(harness: Harness) -> None:
    started = time.perf_counter()
    harness.reached.clear()
    harness.checked = 0

    @_settings(HTTP_EXAMPLES)
    @given(target=targets(BASES), root_path=ROOT_PATHS)
    def check(target: str, root_path: str) -> None:
        check_http(harness, target, root_path)

    _with_examples(check, BASES)()
    # The generator must reach the protected endpoints, or the agreement above proves nothing.
    for name in PROTECTED - {"ws_admin", "ws_room"}:
        assert harness.reached[name] >= 5, (name, harness.reached)
    print(f"\nhttp: {harness.checked} paths in {time.perf_counter() - started:.1f}s; {dict(harness.reached)}")


def test_websocket_dispatch_never_reaches_a_protected_endpoint_unchecked(harness: Harness) -> None:
    started = time.perf_counter()
    harness.reached.clear()
    harness.checked = 0

    @_settings(WS_EXAMPLES)
    @given(target=targets(WS_BASES), root_path=ROOT_PATHS)
    def check(target: str, root_path: str) -> None:
        check_websocket(harness, target, root_path)

    _with_examples(check, WS_BASES)()
    for name in ("ws_admin", "ws_room"):
        assert harness.reached[name] >= 5, (name, harness.reached)
    print(f"\nwebsocket: {harness.checked} paths in {time.perf_counter() - started:.1f}s; {dict(harness.reached)}")


@pytest.mark.parametrize(
    ("target", "endpoint"),
    [
        ("/admin/stats%0a", "admin_stats"),
        ("/users/42%0a", "user"),
        ("/files/a%0a", "files"),
        ("/vault/gold%0a", None),
        ("/m/secret%0a", None),  # a Mount cuts its root_path one character short: nothing is dispatched
        ("/reports/q1%0a", "reports"),
        ("/Admin/Panel%0a", "admin_panel"),
        ("/caf%C3%A9/menu%0a", "cafe_menu"),
    ],
)
def test_the_router_takes_a_final_newline_for_the_route_itself(harness: Harness, target: str, endpoint: str) -> None:
    """Why control characters are refused: Starlette dispatches most of these; the middleware refuses every one."""
    scope = _scope("http", target, "")
    assert harness.expected(scope) == endpoint
    ran, sent = harness.call(scope, None)
    assert ran == [] and _status(sent) == 400
