"""The ``authorize`` flow (sans-IO): may this principal do this? (lback's permission check, Starlette's
``requires``.)

1. ``authorize.pre`` (decision): may change ``required_scopes``, grant outright by returning
   ``{"granted": True}``, or deny.
2. Unless a hook granted, access needs every required scope in ``principal.scopes`` and, when a ``permission``
   is named, that permission among the principal's scopes or in its ``permissions`` claim (a list of strings).
   A permission nobody grants is refused: authorization fails closed.
3. ``authorize.post`` (granted) or ``authorize.failed`` (denied, with ``reason``), then the principal is
   returned or :class:`~authhooks.errors.InsufficientScope` (403, RFC 6750 §3.1) is raised.

The required scopes (as a hook left them) are noted for observers: telemetry writes them on the ``authorize``
span as ``authhooks.authorize.required_scopes``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from authhooks.errors import HookError, InsufficientScope
from authhooks.events import Flow
from authhooks.flows.effects import FlowGen, Note, RunHooks, flow
from authhooks.flows.login import failure_reason
from authhooks.hooks.points import CATALOGUE
from authhooks.records import Principal

__all__ = ["authorize", "required_tuple"]

_PRE, _POST, _FAILED = CATALOGUE["authorize.pre"], CATALOGUE["authorize.post"], CATALOGUE["authorize.failed"]


def required_tuple(value: object) -> tuple[str, ...]:
    """Required scopes as a tuple in the given order, without duplicates: a space-separated string or strings.

    Raises:
        TypeError: anything else.
    """
    items: Iterable[object] = value.split() if isinstance(value, str) else value  # type: ignore[assignment]
    if isinstance(value, (bytes, dict)) or not isinstance(items, Iterable):
        raise TypeError("required scopes are a space-separated string or an iterable of strings")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item or " " in item:
            raise TypeError("each required scope is a non-empty string without spaces")
        if item not in out:
            out.append(item)
    return tuple(out)


def _holds(principal: Principal, permission: str) -> bool:
    if permission in principal.scopes:
        return True
    held = principal.claims.get("permissions")
    return isinstance(held, (list, tuple)) and permission in held


@flow(Flow.AUTHORIZE)
def authorize(principal: Principal, required_scopes: tuple[str, ...], permission: str | None) -> FlowGen[Principal]:
    """The ``authorize`` flow; see the module docstring. Returns ``principal`` when access is granted.

    Raises:
        InsufficientScope: reason ``insufficient_scope`` (scopes missing) or ``permission_denied``.
        Deny: an ``authorize.pre`` hook denied.
    """
    values: dict[str, Any] = {
        "principal": principal,
        "required_scopes": required_scopes,
        "permission": permission,
        "granted": False,
    }
    try:
        yield Note(subject=principal.subject, details={"required_scopes": required_scopes})
        yield RunHooks(_PRE, values)
        try:
            required = required_tuple(values["required_scopes"])
        except TypeError as exc:
            raise HookError(f"an authorize.pre hook set invalid required_scopes: {exc}") from None
        values["required_scopes"] = required
        if required != required_scopes:  # a hook changed them: observers see the scopes actually checked
            yield Note(details={"required_scopes": required})
        if values["granted"] is True:
            granted, reason = True, None
        elif not principal.has_scopes(required):
            granted, reason = False, "insufficient_scope"
        elif permission is not None and not _holds(principal, permission):
            granted, reason = False, "permission_denied"
        else:
            granted, reason = True, None
        if not granted:
            raise InsufficientScope(reason=reason, required_scopes=required)
    except Exception as exc:
        reason = failure_reason(exc)
        yield Note(reason=reason)
        failed = {
            "principal": principal,
            "required_scopes": values["required_scopes"],
            "permission": permission,
            "reason": reason,
        }
        yield RunHooks(_FAILED, failed)
        raise
    yield RunHooks(_POST, {"principal": principal, "required_scopes": required, "permission": permission})
    return principal
