"""What the walkthrough prints: the server's flows with each hook's decision (:class:`DecisionLog`), the log lines
of the demo's hooks and handlers (:class:`LogCollector`), and short summaries of the answers (credentials only as
fingerprints)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpx

from authhooks._redact import fingerprint
from authhooks.hooks.observer import FlowRun, HookRecord

__all__ = ["DecisionLog", "LogCollector", "describe_challenge", "describe_flow", "describe_response", "describe_tokens"]


class DecisionLog:
    """An observer keeping the flows that ended (with their hook trail), for printing after each step.

    (The same as :class:`authhooks.testing.HookRecorder` for this purpose, without its pytest dependency.)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flows: list[FlowRun] = []

    def flow_started(self, run: FlowRun) -> None:
        """Part of the observer protocol."""

    def hook_ran(self, run: FlowRun, record: HookRecord) -> None:
        """Part of the observer protocol; the records are read from ``run.hooks`` when the flow ends."""

    def flow_ended(self, run: FlowRun) -> None:
        """Keep the ended flow."""
        with self._lock:
            self._flows.append(run)

    def drain(self) -> list[FlowRun]:
        """The flows that ended since the last call."""
        with self._lock:
            flows, self._flows = self._flows, []
        return flows


def describe_flow(run: FlowRun) -> str:
    """One line: the flow, its outcome and reason, and each hook run with its decision."""
    outcome = run.outcome.value + (f" ({run.reason})" if run.reason else "")
    hooks = ", ".join(_describe_hook(r) for r in run.hooks)
    return f"{run.flow:<17} {outcome}" + (f"   hooks: {hooks}" if hooks else "")


def _describe_hook(record: HookRecord) -> str:
    text = f"{record.hook}@{record.point}={record.decision.value}"
    return text + (f"({record.reason})" if record.reason else "")


class LogCollector(logging.Handler):
    """Keeps the demo hooks' log lines (emitted in the server thread) to print them with the step that caused
    them."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self._lines: list[str] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the formatted message."""
        with self._guard:
            self._lines.append(record.getMessage())

    def drain(self) -> list[str]:
        """The lines logged since the last call."""
        with self._guard:
            lines, self._lines = self._lines, []
        return lines


def describe_response(response: httpx.Response) -> str:
    """A short summary: the challenge header of a denial, else a few JSON fields (no credentials)."""
    parts: list[str] = []
    challenge = response.headers.get("www-authenticate")
    if challenge:
        parts.append(f"WWW-Authenticate: {challenge}")
    retry = response.headers.get("retry-after")
    if retry:
        parts.append(f"Retry-After: {retry}")
    if response.status_code >= 400 and not challenge:
        body = _json(response)
        error = body.get("error") or body.get("title") or body.get("detail") if body else None
        if error:
            parts.append(f"error: {error}")
    if response.status_code < 400:
        body = _json(response)
        if body:
            shown = {k: v for k, v in body.items() if k not in _SECRET_FIELDS and not isinstance(v, (dict, list))}
            shown = {k: (v[:8] + "…" if k == "subject" and isinstance(v, str) else v) for k, v in shown.items()}
            if shown:
                parts.append(", ".join(f"{k}={v}" for k, v in shown.items()))
    return "   ".join(parts)


_SECRET_FIELDS = frozenset({"access_token", "refresh_token", "id_token", "signature", "message", "nonce"})


def describe_challenge(response: httpx.Response) -> str:
    """The challenge's nonce fingerprint and expiry (or the denial)."""
    if response.status_code != 200:
        return describe_response(response)
    body = _json(response) or {}
    nonce = body.get("nonce")
    shown = fingerprint(nonce) if isinstance(nonce, str) else "-"
    return f"nonce {shown}, expires_at {body.get('expires_at')}"


def describe_tokens(response: httpx.Response) -> str:
    """Fingerprints of the issued tokens (or the denial)."""
    if response.status_code != 200:
        return describe_response(response)
    body = _json(response) or {}
    access, refresh = body.get("access_token"), body.get("refresh_token")
    text = f"access {fingerprint(access) if isinstance(access, str) else '-'}"
    text += f" ({body.get('token_type')}, expires_in {body.get('expires_in')} s)"
    if isinstance(refresh, str):
        text += f", refresh {fingerprint(refresh)}"
    return text


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
