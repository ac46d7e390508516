"""Loading a handlers file: TOML (``tomllib``; ``tomli`` on Python 3.10) into compiled :class:`Handler` specs.

Loading is strict. A TOML syntax error, an unknown key, condition, action or option, a value of the wrong type, a
point the action cannot run at (``deny`` at a notification point), a missing environment variable for a secret,
a duplicate name: each is a :class:`~authhooks.errors.ConfigurationError` that names the file, the line of the
field (of the handler when the field is absent) and the field, with a "did you mean" for near misses::

    handlers.toml:14: handler 'throttle-login': options.limt: unknown key; did you mean 'limit'? (known: …)

A file is a list of ``[[handler]]`` tables:

=============== ===================================================================================================
key             meaning
=============== ===================================================================================================
``name``        unique; the hook is registered as ``handler:<name>`` (telemetry, audit, ``after=``)
``event``       a hook point (``login.failed``), a seed alias (``post_auth``), a declared application point, or a
                list of them; ``request.pre``/``request.post`` for observed routes
``action``      ``webhook``, ``log``, ``deny``, ``rate_limit``, ``lockout``, ``add_claims``, ``revoke_tokens``,
                ``email``, ``python``
                (with ``options.function``), or ``"module:function"`` (a Python hook, shorthand for ``python``)
``options``     the action's options (a table)
``conditions``  when the handler runs, AND-combined (see :mod:`~authhooks.handlers.conditions`)
``order``       lower runs first (default 0), then ``tryfirst``/``trylast`` and ``after``/``before`` (names of
                hooks or of other handlers of the file) exactly as for Python hooks
``enforce``     false: shadow mode, a denial is recorded, not enforced
``background``  run through the background queue (notification points)
``timeout``     bound of one run (a duration); without it, an action's own timeouts bound it
``on_error``    ``deny``, ``ignore`` or ``raise`` (defaults as for hooks: ``deny`` at decision points)
``enabled``     false: loaded, listed, but not registered until enabled (default true)
``description`` free text shown by ``list``
=============== ===================================================================================================
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from authhooks import _toml
from authhooks.errors import ConfigurationError, HookError
from authhooks.handlers.actions import Action, AddClaims, DenyAction, LogAction, RevokeTokens, point_allows
from authhooks.handlers.conditions import Condition, compile_conditions, import_function
from authhooks.handlers.email import EmailAction
from authhooks.handlers.limits import Lockout, RateLimit
from authhooks.handlers.spec import (
    Env,
    Problem,
    check_keys,
    duration,
    flag,
    integer,
    string,
    strings,
    suggestion,
    table,
)
from authhooks.handlers.webhook import WebhookAction
from authhooks.hooks.points import HookPoint, PointKind, resolve_point

__all__ = ["ACTIONS", "KEYS", "Binding", "Handler", "HandlersSource", "load"]

ACTIONS = ("webhook", "log", "deny", "rate_limit", "lockout", "add_claims", "revoke_tokens", "email", "python")
KEYS = (
    "name",
    "event",
    "action",
    "options",
    "conditions",
    "order",
    "tryfirst",
    "trylast",
    "after",
    "before",
    "enforce",
    "background",
    "timeout",
    "on_error",
    "enabled",
    "description",
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_POLICIES = ("deny", "ignore", "raise")

HandlersSource = str | os.PathLike[str] | Mapping[str, Any]
"""A handlers file path, or the parsed mapping itself (``{"handler": [{...}, ...]}``)."""


@dataclass(frozen=True, slots=True)
class Binding:
    """One handler at one point.

    Attributes:
        point: the hook point.
        action: the compiled action, or the Python hook of a ``python`` action.
        condition: the compiled conditions at this point, or ``None``.
    """

    point: HookPoint
    action: Action | Callable[..., Any]
    condition: Condition | None


@dataclass(frozen=True, slots=True)
class Handler:
    """A compiled handler: everything checked, ready to register.

    Attributes:
        name: the handler's name; its hooks are named ``handler:<name>``.
        action: the action name (``python`` for a Python hook).
        bindings: one per event.
        line: the line of its ``[[handler]]`` in the file (``None`` for a mapping).
        where: ``FILE:LINE`` or ``handler[i]``, for messages.
    """

    name: str
    action: str
    bindings: tuple[Binding, ...]
    order: int = 0
    tryfirst: bool = False
    trylast: bool = False
    after: tuple[str, ...] = ()
    before: tuple[str, ...] = ()
    enforce: bool = True
    background: bool = False
    timeout: float | None = None
    on_error: str | None = None
    enabled: bool = True
    description: str = ""
    conditions: Mapping[str, Any] = field(default_factory=dict)
    line: int | None = None
    where: str = ""

    @property
    def hook_name(self) -> str:
        """The name its hooks are registered under."""
        return f"handler:{self.name}"


class _Lines:
    """Finds the line of a handler and of a field in the TOML text (for messages)."""

    _HEADER = re.compile(r"^\s*\[\[\s*handler\s*\]\]")

    def __init__(self, text: str | None) -> None:
        self.lines = text.splitlines() if text is not None else []
        self.starts = [i for i, line in enumerate(self.lines) if self._HEADER.match(line)]

    def handler(self, index: int) -> int | None:
        return self.starts[index] + 1 if index < len(self.starts) else None

    def field(self, index: int, dotted: str) -> int | None:
        if index >= len(self.starts):
            return None
        start = self.starts[index]
        end = self.starts[index + 1] if index + 1 < len(self.starts) else len(self.lines)
        found, position = None, start
        for part in (re.sub(r"\[\d+\]$", "", p) for p in dotted.split(".")):
            name = re.escape(part)
            key = re.compile(
                rf"^\s*\[\[?\s*handler(?:\.[\w-]+)*\.{name}(?:\.[\w-]+)*\s*\]|^\s*\"?{name}\"?\s*=|[{{,]\s*\"?{name}\"?\s*="
            )
            for i in range(position, end):
                if key.search(self.lines[i]):
                    found, position = i + 1, i
                    break
        return found if found is not None else start + 1


def _read(source: HandlersSource) -> tuple[Mapping[str, Any], str | None, Path | None]:
    if isinstance(source, Mapping):
        return source, None, None
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the handlers file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{path}: the handlers file is not UTF-8 text") from None
    try:
        data = _toml.loads(text)
    except _toml.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column \d+\)", message)
        line = match.group(1) if match else "?"
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        raise ConfigurationError(f"{path}:{line}: not valid TOML: {message}") from None
    return data, text, path


def load(
    source: HandlersSource,
    env: Env,
    clock: Callable[[], float] = time.time,
    errors: list[ConfigurationError] | None = None,
) -> tuple[Handler, ...]:
    """Read and compile every handler of ``source``.

    Args:
        errors: when given, a handler with a problem is skipped and its error appended here (``check`` reports
            them all); otherwise the first problem is raised.

    Raises:
        ConfigurationError: the first problem, naming the file, the line and the field (see the module docstring);
            a file that cannot be read or parsed at all, even with ``errors``.
    """
    data, text, path = _read(source)
    lines = _Lines(text)
    label = str(path) if path is not None else "handlers"
    if env.file is None and path is not None:
        env = Env(env.settings, env.proxies, env.points, path, env.breakers, env.environ)
    try:
        check_keys(data, ("handler",), "")
    except Problem as exc:
        raise ConfigurationError(
            f"{label}: {exc.field}: {exc.message} (a handlers file holds [[handler]] tables)"
        ) from None
    entries = data.get("handler", [])
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise ConfigurationError(f"{label}: `handler` must be an array of tables: write each as [[handler]]")
    names = [e.get("name") if isinstance(e.get("name"), str) else None for e in entries]
    handlers: list[Handler] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        line = lines.handler(index)
        name = names[index]
        where = f"{label}:{line}" if line is not None else f"{label}: handler[{index}]"
        try:
            if name is not None and name in seen:
                raise Problem("name", f"duplicate handler name (first at handler[{seen[name]}])")
            handler = _compile(entry, env, clock, {n for n in names if n}, line, where)
        except Problem as exc:
            at = lines.field(index, exc.field) if text is not None else None
            place = f"{label}:{at}" if at is not None else where
            who = f"handler {name!r}" if name else f"handler[{index}]"
            error = ConfigurationError(f"{place}: {who}: {exc.field}: {exc.message}")
            if errors is None:
                raise error from None
            errors.append(error)
            continue
        if name is not None:
            seen[name] = index
        handlers.append(handler)
    return tuple(handlers)


def _names(value: Sequence[str], handlers: set[str]) -> tuple[str, ...]:
    return tuple(f"handler:{n}" if n in handlers else n for n in value)


def _compile(
    entry: Mapping[str, Any], env: Env, clock: Callable[[], float], handlers: set[str], line: int | None, where: str
) -> Handler:
    check_keys(entry, KEYS, "")
    name = string(entry, "name")
    if not _NAME.match(name):
        raise Problem("name", "use letters, digits, '_', '-' and '.', starting with a letter or digit")
    action = string(entry, "action")
    options = table(entry, "options", "", {})
    conditions = table(entry, "conditions", "", {})
    python_ref: str | None = None
    if ":" in action:
        python_ref, action = action, "python"
    elif action not in ACTIONS:
        raise Problem("action", f"unknown action {action!r}{suggestion(action, ACTIONS)} (known: {', '.join(ACTIONS)})")
    background = flag(entry, "background", "", False)
    timeout = duration(entry, "timeout", "", None)
    on_error = string(entry, "on_error", "", None)
    if on_error is not None and on_error not in _POLICIES:
        raise Problem(
            "on_error", f"expected one of {', '.join(_POLICIES)}, got {on_error!r}{suggestion(on_error, _POLICIES)}"
        )
    tryfirst, trylast = flag(entry, "tryfirst", "", False), flag(entry, "trylast", "", False)
    if tryfirst and trylast:
        raise Problem("trylast", "tryfirst and trylast exclude each other")
    if action == "python":
        if python_ref is None:
            check_keys(options, ("function",), "options")
            python_ref = string(options, "function", "options")
        elif options:
            raise Problem("options", 'a "module:function" action takes no options')
    bindings: list[Binding] = []
    for spec in strings(entry, "event"):
        try:
            point = resolve_point(spec, dict(env.points))
        except HookError as exc:
            raise Problem("event", str(exc)) from None
        if background and point.kind is not PointKind.NOTIFICATION:
            raise Problem(
                "background",
                f"only notification points (post, failed) run handlers in the background; {point.name} decides",
            )
        compiled: Action | Callable[..., Any]
        if python_ref is not None:
            compiled = import_function(python_ref, "action" if ":" in str(entry.get("action")) else "options.function")
        else:
            compiled = _action(action, options, point, env, name, timeout)
            why = point_allows(type(compiled), point)
            if why is not None:
                raise Problem("event", why)
        bindings.append(Binding(point, compiled, compile_conditions(conditions, point, env, clock)))
    return Handler(
        name=name,
        action=action,
        bindings=tuple(bindings),
        order=integer(entry, "order", "", 0),
        tryfirst=tryfirst,
        trylast=trylast,
        after=_names(strings(entry, "after", "", ()), handlers),
        before=_names(strings(entry, "before", "", ()), handlers),
        enforce=flag(entry, "enforce", "", True),
        background=background,
        timeout=timeout,
        on_error=on_error,
        enabled=flag(entry, "enabled", "", True),
        description=string(entry, "description", "", ""),
        conditions=dict(conditions),
        line=line,
        where=where,
    )


def _action(
    kind: str, options: Mapping[str, Any], point: HookPoint, env: Env, name: str, timeout: float | None
) -> Action:
    if kind == "log":
        return LogAction(options, point, env)
    if kind == "deny":
        if point.kind is PointKind.NOTIFICATION:
            raise Problem("event", f"deny stops a flow, so it needs a decision point; {point.name} only notifies")
        return DenyAction(options, point, env)
    if kind == "add_claims":
        return AddClaims(options, point, env)
    if kind == "revoke_tokens":
        return RevokeTokens(options, point, env)
    if kind == "rate_limit":
        if point.kind is PointKind.NOTIFICATION:
            raise Problem("event", f"rate_limit denies, so it needs a decision point; {point.name} only notifies")
        return RateLimit(options, point, env, name)
    if kind == "lockout":
        return Lockout(options, point, env, name)
    if kind == "email":
        return EmailAction(options, env)
    if kind == "webhook":
        return WebhookAction(options, point, env, name, timeout)
    raise Problem("action", f"unknown action {kind!r}")  # pragma: no cover - ACTIONS is checked first
