"""The demo's declarative handlers: ``examples/handlers.toml``, with its ``webhook`` and ``email`` handlers pointed at
receivers the demo runs on 127.0.0.1.

- :func:`example_file`: the example file of the source tree (the demo runs from a clone: ``scripts/demo`` installs
  it editable); ``None`` from an installed wheel, which does not carry ``examples/``.
- :class:`Receivers`: an HTTP webhook receiver that checks the Standard Webhooks signature of each delivery
  (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``) under a fresh secret, and an SMTP sink that accepts
  mail; each keeps one line per delivery (no credential: the summary holds none) and lets a caller wait for them.
- :func:`load_example`: read the file, replace each ``webhook`` and ``email`` handler's ``url`` by the receivers'
  (the file's URLs are a deployment's), and load it into an :class:`~authhooks.AuthHooks` with the fresh secret
  as the file's ``secret_env`` variable (passed as ``environ``: the process environment is not changed).
"""

from __future__ import annotations

import base64
import copy
import hmac
import http.server
import json
import secrets
import socketserver
import threading
import time
from collections.abc import Callable
from email import message_from_bytes
from pathlib import Path
from typing import Any

from authhooks import _toml
from authhooks.handlers.signing import sign

__all__ = ["Receivers", "example_file", "load_example"]

_TOLERANCE = 300.0
"""Seconds a ``webhook-timestamp`` may differ from the receiver's clock (as the Standard Webhooks libraries)."""


def example_file() -> Path | None:
    """``examples/handlers.toml`` of the source tree this package runs from, or ``None`` (an installed wheel)."""
    path = Path(__file__).resolve().parents[3] / "examples" / "handlers.toml"
    return path if path.is_file() else None


