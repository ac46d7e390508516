"""A compact console span exporter: one readable line per authhooks flow span.

::

    authhooks.login success 3.2ms  rate_limit:continue add_claim:modify
    authhooks.validate_token failure token_expired 0.4ms
    authhooks.validate_token short_circuit hook_error 1.1ms !hook_error  slow_check:timeout
    authhooks.hook background notify_slack:continue 12.0ms  (login)

The line holds the flow span's name, outcome, reason, duration, ``!<error.type>`` for a fault, and the hook
decisions in order, taken from the ``authhooks.hook`` events (``event`` mode), the hook arrays (``attributes``
mode) or child spans (``span`` mode; those end before their flow span and are held until it arrives, at most
:data:`PENDING_LIMIT` flows). Shadow-mode runs are marked ``~`` (events and spans). A flow that recorded onto a
span it does not own (the HTTP server span, ``flow_spans=auto``) gets the same line, read from its
``authhooks.<flow>.*`` attributes and the events and hook spans of its points, one line per flow on that span.
Other spans (HTTP server spans without flows…) are skipped unless ``all_spans=True``.
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


_OUTCOME_SUFFIX = names.ATTR_OUTCOME[len(names.PREFIX) - 1 :]  # ".outcome"


def _guests(attrs: Any) -> list[str]:
    """The flows that recorded onto a span as guests: those with an ``authhooks.<flow>.outcome`` attribute."""
    return [
        key[len(names.PREFIX) : -len(_OUTCOME_SUFFIX)]
        for key in attrs
        if key.startswith(names.PREFIX) and key.endswith(_OUTCOME_SUFFIX) and key != names.ATTR_OUTCOME
    ]


def _guest_of(point: str, flows: Sequence[str]) -> str | None:
    """The flow among ``flows`` that ``point`` (``"login.pre"``) belongs to."""
    flow = point.rpartition(".")[0]
    return flow if flow in flows else None


def _joined(parts: list[str], decisions: list[str]) -> str:
    line = " ".join(parts)
    return f"{line}  {' '.join(decisions)}" if decisions else line


def _arrays(attrs: Any, hooks_key: str, decisions_key: str) -> list[str]:
    """``name:decision`` from the hook arrays of ``attributes`` mode (empty when absent)."""
    hooks, decisions = attrs.get(hooks_key), attrs.get(decisions_key)
    if not hooks or not decisions:
        return []
    return [f"{hook}:{decision}" for hook, decision in zip(hooks, decisions, strict=False)]


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
        self._pending: OrderedDict[int, list[tuple[str, str]]] = OrderedDict()  # (point, name:decision)
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
                held.append((str(attrs.get(names.ATTR_HOOK_POINT, "")), format_decision(attrs)))
                self._pending.move_to_end(span.parent.span_id)
                while len(self._pending) > PENDING_LIMIT:
                    self._pending.popitem(last=False)
            return None
        guests = _guests(attrs)  # flows that recorded onto this span without owning it
        if names.ATTR_OUTCOME not in attrs and not guests:
            return f"{name} {_millis(span)}" if self._all_spans else None
        held = self._pending.pop(span.context.span_id, []) if span.context is not None else []
        events = [e.attributes or {} for e in span.events if e.name == names.EVENT_HOOK]
        lines = []
        if names.ATTR_OUTCOME in attrs:
            parts = [name, str(attrs[names.ATTR_OUTCOME])]
            if names.ATTR_REASON in attrs:
                parts.append(str(attrs[names.ATTR_REASON]))
            parts.append(_millis(span))
            if names.ATTR_ERROR_TYPE in attrs:
                parts.append(f"!{attrs[names.ATTR_ERROR_TYPE]}")
            for key in (names.ATTR_SUBJECT, names.ATTR_SUBJECT_HASH):
                if key in attrs:
                    parts.append(f"subject={attrs[key]}")
            # The flow's own events carry no point (its span names the flow); its hook spans are those not of a
            # guest flow's points.
            decisions = [format_decision(e) for e in events if names.ATTR_HOOK_POINT not in e]
            decisions += _arrays(attrs, names.ATTR_HOOK_NAMES, names.ATTR_HOOK_DECISIONS)
            decisions += [decision for point, decision in held if _guest_of(point, guests) is None]
            lines.append(_joined(parts, decisions))
        for flow in guests:

            def guest_key(base: str, flow: str = flow) -> str:
                return names.host_attribute(flow, base)

            parts = [names.flow_span_name(flow), str(attrs[guest_key(names.ATTR_OUTCOME)])]
            reason = attrs.get(guest_key(names.ATTR_REASON))
            if reason is not None:
                parts.append(str(reason))
            duration = attrs.get(guest_key(names.ATTR_DURATION_MS))
            parts.append(f"{duration:.1f}ms" if isinstance(duration, (int, float)) else "?ms")
            error_type = attrs.get(names.ATTR_ERROR_TYPE)
            if error_type is not None and error_type == reason:  # a fault's reason is its error.type word
                parts.append(f"!{error_type}")
            for base in (names.ATTR_SUBJECT, names.ATTR_SUBJECT_HASH):
                if guest_key(base) in attrs:
                    parts.append(f"subject={attrs[guest_key(base)]}")
            decisions = [format_decision(e) for e in events if _guest_of(str(e.get(names.ATTR_HOOK_POINT)), [flow])]
            decisions += _arrays(attrs, guest_key(names.ATTR_HOOK_NAMES), guest_key(names.ATTR_HOOK_DECISIONS))
            decisions += [decision for point, decision in held if _guest_of(point, [flow])]
            lines.append(_joined(parts, decisions))
        return "\n".join(lines)

    def shutdown(self) -> None:
        """Stop exporting; pending hook spans are discarded."""
        self._closed = True
        self._pending.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Lines are written at export time: nothing to flush."""
        return True
