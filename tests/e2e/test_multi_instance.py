"""Two uvicorn processes sharing one Redis (issue "State stores"): challenges, revocations, counters and
refresh families are shared; and a SQLite-backed process killed with SIGKILL keeps its revocations."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from _redis import REDIS_URL, redis_prefix

from ._servers import Instance, KeyHolder, two_instances

pytestmark = pytest.mark.slow

SECRET = "multi-instance-test-secret-" + "x" * 40


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Instance, Instance]]:
    with redis_prefix("authhooks-test-mi") as prefix:
        env = {
            "AUTHHOOKS_STORE_URL": REDIS_URL,
            "AUTHHOOKS_STORE_KEY_PREFIX": prefix,
            "AUTHHOOKS_SECRET": SECRET,
            "AUTHHOOKS_STATE_DIR": str(tmp_path),
            "AUTHHOOKS_TELEMETRY": "false",
            "INSTANCE_CHALLENGE_LIMIT": "4",
        }
        with two_instances(env) as pair:
            yield pair


def test_challenge_issued_by_one_is_consumed_by_the_other_exactly_once(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    alice = KeyHolder()
    with httpx.Client(timeout=5) as client:
        challenge = alice.challenge(client, a.url)
        assert challenge.status_code == 200, challenge.text
        first = alice.login(client, b.url, challenge.json())
        assert first.status_code == 200, first.text
        again_a = alice.login(client, a.url, challenge.json())
        again_b = alice.login(client, b.url, challenge.json())
        assert (again_a.status_code, again_b.status_code) == (400, 400)  # invalid_grant (RFC 6749 §5.2)
        assert again_a.json()["error"] == again_b.json()["error"] == "invalid_grant"


def test_token_revoked_through_one_is_refused_by_the_other(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    bob = KeyHolder()
    with httpx.Client(timeout=5) as client:
        tokens = bob.login(client, a.url, bob.challenge(client, a.url).json()).json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert client.get(f"{a.url}/me", headers=bearer).json()["subject"] == bob.subject
        assert client.get(f"{b.url}/me", headers=bearer).status_code == 200  # now cached in b
        assert client.post(f"{a.url}/auth/logout", headers=bearer).status_code in (200, 204)
        deadline = time.monotonic() + 2.0
        status = 200
        while time.monotonic() < deadline:
            status = client.get(f"{b.url}/me", headers=bearer).status_code
            if status == 401:
                break
            time.sleep(0.02)
        assert status == 401


def test_rate_limit_counter_counts_requests_to_both(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    carol = KeyHolder()
    with httpx.Client(timeout=5) as client:
        statuses = [carol.challenge(client, url).status_code for url in (a.url, b.url, a.url, b.url, a.url, b.url)]
    assert statuses == [200, 200, 200, 200, 429, 429]


def test_refresh_reuse_is_detected_across_instances(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    dave = KeyHolder()
    with httpx.Client(timeout=5) as client:
        tokens = dave.login(client, a.url, dave.challenge(client, a.url).json()).json()
        rotated = client.post(f"{a.url}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert rotated.status_code == 200, rotated.text
        reused = client.post(f"{b.url}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert reused.status_code == 400
        assert reused.json()["error"] == "invalid_grant"
        newest = client.post(f"{a.url}/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]})
        assert newest.status_code == 400  # the whole family was revoked


def test_sqlite_revocation_survives_kill_minus_9(tmp_path: Path) -> None:
    env = {
        "AUTHHOOKS_STORE_URL": f"sqlite:///{tmp_path}/state.sqlite3",
        "AUTHHOOKS_STATE_DIR": str(tmp_path),
        "AUTHHOOKS_TELEMETRY": "false",
    }
    erin = KeyHolder()
    first = Instance("first", env).start()
    try:
        with httpx.Client(timeout=5) as client:
            tokens = erin.login(client, first.url, erin.challenge(client, first.url).json()).json()
            bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
            assert client.get(f"{first.url}/me", headers=bearer).status_code == 200
            assert client.post(f"{first.url}/auth/logout", headers=bearer).status_code in (200, 204)
    finally:
        first.kill()
    second = Instance("second", env).start()
    try:
        with httpx.Client(timeout=5) as client:
            refused = client.get(f"{second.url}/me", headers=bearer)
            assert refused.status_code == 401
            assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    finally:
        second.stop()
