"""The first hour (issue 14 items 1 and 2), as a newcomer meets it: configuration mistakes answered at once and
precisely — by ``authhooks check``, by ``AuthHooks()``, by a uvicorn server's start-up — and hook failures that
say which hook failed, where, and why."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from authhooks import AuthHooks, ConfigurationError, HookFailed

ROOT = Path(__file__).resolve().parents[2]
SECRET = "a-long-enough-secret-for-hs256-0123456789"
EXPECTED_STORES = "expected memory://, sqlite:///relative/path, sqlite:////absolute/path or redis[s]://host:port/db"


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens once the socket is closed


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHHOOKS_", "OTEL_"))}
    clean.update(env)
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=clean, cwd=cwd, timeout=60, check=False
    )


# -- authhooks check (the doctor) --------------------------------------------------------------------------------


def test_check_names_each_mistake_on_its_own_line_and_exits_1(tmp_path: Path) -> None:
    result = run(
        ["-m", "authhooks", "check"],
        {
            "AUTHHOOKS_SECRET": "short",
            "AUTHHOOKS_STORE_URL": "postgres://app:hunter2@db.example/auth",
            "AUTHHOOKS_STATE_DIR": str(tmp_path / "state"),
        },
        tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "settings: ok (3 AUTHHOOKS_* variables set)",
        "keys: FAILED: AUTHHOOKS_SECRET: an HS256 secret must be at least 32 bytes long",
        f"store: FAILED: AUTHHOOKS_STORE_URL: unsupported store URL scheme 'postgres'; {EXPECTED_STORES}",
        "key set: skipped (neither AUTHHOOKS_JWKS_URL nor AUTHHOOKS_OIDC_ISSUER is set)",
        "handlers file: skipped (AUTHHOOKS_HANDLERS_FILE is not set)",
        "oauth providers: skipped (AUTHHOOKS_OAUTH_PROVIDERS_FILE is not set)",
        "telemetry: skipped (OTEL_TRACES_EXPORTER is not set: no span is exported)",
    ]
    assert "hunter2" not in result.stdout + result.stderr
    assert not (tmp_path / "state").exists()  # the doctor creates nothing


def test_check_reaches_the_store_and_the_key_set_and_reads_the_handlers_file(tmp_path: Path) -> None:
    handlers = tmp_path / "handlers.toml"
    handlers.write_text("[[on]]\nevent = 'login.failed'\naction\n")
    port = closed_port()
    result = run(
        ["-m", "authhooks", "check"],
        {
            "AUTHHOOKS_SIGNING_KEY_FILE": str(tmp_path / "missing.pem"),
            "AUTHHOOKS_STORE_URL": f"redis://:hunter2@127.0.0.1:{port}/0",
            "AUTHHOOKS_JWKS_URL": f"http://127.0.0.1:{port}/jwks.json",
            "AUTHHOOKS_HANDLERS_FILE": str(handlers),
            "AUTHHOOKS_JWKS_TIMEOUT_SECONDS": "1",
        },
        tmp_path,
    )
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == (
        f"keys: FAILED: AUTHHOOKS_SIGNING_KEY_FILE: cannot read {tmp_path / 'missing.pem'} (No such file or directory)"
    )
    assert lines[2].startswith(
        f"store: FAILED: AUTHHOOKS_STORE_URL: state store redis://:***@127.0.0.1:{port}/0 is unreachable: "
    )
    assert lines[3] == (  # the precise reason, with host:port (issue 13)
        f"key set: FAILED: AUTHHOOKS_JWKS_URL: key set fetch failed (connection refused (127.0.0.1:{port})); "
        "no keys cached"
    )
    assert lines[4] == (
        f"handlers file: FAILED: {handlers}:3: not valid TOML: Expected '=' after a key in a key/value pair"
    )
    assert "hunter2" not in result.stdout + result.stderr
    assert "key set fetch failed" not in result.stderr  # reported once, on its line


def test_check_passes_a_working_configuration_and_sends_a_test_span(tmp_path: Path) -> None:
    handlers = tmp_path / "handlers.toml"
    handlers.write_text("[[handler]]\nname = 'log-failures'\nevent = 'login.failed'\naction = 'log'\n")
    result = run(
        ["-m", "authhooks", "check"],
        {
            "AUTHHOOKS_SECRET": SECRET,
            "AUTHHOOKS_STORE_URL": "memory://",
            "AUTHHOOKS_HANDLERS_FILE": str(handlers),
            "OTEL_TRACES_EXPORTER": "console",
        },
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if ":" in line and not line.startswith((" ", "{", "}"))]
    assert lines == [
        "settings: ok (3 AUTHHOOKS_* variables set)",
        "keys: ok (signing with HS256, 1 validation key)",
        "store: ok (memory:// answered a ping)",
        "key set: skipped (neither AUTHHOOKS_JWKS_URL nor AUTHHOOKS_OIDC_ISSUER is set)",
        f"handlers file: ok ({handlers}: 1 handler loaded)",
        "oauth providers: skipped (AUTHHOOKS_OAUTH_PROVIDERS_FILE is not set)",
        "telemetry: ok (a test span was sent through OTEL_TRACES_EXPORTER=console)",
    ]
    assert '"name": "authhooks.check"' in result.stdout  # the console exporter printed the test span


def test_check_reports_a_malformed_variable_and_stops(tmp_path: Path) -> None:
    result = run(["-m", "authhooks", "check"], {"AUTHHOOKS_LEEWAY_SECONDS": "lots"}, tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "settings: FAILED: AUTHHOOKS_LEEWAY_SECONDS: expected an integer (got 'lots')"
    ]


def test_help_lists_the_doctor(tmp_path: Path) -> None:
    result = run(["-m", "authhooks", "--help"], {}, tmp_path)
    assert result.returncode == 0
    listing = " ".join(result.stdout.split())  # the column width follows the longest command name
    assert "check the doctor: resolve settings, load keys, ping the store" in listing
    detail = run(["-m", "authhooks", "check", "--help"], {}, tmp_path).stdout
    assert "handlers file (loaded as AuthHooks loads it: one line per bad handler" in " ".join(detail.split())
    assert "handlers check a handlers file (one line per bad handler, exit 1)" in listing


BAD_HANDLERS = """[[handler]]
name = "no-mallory"
event = "login.pre"
action = "deni"

