"""The ASGI middleware remembers what its (fixed) path rules say about a path: the answers stay those of the
rules, for every form of a path, and the memory is bounded."""

from __future__ import annotations

from typing import Any

from authhooks import AuthHooks
from authhooks.middleware import AuthHooksMiddleware
from authhooks.middleware import gate as gate_module

from ._support import Issue, bearer, make_app
from .test_asgi import call_raw, get


def _middleware(app: Any) -> AuthHooksMiddleware:
    while not isinstance(app, AuthHooksMiddleware):
        app = app.middleware_stack if getattr(app, "middleware_stack", None) is not None else app.app
    return app


async def test_repeated_requests_get_the_same_answers(auth: AuthHooks, issue: Issue) -> None:
    app = make_app(auth)
    token = await issue()
    for _ in range(3):
        assert (await get(app, "/api/me")).status_code == 401
        assert (await get(app, "/api/me", headers=bearer(token))).status_code == 200
        assert (await get(app, "/health")).status_code == 200


async def test_an_unsafe_path_is_refused_every_time(auth: AuthHooks) -> None:
    app = make_app(auth)
    scope = {"type": "http", "method": "GET", "path": "/api/../api/me", "raw_path": b"/api/../api/me",
             "query_string": b"", "headers": [], "root_path": ""}  # fmt: skip
    for _ in range(3):
        sent = await call_raw(app, dict(scope))
        assert sent[0]["status"] == 400


async def test_a_collapsed_form_stays_protected_when_remembered(auth: AuthHooks) -> None:
    app = make_app(auth)
    for _ in range(2):
        sent = await call_raw(app, {"type": "http", "method": "GET", "path": "//api//me", "raw_path": b"//api//me",
                                    "query_string": b"", "headers": [], "root_path": ""})  # fmt: skip
        assert sent[0]["status"] == 401


async def test_the_memory_is_bounded_and_long_paths_are_not_kept(auth: AuthHooks, monkeypatch: Any) -> None:
    monkeypatch.setattr(gate_module, "_PLANS_LIMIT", 8)
    app = make_app(auth)
    for i in range(20):
        assert (await get(app, f"/api/x{i}")).status_code in (401, 404)
    middleware = _middleware(app)
    assert 0 < len(middleware._plans) <= 8
    long_path = "/api/" + "a" * (gate_module._PLAN_PATH_MAX + 1)
    assert (await get(app, long_path)).status_code == 401
    assert long_path not in middleware._plans
