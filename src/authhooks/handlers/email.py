"""The ``email`` action: privacyIDEA's notification, a mail sent over SMTP.

================ ==================================================================================================
option           meaning
================ ==================================================================================================
``url``          ``smtp://host[:port]`` (port 25 by default) or ``smtps://host[:port]`` (implicit TLS, port 465)
``from``         the sender address
``to``           an address or a list of addresses
``subject``      a template (placeholders: :data:`~authhooks.handlers.summary.FIELDS`)
``body``         a template, likewise
``starttls``     upgrade an ``smtp://`` connection with STARTTLS (default false)
``username``     SMTP AUTH user, with ``password_env``: the environment variable holding the password (read at
                 load; the file never holds it)
``timeout``      seconds for the whole exchange (default 10)
================ ==================================================================================================

The mail holds the safe summary only (never a token, secret or password; the subject as telemetry records it).
Under the async driver the blocking SMTP exchange runs in a thread, so the event loop never waits on it.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
import urllib.parse
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from authhooks.handlers.actions import Action, subjects_of
from authhooks.handlers.spec import Env, Problem, check_keys, flag, number, string, strings
from authhooks.handlers.summary import FIELDS, Call, summary
from authhooks.handlers.values import template_fields

__all__ = ["EmailAction"]


def _render(template: str, fields: Mapping[str, Any]) -> str:
    return template.format_map({k: ("-" if v is None else v) for k, v in fields.items()})


class EmailAction(Action):
    """``email``: see the module docstring."""

    kind = "email"
    options = ("url", "from", "to", "subject", "body", "starttls", "username", "password_env", "timeout")

    def __init__(self, options: Mapping[str, Any], env: Env) -> None:
        check_keys(options, self.options, "options")
        url = urllib.parse.urlsplit(string(options, "url", "options"))
        if url.scheme not in ("smtp", "smtps") or not url.hostname:
            raise Problem("options.url", "expected smtp://host[:port] or smtps://host[:port]")
        self.tls = url.scheme == "smtps"
        self.host = url.hostname
        self.port = url.port or (465 if self.tls else 25)
        self.sender = string(options, "from", "options")
        self.recipients = strings(options, "to", "options")
        self.subject = string(options, "subject", "options", "authhooks: {point} {outcome}")
        self.body = string(options, "body", "options", "Handler {handler} ran at {point}: {outcome} {reason}.")
        for key in ("subject", "body"):
            try:
                template_fields(getattr(self, key), FIELDS)
            except ValueError as exc:
                raise Problem(f"options.{key}", str(exc)) from None
        self.starttls = flag(options, "starttls", "options", False)
        self.username = string(options, "username", "options", None)
        self._password: str | None = None
        if self.username is not None:
            variable = string(options, "password_env", "options")
            environ = os.environ if env.environ is None else env.environ
            self._password = environ.get(variable)
            if not self._password:
                raise Problem("options.password_env", f"the environment variable {variable} is not set")
        elif "password_env" in options:
            raise Problem("options.password_env", "needs options.username")
        self.timeout = number(options, "timeout", "options", 10.0, low=0.001)
        self.subjects, self.proxies = subjects_of(env), env.proxies

    def _message(self, call: Call) -> EmailMessage:
        fields = summary(call, self.subjects, self.proxies)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message["Subject"] = " ".join(_render(self.subject, fields).split())
        message.set_content(_render(self.body, fields))
        return message

    def _send(self, message: EmailMessage) -> None:
        smtp: smtplib.SMTP
        if self.tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.starttls and not self.tls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username is not None and self._password is not None:
                smtp.login(self.username, self._password)
            smtp.send_message(message, self.sender, list(self.recipients))

    def run_sync(self, call: Call) -> None:
        self._send(self._message(call))

    async def run_async(self, call: Call) -> None:
        message = self._message(call)
        await asyncio.to_thread(self._send, message)
