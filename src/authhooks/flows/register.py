"""The ``register`` flow (sans-IO): record a key-based identity (lback's registration, FlaskBB's
``user_registered``).

1. the subject is checked by the scheme's verifier (an Ed25519 key, an Evrmore address…);
2. ``register.pre`` (decision): may change ``subject`` or ``attributes``, or deny;
3. the registration record is added to the store under ``registration:<scheme>:<subject>`` with
   :meth:`~authhooks.stores.base.Store.add`, so of two registrations of one identity (even concurrent ones)
   exactly one succeeds; the other fails with :class:`~authhooks.errors.InvalidRequest`, reason
   ``already_registered``;
4. ``register.post`` with the new :class:`~authhooks.events.Principal`; any failure fires ``register.failed``.

Login does not require registration; an application that wants it checks ``auth.get_registration`` in a
``login.pre`` or ``login.verified`` hook.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from authhooks.errors import HookError, InvalidRequest
from authhooks.events import Flow
from authhooks.flows.challenge import validate_subject
from authhooks.flows.deps import FlowDeps
from authhooks.flows.effects import FlowGen, Note, RunHooks, StoreCall, flow
from authhooks.flows.login import failure_reason
from authhooks.hooks.points import CATALOGUE
from authhooks.records import Principal

__all__ = ["register", "registration_from_bytes", "registration_key"]

_PRE, _POST, _FAILED = CATALOGUE["register.pre"], CATALOGUE["register.post"], CATALOGUE["register.failed"]
_MAX_ATTRIBUTES_BYTES = 16384


def registration_key(scheme: str, subject: str) -> str:
    """The store key of a registration."""
    return f"registration:{scheme}:{subject}"


def _attributes(value: object, error: type[Exception]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise error("registration attributes must be a mapping")
    try:
        size = len(json.dumps(dict(value)))
    except (TypeError, ValueError):
        raise error("registration attributes must be JSON-serialisable") from None
    if size > _MAX_ATTRIBUTES_BYTES:
        raise error(f"registration attributes must be at most {_MAX_ATTRIBUTES_BYTES} bytes of JSON")
    return dict(value)


def _principal(record: Mapping[str, Any]) -> Principal:
    attrs = dict(record["a"])
    attrs.update(scheme=record["c"], registered_at=record["t"])
    return Principal(subject=record["s"], attributes=MappingProxyType(attrs))


@flow(Flow.REGISTER)
def register(deps: FlowDeps, subject: str, scheme: str, attributes: Mapping[str, Any] | None) -> FlowGen[Principal]:
    """The ``register`` flow; see the module docstring. Returns the registered principal, whose ``attributes``
    hold the registration attributes plus ``scheme`` and ``registered_at`` (Unix time).

    Raises:
        InvalidRequest: a malformed subject (``invalid_subject``), scheme (``unsupported_scheme``) or
            attributes, or an identity registered before (``already_registered``).
        Deny: a ``register.pre`` hook denied.
    """
    values: dict[str, Any] = {"subject": subject, "scheme": scheme, "attributes": attributes}
    try:
        yield Note(subject=validate_subject(subject))
        verifier = deps.verifiers.get(scheme)
        values["subject"] = verifier.normalize_subject(subject)
        values["attributes"] = _attributes(attributes, InvalidRequest)
        yield RunHooks(_PRE, values)
        try:
            subject = verifier.normalize_subject(validate_subject(values["subject"]))
        except InvalidRequest:
            raise HookError("a register.pre hook set an invalid subject") from None
        attrs = _attributes(values["attributes"], HookError)
        record = {"s": subject, "c": verifier.scheme, "t": deps.now(), "a": attrs}
        key = registration_key(verifier.scheme, subject)
        added = yield StoreCall("add", (key, json.dumps(record, separators=(",", ":")).encode(), None))
        if not added:
            raise InvalidRequest("The identity is already registered.", reason="already_registered")
        principal = _principal(record)
    except Exception as exc:
        reason = failure_reason(exc)
        yield Note(reason=reason)
        yield RunHooks(_FAILED, {"subject": values["subject"], "reason": reason, "error": exc})
        raise
    yield RunHooks(_POST, {"subject": subject, "principal": principal, "attributes": attrs})
    return principal


def registration_from_bytes(raw: bytes | None) -> Principal | None:
    """The principal of a stored registration record, or ``None`` when there is none."""
    return None if raw is None else _principal(json.loads(raw))
