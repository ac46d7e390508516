"""Faults versus rejections: which flow runs get span status ``Error`` and which ``error.type`` they carry.

A rejected credential, a failed login or a hook's denial is the flow doing its job: the span status stays
``Unset`` and the outcome (``failure`` / ``short_circuit``) and reason say what happened, as a 4xx stays
``Unset`` on an HTTP server span. Only faults — the service could not decide — set ``Error`` and ``error.type``:

- ``run.fault`` is set to anything but a plain rejection (:class:`~authhooks.errors.AuthError` other than
  :class:`~authhooks.errors.HookFailed`), mapped by :func:`error_type_of`;
- or an enforced, non-background hook run raised or timed out and **failed closed** (its ``on_error`` policy was
  ``deny``, so the record carries reason ``hook_error``/``hook_timeout``): the 503 the client gets is a fault.

A hook that raised under the ``ignore`` policy was handled: the flow span stays ``Unset`` (the hook's own event
or span carries ``error.type``). Shadow-mode failures never fault the flow.
"""

from __future__ import annotations

from authhooks.errors import (
    AuthError,
    ConfigurationError,
    HookError,
    HookFailed,
    KeySetUnavailableError,
    StoreError,
)
from authhooks.events import Decision
from authhooks.hooks.observer import FlowRun, HookRecord
from authhooks.telemetry import names

__all__ = ["error_type_of", "fault_type", "hook_error_type"]

_FAILED = (Decision.ERROR, Decision.TIMEOUT)


def error_type_of(exc: BaseException) -> str | None:
    """The ``error.type`` of a fault exception, or ``None`` when ``exc`` is a rejection (not a fault)."""
    if isinstance(exc, HookFailed):
        return names.ERROR_HOOK_TIMEOUT if exc.reason == names.ERROR_HOOK_TIMEOUT else names.ERROR_HOOK
    if isinstance(exc, AuthError):
        return None
    if isinstance(exc, KeySetUnavailableError):
        return names.ERROR_KEY_SET_UNAVAILABLE
    if isinstance(exc, StoreError):
        return names.ERROR_STORE_UNAVAILABLE
    if isinstance(exc, HookError):
        return names.ERROR_HOOK
    if isinstance(exc, ConfigurationError):
        return names.ERROR_CONFIGURATION
    return names.ERROR_INTERNAL


def hook_error_type(record: HookRecord) -> str | None:
    """``hook_error`` / ``hook_timeout`` for a hook run that raised or timed out (shadow ones included)."""
    if record.error_type is None and record.decision not in _FAILED:
        return None
    if record.decision is Decision.TIMEOUT or record.reason == names.ERROR_HOOK_TIMEOUT:
        return names.ERROR_HOOK_TIMEOUT
    return names.ERROR_HOOK


def fault_type(run: FlowRun) -> str | None:
    """The ``error.type`` of a flow run that ended in a fault, or ``None`` (see the module docstring)."""
    if run.fault is not None:
        found = error_type_of(run.fault)
        if found is not None:
            return found
    for record in run.hooks:
        if (
            record.decision in _FAILED
            and record.enforced
            and not record.background
            and record.reason is not None  # set only when the deny policy failed the flow closed
        ):
            return names.ERROR_HOOK_TIMEOUT if record.decision is Decision.TIMEOUT else names.ERROR_HOOK
    return None
