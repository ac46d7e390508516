"""A compact console span exporter: one readable line per authhooks flow span.

::

    authhooks.login success 3.2ms  rate_limit:continue add_claim:modify
    authhooks.validate_token failure token_expired 0.4ms
    authhooks.validate_token short_circuit hook_error 1.1ms !hook_error  slow_check:timeout
    authhooks.hook background notify_slack:continue 12.0ms  (login)

The line holds the flow span's name, outcome, reason, duration, ``!<error.type>`` for a fault, and the hook
decisions in order, taken from the ``authhooks.hook`` events (``event`` mode) or child spans (``span`` mode;
those end before their flow span and are held until it arrives, at most :data:`PENDING_LIMIT` flows).
Shadow-mode runs are marked ``~``. Other spans (HTTP server spans…) are skipped unless ``all_spans=True``.
Nothing but authhooks' own low-cardinality attributes is printed (the subject only when it was recorded).
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, TextIO

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.util.types import Attributes

from authhooks.telemetry import names

__all__ = ["PENDING_LIMIT", "CompactConsoleSpanExporter", "format_decision"]

PENDING_LIMIT = 1024
"""Flows whose child hook spans are held while waiting for the flow span."""


def format_decision(attributes: Attributes) -> str:
    """``name:decision`` for a hook event's or span's attributes (``~`` prefix for shadow-mode runs)."""
    attrs = attributes or {}
    mark = "~" if attrs.get(names.ATTR_HOOK_ENFORCED) is False else ""
    return f"{mark}{attrs.get(names.ATTR_HOOK_NAME, '?')}:{attrs.get(names.ATTR_HOOK_DECISION, '?')}"


def _millis(span: ReadableSpan) -> str:
    if span.start_time is None or span.end_time is None:
        return "?ms"
    return f"{(span.end_time - span.start_time) / 1e6:.1f}ms"


class CompactConsoleSpanExporter(SpanExporter):
    """Writes one line per flow span to ``stream`` (default ``sys.stderr``, looked up at each write).

    Args:
        stream: where to write.
        all_spans: also print a short line for spans that are not authhooks'.
    """

    def __init__(self, stream: TextIO | None = None, *, all_spans: bool = False) -> None:
        self._stream = stream
        self._all_spans = all_spans
        self._lock = threading.Lock()
        self._pending: OrderedDict[int, list[str]] = OrderedDict()
        self._closed = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Format and write the flow spans among ``spans``."""
        if self._closed:
            return SpanExportResult.FAILURE
        lines: list[str] = []
        with self._lock:
            for span in spans:
                line = self._line(span)
                if line is not None:
                    lines.append(line)
        if lines:
            stream = self._stream if self._stream is not None else sys.stderr
            stream.write("\n".join(lines) + "\n")
            stream.flush()
        return SpanExportResult.SUCCESS

    def _line(self, span: ReadableSpan) -> str | None:
        attrs: Any = span.attributes or {}
        name = span.name
        if name == names.SPAN_HOOK:
            if attrs.get(names.ATTR_HOOK_BACKGROUND):
                return f"{name} background {format_decision(attrs)} {_millis(span)}  ({attrs.get(names.ATTR_FLOW)})"
            if span.parent is not None:
                held = self._pending.setdefault(span.parent.span_id, [])
                held.append(format_decision(attrs))
                self._pending.move_to_end(span.parent.span_id)
                while len(self._pending) > PENDING_LIMIT:
                    self._pending.popitem(last=False)
            return None
        if names.ATTR_OUTCOME not in attrs:
            return f"{name} {_millis(span)}" if self._all_spans else None
        parts = [name, str(attrs[names.ATTR_OUTCOME])]
        if names.ATTR_REASON in attrs:
            parts.append(str(attrs[names.ATTR_REASON]))
        parts.append(_millis(span))
        if names.ATTR_ERROR_TYPE in attrs:
            parts.append(f"!{attrs[names.ATTR_ERROR_TYPE]}")
        for key in (names.ATTR_SUBJECT, names.ATTR_SUBJECT_HASH):
            if key in attrs:
                parts.append(f"subject={attrs[key]}")
        decisions = [format_decision(e.attributes) for e in span.events if e.name == names.EVENT_HOOK]
        decisions += self._pending.pop(span.context.span_id, []) if span.context is not None else []
        line = " ".join(parts)
        return f"{line}  {' '.join(decisions)}" if decisions else line

    def shutdown(self) -> None:
        """Stop exporting; pending hook spans are discarded."""
        self._closed = True
        self._pending.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Lines are written at export time: nothing to flush."""
        return True
