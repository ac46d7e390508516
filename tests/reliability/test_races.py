"""Two uvicorn instances racing on one store (SQLite file, Redis): the same refresh token or the same challenge
used at both at once, hundreds of times. Outcome per trial, with zero violations allowed:

- refresh reuse: at most one instance issues a new pair, and afterwards *nothing* of the login is alive — the
  original access token, any access token minted by the winner, any refresh token — on either instance;
- challenge reuse: exactly one login succeeds, the other is refused (400 invalid_grant).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from _redis import require_redis
from e2e._servers import Instance, KeyHolder, two_instances

pytestmark = pytest.mark.slow

SECRET = "race-test-secret-" + "x" * 40
TRIALS = int(os.environ.get("AUTHHOOKS_TEST_RACE_TRIALS", "150"))


def _store_url(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/state.sqlite3"
    return require_redis()


@pytest.fixture(params=["sqlite", "redis"])
def instances(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Instance, Instance]]:
    env = {
        "AUTHHOOKS_STORE_URL": _store_url(request.param, tmp_path),
        "AUTHHOOKS_STORE_KEY_PREFIX": f"race-{uuid.uuid4().hex[:8]}:",
        "AUTHHOOKS_SECRET": SECRET,
        "AUTHHOOKS_STATE_DIR": str(tmp_path),
        "AUTHHOOKS_TELEMETRY": "false",
    }
    with two_instances(env) as pair:
        yield pair


def _at_once(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Run ``calls`` in threads released together by a barrier; their responses in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], httpx.Response]) -> None:
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_concurrent_refresh_reuse_leaves_nothing_alive(instances: tuple[Instance, Instance]) -> None:
    a, b = instances
    holder = KeyHolder()
    violations: list[str] = []
    winners = 0
    with httpx.Client(timeout=10) as ca, httpx.Client(timeout=10) as cb:
        for trial in range(TRIALS):
            login = holder.login(ca, a.url, holder.challenge(ca, a.url).json())
            assert login.status_code == 200, login.text
            tokens = login.json()
            body = {"refresh_token": tokens["refresh_token"]}
            ra, rb = _at_once(
                lambda body=body: ca.post(f"{a.url}/auth/refresh", json=body),
                lambda body=body: cb.post(f"{b.url}/auth/refresh", json=body),
            )
            won = [r.json() for r in (ra, rb) if r.status_code == 200]
            if any(r.status_code not in (200, 400) for r in (ra, rb)):
                violations.append(f"trial {trial}: statuses {ra.status_code}/{rb.status_code}")
            if len(won) > 1:
                violations.append(f"trial {trial}: both instances rotated the same refresh token")
            winners += len(won)
            access = [tokens["access_token"], *(w["access_token"] for w in won)]
            for client, url in ((ca, a.url), (cb, b.url)):
                for token in access:
                    status = client.get(f"{url}/me", headers={"Authorization": f"Bearer {token}"}).status_code
                    if status != 401:
                        violations.append(f"trial {trial}: an access token of a revoked family got {status}")
            for w in won:
                r = cb.post(f"{b.url}/auth/refresh", json={"refresh_token": w["refresh_token"]})
                if r.status_code != 400:
                    violations.append(f"trial {trial}: the winner's refresh token got {r.status_code}")
    assert not violations, f"{len(violations)} violations in {TRIALS} trials: {violations[:5]}"
    assert winners <= TRIALS


def test_concurrent_use_of_one_challenge_has_exactly_one_winner(instances: tuple[Instance, Instance]) -> None:
    a, b = instances
    holder = KeyHolder()
    violations: list[str] = []
    with httpx.Client(timeout=10) as ca, httpx.Client(timeout=10) as cb:
        for trial in range(TRIALS):
            challenge = holder.challenge(ca, a.url).json()
            ra, rb = _at_once(
                lambda c=challenge: holder.login(ca, a.url, c),
                lambda c=challenge: holder.login(cb, b.url, c),
            )
            statuses = sorted((ra.status_code, rb.status_code))
            if statuses != [200, 400]:
                violations.append(f"trial {trial}: statuses {statuses}")
    assert not violations, f"{len(violations)} violations in {TRIALS} trials: {violations[:5]}"
