"""The ``reauthenticate`` flow (sans-IO): a signed-in principal proves its identity again before a sensitive
action (FlaskBB's ``reauth_attempt`` / ``post_reauth`` / ``reauth_failed``).

1. ``reauthenticate.pre`` (decision): may rewrite ``credentials`` or ``scheme``, or deny.
2. ``reauthenticate.provide`` (first-result-wins chain): ``True`` or a :class:`~authhooks.events.Principal`
   with the same subject confirms, ``False`` refuses, ``None`` passes. When no provider answers, the built-in
   challenge-response provider runs (the same check as login; the scheme defaults to the one that recognises
   the subject).
3. success: the failure counter is cleared, ``reauthenticate.post`` runs, and a copy of the principal is
   returned with ``attributes["fresh"] = True`` and ``attributes["auth_time"]`` = now (Unix time).
4. failure: the subject's failure counter (``reauth_failures:<subject>`` in the store, a fixed window of
   :data:`FAILURE_WINDOW_SECONDS`) is incremented and ``reauthenticate.failed`` gets ``failures``, then the
   error propagates.

Lockout policy (what FlaskBB's ``ForceLogout`` in ``reauth_failed`` does): a ``reauthenticate.failed`` hook
that, after too many failures, sets a lockout key; a ``login.pre`` hook refuses locked subjects with
``StopAuthentication("account_locked")`` and a ``validate_token.post`` hook refuses their tokens, so every
token the subject holds stops working at once::

    @auth.hook("reauthenticate.failed")
    async def lock_after_three_failures(principal, failures, store):
        if failures >= 3:
            await store.set(f"lockout:{principal.subject}", b"1", ttl=900)

    @auth.hook("validate_token.post")
    async def refuse_locked_subjects(principal, store):
        if await store.get(f"lockout:{principal.subject}") is not None:
            raise Deny(401, reason="account_locked")
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from authhooks.errors import AuthError, HookError, InvalidCredentials, InvalidRequest
from authhooks.events import Flow
from authhooks.flows.challenge import challenge_response
from authhooks.flows.deps import FlowDeps
from authhooks.flows.effects import FlowGen, Note, RunHooks, StoreCall, flow
from authhooks.flows.login import failure_reason
from authhooks.hooks.points import CATALOGUE
from authhooks.records import Principal

__all__ = ["FAILURE_WINDOW_SECONDS", "failures_key", "reauthenticate"]

FAILURE_WINDOW_SECONDS = 900.0
"""The window of the reauthentication failure counter (a fixed window, from the first failure)."""

_PRE, _PROVIDE = CATALOGUE["reauthenticate.pre"], CATALOGUE["reauthenticate.provide"]
_POST, _FAILED = CATALOGUE["reauthenticate.post"], CATALOGUE["reauthenticate.failed"]


def failures_key(subject: str) -> str:
    """The store key of a subject's recent reauthentication failures."""
    return f"reauth_failures:{subject}"


def _confirmed(result: object, principal: Principal) -> None:
    if result is True:
        return
    if result is False:
        raise InvalidCredentials(reason="provider_refused")
    if isinstance(result, Principal):
        if result.subject != principal.subject:
            raise HookError("a reauthenticate.provide hook returned a principal with another subject")
        return
    raise HookError(
        f"a reauthenticate.provide hook returned {type(result).__name__}; expected True, False or a Principal"
    )


@flow(Flow.REAUTHENTICATE)
def reauthenticate(
    deps: FlowDeps, principal: Principal, credentials: Mapping[str, Any], scheme: str | None
) -> FlowGen[Principal]:
    """The ``reauthenticate`` flow; see the module docstring. Returns the fresh principal.

    Raises:
        InvalidRequest: malformed credentials, or no scheme given and none recognises the subject.
        InvalidCredentials: the identity was not proven again (``reason`` as for login).
        Deny: a hook denied.
    """
    values: dict[str, Any] = {
        "principal": principal,
        "credentials": dict(credentials) if isinstance(credentials, Mapping) else credentials,
        "scheme": scheme,
    }
    try:
        yield Note(subject=principal.subject)
        if not isinstance(credentials, Mapping):
            raise InvalidRequest("The credentials must be a mapping.", reason="invalid_credentials_format")
        yield RunHooks(_PRE, values)
        creds, scheme = values["credentials"], values["scheme"]
        if not isinstance(creds, Mapping) or not (scheme is None or isinstance(scheme, str)):
            raise HookError("a reauthenticate.pre hook set invalid credentials or scheme")
        provided = yield RunHooks(_PROVIDE, {"principal": principal, "credentials": creds, "scheme": scheme})
        if provided is None:
            scheme = scheme or deps.verifiers.detect(principal.subject)
            if scheme is None:
                raise InvalidRequest("The signature scheme is missing.", reason="unsupported_scheme")
            yield from challenge_response(deps, principal.subject, creds, scheme)
        else:
            _confirmed(provided, principal)
        now = deps.now()
        attrs = {**principal.attributes, "fresh": True, "auth_time": now}
        fresh = dataclasses.replace(principal, attributes=MappingProxyType(attrs))
        yield StoreCall("delete", (failures_key(principal.subject),))
    except Exception as exc:
        reason = failure_reason(exc)
        yield Note(reason=reason)
        # Rejections count towards the lockout policy; a fault (the store down, a broken hook) does not.
        amount = 1 if isinstance(exc, AuthError) else 0
        failures = yield StoreCall("incr", (failures_key(principal.subject), FAILURE_WINDOW_SECONDS, amount))
        yield RunHooks(_FAILED, {"principal": principal, "reason": reason, "error": exc, "failures": failures})
        raise
    yield RunHooks(_POST, {"principal": fresh})
    return fresh
