"""Exporters: the compact console span exporter, the hash-chained audit log and in-memory telemetry for tests.

These import the OpenTelemetry SDK; import them from their modules (``authhooks.exporters.console``…) or from
here, never from the core. ``InMemoryTelemetry`` is loaded lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authhooks.exporters.audit import GENESIS, AuditObserver
from authhooks.exporters.audit_verify import AuditProblem, AuditReport, audit_verify_main, verify_audit_log
from authhooks.exporters.console import CompactConsoleSpanExporter

if TYPE_CHECKING:
    from authhooks.exporters.memory import InMemoryTelemetry, MetricPoint

__all__ = [
    "GENESIS",
    "AuditObserver",
    "AuditProblem",
    "AuditReport",
    "CompactConsoleSpanExporter",
    "InMemoryTelemetry",
    "MetricPoint",
    "audit_verify_main",
    "verify_audit_log",
]


def __getattr__(name: str) -> Any:
    if name in ("InMemoryTelemetry", "MetricPoint"):
        from authhooks.exporters import memory

        return getattr(memory, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
