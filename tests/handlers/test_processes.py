"""A rate limit on Redis is one limit for every process: a child process spends part of the window, the parent
finds the rest (a lockout set by one process holds in the other); a revoke_tokens run in a child process ends the
subject's logins in the parent, its cached tokens evicted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from authhooks import Deny

from .conftest import REDIS_URL, make_auth

SPEC = {
    "handler": [
        {
            "name": "throttle",
            "event": "challenge.pre",
            "action": "rate_limit",
            "options": {"limit": 3, "window": "1h", "key": "subject"},
        },
        {
            "name": "lockout",
            "event": "login.failed",
            "action": "lockout",
            "options": {"failures": 2, "window": "1h", "duration": "1h"},
        },
    ]
}

CHILD_ENGINE = """
import json, sys
from authhooks import AuthHooks
from authhooks.errors import AuthError
auth = AuthHooks(secret="s" * 64, store_url=sys.argv[1], store_key_prefix=sys.argv[2], state_dir=sys.argv[3],
                 telemetry=False, handlers=json.loads(sys.argv[4]))
auth.add_hook("login.provide", lambda subject, credentials: False, inline=True, name="refuse")

def fail_login(subject):
    try:
        auth.sync.login(subject, {"password": "wrong"}, scheme="password")
    except AuthError:
        pass
"""
CHILD_END = """
auth.close()
print("done")
"""


def run_child(script: str, tmp_path: Path, redis_prefix: str, spec: dict[str, Any]) -> None:
    """Run ``script`` in another Python process, after :data:`CHILD_ENGINE` (an engine on the same Redis prefix with
    ``spec`` as its handlers, a password check refusing everyone, and ``fail_login(subject)``); then the engine is
    closed, and the child must exit 0 having printed ``done``."""
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD_ENGINE + script + CHILD_END,
            REDIS_URL,
            redis_prefix,
            str(tmp_path),
            json.dumps(spec),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == 0 and child.stdout.strip() == "done", child.stderr


CHILD = """
auth.sync.generate_challenge("shared")
auth.sync.generate_challenge("shared")
fail_login("victim")
fail_login("victim")
"""


def test_rate_limit_and_lockout_hold_across_processes(tmp_path: Path, redis_prefix: str) -> None:
    run_child(CHILD, tmp_path, redis_prefix, SPEC)
    auth = make_auth(tmp_path, SPEC, store_url=REDIS_URL, store_key_prefix=redis_prefix)
    auth.sync.generate_challenge("shared")  # the third of the window
    with pytest.raises(Deny) as refused:
        auth.sync.generate_challenge("shared")
    assert refused.value.status == 429
    auth.add_hook("login.provide", lambda subject, credentials: subject, inline=True, name="accept")
    with pytest.raises(Deny) as locked:  # the child's failures locked the account everywhere
        auth.sync.login("victim", {"password": "right"}, scheme="password")
    assert locked.value.reason == "account_locked"
    auth.close()


REVOKE = {"handler": [{"name": "end-logins", "event": "login.failed", "action": "revoke_tokens"}]}

REVOKING_CHILD = """
fail_login("henry")
"""


def test_revoke_tokens_in_one_process_ends_the_logins_in_another(tmp_path: Path, redis_prefix: str) -> None:
    from authhooks.errors import InvalidGrant, RevokedToken

    auth = make_auth(tmp_path, store_url=REDIS_URL, store_key_prefix=redis_prefix)
    try:
        pair, other = auth.sync.issue_tokens("henry"), auth.sync.issue_tokens("iris")
        for token in (pair.access_token, other.access_token):
            auth.sync.validate_token(token)
            assert auth.tokens.cache.get(token) is not None  # cached: the feed is live
        run_child(REVOKING_CHILD, tmp_path, redis_prefix, REVOKE)
        assert auth.tokens.wait_for_subjects(1, 10), "the child's revocation never reached this process"
        assert auth.tokens.cache.get(pair.access_token) is None
        with pytest.raises(RevokedToken):
            auth.sync.validate_token(pair.access_token)
        with pytest.raises(InvalidGrant):
            auth.sync.refresh_token(pair.refresh_token)
        assert auth.sync.validate_token(other.access_token).subject == "iris"
    finally:
        auth.close()
