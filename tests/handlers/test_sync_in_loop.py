"""The sync API called from a thread whose event loop is running (a coroutine calling ``auth.sync.*``, a sync
library used inside an async app): handlers' actions run as under WSGI, blocking, because the sync driver tells
them which driver called (not whether a loop happens to run in the thread)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from authhooks import Deny

from .conftest import WEBHOOK_SECRET, make_auth
from .receiver import Receiver


def _spec(receiver: Receiver) -> dict[str, Any]:
    webhook = {"url": receiver.url, "secret_env": "WEBHOOK_SECRET", "backoff": 0.0, "retries": 0}  # type: ignore[attr-defined]
    return {
        "handler": [
            {"name": "no-mallory", "event": "challenge.pre", "action": "deny", "conditions": {"subject": "^mallory"}},
            {
                "name": "throttle",
                "event": "challenge.pre",
                "action": "rate_limit",
                "options": {"limit": 2, "window": "1h", "key": ["subject"]},
            },
            {"name": "notify", "event": "issue_token.post", "action": "webhook", "options": webhook},
        ]
    }


def _scenario(auth: Any) -> list[str]:
    """What the sync API answers, in order: each call's outcome."""
    outcomes: list[str] = []

    def attempt(call: Callable[[], Any]) -> None:
        try:
            call()
        except Deny as exc:
            outcomes.append(f"deny {exc.status} {exc.reason}")
        else:
            outcomes.append("ok")

    attempt(lambda: auth.sync.generate_challenge("mallory"))
    for _ in range(3):
        attempt(lambda: auth.sync.generate_challenge("alice"))
    attempt(lambda: auth.sync.issue_tokens("bob"))
    return outcomes


def _another_store(options: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The same backend, other state (its own rate-limit windows)."""
    if "store_key_prefix" in options:
        return {**options, "store_key_prefix": options["store_key_prefix"] + "loop:"}
    if options["store_url"].startswith("sqlite"):
        return {"store_url": f"sqlite:///{tmp_path / 'loop.db'}"}
    return options


EXPECTED = ["deny 403 denied", "ok", "ok", "deny 429 rate_limited", "ok"]


def test_actions_behave_as_under_wsgi_when_a_loop_runs_in_the_thread(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, store_options: dict[str, Any]
) -> None:
    import asyncio

    monkeypatch.setenv("WEBHOOK_SECRET", WEBHOOK_SECRET)
    plain = make_auth(tmp_path / "plain", _spec(receiver), **store_options)
    in_thread: list[str] = []
    worker = threading.Thread(target=lambda: in_thread.extend(_scenario(plain)))  # no loop here: as under WSGI
    worker.start()
    worker.join()
    assert in_thread == EXPECTED, in_thread
    plain.close()
    delivered = len(receiver.requests)
    assert delivered >= 1  # issue_token.post: the access and the refresh token

    on_loop = make_auth(tmp_path / "loop", _spec(receiver), **_another_store(store_options, tmp_path))

    async def main() -> list[str]:
        return _scenario(on_loop)  # the sync API, called on the loop's own thread

    assert asyncio.run(main()) == in_thread
    assert len(receiver.requests) == 2 * delivered  # every webhook was delivered, none skipped
    assert all(isinstance(r.verified, dict) for r in receiver.requests)
    on_loop.close()
