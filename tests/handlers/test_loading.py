# ruff: noqa: E501 - the table of bad files reads best one case per line
"""A handlers file is loaded strictly: every kind of mistake is a ConfigurationError naming the file, the line and
the field, at AuthHooks construction; a good file registers its handlers as hooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from authhooks import AuthHooks
from authhooks.errors import ConfigurationError

from .conftest import WEBHOOK_SECRET, make_auth, write

GOOD = """\
[[handler]]
name = "no-mallory"
event = "login.pre"
action = "deny"
conditions = { subject = "^mallory$" }

[[handler]]
name = "log-failures"
event = ["login.failed", "validate_token.failed"]
action = "log"
[handler.options]
template = "{handler}: {point} {reason}"
"""


def _error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as caught:
        make_auth(tmp_path, handlers=path)
    return str(caught.value)


def test_a_good_file_registers_its_handlers_as_hooks(tmp_path: Path) -> None:
    auth = make_auth(tmp_path, handlers=write(tmp_path, GOOD))
    assert [h.name for h in auth.hooks("login.pre")] == ["handler:no-mallory"]
    assert [h.name for h in auth.hooks("validate_token.failed")] == ["handler:log-failures"]
    listed = {i.name: i for i in auth.handlers.list()}
    assert listed["log-failures"].points == ("login.failed", "validate_token.failed")
    assert listed["no-mallory"].conditions == {"subject": "^mallory$"}
    assert listed["no-mallory"].where.endswith("handlers.toml:1")


def test_the_environment_variable_is_read_at_construction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHHOOKS_HANDLERS_FILE", str(write(tmp_path, GOOD)))
    auth = AuthHooks(secret="s" * 64, store_url="memory://", state_dir=tmp_path)
    assert [h.name for h in auth.hooks("login.pre")] == ["handler:no-mallory"]


def test_a_bad_file_in_the_environment_variable_fails_construction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHHOOKS_HANDLERS_FILE", str(write(tmp_path, GOOD.replace('"deny"', '"deni"'))))
    with pytest.raises(
        ConfigurationError, match=r"handlers.toml:4: handler 'no-mallory': action: .*did you mean 'deny'"
    ):
        AuthHooks(secret="s" * 64, store_url="memory://", state_dir=tmp_path)


def test_a_mapping_works_like_a_file(tmp_path: Path) -> None:
    auth = make_auth(tmp_path, handlers={"handler": [{"name": "x", "event": "post_auth", "action": "log"}]})
    assert [h.name for h in auth.hooks("login.post")] == ["handler:x"]  # a seed alias names the point


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[handler]]\nname = "a"\nevent = "login.pre"\naction = "deny"\noops = ]\n',
            r"handlers.toml:5: not valid TOML",
        ),
        ('[[handlers]]\nname = "a"\n', r"handlers.toml: handlers: unknown key; did you mean 'handler'\?"),
        (
            GOOD + '\n[[handler]]\nname = "c"\nevnt = "login.pre"\naction = "log"\n',
            r"handlers.toml:16: handler 'c': evnt: unknown key; did you mean 'event'\?",
        ),
        (
            GOOD.replace('"log"', '"logg"'),
            r"handlers.toml:10: handler 'log-failures': action: unknown action 'logg'; did you mean 'log'\?",
        ),
        (
            GOOD.replace("subject =", "subjetc ="),
            r"handlers.toml:5: handler 'no-mallory': conditions.subjetc: unknown key; did you mean 'subject'\?",
        ),
        (
            GOOD.replace("template =", "tmplate ="),
            r"handlers.toml:12: handler 'log-failures': options.tmplate: unknown key; did you mean 'template'\?",
        ),
        (
            GOOD.replace("{reason}", "{token}"),
            r"handlers.toml:12: handler 'log-failures': options.template: unknown placeholder \{token\}",
        ),
        (
            GOOD.replace('event = "login.pre"', 'event = "login.pree"'),
            r"handlers.toml:3: handler 'no-mallory': event: unknown hook point 'login.pree'; did you mean 'login.pre'\?",
        ),
        (
            GOOD.replace('event = "login.pre"', 'event = "login.failed"'),
            r"handlers.toml:3: handler 'no-mallory': event: deny .*login.failed only notifies",
        ),
        (
            GOOD.replace('"^mallory$"', '"(unclosed"'),
            r"handlers.toml:5: handler 'no-mallory': conditions.subject: invalid regular expression",
        ),
        (
            GOOD + '\n[[handler]]\nname = "no-mallory"\nevent = "login.pre"\naction = "log"\n',
            r"handlers.toml:15: handler 'no-mallory': name: duplicate handler name",
        ),
        (
            GOOD.replace('action = "deny"', 'action = "deny"\norder = "first"'),
            r"handlers.toml:5: handler 'no-mallory': order: expected an integer",
        ),
        (
            GOOD.replace('action = "deny"', 'action = "deny"\non_error = "ignor"'),
            r"handlers.toml:5: handler 'no-mallory': on_error: .*did you mean 'ignore'\?",
        ),
        (
            '[[handler]]\nname = "hook"\nevent = "login.failed"\naction = "webhook"\n[handler.options]\nurl = "https://example.test/h"\nsecret_env = "AUTHHOOKS_TEST_UNSET_SECRET"\n',
            r"handlers.toml:7: handler 'hook': options.secret_env: the environment variable AUTHHOOKS_TEST_UNSET_SECRET is not set",
        ),
        (
            '[[handler]]\nname = "old"\nevent = "validate_token.post"\naction = "deny"\n[handler.conditions]\nclaims = [{ claim = "iat", op = "<", value = "{now}-5x" }]\n',
            r"handlers.toml:6: handler 'old': conditions.claims\[0\].value: expected a duration",
        ),
        (
            '[[handler]]\nname = "office"\nevent = "login.pre"\naction = "deny"\n[handler.conditions]\nclient_ip = ["10.0.0.0/33"]\n',
            r"handlers.toml:6: handler 'office': conditions.client_ip: .*'10.0.0.0/33' is not an IP address or CIDR",
        ),
        (
            '[[handler]]\nname = "bg"\nevent = "login.pre"\naction = "log"\nbackground = true\n',
            r"handlers.toml:5: handler 'bg': background: only notification points",
        ),
        (
            '[[handler]]\nname = "rl"\nevent = "login.pre"\naction = "rate_limit"\n[handler.options]\nlimit = 0\nwindow = "1m"\n',
            r"handlers.toml:6: handler 'rl': options.limit: expected an integer at least 1",
        ),
        (
            '[[handler]]\nname = "claims"\nevent = "issue_token.pre"\naction = "add_claims"\n[handler.options.claims]\nsub = "x"\n',
            r"handlers.toml:6: handler 'claims': options.claims.sub: is a registered claim",
        ),
        (
            '[[handler]]\nname = "py"\nevent = "login.pre"\naction = "os.path:nope"\n',
            r"handlers.toml:4: handler 'py': action: module 'os.path' has no attribute 'nope'",
        ),
        (
            '[[handler]]\nname = "cmp"\nevent = "validate_token.post"\naction = "deny"\nconditions = { claims = [{ claim = "n", op = "=~", value = 1 }] }\n',
            r"handlers.toml:5: handler 'cmp': conditions.claims\[0\].op: unknown operator '=~'",
        ),
    ],
    ids=lambda v: v[:30] if isinstance(v, str) else None,
)
def test_every_kind_of_mistake_names_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    import re

    message = _error(tmp_path, text)
    assert re.search(expected, message), message
    assert message.startswith(str(tmp_path / "handlers.toml"))


def test_the_secret_itself_never_appears_in_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", "whsec_c2hvcnQ=")  # base64 of 5 bytes: too short a key
    text = '[[handler]]\nname = "hook"\nevent = "login.failed"\naction = "webhook"\noptions = { url = "https://example.test/h", secret_env = "HOOK_SECRET" }\n'
    message = _error(tmp_path, text)
    assert "at least 16 bytes" in message and "c2hvcnQ" not in message


def test_load_handlers_replaces_the_set_and_a_broken_file_keeps_the_old(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, GOOD)
    auth = make_auth(tmp_path, handlers=path)
    path.write_text(GOOD.replace("no-mallory", "no-eve"), encoding="utf-8")
    assert auth.reload_handlers() is True
    assert [h.name for h in auth.hooks("login.pre")] == ["handler:no-eve"]
    path.write_text(GOOD.replace('"deny"', '"deni"'), encoding="utf-8")
    assert auth.reload_handlers() is False
    assert [h.name for h in auth.hooks("login.pre")] == ["handler:no-eve"]
    assert "handlers.toml:4" in caplog.text and "did you mean 'deny'" in caplog.text


def test_the_example_file_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", WEBHOOK_SECRET)
    example = Path(__file__).resolve().parents[2] / "examples" / "handlers.toml"
    auth = make_auth(tmp_path, handlers=example)
    assert len(auth.handlers) >= 5
    assert {i.action for i in auth.handlers.list()} >= {"lockout", "rate_limit", "webhook", "email", "add_claims"}


def test_check_reports_every_bad_handler_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from authhooks.handlers.__main__ import main

    bad = write(tmp_path, GOOD.replace('"deny"', '"deni"').replace("tmplate", "x").replace("template =", "tmplate ="))
    assert main(["check", str(bad)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith(
        "handlers.toml:4: handler 'no-mallory': action: unknown action 'deni'; did you mean 'deny'? (known: webhook, log, deny, rate_limit, lockout, add_claims, revoke_tokens, email, python)"
    )
    assert "handlers.toml:12: handler 'log-failures': options.tmplate" in lines[1]
    good = write(tmp_path, GOOD, "good.toml")
    assert main(["check", str(good)]) == 0
    assert capsys.readouterr().out.strip().endswith("good.toml: 2 handler(s) OK")


def test_list_shows_points_hooks_in_order_and_conditions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from authhooks.handlers.__main__ import main

    text = (
        GOOD + '\n[[handler]]\nname = "first"\nevent = "login.pre"\naction = "log"\ntryfirst = true\nenforce = false\n'
    )
    assert main(["list", str(write(tmp_path, text))]) == 0
    out = capsys.readouterr().out
    assert 'login.pre\n  handler:first [shadow]\n  handler:no-mallory when {"subject": "^mallory$"}\n' in out


async def test_an_application_point_declared_before_loading(tmp_path: Path) -> None:
    from authhooks import Deny

    auth = make_auth(tmp_path)
    auth.declare_point("post.save", kind="decision", inputs=("subject", "title"))
    spec = {
        "handler": [{"name": "no-spam", "event": "post.save", "action": "deny", "conditions": {"subject": "^spammer"}}]
    }
    auth.load_handlers(spec)
    await auth.fire("post.save", subject="alice", title="hello")
    with pytest.raises(Deny):
        await auth.fire("post.save", subject="spammer-1", title="buy")
