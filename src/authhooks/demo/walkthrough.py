"""``authhooks demo --walkthrough``: start the demo server on 127.0.0.1 and walk through every flow with httpx.

The walkthrough generates an Ed25519 key, asks for a challenge, signs it, logs in, calls protected routes, runs
into a scope denial and the challenge rate limit, refreshes, logs out, and shows what follows. With the
declarative handlers of ``examples/handlers.toml`` loaded (:mod:`authhooks.demo.handlers`; from a clone), it also
shows them acting: the ``tenant`` claim an ``add_claims`` handler put in the token, the signed webhook of each new
login and the ``log`` handler's line of each failed login arriving, and a second key locked out after five failed
logins (403 with ``Retry-After``) with the mail the ``email`` handler sends. Each step prints the method, path,
status and a short summary (credentials only as fingerprints), and, when the server runs in this process, the
flows it ran with each hook's decision and what the demo's receivers got. The exit status is 0 when every step
answered as expected and 1 at the first that did not.

Against a demo server that is already running (no hook decisions then, they happen in the other process)::

    python -m authhooks.demo.walkthrough http://127.0.0.1:8000
"""

from __future__ import annotations

import base64
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from authhooks.demo._output import (
    DecisionLog,
    LogCollector,
    describe_challenge,
    describe_flow,
    describe_response,
    describe_tokens,
)
from authhooks.demo.handlers import Receivers

__all__ = ["DecisionLog", "Ed25519Identity", "LogCollector", "StepFailed", "Walkthrough", "run_walkthrough", "walk"]

Out = Callable[[str], None]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Ed25519Identity:
    """A fresh Ed25519 key pair; the subject is the raw public key in base64url without padding."""

    def __init__(self) -> None:
        self._key = Ed25519PrivateKey.generate()
        self.subject = _b64url(self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, message: str) -> str:
        """The base64url signature of the UTF-8 bytes of ``message``."""
        return _b64url(self._key.sign(message.encode("utf-8")))

    def __repr__(self) -> str:
        return f"Ed25519Identity(subject={self.subject[:8]}…)"


class StepFailed(Exception):
    """A step answered with a status other than the expected one."""


@dataclass(frozen=True, slots=True)
class Tokens:
    """The credentials the walkthrough holds (never printed in full)."""

    access: str
    refresh: str


