"""Every telemetry name authhooks emits, declared once.

No other module of the package spells these strings (a test checks it); dashboards, alerts and the docs can rely
on this table. Names follow the OpenTelemetry naming rules: custom names start with ``authhooks.``, are lower-case
and dot-separated; ``error.type`` is the one semantic-convention attribute reused.

Where a flow records (``AUTHHOOKS_FLOW_SPANS``, product.md §8 "record onto the span that is already there"):

- ``auto`` (the default): when a **recording** span is current (the HTTP ``SERVER`` span of the ASGI or WSGI
  instrumentation, or the span of an enclosing flow), the flow writes its attributes onto that span, each key
  prefixed with the flow (:func:`host_attribute`: ``authhooks.outcome`` becomes ``authhooks.login.outcome``),
  adds ``authhooks.<flow>.duration_ms``, and starts no span of its own; only when none is current does it start
  its own span ``authhooks.<flow>``;
- ``always``: every flow run starts its own span.

Spans (all ``INTERNAL``):

============================== ==========================================================================
name                           what
============================== ==========================================================================
``authhooks.<flow>``           a flow run with no recording span current (or ``flow_spans=always``),
                               child of the current span or of the enclosing flow's
``authhooks.hook``             one per hook run in ``span`` mode (child of the span the flow records on),
                               and one per background hook run in every mode but ``off`` (linked to it)
============================== ==========================================================================

Span event ``authhooks.hook``: one per hook run in ``event`` mode (the default), on the span the flow records
on, with the hook's name, decision, duration and stage (its own span) or point (a host span, which may carry
several flows).

Attributes (on a host span, the ``authhooks.*`` keys marked "flow" take the flow prefix):

=================================== =========== =======================================================
key                                 on          value
=================================== =========== =======================================================
``authhooks.flow``                  own flow    the flow name (``login``)
                                    spans,
                                    metrics
``authhooks.outcome``               flow,       ``success`` | ``failure`` | ``none`` | ``short_circuit``
                                    metrics
``authhooks.reason``                flow,       low-cardinality reason of a failure or denial (``token_expired``)
                                    metrics
``authhooks.duration_ms``           flow (host) milliseconds the flow took (own spans have their own duration)
``authhooks.hooks.count``           flow        number of hook records of the run (skipped ones included; on a
                                                host span only when non-zero)
``authhooks.hooks.denied``          flow        number of enforced denials (``deny``), when any
``authhooks.hooks.failed``          flow        number of hook runs that raised or timed out, when any
``authhooks.denied_by``             flow        name of the hook that stopped the flow (denied or failed closed)
``authhooks.subject``               flow        the subject, only with ``record_subject=True``
``authhooks.subject.hash``          flow        keyed HMAC-SHA256 of the subject, with ``record_subject_hashed``
``authhooks.hook.names``            flow        ``attributes`` mode: the hooks that ran, in order (string array)
``authhooks.hook.decisions``        flow        ``attributes`` mode: their decisions, in the same order
``authhooks.hook.durations_ms``     flow        ``attributes`` mode: their durations in milliseconds (floats)
``authhooks.hook.name``             hook        the hook's name
``authhooks.hook.point``            hook        the hook point (``login.pre``)
``authhooks.hook.stage``            hook        the stage (``pre``), on events on a flow's own span
``authhooks.hook.decision``         hook        a :class:`~authhooks.events.Decision` value
``authhooks.hook.duration_ms``      hook events milliseconds the run took (a float)
``authhooks.hook.enforced``         hook        ``False`` for shadow-mode hooks (only written when false)
``authhooks.hook.background``       hook        ``True`` for background runs
``error.type``                      flow, hook, one of :data:`ERROR_TYPES`, only on faults / failed hook runs (never
                                    metrics     prefixed)
=================================== =========== =======================================================

Flow details (:data:`DETAIL_ATTRIBUTES`): ``authhooks.authorize.required_scopes`` on ``authorize`` spans, the
scopes the request needed (a string array, as checked after ``authorize.pre`` hooks); already flow-specific, it
keeps its name on a host span.

Metrics (never with a subject, token or other unbounded attribute):

================================ ============ ============== =================================================
name                             instrument   unit           attributes
================================ ============ ============== =================================================
``authhooks.flow.duration``      histogram    ``s``          flow, outcome, reason, error.type (opt-in:
                                                              ``AUTHHOOKS_FLOW_HISTOGRAM=true``)
``authhooks.flow.outcomes``      counter      ``{flow}``     flow, outcome, reason, error.type
``authhooks.hook.duration``      histogram    ``s``          hook name, point, decision (hooks that ran;
                                                              opt-in: ``AUTHHOOKS_HOOK_METRICS=true``)
``authhooks.hook.decisions``     counter      ``{decision}`` hook name, point, decision, error.type
``authhooks.background.dropped`` counter      ``{run}``      hook name, point
``authhooks.hook.abandoned``     counter      ``{run}``      hook name, point (timed-out runs left running)
================================ ============ ============== =================================================

Declarative handlers' webhooks (:mod:`authhooks.handlers.breaker`), attribute ``authhooks.webhook.target`` (the
URL without query or credentials):

========================================== ============ ============== ==================================
name                                       instrument   unit           attributes
========================================== ============ ============== ==================================
``authhooks.handler.webhook.breaker``      gauge        ``1``          target (0 closed, 1 half-open,
                                                                       2 open)
``authhooks.handler.webhook.deliveries``   counter      ``{delivery}`` target, ``authhooks.webhook.result``
                                                                       (delivered, failed, short_circuited)
========================================== ============ ============== ==================================

``error.type`` values (the list the recording-errors convention asks instrumentations to document):

========================== =================================================================================
value                      fault
========================== =================================================================================
``key_set_unavailable``    :class:`~authhooks.errors.KeySetUnavailableError`: no usable verification key
``store_unavailable``      :class:`~authhooks.errors.StoreError`: the state store failed or was unreachable
``hook_error``             a hook raised (``HookFailed``, ``HookError`` at run time, decision ``error``)
``hook_timeout``           a hook ran past its timeout (decision ``timeout``)
``configuration_error``    :class:`~authhooks.errors.ConfigurationError` met at run time
``internal_error``         any other exception escaping a flow
========================== =================================================================================
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ATTR_AUTHORIZE_REQUIRED_SCOPES",
    "ATTR_DENIED_BY",
    "ATTR_DURATION_MS",
    "ATTR_ERROR_TYPE",
    "ATTR_FLOW",
    "ATTR_HOOKS_COUNT",
    "ATTR_HOOKS_DENIED",
    "ATTR_HOOKS_FAILED",
    "ATTR_HOOK_BACKGROUND",
    "ATTR_HOOK_DECISION",
    "ATTR_HOOK_DECISIONS",
    "ATTR_HOOK_DURATIONS_MS",
    "ATTR_HOOK_DURATION_MS",
    "ATTR_HOOK_ENFORCED",
    "ATTR_HOOK_NAME",
    "ATTR_HOOK_NAMES",
    "ATTR_HOOK_POINT",
    "ATTR_HOOK_STAGE",
    "ATTR_OUTCOME",
    "ATTR_REASON",
    "ATTR_SUBJECT",
    "ATTR_SUBJECT_HASH",
    "ATTR_WEBHOOK_RESULT",
    "ATTR_WEBHOOK_TARGET",
    "DETAIL_ATTRIBUTES",
    "DURATION_BUCKETS",
    "ERROR_CONFIGURATION",
    "ERROR_HOOK",
    "ERROR_HOOK_TIMEOUT",
    "ERROR_INTERNAL",
    "ERROR_KEY_SET_UNAVAILABLE",
    "ERROR_STORE_UNAVAILABLE",
    "ERROR_TYPES",
    "EVENT_HOOK",
    "INSTRUMENTATION_SCOPE",
    "METRIC_BACKGROUND_DROPPED",
    "METRIC_HOOK_ABANDONED",
    "METRIC_FLOW_DURATION",
    "METRIC_FLOW_OUTCOMES",
    "METRIC_HOOK_DECISIONS",
    "METRIC_HOOK_DURATION",
    "METRIC_WEBHOOK_BREAKER",
    "METRIC_WEBHOOK_DELIVERIES",
    "PREFIX",
    "SPAN_HOOK",
    "flow_span_name",
    "host_attribute",
]

PREFIX: Final = "authhooks."
"""Prefix of every custom name."""

INSTRUMENTATION_SCOPE: Final = "authhooks"
"""The tracer and meter name (the instrumentation scope)."""

# -- spans and events ----------------------------------------------------------------------------------------

SPAN_HOOK: Final = "authhooks.hook"
"""Name of a hook-run span (``span`` mode, and background runs)."""

EVENT_HOOK: Final = "authhooks.hook"
"""Name of the span event recording one hook run on the flow span (``event`` mode)."""


def flow_span_name(flow: str) -> str:
    """The span name of a flow: ``authhooks.<flow>`` (``authhooks.login``)."""
    return PREFIX + str(flow)


def host_attribute(flow: str, key: str) -> str:
    """The key under which ``flow`` writes the flow attribute ``key`` onto a span it does not own:
    ``authhooks.<flow>.`` + the rest (``host_attribute("login", ATTR_OUTCOME) == "authhooks.login.outcome"``);
    ``error.type`` and keys already naming the flow (:data:`DETAIL_ATTRIBUTES`) are kept as they are."""
    own = PREFIX + str(flow) + "."
    if not key.startswith(PREFIX) or key.startswith(own):
        return key
    return own + key[len(PREFIX) :]


# -- attributes ----------------------------------------------------------------------------------------------

ATTR_FLOW: Final = "authhooks.flow"
ATTR_OUTCOME: Final = "authhooks.outcome"
ATTR_REASON: Final = "authhooks.reason"
ATTR_DURATION_MS: Final = "authhooks.duration_ms"
"""Written on a host span only (prefixed: ``authhooks.<flow>.duration_ms``); an own span has its duration."""
ATTR_HOOKS_COUNT: Final = "authhooks.hooks.count"
ATTR_HOOKS_DENIED: Final = "authhooks.hooks.denied"
ATTR_HOOKS_FAILED: Final = "authhooks.hooks.failed"
ATTR_DENIED_BY: Final = "authhooks.denied_by"
ATTR_SUBJECT: Final = "authhooks.subject"
ATTR_SUBJECT_HASH: Final = "authhooks.subject.hash"
ATTR_AUTHORIZE_REQUIRED_SCOPES: Final = "authhooks.authorize.required_scopes"
ATTR_HOOK_NAMES: Final = "authhooks.hook.names"
ATTR_HOOK_DECISIONS: Final = "authhooks.hook.decisions"
ATTR_HOOK_DURATIONS_MS: Final = "authhooks.hook.durations_ms"
ATTR_HOOK_NAME: Final = "authhooks.hook.name"
ATTR_HOOK_POINT: Final = "authhooks.hook.point"
ATTR_HOOK_STAGE: Final = "authhooks.hook.stage"
ATTR_HOOK_DECISION: Final = "authhooks.hook.decision"
ATTR_HOOK_DURATION_MS: Final = "authhooks.hook.duration_ms"
ATTR_HOOK_ENFORCED: Final = "authhooks.hook.enforced"
ATTR_HOOK_BACKGROUND: Final = "authhooks.hook.background"
ATTR_WEBHOOK_TARGET: Final = "authhooks.webhook.target"
"""A declarative handler's webhook URL without query or credentials (breaker metrics)."""
ATTR_WEBHOOK_RESULT: Final = "authhooks.webhook.result"
ATTR_ERROR_TYPE: Final = "error.type"
"""The semantic-convention ``error.type`` (set only on faults; values in :data:`ERROR_TYPES`)."""

