"""The ``login`` flow (sans-IO): who is this, proven how, and with which claims — then a token pair.

Stages, in order (product.md §4):

1. ``login.pre`` (decision): may rewrite ``subject``, ``credentials`` or ``scheme``, or deny (a lockout).
2. ``login.provide`` (first-result-wins chain, FlaskBB's ``authenticate``): a provider returns a
   :class:`~authhooks.events.Principal` or a subject string to accept the login, ``False`` to refuse it,
   ``None`` to pass; ``StopAuthentication(reason)`` ends it. When no provider answers, the built-in
   challenge-response provider runs last (:func:`~authhooks.flows.challenge.challenge_response`).
3. ``login.verified`` (decision, FlaskBB's ``post_authenticate``): the identity is known, no token yet; may add
   ``claims`` or ``scopes``, change the ``subject`` (link to a local account), or deny (a second factor).
4. tokens are issued (:func:`~authhooks.flows.issue_token.issue_token_pair`), with an ``auth_time`` claim;
5. ``login.post`` (notification) with the :class:`~authhooks.events.TokenPair`.

Any failure fires ``login.failed`` with ``subject``, a low-cardinality ``reason``, the ``error`` (the exception
object, whose message holds no credential) and ``scheme``, then propagates. Hooks get the HTTP request through
the ``request`` context parameter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from authhooks.errors import AuthError, HookError, InvalidCredentials, InvalidRequest
from authhooks.events import Flow
from authhooks.flows.challenge import challenge_response, validate_subject
from authhooks.flows.deps import FlowDeps
from authhooks.flows.effects import FlowGen, Note, RunHooks, flow
from authhooks.flows.issue_token import issue_token_pair
from authhooks.hooks.points import CATALOGUE, HookPoint
from authhooks.records import Principal, TokenPair

__all__ = ["failure_reason", "login", "provided_principal", "scope_set", "verified_principal"]

_PRE, _PROVIDE, _VERIFIED = CATALOGUE["login.pre"], CATALOGUE["login.provide"], CATALOGUE["login.verified"]
_POST, _FAILED = CATALOGUE["login.post"], CATALOGUE["login.failed"]


def failure_reason(exc: BaseException) -> str:
    """The low-cardinality reason of a failure: an ``AuthError``'s ``reason``, else ``"error"`` (a fault)."""
    return exc.reason if isinstance(exc, AuthError) else "error"


def scope_set(value: object, point: str) -> frozenset[str]:
    """Scopes as a set: a space-separated string or an iterable of strings.

    Raises:
        HookError: anything else (only hooks can produce it).
    """
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        items = tuple(value)
        if all(isinstance(s, str) and s and " " not in s for s in items):
            return frozenset(items)
    raise HookError(f"{point}: scopes must be a space-separated string or strings without spaces")


def provided_principal(result: object, point: HookPoint) -> Principal:
    """What a provider returned, as a :class:`Principal`.

    Raises:
        InvalidCredentials: (``provider_refused``) the provider returned ``False``.
        HookError: a return that is neither a principal, a subject string, nor ``False``.
    """
    if result is False:
        raise InvalidCredentials(reason="provider_refused")
    if isinstance(result, Principal):
        return result
    if isinstance(result, str):
        try:
            return Principal(subject=validate_subject(result))
        except InvalidRequest:
            raise HookError(f"a {point.name} hook returned a malformed subject") from None
    raise HookError(f"a {point.name} hook returned {type(result).__name__}; expected a Principal, a subject or False")


def verified_principal(principal: Principal, verified: Mapping[str, Any]) -> Principal:
    """The principal after the ``login.verified`` hooks changed ``verified`` (its subject, claims, scopes).

    Raises:
        HookError: claims that are not a mapping, malformed scopes or a malformed subject.
    """
    if not isinstance(verified["claims"], Mapping):
        raise HookError("a login.verified hook set claims that are not a mapping")
    subject = verified["subject"]
    if subject != principal.subject:
        try:
            subject = validate_subject(subject)
        except InvalidRequest:
            raise HookError("a login.verified hook set a malformed subject") from None
    claims = dict(verified["claims"])
    scopes = scope_set(verified["scopes"], "login.verified")
    return dataclasses.replace(principal, subject=subject, claims=MappingProxyType(claims), scopes=scopes)


@flow(Flow.LOGIN)
def login(deps: FlowDeps, subject: str, credentials: Mapping[str, Any], scheme: str) -> FlowGen[TokenPair]:
    """The ``login`` flow; see the module docstring. Returns the issued :class:`TokenPair`.

    Raises:
        InvalidRequest: malformed subject, credentials or scheme.
        InvalidCredentials: the identity was not proven (``reason`` says why; see
            :func:`~authhooks.flows.challenge.challenge_response`).
        Deny: a hook denied (``StopAuthentication`` included).
    """
    values: dict[str, Any] = {
        "subject": subject,
        "credentials": dict(credentials) if isinstance(credentials, Mapping) else credentials,
        "scheme": scheme,
    }
    try:
        if not isinstance(credentials, Mapping):
            raise InvalidRequest("The credentials must be a mapping.", reason="invalid_credentials_format")
        if not isinstance(scheme, str) or not scheme:
            raise InvalidRequest("The signature scheme is missing.", reason="unsupported_scheme")
        yield Note(subject=validate_subject(subject))
        yield RunHooks(_PRE, values)
        subject = validate_subject(values["subject"])
        creds, scheme = values["credentials"], values["scheme"]
        if not isinstance(creds, Mapping) or not isinstance(scheme, str):
            raise HookError("a login.pre hook set credentials that are not a mapping or a scheme that is not text")
        provided = yield RunHooks(_PROVIDE, {"subject": subject, "credentials": creds, "scheme": scheme})
        if provided is None:
            proven = yield from challenge_response(deps, subject, creds, scheme)
            principal = Principal(subject=proven, attributes=MappingProxyType({"scheme": scheme}))
        else:
            principal = provided_principal(provided, _PROVIDE)
        yield Note(subject=principal.subject)
        claims = dict(principal.claims)
        claims.setdefault("auth_time", int(deps.now()))
        verified: dict[str, Any] = {
            "subject": principal.subject,
            "principal": principal,
            "claims": claims,
            "scopes": set(principal.scopes),
            "external": None,
        }
        yield RunHooks(_VERIFIED, verified)
        principal = verified_principal(principal, verified)
        yield Note(subject=principal.subject)
        pair: TokenPair = yield from issue_token_pair(deps, principal.subject, principal.claims, principal.scopes)
        yield RunHooks(_POST, {"subject": principal.subject, "principal": principal, "tokens": pair})
        return pair
    except Exception as exc:
        reason = failure_reason(exc)
        yield Note(reason=reason)
        failed = {"subject": values["subject"], "reason": reason, "error": exc, "scheme": values["scheme"]}
        yield RunHooks(_FAILED, failed)
        raise
