"""Observe mode: bind the app's *own* auth routes to authhooks flows, by path and method.

``observe=[ObservedRoute("/login", "POST", flow="login", identifier_field="username")]`` makes the middleware,
for each matching request:

1. buffer the body (bounded by ``max_body_bytes``: past it the answer is 413 and the app is not called) and take
   the identifier from the configured JSON or form field;
2. run the decision hooks: ``request.pre`` (``method``, ``path``, ``identifier``, ``body`` — the parsed body with
   credential-like members masked), then the flow's own (``login.pre`` with ``subject`` = identifier,
   ``register.pre``, ``invalidate_token.pre`` with the request's principal). A denial is answered at once and
   the app is not called; changes hooks make to inputs are not passed on to the app;
3. call the app with the body **replayed**, so it reads exactly what the client sent;
4. after the response, run the notification hooks by status: 2xx → ``login.post`` / ``register.post`` /
   ``invalidate_token.post``; 4xx → ``login.failed`` / ``register.failed`` with reason ``http_<status>``; and
   ``request.post`` with ``status_code`` for every response (5xx is the app's fault, not a failed login, so it
   fires only ``request.post``). Failures of these hooks are logged by type and never reach the client.

For ``flow="request"`` only the ``request.*`` points fire.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from authhooks._redact import REDACTED
from authhooks.errors import ConfigurationError
from authhooks.middleware.bodies import ClientDisconnected, media_type, read_body
from authhooks.middleware.paths import compile_patterns
from authhooks.middleware.responses import Responses, send_prepared
from authhooks.middleware.scope import SCOPE_KEY, header_values
from authhooks.records import Principal, RequestInfo

if TYPE_CHECKING:
    from authhooks._auth import AuthHooks

__all__ = ["ObservedFlow", "ObservedRoute", "RouteObserver"]

logger = logging.getLogger("authhooks.middleware")

ObservedFlow = Literal["login", "register", "invalidate_token", "request"]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_FLOWS = frozenset({"login", "register", "invalidate_token", "request"})
_SECRET_KEYS = re.compile(r"(?i)pass|secret|token|signature|credential|private|api_?key|^otp$|^pin$|^code$")


@dataclass(frozen=True, slots=True)
class ObservedRoute:
    """One of the app's routes, bound to a flow.

    Args:
        path: a path pattern (the grammar of :mod:`authhooks.middleware.paths`).
        method: the HTTP method (``"*"`` for any).
        flow: ``login``, ``register``, ``invalidate_token`` or ``request``.
        identifier_field: the JSON member or form field holding the subject (``username``, ``email``).
        scheme: the ``scheme`` input of ``login.*``/``register.*`` hooks (e.g. ``"password"``).
    """

    path: str
    method: str = "POST"
    flow: ObservedFlow = "request"
    identifier_field: str | None = None
    scheme: str | None = None

    def __post_init__(self) -> None:
        if self.flow not in _FLOWS:
            raise ConfigurationError(f"ObservedRoute({self.path!r}): flow must be one of {sorted(_FLOWS)}")
        object.__setattr__(self, "method", self.method.upper())


def _masked(value: Any, depth: int = 0) -> Any:
    """``value`` with members whose names look like credentials masked (so hooks never see a password)."""
    if depth > 8:
        return REDACTED
    if isinstance(value, Mapping):
        return {
            k: REDACTED if isinstance(k, str) and _SECRET_KEYS.search(k) else _masked(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_masked(v, depth + 1) for v in value]
    return value


def _lenient_body(content_type: bytes | None, body: bytes) -> dict[str, Any] | None:
    """The body as a mapping when it is a JSON object or a form, else ``None`` (the app judges bad input).

    A body of any type but a form is read as JSON when it is JSON: Starlette's ``request.json()`` ignores
    ``Content-Type`` and FastAPI reads a body without one as JSON, so leaving the header out must not hide the
    identifier from the decision hooks."""
    kind, _ = media_type(content_type)
    try:
        if kind == "application/x-www-form-urlencoded":
            from urllib.parse import parse_qsl

            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=1000))
        if body:
            data = json.loads(body.decode("utf-8"))
            return data if isinstance(data, dict) else None
    except (ValueError, RecursionError):
        return None
    return None


class RouteObserver:
    """Runs observed routes (see the module docstring).

    Args:
        routes: the bindings.
        auth: the engine whose hooks run.
        responses: the response builder (for denials and faults).
        max_body_bytes: the body buffer limit.
        body_timeout: seconds to wait for a whole body.
    """

    def __init__(
        self,
        routes: Sequence[ObservedRoute],
        auth: AuthHooks,
        responses: Responses,
        *,
        max_body_bytes: int,
        body_timeout: float = 10.0,
    ) -> None:
        compiled = []
        for route in routes:
            if not isinstance(route, ObservedRoute):
                raise ConfigurationError(f"observe= takes ObservedRoute objects, got {type(route).__name__}")
            regex = compile_patterns([route.path])
            assert regex is not None
            compiled.append((re.compile(regex, re.DOTALL), route))
        self._routes = tuple(compiled)
        self._auth = auth
        self._responses = responses
        self._limit = self.max_body_bytes = max_body_bytes
        self._timeout = body_timeout
        self.responses = responses

    def match(self, path: str, method: str) -> ObservedRoute | None:
        """The first binding matching ``path`` and ``method``, or ``None``."""
        for regex, route in self._routes:
            if (route.method == "*" or route.method == method) and regex.fullmatch(path):
                return route
        return None

    async def run(
        self, route: ObservedRoute, app: ASGIApp, scope: Scope, receive: Receive, send: Send, info: RequestInfo
    ) -> None:
        """Run the decision hooks, the app with the body replayed, then the notification hooks."""
        lengths = header_values(scope, b"content-length")
        try:
            body = await read_body(receive, self._limit, lengths[0] if len(lengths) == 1 else None, self._timeout)
        except ClientDisconnected:
            return
        except Exception as exc:
            await send_prepared(send, self._responses.for_exception(exc, challenge=False))
            return
        types = header_values(scope, b"content-type")
        identifier, data = self.inspect(route, types[0] if types else None, body)
        state = scope.get(SCOPE_KEY)
        principal: Principal | None = state.get("principal") if isinstance(state, Mapping) else None
        try:
            for point, inputs in self.pre_fires(route, identifier, data, principal, info):
                await self._auth.fire(point, request=info, **inputs)
        except Exception as exc:
            await send_prepared(send, self._responses.for_exception(exc, challenge=False))
            return

        replayed = False
        status = 0

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture(message: Message) -> None:
            nonlocal status
            if message.get("type") == "http.response.start":
                status = int(message.get("status", 0))
            await send(message)

        await app(scope, replay, capture)
        if status == 0:
            return
        try:
            for point, inputs in self.post_fires(route, identifier, principal, status, info):
                await self._auth.fire(point, request=info, **inputs)
        except Exception as exc:
            logger.warning("authhooks: an observed-route notification failed with %s", type(exc).__name__)

    # -- driver-neutral parts (the WSGI driver fires the same points with auth.sync.fire) ----------------------

    @staticmethod
    def inspect(route: ObservedRoute, content_type: bytes | None, body: bytes) -> tuple[str | None, Any]:
        """The identifier (at most 512 characters) and the parsed body (``None`` when not a JSON object or form)."""
        data = _lenient_body(content_type, body)
        identifier: str | None = None
        if route.identifier_field and data is not None:
            value = data.get(route.identifier_field)
            identifier = value[:512] if isinstance(value, str) else None
        return identifier, data

    @staticmethod
    def pre_fires(
        route: ObservedRoute, identifier: str | None, data: Any, principal: Principal | None, info: RequestInfo
    ) -> list[tuple[str, dict[str, Any]]]:
        """The decision points to fire before the app, in order, with their inputs."""
        fires: list[tuple[str, dict[str, Any]]] = [
            (
                "request.pre",
                {"method": info.method, "path": info.path, "identifier": identifier, "body": _masked(data)},
            )
        ]
        if route.flow == "login":
            fires.append(("login.pre", {"subject": identifier, "credentials": None, "scheme": route.scheme}))
        elif route.flow == "register":
            fires.append(("register.pre", {"subject": identifier, "scheme": route.scheme, "attributes": {}}))
        elif route.flow == "invalidate_token":
            jti = principal.jti if principal is not None else None
            fires.append(("invalidate_token.pre", {"token": None, "principal": principal, "jti": jti}))
        return fires

    @staticmethod
    def post_fires(
        route: ObservedRoute, identifier: str | None, principal: Principal | None, status: int, info: RequestInfo
    ) -> list[tuple[str, dict[str, Any]]]:
        """The notification points to fire after the app answered ``status``, in order, with their inputs."""
        fires: list[tuple[str, dict[str, Any]]] = []
        ok, failed = 200 <= status < 300, 400 <= status < 500
        reason = f"http_{status}"
        if route.flow == "login":
            if ok:
                fires.append(("login.post", {"subject": identifier, "principal": None, "tokens": None}))
            elif failed:
                fires.append(("login.failed", {"subject": identifier, "reason": reason, "scheme": route.scheme}))
        elif route.flow == "register":
            if ok:
                fires.append(("register.post", {"subject": identifier, "principal": None, "attributes": {}}))
            elif failed:
                fires.append(("register.failed", {"subject": identifier, "reason": reason}))
        elif route.flow == "invalidate_token" and ok:
            fires.append(
                (
                    "invalidate_token.post",
                    {
                        "principal": principal,
                        "jti": principal.jti if principal is not None else None,
                        "subject": principal.subject if principal is not None else identifier,
                        "expires_at": principal.expires_at if principal is not None else None,
                    },
                )
            )
        fires.append(
            (
                "request.post",
                {"method": info.method, "path": info.path, "identifier": identifier, "status_code": status},
            )
        )
        return fires
