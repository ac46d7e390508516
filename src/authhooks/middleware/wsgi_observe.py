"""Observe mode under WSGI: the app's own routes bound to flows (:class:`~authhooks.middleware.observe.RouteObserver`)
for :class:`~authhooks.middleware.wsgi.AuthHooksWSGIMiddleware`.

The body is read from ``wsgi.input`` (``CONTENT_LENGTH`` bytes, at most ``max_body_bytes``: 413 past it) and
replayed to the app as a fresh ``wsgi.input`` with ``CONTENT_LENGTH`` set to its length; the decision points run
before the app (a denial is the refusal, the app is not called) and the notification points when the server closes
the response iterable (after the response is sent), each fired with ``auth.sync.fire``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from authhooks.middleware.bodies import ClientDisconnected, read_wsgi_body
from authhooks.middleware.environ import INCOMPLETE_BODY, Environ, StartResponse, WSGIApp, send
from authhooks.middleware.observe import ObservedRoute, RouteObserver
from authhooks.middleware.responses import Responses
from authhooks.records import Principal, RequestInfo

__all__ = ["WSGIObserver"]

logger = logging.getLogger("authhooks.middleware")


class _AfterResponse:
    """The app's response iterable, with ``after`` run once when the server closes it (PEP 3333)."""

    def __init__(self, body: Iterable[bytes], after: Callable[[], None]) -> None:
        self._body = body
        self._after: Callable[[], None] | None = after

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            after, self._after = self._after, None
            if after is not None:
                after()


class WSGIObserver:
    """Observe mode for one WSGI app.

    Args:
        observer: the observed routes and their points.
        app: the app behind the middleware.
        responses: the response builder of refusals.
        fire: ``auth.sync.fire``.
    """

    def __init__(self, observer: RouteObserver, app: WSGIApp, responses: Responses, fire: Callable[..., Any]) -> None:
        self._observer = observer
        self._app = app
        self._responses = responses
        self._fire = fire

    def match(self, path: str, method: str) -> ObservedRoute | None:
        """The observed route of ``method`` at ``path``, or ``None``."""
        return self._observer.match(path, method)

    def __call__(
        self,
        route: ObservedRoute,
        principal: Principal | None,
        info: RequestInfo,
        environ: Environ,
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        """Serve a request to ``route`` (matched by :meth:`match`) that the gate passed as ``principal``
        (``None``: anonymous), ``info`` being what hooks see: the body read and checked, the decision points fired,
        the app called with the body replayed, the notification points after the response."""
        observer = self._observer
        length = environ.get("CONTENT_LENGTH") or None
        try:
            body = read_wsgi_body(
                environ["wsgi.input"],
                observer.max_body_bytes,
                None if length is None else length.encode("latin-1", "replace"),
                bool(environ.get("wsgi.input_terminated")),
            )
        except ClientDisconnected:
            return send(start_response, self._responses.error(INCOMPLETE_BODY, challenge=False))
        except Exception as exc:
            return send(start_response, self._responses.for_exception(exc, challenge=False))
        content_type = environ.get("CONTENT_TYPE") or None
        identifier, data = observer.inspect(
            route, None if content_type is None else content_type.encode("latin-1", "replace"), body
        )
        fire = self._fire
        try:
            for point, inputs in observer.pre_fires(route, identifier, data, principal, info):
                fire(point, request=info, **inputs)
        except Exception as exc:
            return send(start_response, self._responses.for_exception(exc, challenge=False))
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        status = 0

        def capture(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal status
            try:
                status = int(status_line.split(" ", 1)[0])
            except ValueError:
                status = 0
            return start_response(status_line, headers, exc_info) if exc_info else start_response(status_line, headers)

        def notify() -> None:
            if status == 0:
                return
            try:
                for point, inputs in observer.post_fires(route, identifier, principal, status, info):
                    fire(point, request=info, **inputs)
            except Exception as exc:
                logger.warning("authhooks: an observed-route notification failed with %s", type(exc).__name__)

        return _AfterResponse(self._app(environ, capture), notify)
