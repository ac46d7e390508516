"""The app of the uvicorn shutdown test: telemetry set up from ``OTEL_*`` (an OTLP endpoint that never answers)
and a background hook that hangs on every failed token validation.

Run: ``python -m uvicorn tests.reliability._shutdown_app:app --port PORT``.
"""

from __future__ import annotations

import threading

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from authhooks import AuthHooks
from authhooks.middleware import AuthHooksMiddleware

auth = AuthHooks()
auth.setup_telemetry()
_never = threading.Event()


@auth.hook("validate_token.failed", background=True)
def report_failure(reason: str) -> None:
    _never.wait(60)  # a webhook to a server that never answers


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


app = AuthHooksMiddleware(Starlette(routes=[Route("/health", health), Route("/api/me", health)]), auth=auth)
