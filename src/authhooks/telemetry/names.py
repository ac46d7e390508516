"""Every telemetry name authhooks emits, declared once.

No other module of the package spells these strings (a test checks it); dashboards, alerts and the docs can rely
on this table. Names follow the OpenTelemetry naming rules: custom names start with ``authhooks.``, are lower-case
and dot-separated; ``error.type`` is the one semantic-convention attribute reused.

Spans (all ``INTERNAL``):

============================== ==========================================================================
name                           what
============================== ==========================================================================
``authhooks.<flow>``           one per flow run (``authhooks.login``, ``authhooks.validate_token``…),
                               child of the current span (the HTTP ``SERVER`` span under the ASGI
                               instrumentation, or the enclosing flow)
``authhooks.hook``             one per hook run in ``span`` mode (child of the flow span), and one per
                               background hook run in ``event`` and ``span`` mode (linked to the flow span)
============================== ==========================================================================

Span event: ``authhooks.hook`` on the flow span, one per hook run, in ``event`` mode (the default).

Attributes:

=============================== =========== ===========================================================
key                             on          value
=============================== =========== ===========================================================
``authhooks.flow``              flow spans, the flow name (``login``)
                                metrics
``authhooks.outcome``           flow spans, ``success`` | ``failure`` | ``none`` | ``short_circuit``
                                metrics
``authhooks.reason``            flow spans, low-cardinality reason of a failure or denial (``token_expired``)
                                metrics
``authhooks.hooks.count``       flow spans  number of hook records of the run (skipped ones included)
``authhooks.hooks.denied``      flow spans  number of enforced denials (``deny``), when any
``authhooks.hooks.failed``      flow spans  number of hook runs that raised or timed out, when any
``authhooks.denied_by``         flow spans  name of the hook that stopped the flow (denied or failed closed)
``authhooks.subject``           flow spans  the subject, only with ``record_subject=True``
``authhooks.subject.hash``      flow spans  keyed HMAC-SHA256 of the subject, with ``record_subject_hashed``
``authhooks.hook.name``         hook        the hook's name
``authhooks.hook.point``        hook        the hook point (``login.pre``)
``authhooks.hook.stage``        hook        the stage (``pre``)
``authhooks.hook.decision``     hook        a :class:`~authhooks.events.Decision` value
``authhooks.hook.duration_ms``  hook events milliseconds the run took (a float)
``authhooks.hook.enforced``     hook        ``False`` for shadow-mode hooks (only written when false)
``authhooks.hook.background``   hook        ``True`` for background runs
``error.type``                  flow spans, one of :data:`ERROR_TYPES`, only on faults / failed hook runs
                                hooks,
                                metrics
=============================== =========== ===========================================================

Flow details (:data:`DETAIL_ATTRIBUTES`): ``authhooks.authorize.required_scopes`` on ``authorize`` spans, the
scopes the request needed (a string array, as checked after ``authorize.pre`` hooks).

Metrics (never with a subject, token or other unbounded attribute):

================================ ============ ============== =================================================
name                             instrument   unit           attributes
================================ ============ ============== =================================================
``authhooks.flow.duration``      histogram    ``s``          flow, outcome, reason, error.type
``authhooks.flow.outcomes``      counter      ``{flow}``     flow, outcome, reason, error.type
``authhooks.hook.duration``      histogram    ``s``          hook name, point, decision (hooks that ran)
``authhooks.hook.decisions``     counter      ``{decision}`` hook name, point, decision, error.type
``authhooks.background.dropped`` counter      ``{run}``      hook name, point
``authhooks.hook.abandoned``     counter      ``{run}``      hook name, point (timed-out runs left running)
================================ ============ ============== =================================================

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
    "ATTR_ERROR_TYPE",
    "ATTR_FLOW",
    "ATTR_HOOKS_COUNT",
    "ATTR_HOOKS_DENIED",
    "ATTR_HOOKS_FAILED",
    "ATTR_HOOK_BACKGROUND",
    "ATTR_HOOK_DECISION",
    "ATTR_HOOK_DURATION_MS",
    "ATTR_HOOK_ENFORCED",
    "ATTR_HOOK_NAME",
    "ATTR_HOOK_POINT",
    "ATTR_HOOK_STAGE",
    "ATTR_OUTCOME",
    "ATTR_REASON",
    "ATTR_SUBJECT",
    "ATTR_SUBJECT_HASH",
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
    "PREFIX",
    "SPAN_HOOK",
    "flow_span_name",
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


# -- attributes ----------------------------------------------------------------------------------------------

ATTR_FLOW: Final = "authhooks.flow"
ATTR_OUTCOME: Final = "authhooks.outcome"
ATTR_REASON: Final = "authhooks.reason"
ATTR_HOOKS_COUNT: Final = "authhooks.hooks.count"
ATTR_HOOKS_DENIED: Final = "authhooks.hooks.denied"
ATTR_HOOKS_FAILED: Final = "authhooks.hooks.failed"
ATTR_DENIED_BY: Final = "authhooks.denied_by"
ATTR_SUBJECT: Final = "authhooks.subject"
ATTR_SUBJECT_HASH: Final = "authhooks.subject.hash"
ATTR_AUTHORIZE_REQUIRED_SCOPES: Final = "authhooks.authorize.required_scopes"
ATTR_HOOK_NAME: Final = "authhooks.hook.name"
ATTR_HOOK_POINT: Final = "authhooks.hook.point"
ATTR_HOOK_STAGE: Final = "authhooks.hook.stage"
ATTR_HOOK_DECISION: Final = "authhooks.hook.decision"
ATTR_HOOK_DURATION_MS: Final = "authhooks.hook.duration_ms"
ATTR_HOOK_ENFORCED: Final = "authhooks.hook.enforced"
ATTR_HOOK_BACKGROUND: Final = "authhooks.hook.background"
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
