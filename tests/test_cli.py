"""The ``authhooks`` command: ``--version``, ``config``, ``config --list``, malformed settings."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import authhooks
from authhooks import AuthHooks, Settings
from authhooks._cli import main


def run(
    *args: str, extra_env: dict[str, str] | None = None, exe: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHHOOKS_", "OTEL_"))}
    env.update(extra_env or {})
    command = exe if exe is not None else [sys.executable, "-m", "authhooks"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env, timeout=60, check=False)


def test_version_via_python_m() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"authhooks {authhooks.__version__}"


def test_version_via_console_script() -> None:
    script = Path(sys.executable).parent / "authhooks"
    if not script.exists():
        found = shutil.which("authhooks")
        if found is None:
            pytest.skip("the authhooks console script is not installed next to this interpreter")
        script = Path(found)
    result = run("--version", exe=[str(script)])
    assert result.returncode == 0
    assert result.stdout.strip() == f"authhooks {authhooks.__version__}"


def test_config_list_lists_every_variable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--list"]) == 0
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert listed == [f"AUTHHOOKS_{f.name.upper()}" for f in dataclasses.fields(Settings)]
    assert "AUTHHOOKS_LEEWAY_SECONDS" in out
    assert " 30 " in out


def test_config_list_ignores_a_broken_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTHHOOKS_LEEWAY_SECONDS", "lots")
    assert main(["config", "--list"]) == 0
    assert "AUTHHOOKS_LEEWAY_SECONDS" in capsys.readouterr().out


def test_config_prints_resolved_settings(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AUTHHOOKS_AUDIENCE", '["api", "admin"]')
    monkeypatch.setenv("AUTHHOOKS_OPTIONAL_AUTH", "TRUE")
    assert main(["config"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "AUTHHOOKS_AUDIENCE=api,admin" in lines
    assert "AUTHHOOKS_OPTIONAL_AUTH=True" in lines or "AUTHHOOKS_OPTIONAL_AUTH=true" in lines
    assert "AUTHHOOKS_REALM=" in lines
    assert len(lines) == len(dataclasses.fields(Settings))


@pytest.mark.parametrize(
    ("variable", "value"),
    [("AUTHHOOKS_LEEWAY_SECONDS", "lots"), ("AUTHHOOKS_OPTIONAL_AUTH", "yes"), ("AUTHHOOKS_LEEWAY_SECONDS", "301")],
)
def test_malformed_variable_exits_2_with_one_line(variable: str, value: str) -> None:
    result = run("config", extra_env={variable: value})
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # no traceback
    assert variable in lines[0]
    assert lines[0].startswith("authhooks: configuration error:")


def test_unknown_variable_exits_2_with_suggestion() -> None:
    result = run("config", extra_env={"AUTHHOOKS_SECERT": "hush-hush-value"})
    assert result.returncode == 2
    assert "AUTHHOOKS_SECRET" in result.stderr
    assert "hush-hush-value" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "config" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2


def _verify(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run("audit", "verify", *args, extra_env=env)


def test_audit_verify_passes_untouched_and_names_the_edited_record(tmp_path: Path) -> None:
    """`authhooks audit verify FILE --key-file KEY` on a log written by a real AuthHooks with an audit log (its
    key generated in the state directory)."""
    log = tmp_path / "audit.jsonl"
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, audit_log_file=log, telemetry=False)
    for subject in ("alice", "bob", "carol"):
        auth.sync.issue_token(subject)
    auth.close()
    key_file = str(tmp_path / "audit-key")
    ok = _verify(str(log), "--key-file", key_file)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith(f"OK {log}: 3 records")
    lines = log.read_text().splitlines()
    assert len(lines) == 3
    lines[1] = lines[1].replace('"success"', '"failure"')
    log.write_text("\n".join(lines) + "\n")
    bad = _verify(str(log), "--key-file", key_file)
    assert bad.returncode == 1
    assert bad.stdout.startswith(f"TAMPERED {log}: edited at line 2 (seq 2)")


def test_audit_verify_takes_the_key_from_the_environment_and_sees_a_cut_tail(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    key = "k" * 40
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, audit_log_file=log, audit_key=key, telemetry=False)
    for subject in ("alice", "bob", "carol"):
        auth.sync.issue_token(subject)
    auth.close()
    assert not (tmp_path / "audit-key").exists()
    assert _verify(str(log), env={"AUTHHOOKS_AUDIT_KEY": key}).returncode == 0
    log.write_text("".join(line + "\n" for line in log.read_text().splitlines()[:2]))
    cut = _verify(str(log), env={"AUTHHOOKS_AUDIT_KEY": key})
    assert cut.returncode == 1
    assert "tail_removed at the checkpoint (seq 3)" in cut.stdout and "seq 3 removed" in cut.stdout
    other = tmp_path / "other-key"
    other.write_text("o" * 40)
    wrong = _verify(str(log), "--key-file", str(other), env={"AUTHHOOKS_AUDIT_KEY": key})  # the option wins
    assert wrong.returncode == 1 and "wrong_key" in wrong.stdout


def test_audit_verify_without_a_key_exits_2(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_text("")
    result = _verify(str(log))
    assert result.returncode == 2
    assert "no audit key" in result.stdout and "AUTHHOOKS_AUDIT_KEY" in result.stdout and "--key-file" in result.stdout
    short = _verify(str(log), env={"AUTHHOOKS_AUDIT_KEY": "too-short"})
    assert short.returncode == 2 and "at least 32 bytes" in short.stdout and "too-short" not in short.stdout


def test_audit_verify_refuses_an_unkeyed_legacy_log(tmp_path: Path) -> None:
    """A log of the SHA-256-only chain of earlier versions: intact or not, it is never reported OK."""
    log = tmp_path / "legacy.jsonl"
    record = {"flow": "login", "kind": "flow", "outcome": "success", "prev": "0" * 64, "seq": 1}
    record["hash"] = hashlib.sha256(json.dumps(record, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    log.write_text(json.dumps(record) + "\n")
    result = _verify(str(log), env={"AUTHHOOKS_AUDIT_KEY": "k" * 40})
    assert result.returncode == 1
    assert result.stdout.startswith(f"UNKEYED {log}: an unkeyed SHA-256 chain")


def test_setup_telemetry_keeps_the_handle_and_close_flushes_it(tmp_path: Path) -> None:
    """In a fresh process: `auth.setup_telemetry()` builds the SDK from OTEL_*; `close()` flushes its spans."""
    script = (
        "from authhooks import AuthHooks\n"
        f"auth = AuthHooks(store_url='memory://', state_dir={str(tmp_path)!r})\n"
        "handle = auth.setup_telemetry()\n"
        "assert auth.telemetry_handle is handle and handle.installed\n"
        "auth.sync.issue_token('alice')\n"
        "auth.close()\n"
        "import os, sys\n"
        "sys.stdout.flush()\n"
        "os._exit(0)  # no atexit: only close() can have flushed the batch\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHHOOKS_", "OTEL_"))}
    env.update(OTEL_TRACES_EXPORTER="console", OTEL_METRICS_EXPORTER="none", OTEL_BSP_SCHEDULE_DELAY="60000")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr
    assert '"name": "authhooks.issue_token"' in out.stdout


# -- authhooks handlers check / list ------------------------------------------------------------------------------

HANDLERS = """[[handler]]
name = "no-mallory"
event = "login.pre"
action = "deny"
conditions = { subject = "^mallory$" }