class _Webhook(http.server.BaseHTTPRequestHandler):
    server: _WebhookServer

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        verdict = self.server.check(self.headers, body)
        self.send_response(204 if verdict == "signature verified" else 401)
        self.send_header("content-length", "0")
        self.end_headers()
        try:
            event = json.loads(body)
            data = event.get("data") or {}
            what = f"{event.get('type')} {data.get('outcome')} subject={_short(data.get('subject'))}"
        except (ValueError, AttributeError):
            what = "an unreadable body"
        self.server.note(f"webhook {self.path}: {what} ({verdict})")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the deliveries are reported through :class:`Receivers`."""


class _WebhookServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, key: bytes, note: Callable[[str], None]) -> None:
        super().__init__(("127.0.0.1", 0), _Webhook)
        self.key = key
        self.note = note

    def check(self, headers: Any, body: bytes) -> str:
        msg_id, stamp = headers.get("webhook-id"), headers.get("webhook-timestamp")
        signatures = (headers.get("webhook-signature") or "").split()
        if not msg_id or not stamp or not stamp.isdigit():
            return "signature headers missing"
        if abs(time.time() - int(stamp)) > _TOLERANCE:
            return "timestamp out of tolerance"
        expected = sign(self.key, msg_id, int(stamp), body)
        if any(hmac.compare_digest(expected, s) for s in signatures):
            return "signature verified"
        return "signature MISMATCH"


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321 §4.1) for ``smtplib``: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    server: _SmtpServer

    def _reply(self, line: str) -> None:
        self.wfile.write(line.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        self._reply("220 authhooks-demo SMTP sink")
        recipients: list[str] = []
        while True:
            raw = self.rfile.readline(1024)
            if not raw:
                return
            verb = raw.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self._reply("250 authhooks-demo")
            elif verb == "MAIL":
                recipients = []
                self._reply("250 OK")
            elif verb == "RCPT":
                recipients.append(raw.decode("ascii", "replace").split(":", 1)[-1].strip().strip("<>"))
                self._reply("250 OK")
            elif verb == "DATA":
                self._reply("354 end with <CRLF>.<CRLF>")
                lines: list[bytes] = []
                while (line := self.rfile.readline(65536)) not in (b".\r\n", b".\n", b""):
                    lines.append(line[1:] if line.startswith(b"..") else line)
                message = message_from_bytes(b"".join(lines))
                self._reply("250 OK: queued")
                self.server.note(f"mail to {', '.join(recipients)}: {message.get('subject')}")
            elif verb in ("RSET", "NOOP"):
                self._reply("250 OK")
            elif verb == "QUIT":
                self._reply("221 bye")
                return
            else:
                self._reply("502 command not implemented")


class _SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, note: Callable[[str], None]) -> None:
        super().__init__(("127.0.0.1", 0), _Smtp)
        self.note = note


def _short(subject: Any) -> str:
    if not isinstance(subject, str) or not subject:
        return "-"
    return subject if len(subject) <= 8 else subject[:8] + "…"


class Receivers:
    """The webhook receiver and the SMTP sink, each on a free port of 127.0.0.1, served by daemon threads.

    Args:
        echo: called with each delivery's line as it arrives (``None``: kept only, for :meth:`drain`).

    Use as a context manager (or call :meth:`close`).
    """

    def __init__(self, echo: Callable[[str], None] | None = None) -> None:
        key = secrets.token_bytes(32)
        self.secret = "whsec_" + base64.b64encode(key).decode("ascii")
        """The fresh Standard Webhooks secret the webhook handlers sign with (never printed)."""
        self._echo = echo
        self._lines: list[str] = []
        self._count = 0
        self._changed = threading.Condition()
        self._webhook = _WebhookServer(key, self._note)
        self._smtp = _SmtpServer(self._note)
        self.webhook_url = f"http://127.0.0.1:{self._webhook.server_address[1]}/authhooks"
        self.smtp_url = f"smtp://127.0.0.1:{self._smtp.server_address[1]}"
        for server in (self._webhook, self._smtp):
            threading.Thread(target=server.serve_forever, name="authhooks-demo-receiver", daemon=True).start()

    def _note(self, line: str) -> None:
        with self._changed:
            self._lines.append(line)
            self._count += 1
            self._changed.notify_all()
        if self._echo is not None:
            self._echo(line)

    @property
    def received(self) -> int:
        """Deliveries received so far (webhooks and mails)."""
        with self._changed:
            return self._count

    def wait(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until at least ``count`` deliveries have arrived in all; whether they did within ``timeout``."""
        with self._changed:
            return self._changed.wait_for(lambda: self._count >= count, timeout)

    def drain(self) -> list[str]:
        """The lines received since the last call."""
        with self._changed:
            lines, self._lines = self._lines, []
        return lines

    def close(self) -> None:
        """Stop both servers."""
        for server in (self._webhook, self._smtp):
            server.shutdown()
            server.server_close()

    def __enter__(self) -> Receivers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def example_handlers(path: Path, receivers: Receivers) -> tuple[dict[str, Any], dict[str, str]]:
    """The parsed file with each ``webhook`` and ``email`` handler's ``url`` replaced by the receivers', and the
    environment to load it with (each ``secret_env`` variable holding the receivers' secret)."""
    spec: dict[str, Any] = copy.deepcopy(_toml.loads(path.read_text(encoding="utf-8")))
    environ: dict[str, str] = {}
    for handler in spec.get("handler", []):
        options = handler.get("options")
        if not isinstance(options, dict):
            continue
        if handler.get("action") == "webhook":
            options["url"] = receivers.webhook_url
            if isinstance(options.get("secret_env"), str):
                environ[options["secret_env"]] = receivers.secret
        elif handler.get("action") == "email":
            options["url"] = receivers.smtp_url
    return spec, environ


def load_example(auth: Any, receivers: Receivers, path: Path | None = None) -> Path | None:
    """Load ``path`` (default: :func:`example_file`) into ``auth`` with its targets on ``receivers``; return the
    file loaded, or ``None`` when there is none (an installed wheel).

    Raises:
        ConfigurationError: the file does not load (naming the handler and the field).
    """
    path = path or example_file()
    if path is None:
        return None
    spec, environ = example_handlers(path, receivers)
    auth.load_handlers(spec, environ=environ)
    return path
