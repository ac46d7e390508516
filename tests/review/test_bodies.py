"""A body trickled in small chunks, each inside the per-chunk wait, must not hold the request for ever: the read
of a whole body is bounded by ``body_timeout`` (408)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from authhooks import AuthHooks, Secret
from authhooks.middleware import AuthHooksMiddleware


async def test_a_trickled_body_is_refused_once_the_body_timeout_has_passed(tmp_path: Path) -> None:
    auth = AuthHooks(secret=Secret(b"review-test-secret-0123456789abcdef!!"), store_url="memory://", state_dir=tmp_path)
    app = AuthHooksMiddleware(Starlette(), auth=auth, body_timeout=0.3)
    body = b'{"subject": "' + b"a" * 60 + b'"}'
    chunks = [body[i : i + 1] for i in range(len(body))]  # 75 chunks, one every 50 ms: about 3.7 s in all
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0.05)
        if not chunks:
            return {"type": "http.disconnect"}
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/auth/challenge",
        "raw_path": b"/auth/challenge",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    started = time.monotonic()
    await app(scope, receive, send)
    elapsed = time.monotonic() - started
    assert sent and sent[0]["status"] == 408
    assert elapsed < 1.5
    await auth.aclose()
