"""Telemetry: the OpenTelemetry observer of flows and hook runs, and the opt-in SDK set-up.

``TelemetryObserver`` uses the OpenTelemetry API only; ``setup()`` imports the SDK when it is called. Every span,
metric, event and attribute name is declared in :mod:`authhooks.telemetry.names`.
"""

from __future__ import annotations

from authhooks.telemetry import names
from authhooks.telemetry.faults import error_type_of, fault_type
from authhooks.telemetry.setup import TelemetryHandle, setup
from authhooks.telemetry.tracing import FLOW_SPAN_CONTEXT, TelemetryObserver, flow_span_context

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
