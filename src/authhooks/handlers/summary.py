"""One handler run, and the safe summary of it that webhooks post, logs print and emails send.

The summary is built from a fixed list of fields, never from the inputs wholesale: it never holds a token, a
refresh token, a signature, a challenge, credentials, a password, claims or headers. The subject appears only as
telemetry records it (``AUTHHOOKS_RECORD_SUBJECT``: in clear; ``AUTHHOOKS_RECORD_SUBJECT_HASHED``: a keyed hash;
otherwise not at all), and so does the client address (only with ``record_subject``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authhooks._redact import SubjectRecorder
from authhooks.handlers.facts import Proxies, outcome_of, principal_of, scopes_of, subject_of
from authhooks.hooks.points import HookPoint
from authhooks.records import RequestInfo

__all__ = ["FIELDS", "Call", "summary"]

FIELDS = (
    "handler",
    "point",
    "flow",
    "stage",
    "outcome",
    "reason",
    "subject",
    "method",
    "path",
    "route",
    "client_ip",
    "scopes",
    "token_type",
    "status_code",
)
"""The fields of a summary, and the placeholders of ``log``, ``email`` and ``add_claims`` templates."""


@dataclass(frozen=True, slots=True)
class Call:
    """One run of one handler: what its action is given.

    Attributes:
        handler: the handler's name (without the ``handler:`` prefix).
        point: the hook point it runs at.
        inputs: the point's inputs, as the hooks before it left them (read-only by contract).
        request: the HTTP request behind the flow, or ``None``.
        auth: the :class:`~authhooks.AuthHooks` instance.
    """

    handler: str
    point: HookPoint
    inputs: Mapping[str, Any]
    request: RequestInfo | None
    auth: Any


def summary(call: Call, subjects: SubjectRecorder, proxies: Proxies) -> dict[str, Any]:
    """The safe summary of ``call`` (see the module docstring); absent facts are ``None``."""
    inputs, request = call.inputs, call.request
    principal = principal_of(inputs)
    reason = inputs.get("reason")
    status = inputs.get("status_code")
    client_ip = None
    if subjects.mode == "clear":
        ip = proxies.client_ip(request)
        client_ip = None if ip is None else str(ip)
    return {
        "handler": call.handler,
        "point": call.point.name,
        "flow": call.point.flow,
        "stage": call.point.stage,
        "outcome": outcome_of(call.point, inputs),
        "reason": reason if isinstance(reason, str) else None,
        "subject": subjects.value(subject_of(inputs)),
        "method": request.method if request is not None else _str(inputs.get("method")),
        "path": request.path if request is not None else _str(inputs.get("path")),
        "route": request.route if request is not None else None,
        "client_ip": client_ip,
        "scopes": sorted(scopes_of(inputs)) or None,
        "token_type": principal.token_type if principal is not None else _str(inputs.get("token_type")),
        "status_code": status if isinstance(status, int) and not isinstance(status, bool) else None,
    }


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
