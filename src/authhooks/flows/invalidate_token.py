"""The ``invalidate_token`` flow (sans-IO): end the login a token belongs to (logout, RFC 7009 revocation)."""

from __future__ import annotations

from authhooks.errors import InvalidToken
from authhooks.events import Flow, Outcome
from authhooks.flows.deps import FlowDeps
from authhooks.flows.effects import FlowGen, Note, RunHooks, StoreCall, flow
from authhooks.flows.revocation import MAX_REFRESH_LEN, login_id, revoke_family, revoke_jti
from authhooks.flows.validate_token import verify_token
from authhooks.hooks.points import CATALOGUE
from authhooks.tokens.refresh import REFRESH_TOKEN_PREFIX, RefreshRecord, hash_refresh_token

__all__ = ["invalidate_token"]

_PRE, _POST = CATALOGUE["invalidate_token.pre"], CATALOGUE["invalidate_token.post"]


@flow(Flow.INVALIDATE_TOKEN)
def invalidate_token(deps: FlowDeps, token: str) -> FlowGen[bool]:
    """End the login a token belongs to: a refresh token or an access token carrying ``sid`` revokes the whole
    refresh family (every refresh and access token of that login); an access token without ``sid`` (issued
    alone, by ``issue_token``) is revoked by ``jti`` until its ``exp``.

    Returns True when something was revoked; False for a token that is invalid, expired or unknown (RFC 7009
    §2.2: the caller answers 200 either way; §2.1 lets revoking an access token revoke its refresh token).
    ``invalidate_token.pre`` may deny.
    """
    settings = deps.settings
    if type(token) is str and token.startswith(REFRESH_TOKEN_PREFIX) and len(token) <= MAX_REFRESH_LEN:
        raw = yield StoreCall("get", (f"refresh:{hash_refresh_token(token)}",))
        if raw is None:
            yield Note(outcome=Outcome.NONE, reason="unknown_token")
            return False
        record = RefreshRecord.from_bytes(raw)
        yield Note(subject=record.subject)
        yield RunHooks(_PRE, {"token": token, "principal": None, "jti": None})
        yield from revoke_family(deps, record.family_id, record.expires_at - deps.now())
        yield RunHooks(
            _POST,
            {"principal": None, "jti": None, "subject": record.subject, "expires_at": int(record.expires_at)},
        )
        return True
    try:
        principal = deps.tokens.cache.get(token) if type(token) is str else None
        if principal is None:
            principal = yield from verify_token(deps, token)
    except InvalidToken as exc:
        yield Note(outcome=Outcome.NONE, reason=exc.reason)
        return False
    jti = principal.jti
    if jti is None:
        yield Note(outcome=Outcome.NONE, reason="no_jti")
        return False
    yield Note(subject=principal.subject)
    yield RunHooks(_PRE, {"token": token, "principal": principal, "jti": jti})
    expires_at = principal.expires_at or deps.now() + settings.access_ttl_seconds
    yield from revoke_jti(deps, jti, expires_at - deps.now() + settings.leeway_seconds)
    sid = login_id(principal)
    if sid is not None:
        # The family's own expiry is unknown here; it cannot outlive refresh_ttl from now.
        yield from revoke_family(deps, sid, settings.refresh_ttl_seconds)
    yield RunHooks(
        _POST,
        {"principal": principal, "jti": jti, "subject": principal.subject, "expires_at": int(expires_at)},
    )
    return True