[[handler]]
name = "log-failures"
event = "login.failed"
action = "log"
options = { tmplate = "x" }
"""


def test_check_reports_each_bad_handler_with_its_file_and_line(tmp_path: Path) -> None:
    handlers = tmp_path / "handlers.toml"
    handlers.write_text(BAD_HANDLERS)
    result = run(["-m", "authhooks", "check"], {"AUTHHOOKS_HANDLERS_FILE": str(handlers)}, tmp_path)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("handlers file")]
    assert len(lines) == 2
    assert lines[0].startswith(
        f"handlers file: FAILED: {handlers}:4: handler 'no-mallory': action: unknown action 'deni'; did you mean"
    )
    assert lines[1].startswith(f"handlers file: FAILED: {handlers}:10: handler 'log-failures': options.tmplate:")
    config = run(["-m", "authhooks", "config"], {"AUTHHOOKS_HANDLERS_FILE": str(handlers)}, tmp_path)
    assert config.returncode == 2  # as AuthHooks() refuses it
    assert config.stderr.splitlines()[0].startswith(f"authhooks: configuration error: {handlers}:4: handler")


def test_config_fails_on_a_setting_that_cannot_work(tmp_path: Path) -> None:
    result = run(["-m", "authhooks", "config"], {"AUTHHOOKS_SECRET": "short"}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "authhooks: configuration error: AUTHHOOKS_SECRET: an HS256 secret must be at least 32 bytes long"
    )
    assert "AUTHHOOKS_SECRET=Secret('**********')" in result.stdout


# -- AuthHooks() ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AUTHHOOKS_SECRET": "short"}, "AUTHHOOKS_SECRET: an HS256 secret must be at least 32 bytes long"),
        (
            {"AUTHHOOKS_SIGNING_KEY_FILE": "{tmp}/missing.pem"},
            "AUTHHOOKS_SIGNING_KEY_FILE: cannot read {tmp}/missing.pem (No such file or directory)",
        ),
        (
            {"AUTHHOOKS_STORE_URL": "postgres://app:hunter2@db/auth"},
            f"AUTHHOOKS_STORE_URL: unsupported store URL scheme 'postgres'; {EXPECTED_STORES}",
        ),
        (
            {"AUTHHOOKS_HANDLERS_FILE": "{tmp}/handlers.toml"},
            "AUTHHOOKS_HANDLERS_FILE: cannot read {tmp}/handlers.toml (No such file or directory)",
        ),
    ],
)
def test_construction_refuses_a_setting_that_cannot_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    monkeypatch.setenv("AUTHHOOKS_STATE_DIR", str(tmp_path / "state"))
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(tmp=tmp_path))
    with pytest.raises(ConfigurationError) as caught:
        AuthHooks()
    assert str(caught.value) == message.format(tmp=tmp_path)
    assert "hunter2" not in str(caught.value)
    assert not (tmp_path / "state").exists()  # nothing created on the way


def test_construction_stays_free_of_side_effects(tmp_path: Path) -> None:
    auth = AuthHooks(state_dir=tmp_path / "state")
    assert not (tmp_path / "state").exists()  # the default key and the SQLite file are made on first use
    auth.close()


def test_an_uncaught_construction_error_is_one_line(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text("from authhooks import AuthHooks\n\nauth = AuthHooks()\n")
    result = run(["app.py"], {"AUTHHOOKS_SECRET": "short"}, tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "authhooks: configuration error: AUTHHOOKS_SECRET: an HS256 secret must be at least 32 bytes long "
        f"(AuthHooks built at {app}:3)"
    ]


# -- a uvicorn server ----------------------------------------------------------------------------------------------

APP = textwrap.dedent(
    """
    from starlette.applications import Starlette
    from authhooks.middleware import AuthHooksMiddleware

    app = AuthHooksMiddleware(Starlette())
    """
)


def uvicorn(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    (tmp_path / "first_hour_app.py").write_text(APP)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHHOOKS_", "OTEL_"))}
    clean.update(env, AUTHHOOKS_STATE_DIR=str(tmp_path / "state"))
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "first_hour_app:app", "--app-dir", str(tmp_path), "--port", "0"],
        env=clean,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_strict_startup_fails_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    port = closed_port()
    proc = uvicorn(
        tmp_path,
        {"AUTHHOOKS_STRICT_STARTUP": "true", "AUTHHOOKS_STORE_URL": f"redis://:hunter2@127.0.0.1:{port}/0"},
    )
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3  # uvicorn's "startup failed"
    failures = [line for line in err.splitlines() if "start-up check failed" in line]
    assert len(failures) == 1
    assert failures[0].startswith(
        f"authhooks: start-up check failed: AUTHHOOKS_STORE_URL: state store redis://:***@127.0.0.1:{port}/0 is "
        "unreachable: "
    )
    assert failures[0].endswith("; start-up refused (strict_startup)")
    assert "Traceback" not in err
    assert "hunter2" not in out + err


@pytest.mark.slow
def test_a_failed_key_set_fetch_is_one_line_and_the_server_goes_on(tmp_path: Path) -> None:
    port = closed_port()
    proc = uvicorn(
        tmp_path, {"AUTHHOOKS_JWKS_URL": f"http://127.0.0.1:{port}/jwks.json", "AUTHHOOKS_STORE_URL": "memory://"}
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 20
        assert proc.stderr is not None
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line.rstrip("\n"))
            if "Application startup complete" in line or not line:
                break
        assert any("Application startup complete" in line for line in lines), lines
        failures = [line for line in lines if "fetch failed" in line]
        assert failures == [
            "authhooks: start-up check failed: AUTHHOOKS_JWKS_URL: key set fetch failed (connection refused "
            f"(127.0.0.1:{port})); no keys cached; serving anyway; requests may fail"
        ]
    finally:
        proc.terminate()
        proc.communicate(timeout=15)


@pytest.mark.slow
def test_a_construction_error_under_uvicorn_is_one_line(tmp_path: Path) -> None:
    proc = uvicorn(tmp_path, {"AUTHHOOKS_SECRET": "short", "AUTHHOOKS_STRICT_STARTUP": "true"})
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert err.splitlines()[-1].startswith(
        "authhooks: configuration error: AUTHHOOKS_SECRET: an HS256 secret must be at least 32 bytes long "
        "(AuthHooks built at "
    )
    assert "Traceback" not in err


# -- hook failures -------------------------------------------------------------------------------------------------


def test_a_failing_hook_is_logged_with_its_name_point_policy_type_and_redacted_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    auth = AuthHooks(secret=SECRET, store_url="memory://")

    def lookup_user(subject: str) -> None:
        raise LookupError(f"no row for {subject}: query password=hunter2 failed")

    auth.add_hook("login.pre", lookup_user)
    with caplog.at_level(logging.WARNING, logger="authhooks"), pytest.raises(HookFailed) as caught:
        auth.sync.fire("login.pre", subject="alice")
    assert caught.value.status == 503
    assert [r.getMessage() for r in caplog.records if r.name == "authhooks.hooks"] == [
        "hook 'test_a_failing_hook_is_logged_with_its_name_point_policy_type_and_redacted_message.<locals>."
        "lookup_user' at login.pre failed (LookupError: no row for alice: query password=[REDACTED] failed); "
        "policy deny"
    ]
    auth.close()


async def test_an_async_hook_under_the_sync_api_says_so(caplog: pytest.LogCaptureFixture) -> None:
    auth = AuthHooks(secret=SECRET, store_url="memory://")
    token = (await auth.issue_token("alice")).token

    async def check_account(principal: object) -> None:
        return None

    auth.add_hook("validate_token.post", check_account, name="check_account", on_error="deny")
    expected = (
        "async hook 'check_account' at validate_token.post cannot run under the sync API (auth.sync / WSGI); "
        "register a sync hook or call the async API"
    )
    with caplog.at_level(logging.WARNING, logger="authhooks"), pytest.raises(HookFailed) as caught:
        auth.sync.validate_token(token)
    assert caught.value.status == 503
    assert str(caught.value.cause) == expected  # the 503's cause
    assert f"failed (HookError: {expected}); policy deny" in caplog.text
    assert (await auth.validate_token(token)).subject == "alice"  # the async API runs it
    await auth.aclose()
