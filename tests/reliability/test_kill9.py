"""A uvicorn worker killed with SIGKILL in the middle of a burst of logouts and refreshes, on the embedded SQLite
store. Documented outcome: every logout acknowledged (204) before the kill stays in force after a restart; the
database opens and the new instance serves logins, refreshes and validations with no 500."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from e2e._servers import Instance, KeyHolder

pytestmark = pytest.mark.slow

LOGINS = 40


def test_kill_minus_9_during_a_burst_loses_no_acknowledged_revocation(tmp_path: Path) -> None:
    env = {
        "AUTHHOOKS_STORE_URL": f"sqlite:///{tmp_path}/state.sqlite3",
        "AUTHHOOKS_STATE_DIR": str(tmp_path),
        "AUTHHOOKS_TELEMETRY": "false",
    }
    holder = KeyHolder()
    first = Instance("first", env).start()
    acknowledged: list[str] = []
    refreshed: list[dict[str, str]] = []
    lock = threading.Lock()
    half = threading.Event()
    try:
        with httpx.Client(timeout=10) as client:
            logins = [
                holder.login(client, first.url, holder.challenge(client, first.url).json()).json()
                for _ in range(LOGINS)
            ]

        def burst(part: list[dict[str, str]]) -> None:
            with httpx.Client(timeout=5) as client:
                for tokens in part:
                    try:
                        r = client.post(
                            f"{first.url}/auth/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"}
                        )
                        fresh = client.post(
                            f"{first.url}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
                        )
                    except httpx.HTTPError:
                        return  # the server died under us
                    with lock:
                        if r.status_code == 204:
                            acknowledged.append(tokens["access_token"])
                        if fresh.status_code == 200:
                            refreshed.append(fresh.json())
                        if len(acknowledged) >= LOGINS // 3:
                            half.set()

        threads = [threading.Thread(target=burst, args=(logins[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        assert half.wait(30), "the burst never got going"
        first.kill()
        for t in threads:
            t.join(30)
    finally:
        first.kill()
    assert acknowledged and not refreshed  # a logged-out login cannot be refreshed, even mid-burst
    second = Instance("second", env).start()
    try:
        with httpx.Client(timeout=10) as client:
            for token in acknowledged:
                r = client.get(f"{second.url}/me", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 401, r.text
            tokens = holder.login(client, second.url, holder.challenge(client, second.url).json()).json()
            me = client.get(f"{second.url}/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
            assert me.status_code == 200
            fresh = client.post(f"{second.url}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            assert fresh.status_code == 200
    finally:
        second.stop()
