"""The simple built-in actions: ``log``, ``deny``, ``add_claims``, ``revoke_tokens``; and the shape of an action.

An action is compiled once, at load, from ``[handler.options]``, and then run once per handler run: blocking
under the sync driver (:meth:`Action.run_sync`), awaited on the event loop under the async driver
(:meth:`Action.run_async`). It returns what a hook returns: ``None``, a mapping of inputs to change (decision
points), or a :class:`~authhooks.errors.Deny`.

=================  ===============================================================================================
action             options
=================  ===============================================================================================
``log``            ``template`` (placeholders: :data:`~authhooks.handlers.summary.FIELDS`; default
                   ``"{handler}: {point} {outcome} {reason}"``), ``level`` (``debug``, ``info``, ``warning``,
                   ``error``; default ``info``); logger ``authhooks.handlers``
``deny``           ``status`` (400-599, default 403), ``reason`` (default ``denied``), ``description``,
                   ``headers`` (a table of strings); decision and provide points only
``add_claims``     ``claims``: a table of claims to add; string values are templates (the summary fields and
                   ``{now}``, Unix seconds); registered claims (``sub``, ``exp``…) are refused. At points whose
                   ``claims`` input may change: ``issue_token.pre``, ``login.verified``
``revoke_tokens``  no options: revoke every token and refresh family of the event's subject (its ``subject`` input
                   or principal), in every instance (``auth.revoke_subject``); at points with a subject or principal
=================  ===============================================================================================
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from authhooks._redact import SubjectRecorder
from authhooks.errors import Deny
from authhooks.handlers.facts import claims_of, principal_of
from authhooks.handlers.spec import Env, Problem, check_keys, integer, string, table
from authhooks.handlers.summary import FIELDS, Call, summary
from authhooks.handlers.values import template_fields
from authhooks.hooks.points import HookPoint, PointKind

__all__ = ["Action", "AddClaims", "DenyAction", "LogAction", "Reserved", "RevokeTokens", "subjects_of"]

logger = logging.getLogger("authhooks.handlers")

Reserved = frozenset({"sub", "iss", "aud", "exp", "nbf", "iat", "jti", "typ", "scope", "scp", "cnf"})
"""Registered claims (RFC 7519 §4.1) and those the token layer owns: ``add_claims`` may not set them."""

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def subjects_of(env: Env) -> SubjectRecorder:
    """The subject policy of telemetry, applied to handler output."""
    return SubjectRecorder(env.settings.record_subject, env.settings.record_subject_hashed)


class Action(ABC):
    """A compiled action (see the module docstring).

    Attributes:
        kind: the ``action`` name in the file.
        decision_only: only at decision and provide points (it denies or changes inputs).
    """

    kind: ClassVar[str] = ""
    decision_only: ClassVar[bool] = False
    options: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def run_sync(self, call: Call) -> Any:
        """Run under the sync driver (the caller's thread); every action implements it."""

    async def run_async(self, call: Call) -> Any:
        """Run under the async driver (on the event loop; must not block)."""
        return self.run_sync(call)

    def close(self) -> None:  # noqa: B027 - optional: most actions hold nothing
        """Release what the action holds (nothing, for most)."""


def _render(template: str, fields: Mapping[str, Any]) -> str:
    return template.format_map({k: ("-" if v is None else v) for k, v in fields.items()})


class LogAction(Action):
    """``log``: one structured line from a template of safe placeholders."""

    kind = "log"
    options = ("template", "level")

    def __init__(self, options: Mapping[str, Any], point: HookPoint, env: Env) -> None:
        check_keys(options, self.options, "options")
        self.template = string(options, "template", "options", "{handler}: {point} {outcome} {reason}")
        try:
            template_fields(self.template, FIELDS)
        except ValueError as exc:
            raise Problem("options.template", str(exc)) from None
        level = string(options, "level", "options", "info")
        if level not in _LEVELS:
            raise Problem("options.level", f"expected one of {', '.join(_LEVELS)}, got {level!r}")
        self.level = _LEVELS[level]
        self.subjects, self.proxies = subjects_of(env), env.proxies

    def run_sync(self, call: Call) -> None:
        fields = summary(call, self.subjects, self.proxies)
        logger.log(self.level, _render(self.template, fields), extra={"authhooks_event": fields})


class DenyAction(Action):
    """``deny``: stop the flow with a status, reason and headers."""

    kind = "deny"
    decision_only = True
    options = ("status", "reason", "description", "headers")

    def __init__(self, options: Mapping[str, Any], point: HookPoint, env: Env) -> None:
        check_keys(options, self.options, "options")
        self.status = integer(options, "status", "options", 403, low=400, high=599)
        self.reason = string(options, "reason", "options", "denied")
        self.description = string(options, "description", "options", None)
        headers = table(options, "headers", "options", {})
        for key, value in headers.items():
            if not isinstance(value, str) or "\n" in value or "\r" in value:
                raise Problem(f"options.headers.{key}", "expected a single-line string")
        self.headers = dict(headers)

    def run_sync(self, call: Call) -> Deny:
        return Deny(self.status, self.reason, headers=self.headers, description=self.description)


class AddClaims(Action):
    """``add_claims``: add static or templated claims before a token is issued."""

    kind = "add_claims"
    decision_only = True
    options = ("claims",)

    def __init__(self, options: Mapping[str, Any], point: HookPoint, env: Env) -> None:
        check_keys(options, self.options, "options")
        if "claims" not in point.mutable:
            raise Problem(
                "event",
                f"add_claims needs a point whose claims may change (issue_token.pre, login.verified), not {point.name}",
            )
        claims = table(options, "claims", "options")
        if not claims:
            raise Problem("options.claims", "expected at least one claim")
        self.static: dict[str, Any] = {}
        self.templates: dict[str, str] = {}
        for key, value in claims.items():
            if key in Reserved:
                raise Problem(f"options.claims.{key}", "is a registered claim the token layer sets; add_claims may not")
            if isinstance(value, str) and "{" in value:
                try:
                    template_fields(value, (*FIELDS, "now"))
                except ValueError as exc:
                    raise Problem(f"options.claims.{key}", str(exc)) from None
                self.templates[key] = value
            else:
                self.static[key] = _json_value(value, f"options.claims.{key}")
        self.subjects, self.proxies = SubjectRecorder(True), env.proxies

    def run_sync(self, call: Call) -> dict[str, Any]:
        added = dict(self.static)
        if self.templates:
            fields = summary(call, self.subjects, self.proxies)
            fields["now"] = int(call.auth.clock())
            for key, template in self.templates.items():
                added[key] = _render(template, fields)
        return {"claims": {**claims_of(call.inputs), **added}}


def _json_value(value: Any, where: str) -> Any:
    import datetime as dt

    if isinstance(value, (dt.date, dt.time)):
        raise Problem(where, "dates are not JSON claim values; use a Unix time or a string")
    if isinstance(value, list):
        return [_json_value(v, where) for v in value]
    if isinstance(value, Mapping):
        return {k: _json_value(v, where) for k, v in value.items()}
    return value


class RevokeTokens(Action):
    """``revoke_tokens``: revoke every access token and refresh family of the event's subject, in every instance
    (``auth.revoke_subject``: a not-before mark in the store, pushed to every validated-token cache).

    The subject is the point's ``subject`` input or its principal's: never a name a request body supplies (at
    ``request.*`` points), which would let anyone end anyone's logins.
    """

    kind = "revoke_tokens"

    def __init__(self, options: Mapping[str, Any], point: HookPoint, env: Env) -> None:
        check_keys(options, self.options, "options")
        if not {"subject", "principal"} & set(point.inputs):
            raise Problem("event", f"revoke_tokens needs a point with a subject or principal; {point.name} has none")

    @staticmethod
    def _subject(call: Call) -> str | None:
        subject = call.inputs.get("subject")
        if isinstance(subject, str) and subject:
            return subject
        principal = principal_of(call.inputs)
        return principal.subject if principal is not None else None

    def run_sync(self, call: Call) -> None:
        subject = self._subject(call)
        if subject is not None:
            call.auth.sync.revoke_subject(subject)

    async def run_async(self, call: Call) -> None:
        subject = self._subject(call)
        if subject is not None:
            await call.auth.revoke_subject(subject)


def point_allows(action: type[Action], point: HookPoint) -> str | None:
    """Why ``action`` cannot run at ``point``, or ``None``."""
    if action.decision_only and point.kind is PointKind.NOTIFICATION:
        return f"{action.kind} denies or changes inputs, so it needs a decision point; {point.name} only notifies"
    return None
