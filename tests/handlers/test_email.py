"""The email action: a mail received by a real SMTP server (aiosmtpd) on 127.0.0.1, with the safe summary only."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from authhooks.errors import AuthError

from .conftest import make_auth


class Sink:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


def _mail(port: int, event: str = "login.failed") -> dict[str, Any]:
    return {
        "handler": [
            {
                "name": "mail-security",
                "event": event,
                "action": "email",
                "options": {
                    "url": f"smtp://127.0.0.1:{port}",
                    "from": "authhooks@example.test",
                    "to": ["security@example.test", "ops@example.test"],
                    "subject": "Failed login: {reason}",
                    "body": "{handler} at {point}: {outcome} ({reason}) for {subject}",
                },
            }
        ]
    }


def _auth(tmp_path: Path, port: int, **options: Any) -> Any:
    auth = make_auth(tmp_path, _mail(port), **options)

    @auth.hook("login.provide", inline=True)
    def password(subject: str, credentials: Any) -> Any:
        return subject if credentials.get("password") == "right" else False

    return auth


async def test_a_mail_is_sent_under_the_async_api(tmp_path: Path, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    auth = _auth(tmp_path, port, record_subject=True)
    with pytest.raises(AuthError):
        await auth.login("alice", {"password": "wrong-password-1"}, scheme="password")
    ((sender, recipients, content),) = sink.messages
    assert sender == "authhooks@example.test" and recipients == ["security@example.test", "ops@example.test"]
    mail = message_from_bytes(content)
    assert mail["Subject"] == "Failed login: provider_refused"
    body = mail.get_payload(decode=True).decode()
    assert "mail-security at login.failed: failure (provider_refused) for alice" in body
    assert "wrong-password-1" not in content.decode()


def test_a_mail_is_sent_under_the_sync_api(tmp_path: Path, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    auth = _auth(tmp_path, port)
    with pytest.raises(AuthError):
        auth.sync.login("bob", {"password": "wrong-password-2"}, scheme="password")
    ((_, _, content),) = sink.messages
    assert "for -" in message_from_bytes(content).get_payload(decode=True).decode()  # no record_subject: no subject


def test_a_password_is_read_from_the_environment_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from authhooks.errors import ConfigurationError

    spec = _mail(25)
    spec["handler"][0]["options"].update(username="mailer", password_env="SMTP_PASSWORD")
    with pytest.raises(
        ConfigurationError, match=r"options\.password_env: the environment variable SMTP_PASSWORD is not set"
    ):
        make_auth(tmp_path, spec)
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret-pw")
    auth = make_auth(tmp_path, spec)
    assert "s3cret-pw" not in repr(auth.handlers.list())
