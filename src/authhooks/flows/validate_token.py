"""The ``validate_token`` flow (sans-IO): is this access token good, and whose is it?"""

from __future__ import annotations

from typing import Any

from authhooks.errors import AuthError, HookError, KeySetUnavailableError, MalformedToken, StoreError
from authhooks.events import Flow
from authhooks.flows.deps import FlowDeps
from authhooks.flows.effects import Call, FlowGen, Note, RunHooks, SubFlow, flow
from authhooks.flows.revocation import check_revocation, fault_reason
from authhooks.flows.verify_signature import verify_jws
from authhooks.hooks.points import CATALOGUE
from authhooks.records import Principal
from authhooks.tokens.jws import parse_header, split_compact
from authhooks.tokens.keys import Key

__all__ = ["validate_token", "verify_token", "verify_token_keyed"]

_PRE, _POST, _FAILED = (CATALOGUE[f"validate_token.{s}"] for s in ("pre", "post", "failed"))


def verify_token(deps: FlowDeps, token: str, bare: bool = False) -> FlowGen[Principal]:
    """Signature and claims through the ``verify_signature`` flow (``bare``: the validator alone), fetching the
    issuer's keys first when they are remote (one :class:`~authhooks.flows.effects.Call`; answered from cache
    unless it is a cold start)."""
    principal, _key = yield from verify_token_keyed(deps, token, bare)
    return principal


def verify_token_keyed(deps: FlowDeps, token: str, bare: bool = False) -> FlowGen[tuple[Principal, Key]]:
    """:func:`verify_token`, also returning the key that verified the token."""
    svc = deps.tokens
    keys = svc.keys
    if svc.remote is not None:
        kid = parse_header(split_compact(token, deps.settings.max_token_bytes)[0]).kid
        remote = yield Call(svc.remote.get_sync, svc.remote.get, (kid,))
        keys = svc.keyset_with(remote)
    if bare:
        return svc.validator.validate_keyed(token, keys=keys)
    result: tuple[Principal, Key] = yield SubFlow(verify_jws(deps, token, keys))
    return result


def _principal(deps: FlowDeps, token: object, bare: bool = True) -> FlowGen[Principal]:
    """The work of the flow between its hook points: the cache, or a full check plus the revocation lookup.

    With ``bare`` (the flow's bare variant, run when nothing would see it) the signature is checked by the
    validator directly instead of through the ``verify_signature`` flow, and the cache is not asked again: a
    driver runs the bare variant only where it took the flow's shortcut (the same lookup) first and it missed
    (should the token have been cached meanwhile, it is checked in full again, which is never wrong). The
    cache's epoch is read before the keys are: a key withdrawal or revocation heard during the check keeps the
    token out of the cache.
    """
    if type(token) is not str:
        raise MalformedToken()
    svc = deps.tokens
    cache = svc.cache
    principal = None if bare else cache.get(token)
    if principal is None:
        epoch = cache.epoch
        if bare and svc.remote is None:
            principal, key = svc.validator.validate_keyed(token)
        else:
            principal, key = yield from verify_token_keyed(deps, token, bare)
        yield from check_revocation(deps, principal)
        cache.put(token, principal, epoch, key.thumbprint)
    return principal


def _cached(deps: FlowDeps, token: str) -> Principal | None:
    """The shortcut: a validated-token cache hit."""
    return deps.tokens.cache.get(token) if type(token) is str else None


@flow(Flow.VALIDATE_TOKEN, shortcut=_cached, bare=_principal, nests=(Flow.VERIFY_SIGNATURE,))
def validate_token(deps: FlowDeps, token: str) -> FlowGen[Principal]:
    """Validate an access token: ``pre`` (replace or deny), the validated-token cache or a full check plus the
    revocation lookup, ``post`` (enrich or deny); any refusal fires ``failed`` with its reason and is re-raised.

    When nothing would see the run (no hook at any ``validate_token`` or ``verify_signature`` point, nobody
    observing), the driver answers a repeated token from the validated-token cache without running the flow, and
    runs a first-seen token through the bare variant (the same steps, without hook points and notes).

    Raises:
        InvalidToken: a subclass naming the reason (``token_revoked`` for an invalidated ``jti`` or login).
        Deny: a hook denied.
        StoreUnavailableError: the revocation check could not be made and ``store_failure`` is ``closed``.
        KeySetUnavailableError: no usable key (remote key set down, nothing cached).
    """
    try:
        values: dict[str, Any] = {"token": token}
        yield RunHooks(_PRE, values)
        token = values["token"]
        principal = yield from _principal(deps, token, False)
        yield Note(subject=principal.subject)
        values = {"token": token, "principal": principal, "claims": principal.claims}
        yield RunHooks(_POST, values)
        result = values["principal"]
        if not isinstance(result, Principal):
            raise HookError("validate_token.post: 'principal' must stay a Principal")
        return result
    except (AuthError, StoreError, KeySetUnavailableError) as exc:
        yield RunHooks(_FAILED, {"reason": fault_reason(exc), "error": exc})
        raise
