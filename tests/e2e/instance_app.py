"""The app each instance runs in the multi-instance tests: a Starlette app behind ``AuthHooksMiddleware``,
configured from the environment (``AUTHHOOKS_*``), with a shared rate limit on challenges counted in the store.

Run: ``python -m uvicorn tests.e2e.instance_app:app --port PORT``.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from authhooks import AuthHooks, Deny
from authhooks.middleware import AuthHooksMiddleware

CHALLENGE_LIMIT = int(os.environ.get("INSTANCE_CHALLENGE_LIMIT", "1000"))

auth = AuthHooks()


@auth.hook("challenge.pre", name="rate_limit")
async def rate_limit(subject: str, store: object) -> Deny | None:
    count = await store.incr(f"rl:{subject}", 60)  # type: ignore[attr-defined]
    if count > CHALLENGE_LIMIT:
        return Deny(status=429, reason="rate_limited", headers={"Retry-After": "60"})
    return None


async def me(request: Request) -> JSONResponse:
    return JSONResponse({"subject": request.user.identity, "instance": os.environ.get("INSTANCE_NAME", "")})


app = AuthHooksMiddleware(Starlette(routes=[Route("/me", me)]), auth=auth, protect=["/me"])
