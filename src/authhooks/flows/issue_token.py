"""The ``issue_token`` flow (sans-IO): sign one access token, create one refresh token, or issue a
:class:`~authhooks.records.TokenPair` (an access token and a refresh token, each its own nested ``issue_token``
flow, in one refresh family — the login).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from authhooks.errors import HookError
from authhooks.events import Flow
from authhooks.flows.deps import FlowDeps
from authhooks.flows.effects import FlowGen, Note, RunHooks, StoreCall, SubFlow, flow
from authhooks.hooks.points import CATALOGUE
from authhooks.records import TokenPair
from authhooks.tokens.issuer import IssuedToken, new_jti
from authhooks.tokens.refresh import RefreshRecord, hash_refresh_token, new_refresh_token

__all__ = ["issue_refresh_token", "issue_token", "issue_token_pair", "issue_tokens"]

_PRE, _POST = CATALOGUE["issue_token.pre"], CATALOGUE["issue_token.post"]


@flow(Flow.ISSUE_TOKEN)
def issue_token(
    deps: FlowDeps,
    subject: str,
    claims: Mapping[str, Any] | None,
    token_type: str = "access",
    ttl_seconds: int | None = None,
    sid: str | None = None,
) -> FlowGen[IssuedToken]:
    """Sign one JWT. ``issue_token.pre`` may change ``claims`` and ``ttl_seconds`` or deny; ``sid`` (the login's
    refresh family) is reserved and set after the hooks, so no hook can detach a token from its login."""
    issuer = deps.tokens.require_issuer()
    values: dict[str, Any] = {
        "subject": subject,
        "claims": dict(claims or {}),
        "token_type": token_type,
        "ttl_seconds": ttl_seconds if ttl_seconds is not None else deps.settings.access_ttl_seconds,
    }
    yield Note(subject=subject)
    yield RunHooks(_PRE, values)
    new_claims, ttl = values["claims"], values["ttl_seconds"]
    if not isinstance(new_claims, Mapping):
        raise HookError("issue_token.pre: 'claims' must stay a mapping")
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1:
        raise HookError("issue_token.pre: 'ttl_seconds' must stay a positive integer")
    issued = issuer.issue(subject, new_claims, token_type=token_type, ttl=ttl, sid=sid)
    yield RunHooks(
        _POST,
        {
            "subject": subject,
            "claims": issued.claims,
            "token_type": token_type,
            "token": issued.token,
            "jti": issued.jti,
            "expires_at": issued.expires_at,
        },
    )
    return issued


@flow(Flow.ISSUE_TOKEN)
def issue_refresh_token(
    deps: FlowDeps, subject: str, claims: Mapping[str, Any], family: str, expires_at: float
) -> FlowGen[str]:
    """Create an opaque refresh token in ``family``; ``issue_token.pre`` may deny it or change ``claims``."""
    now = deps.now()
    values: dict[str, Any] = {
        "subject": subject,
        "claims": dict(claims),
        "token_type": "refresh",
        "ttl_seconds": max(1, int(expires_at - now)),
    }
    yield Note(subject=subject)
    yield RunHooks(_PRE, values)
    carried = values["claims"]
    if not isinstance(carried, Mapping):
        raise HookError("issue_token.pre: 'claims' must stay a mapping")
    expires_at = min(expires_at, now + max(1, int(values["ttl_seconds"])))
    token = new_refresh_token()
    record = RefreshRecord(family, subject, dict(carried), now, expires_at)
    yield StoreCall("set", (f"refresh:{hash_refresh_token(token)}", record.to_bytes(), expires_at - now))
    yield RunHooks(
        _POST,
        {
            "subject": subject,
            "claims": record.claims,
            "token_type": "refresh",
            "token": token,
            "jti": None,
            "expires_at": int(expires_at),
        },
    )
    return token


def issue_token_pair(
    deps: FlowDeps,
    subject: str,
    claims: Mapping[str, Any] | None = None,
    scopes: Iterable[str] = (),
    *,
    family: str | None = None,
    family_expires_at: float | None = None,
) -> FlowGen[TokenPair]:
    """Issue an access token and a refresh token (each its own ``issue_token`` flow) as a :class:`TokenPair`.

    The steps of :func:`issue_tokens`, for a flow that issues a pair as part of itself (login, refresh).

    Args:
        deps: the flows' dependencies.
        subject: the ``sub``.
        claims: extra claims for the access token, carried to every refreshed access token.
        scopes: granted scopes, issued as the space-separated ``scope`` claim.
        family / family_expires_at: the refresh family to continue (a refresh), else a new one (a login).
    """
    carried = dict(claims or {})
    scope_list = sorted(set(scopes))
    if scope_list:
        carried["scope"] = " ".join(scope_list)
    if family is None:
        family = new_jti()
        family_expires_at = deps.now() + deps.settings.refresh_ttl_seconds
    assert family_expires_at is not None
    access: IssuedToken = yield SubFlow(issue_token(deps, subject, carried, "access", sid=family))
    ttl = max(1.0, family_expires_at - deps.now())
    yield StoreCall("sadd", (f"family:{family}:jtis", f"{access.jti} {int(access.expires_at)}", ttl))
    refresh: str = yield SubFlow(issue_refresh_token(deps, subject, carried, family, family_expires_at))
    scope = access.claims.get("scope")
    return TokenPair(
        access_token=access.token,
        expires_in=int(access.expires_at - access.claims["iat"]),
        refresh_token=refresh,
        scope=scope if isinstance(scope, str) else None,
    )


issue_tokens = flow(Flow.ISSUE_TOKEN)(issue_token_pair)
"""The ``issue_token`` flow issuing a :class:`TokenPair` that starts a new login (refresh family)."""