[[handler]]
name = "log-failures"
event = "login.failed"
action = "log"
options = { template = "login failed for {subject}" }
"""


def test_handlers_check_names_each_bad_handler_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(HANDLERS.replace('"deny"', '"deni"').replace("template =", "tmplate ="))
    result = run("handlers", "check", str(bad))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{bad}:4: handler 'no-mallory': action: unknown action 'deni'; did you mean 'deny'?")
    assert lines[1].startswith(f"{bad}:11: handler 'log-failures': options.tmplate: unknown key")
    good = tmp_path / "good.toml"
    good.write_text(HANDLERS)
    result = run("handlers", "check", extra_env={"AUTHHOOKS_HANDLERS_FILE": str(good)})
    assert (result.returncode, result.stdout.strip()) == (0, f"{good}: 2 handler(s) OK")
    module = run("check", str(bad), exe=[sys.executable, "-m", "authhooks.handlers"])  # the same command
    assert (module.returncode, module.stdout) == (1, "\n".join(lines) + "\n")


def test_handlers_list_shows_points_in_execution_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "handlers.toml"
    path.write_text(HANDLERS + '\n[[handler]]\nname = "first"\nevent = "login.pre"\naction = "log"\ntryfirst = true\n')
    assert main(["handlers", "list", str(path)]) == 0
    out = capsys.readouterr().out
    assert 'login.pre\n  handler:first\n  handler:no-mallory when {"subject": "^mallory$"}\n' in out
    assert "login.failed\n" in out and "  handler:log-failures\n" in out


def test_handlers_without_a_file_is_a_usage_error() -> None:
    result = run("handlers", "check")
    assert result.returncode == 2
    assert "no FILE and AUTHHOOKS_HANDLERS_FILE is not set" in result.stderr