class Walkthrough:
    """The scripted client.

    Args:
        client: an ``httpx.Client`` whose ``base_url`` is the demo server.
        out: where lines go (``print``).
        decisions: the server's :class:`DecisionLog` when it runs in this process, else ``None``.
        logs: the demo hooks' :class:`LogCollector` when the server runs in this process, else ``None``.
        challenge_limit: the server's challenges per subject per minute (the demo's default is 5).
        handlers: whether the server runs the handlers of ``examples/handlers.toml`` (then their steps run too).
        receivers: the demo's webhook and SMTP receivers when the server runs in this process (each delivery a
            step expects is waited for, and printed), else ``None``.
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        out: Out = print,
        decisions: DecisionLog | None = None,
        logs: LogCollector | None = None,
        challenge_limit: int = 5,
        handlers: bool = True,
        receivers: Receivers | None = None,
    ) -> None:
        self.client = client
        self.handlers = handlers
        self.receivers = receivers
        self.expected_deliveries = 0
        self.out = out
        self.decisions = decisions
        self.logs = logs
        self.challenge_limit = challenge_limit
        self.steps = 0

    # -- one step ---------------------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        expect: int | Iterable[int],
        note: str,
        *,
        json: dict[str, Any] | None = None,
        token: str | None = None,
        summary: Callable[[httpx.Response], str] | None = None,
    ) -> httpx.Response:
        """Send one request, print the step and the server's flows, and check the status.

        Raises:
            StepFailed: the status is not one of ``expect``.
        """
        self.steps += 1
        expected = (expect,) if isinstance(expect, int) else tuple(expect)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.client.request(method, path, json=json, headers=headers)
        ok = response.status_code in expected
        mark = "✓" if ok else "✗"
        shown = (summary or describe_response)(response)
        self.out(f"{self.steps:>2}. {mark} {method:<4} {path:<16} {response.status_code}  {note}")
        if shown:
            self.out(f"        {shown}")
        if self.decisions is not None:
            for run in self.decisions.drain():
                self.out(f"        flow {describe_flow(run)}")
        if self.logs is not None:
            for line in self.logs.drain():
                self.out(f"        log  {line}")
        self._deliveries()
        if not ok:
            wanted = " or ".join(str(s) for s in expected)
            raise StepFailed(f"step {self.steps} {method} {path}: expected {wanted}, got {response.status_code}")
        return response

    def expect_delivery(self, what: str) -> None:
        """One more delivery to the receivers (a webhook or a mail) follows the next step: it is waited for (at
        most 10 s) after that step, and its absence fails the step."""
        self.expected_deliveries += 1
        self._pending = what

    def _deliveries(self) -> None:
        receivers = self.receivers
        if receivers is None:
            return
        arrived = receivers.wait(self.expected_deliveries)
        for line in receivers.drain():
            self.out(f"        recv {line}")
        if not arrived:
            raise StepFailed(f"step {self.steps}: {self._pending} did not reach the demo's receiver")

    _pending = ""

    # -- the script -------------------------------------------------------------------------------------------

    def challenge(self, identity: Ed25519Identity, note: str, expect: int = 200) -> httpx.Response:
        """``POST /auth/challenge`` for ``identity``."""
        return self.call(
            "POST", "/auth/challenge", expect, note, json={"subject": identity.subject}, summary=describe_challenge
        )

    def login(self, identity: Ed25519Identity, nonce: str, signature: str, note: str, expect: int) -> httpx.Response:
        """``POST /auth/login``: the challenge's nonce and an Ed25519 signature of its message."""
        body = {"subject": identity.subject, "challenge": nonce, "signature": signature, "scheme": "ed25519"}
        return self.call("POST", "/auth/login", expect, note, json=body, summary=describe_tokens)

    def run(self) -> None:
        """Run every step; raises :class:`StepFailed` at the first unexpected status."""
        me = Ed25519Identity()
        self.out(f"    identity: a fresh Ed25519 key; subject (its public key) {me.subject[:8]}…")
        self.call("GET", "/public", 200, "an open route")
        self.call("GET", "/me", 401, "a protected route, no token: bare Bearer challenge")

        challenge = self.challenge(me, "ask for a challenge to sign").json()
        forged = me.sign(challenge["message"] + " (tampered)")
        self.login(me, challenge["nonce"], forged, "log in with a signature over another message", expect=400)

        challenge = self.challenge(me, "ask again (a challenge is single-use)").json()
        signature = me.sign(challenge["message"])
        if self.handlers:
            self.expect_delivery("the notify-login webhook")
        body = self.login(me, challenge["nonce"], signature, "log in: sign the challenge message", expect=200).json()
        first = Tokens(body["access_token"], body["refresh_token"])

        note = "with the token; `plan` came from a login.verified hook"
        if self.handlers:
            note += ", `tenant` from the add_claims handler"
        self.call("GET", "/me", 200, note, token=first.access)
        self.call("GET", "/admin", 403, "needs scope `admin`: insufficient_scope", token=first.access)

        used = 2
        for _ in range(max(0, self.challenge_limit - used)):
            self.challenge(me, "more challenges, still within the rate limit")
        self.challenge(me, f"challenge #{self.challenge_limit + 1} this minute: the challenge.pre hook denies", 429)

        body = self.call(
            "POST",
            "/auth/refresh",
            200,
            "refresh: a new pair, the refresh token rotates",
            json={"refresh_token": first.refresh},
            summary=describe_tokens,
        ).json()
        second = Tokens(body["access_token"], body["refresh_token"])
        self.call("GET", "/me", 200, "with the refreshed token", token=second.access)
        self.call("POST", "/auth/logout", (200, 204), "log out: the token is invalidated", token=second.access)
        self.call("GET", "/me", 401, "the same token after logout", token=second.access)
        self.call(
            "POST",
            "/auth/refresh",
            400,
            "replay the first (rotated) refresh token: reuse is refused",
            json={"refresh_token": first.refresh},
        )
        if self.handlers:
            self.lockout()

    def lockout(self, failures: int = 5) -> None:
        """The ``lockout`` handler: another key fails ``failures`` logins, then even a valid signature is refused
        (403, ``Retry-After``); the ``email`` handler mails the lock once."""
        mallory = Ed25519Identity()
        self.out(f"    identity: another key, {mallory.subject[:8]}…, that keeps failing its logins")
        challenge = self.challenge(mallory, "ask for a challenge").json()
        forged = mallory.sign(challenge["message"] + " (tampered)")
        for attempt in range(1, failures + 1):
            note = f"failed login {attempt} of {failures}"
            if attempt == failures:
                note += ": the lockout handler locks the subject, the email handler mails it"
                self.expect_delivery("the mail-on-lockout mail")
            self.login(mallory, challenge["nonce"], forged, note, expect=400)
        challenge = self.challenge(mallory, "a fresh challenge").json()
        signature = mallory.sign(challenge["message"])
        self.login(mallory, challenge["nonce"], signature, "a valid signature, but the subject is locked", expect=403)


