"""Declarative event handlers (product.md §6): bind auth events to built-in actions under conditions, from a TOML
file, as hooks of the one registry.

- :mod:`~authhooks.handlers.loading`: the file format, strict loading, errors naming file, line and field;
- :mod:`~authhooks.handlers.conditions`: the conditions, compiled once;
- :mod:`~authhooks.handlers.actions`, :mod:`~authhooks.handlers.limits`, :mod:`~authhooks.handlers.webhook`,
  :mod:`~authhooks.handlers.email`: the actions;
- :mod:`~authhooks.handlers.registration`: handlers registered as hooks, listed, enabled and disabled at run time.

``AuthHooks`` loads ``AUTHHOOKS_HANDLERS_FILE`` (or ``AuthHooks(handlers=path_or_mapping)``) at construction;
``auth.load_handlers(source)`` and ``auth.reload_handlers()`` replace the set atomically.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from authhooks.errors import ConfigurationError
from authhooks.handlers.breaker import Breakers
from authhooks.handlers.facts import Proxies, parse_networks
from authhooks.handlers.loading import ACTIONS, Handler, HandlersSource, load
from authhooks.handlers.registration import HandlerInfo, HandlerSet
from authhooks.handlers.spec import Env

__all__ = ["ACTIONS", "Handler", "HandlerInfo", "HandlerSet", "HandlersSource", "build", "empty", "swap"]

logger = logging.getLogger("authhooks.handlers")


def _env(auth: Any, breakers: Breakers | None, environ: Mapping[str, str] | None) -> Env:
    try:
        proxies = Proxies(parse_networks(auth.settings.trusted_proxies, "AUTHHOOKS_TRUSTED_PROXIES"))
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    return Env(auth.settings, proxies, auth.points, None, breakers or Breakers(), environ)


def empty(auth: Any) -> HandlerSet:
    """A set without handlers (what ``auth.handlers`` is before any file is loaded)."""
    return HandlerSet(auth, (), Env(auth.settings, Proxies(), auth.points), None)


def build(
    auth: Any, source: HandlersSource, previous: HandlerSet | None = None, environ: Mapping[str, str] | None = None
) -> HandlerSet:
    """Load and compile ``source`` for ``auth`` (nothing is registered yet).

    Raises:
        ConfigurationError: naming the file, the line and the field.
    """
    breakers = previous.env.breakers if previous is not None else None
    env = _env(auth, breakers, environ)
    handlers = load(source, env, auth.clock)
    return HandlerSet(auth, handlers, env, None if isinstance(source, Mapping) else source)


def swap(auth: Any, old: HandlerSet | None, new: HandlerSet) -> None:
    """Replace ``old``'s hooks by ``new``'s under the registry's lock; when ``new`` cannot be registered, ``old``
    is put back and the error raised.

    Raises:
        ConfigurationError: a hook of ``new`` the registry refuses, naming the handler's file and line.
    """
    with auth._registry._lock:  # the registry's own (reentrant) lock: no registration interleaves the swap
        if old is not None:
            old.uninstall()
        try:
            new.install()
        except ConfigurationError:
            if old is not None:
                old.install()
            raise
