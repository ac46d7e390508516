"""A refusal no flow judged, as a ``validate_token`` run: missing or malformed credentials, a malformed path.

The middleware refuses such requests before any token reaches :func:`~authhooks.flows.validate_token.validate_token`;
running this flow instead makes the refusal visible through the one observer seam (a span or the server span's
attributes, the outcome metrics, the audit log) with outcome ``failure`` and the refusal's reason
(``missing_credentials``, ``malformed_header``, ``unsupported_scheme``, ``malformed_path``…).

No hook runs: ``validate_token`` hooks see tokens, and there is none. With no observer watching the run costs one
generator step.
"""

from __future__ import annotations

from authhooks.errors import AuthError
from authhooks.events import Flow, Outcome
from authhooks.flows.effects import FlowGen, Note, flow

__all__ = ["refused_request"]


@flow(Flow.VALIDATE_TOKEN)
def refused_request(error: AuthError) -> FlowGen[None]:
    """Note the refusal ``error`` (its ``reason``) as a failed ``validate_token`` run; returns ``None``."""
    yield Note(outcome=Outcome.FAILURE, reason=error.reason)