def walk(
    url: str,
    *,
    out: Out = print,
    decisions: DecisionLog | None = None,
    logs: LogCollector | None = None,
    challenge_limit: int = 5,
    handlers: bool = True,
    receivers: Receivers | None = None,
) -> int:
    """Run the walkthrough against the demo server at ``url``; return the exit status (0: all as expected)."""
    with httpx.Client(base_url=url, timeout=10.0) as client:
        walkthrough = Walkthrough(
            client,
            out=out,
            decisions=decisions,
            logs=logs,
            challenge_limit=challenge_limit,
            handlers=handlers,
            receivers=receivers,
        )
        try:
            walkthrough.run()
        except StepFailed as exc:
            out(f"walkthrough FAILED at {exc}")
            return 1
        except httpx.HTTPError as exc:
            out(f"walkthrough FAILED: cannot reach {url}: {type(exc).__name__}")
            return 1
    out(f"walkthrough complete: {walkthrough.steps} steps, every status as expected")
    return 0


def run_walkthrough(host: str = "127.0.0.1", port: int = 0, *, out: Out = print) -> int:
    """Start the demo server in a thread on ``host:port`` (``0``: a free port) and walk through it.

    Returns:
        0 when every step answered as expected, 1 otherwise.
    """
    from authhooks.demo._server import ServerThread
    from authhooks.demo.app import CHALLENGE_LIMIT, create_app, create_auth
    from authhooks.demo.handlers import load_example

    auth = create_auth()
    receivers = Receivers()
    try:
        loaded = load_example(auth, receivers)
    except BaseException:
        receivers.close()
        auth.close()
        raise
    decisions = DecisionLog()
    auth.add_observer(decisions)
    app = create_app(auth)
    logs = LogCollector()
    loggers = [logging.getLogger(name) for name in ("authhooks.demo", "authhooks.handlers")]
    saved = [lg.propagate for lg in loggers]
    for lg in loggers:
        lg.addHandler(logs)
        lg.propagate = False
    try:
        with receivers, ServerThread(app, host=host, port=port) as server:
            out(f"authhooks demo walkthrough against {server.url} (state in {auth.settings.state_dir})")
            if loaded is None:
                out("    handlers: examples/handlers.toml is not here (an installed wheel): its steps are left out")
            else:
                out(f"    handlers: {len(auth.handlers)} from {loaded}; webhooks go to {receivers.webhook_url} and")
                out(f"    mail to {receivers.smtp_url} (the demo's receivers) instead of the file's URLs")
            decisions.drain()
            return walk(
                server.url,
                out=out,
                decisions=decisions,
                logs=logs,
                challenge_limit=CHALLENGE_LIMIT,
                handlers=loaded is not None,
                receivers=receivers,
            )
    finally:
        for lg, propagate in zip(loggers, saved, strict=True):
            lg.removeHandler(logs)
            lg.propagate = propagate


def main(argv: list[str] | None = None) -> int:
    """``python -m authhooks.demo.walkthrough URL``: walk through a demo server that is already running."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m authhooks.demo.walkthrough", description=__doc__.split("\n")[0])
    parser.add_argument("url", help="the demo server, e.g. http://127.0.0.1:8000")
    args = parser.parse_args(argv)
    from authhooks.demo.handlers import example_file

    return walk(args.url, handlers=example_file() is not None)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
