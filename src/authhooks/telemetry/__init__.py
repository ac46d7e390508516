"""Telemetry: the OpenTelemetry observer of flows and hook runs, and the opt-in SDK set-up.

``TelemetryObserver`` uses the OpenTelemetry API only. Every span, metric, event and attribute name is declared in
:mod:`authhooks.telemetry.names`.

``setup()`` and ``TelemetryHandle`` live in :mod:`authhooks.exporters.setup` (they build exporters, and the
exporters build on this package); they are offered here, imported on first access, so that
``authhooks.telemetry.setup()`` stays the public spelling while importing this package imports neither the
exporters nor the SDK. That lazy alias is the one import from ``telemetry`` to ``exporters`` the import-linter
contracts allow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authhooks.telemetry import names
from authhooks.telemetry.faults import error_type_of, fault_type
from authhooks.telemetry.tracing import FLOW_SPAN_CONTEXT, TelemetryObserver, flow_span_context

if TYPE_CHECKING:
    from authhooks.exporters.setup import TelemetryHandle, setup

__all__ = [
    "FLOW_SPAN_CONTEXT",
    "TelemetryHandle",
    "TelemetryObserver",
    "error_type_of",
    "fault_type",
    "flow_span_context",
    "names",
    "setup",
]


def __getattr__(name: str) -> Any:
    if name in ("TelemetryHandle", "setup"):
        from authhooks.exporters.setup import TelemetryHandle, setup

        globals().update(TelemetryHandle=TelemetryHandle, setup=setup)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