DETAIL_ATTRIBUTES: Final = {("authorize", "required_scopes"): ATTR_AUTHORIZE_REQUIRED_SCOPES}
"""Which details a flow notes (``run.details``) become span attributes, by ``(flow, detail)``."""

# -- metrics -------------------------------------------------------------------------------------------------

METRIC_FLOW_DURATION: Final = "authhooks.flow.duration"
METRIC_FLOW_OUTCOMES: Final = "authhooks.flow.outcomes"
METRIC_HOOK_DURATION: Final = "authhooks.hook.duration"
METRIC_HOOK_DECISIONS: Final = "authhooks.hook.decisions"
METRIC_BACKGROUND_DROPPED: Final = "authhooks.background.dropped"
METRIC_HOOK_ABANDONED: Final = "authhooks.hook.abandoned"
METRIC_WEBHOOK_BREAKER: Final = "authhooks.handler.webhook.breaker"
METRIC_WEBHOOK_DELIVERIES: Final = "authhooks.handler.webhook.deliveries"

DURATION_BUCKETS: Final = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
"""Advisory histogram boundaries in seconds: auth flows and hooks are sub-millisecond to sub-second."""

# -- error.type values ---------------------------------------------------------------------------------------

ERROR_KEY_SET_UNAVAILABLE: Final = "key_set_unavailable"
ERROR_STORE_UNAVAILABLE: Final = "store_unavailable"
ERROR_HOOK: Final = "hook_error"
ERROR_HOOK_TIMEOUT: Final = "hook_timeout"
ERROR_CONFIGURATION: Final = "configuration_error"
ERROR_INTERNAL: Final = "internal_error"

ERROR_TYPES: Final = frozenset(
    {
        ERROR_KEY_SET_UNAVAILABLE,
        ERROR_STORE_UNAVAILABLE,
        ERROR_HOOK,
        ERROR_HOOK_TIMEOUT,
        ERROR_CONFIGURATION,
        ERROR_INTERNAL,
    }
)
"""Every ``error.type`` value authhooks reports."""
