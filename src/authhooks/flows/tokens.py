"""The token flows (sans-IO): ``issue_token``, ``validate_token``, ``refresh_token``, ``invalidate_token``.

Each generator yields effects (hooks, store calls, key fetches) and is driven by the sync or async driver.
Store layout (keys are prefixed by the store backend):

============================== ========================================================================
``revoked:<jti>``              an invalidated access token, kept until its ``exp`` (plus leeway)
``refresh:<sha256>``           a refresh token's :class:`~authhooks.tokens.refresh.RefreshRecord`
``refresh-used:<sha256>``      the atomic one-use claim of a refresh token (a second claim is a reuse)
``family:<id>:revoked``        a revoked refresh family (reuse detected, or logout)
``family:<id>:jtis``           ``"<jti> <exp>"`` of each access token issued within a family (revoked with it)
============================== ========================================================================

Refresh families keep the lifetime of the login that started them: rotation never extends it.

A refresh family **is** the login: every access token issued within it carries the family id as its ``sid``
claim. Validation refuses a token whose ``jti`` is revoked *or* whose ``sid`` names a revoked family, so a token
issued concurrently with a family's revocation (the winner of a refresh-reuse race, issued after the loser read
the family's members) is refused too; and invalidating any token of a login (the access token at logout, or the
refresh token) ends the whole login.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable, Mapping
from typing import Any

from authhooks.errors import (
    AuthError,
    HookError,
    InvalidGrant,
    InvalidToken,
    KeySetUnavailableError,
    MalformedToken,
    RevokedToken,
    StoreError,
)
from authhooks.events import Outcome, Principal, TokenPair
from authhooks.flows.effects import Call, Note, RunHooks, StoreCall, SubFlow
from authhooks.hooks.points import CATALOGUE
from authhooks.tokens.issuer import IssuedToken, new_jti
from authhooks.tokens.jws import parse_header, split_compact
from authhooks.tokens.refresh import REFRESH_TOKEN_PREFIX, RefreshRecord, hash_refresh_token, new_refresh_token
from authhooks.tokens.service import REVOCATION_CHANNEL, TokenService

__all__ = [
    "invalidate_token_gen",
    "issue_token_gen",
    "issue_tokens_gen",
    "refresh_gen",
    "validate_token_gen",
]

Gen = Generator[Any, Any, Any]

_IT_PRE, _IT_POST = CATALOGUE["issue_token.pre"], CATALOGUE["issue_token.post"]
_VT_PRE, _VT_POST, _VT_FAILED = (CATALOGUE[f"validate_token.{s}"] for s in ("pre", "post", "failed"))
_VS_PRE, _VS_POST = CATALOGUE["verify_signature.pre"], CATALOGUE["verify_signature.post"]
_RT_PRE, _RT_POST, _RT_FAILED = (CATALOGUE[f"refresh_token.{s}"] for s in ("pre", "post", "failed"))
_IV_PRE, _IV_POST = CATALOGUE["invalidate_token.pre"], CATALOGUE["invalidate_token.post"]
_MAX_REFRESH_LEN = 128
_MAX_SID_LEN = 128


def _fault_reason(exc: BaseException) -> str:
    if isinstance(exc, AuthError):
        return exc.reason
    if isinstance(exc, KeySetUnavailableError):
        return "key_set_unavailable"
    if isinstance(exc, StoreError):
        return "store_unavailable"
    return "internal_error"


# -- issue_token -------------------------------------------------------------------------------------------


def issue_token_gen(
    svc: TokenService,
    subject: str,
    claims: Mapping[str, Any] | None,
    token_type: str = "access",
    ttl_seconds: int | None = None,
    sid: str | None = None,
) -> Generator[Any, Any, IssuedToken]:
    """Sign one JWT. ``issue_token.pre`` may change ``claims`` and ``ttl_seconds`` or deny; ``sid`` (the login's
    refresh family) is reserved and set after the hooks, so no hook can detach a token from its login."""
    issuer = svc.require_issuer()
    values: dict[str, Any] = {
        "subject": subject,
        "claims": dict(claims or {}),
        "token_type": token_type,
        "ttl_seconds": ttl_seconds if ttl_seconds is not None else svc.settings.access_ttl_seconds,
    }
    yield Note(subject=subject)
    yield RunHooks(_IT_PRE, values)
    new_claims, ttl = values["claims"], values["ttl_seconds"]
    if not isinstance(new_claims, Mapping):
        raise HookError("issue_token.pre: 'claims' must stay a mapping")
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1:
        raise HookError("issue_token.pre: 'ttl_seconds' must stay a positive integer")
    issued = issuer.issue(subject, new_claims, token_type=token_type, ttl=ttl, sid=sid)
    yield RunHooks(
        _IT_POST,
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


def _issue_refresh_gen(
    svc: TokenService, subject: str, claims: Mapping[str, Any], family: str, expires_at: float
) -> Generator[Any, Any, str]:
    """Create an opaque refresh token in ``family``; ``issue_token.pre`` may deny it or change ``claims``."""
    now = time.time()
    values: dict[str, Any] = {
        "subject": subject,
        "claims": dict(claims),
        "token_type": "refresh",
        "ttl_seconds": max(1, int(expires_at - now)),
    }
    yield Note(subject=subject)
    yield RunHooks(_IT_PRE, values)
    carried = values["claims"]
    if not isinstance(carried, Mapping):
        raise HookError("issue_token.pre: 'claims' must stay a mapping")
    expires_at = min(expires_at, now + max(1, int(values["ttl_seconds"])))
    token = new_refresh_token()
    record = RefreshRecord(family, subject, dict(carried), now, expires_at)
    yield StoreCall("set", (f"refresh:{hash_refresh_token(token)}", record.to_bytes(), expires_at - now))
    yield RunHooks(
        _IT_POST,
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


def issue_tokens_gen(
    auth: Any,
    subject: str,
    claims: Mapping[str, Any] | None = None,
    scopes: Iterable[str] = (),
    *,
    family: str | None = None,
    family_expires_at: float | None = None,
) -> Generator[Any, Any, TokenPair]:
    """Issue an access token and a refresh token (each its own ``issue_token`` flow) as a :class:`TokenPair`.

    Args:
        auth: the ``AuthHooks`` (its ``tokens`` service is used).
        subject: the ``sub``.
        claims: extra claims for the access token, carried to every refreshed access token.
        scopes: granted scopes, issued as the space-separated ``scope`` claim.
        family / family_expires_at: the refresh family to continue (a refresh), else a new one (a login).
    """
    svc: TokenService = auth.tokens
    carried = dict(claims or {})
    scope_list = sorted(set(scopes))
    if scope_list:
        carried["scope"] = " ".join(scope_list)
    if family is None:
        family = new_jti()
        family_expires_at = time.time() + svc.settings.refresh_ttl_seconds
    assert family_expires_at is not None
    access: IssuedToken = yield SubFlow("issue_token", issue_token_gen(svc, subject, carried, "access", sid=family))
    ttl = max(1.0, family_expires_at - time.time())
    yield StoreCall("sadd", (f"family:{family}:jtis", f"{access.jti} {int(access.expires_at)}", ttl))
    refresh: str = yield SubFlow("issue_token", _issue_refresh_gen(svc, subject, carried, family, family_expires_at))
    scope = access.claims.get("scope")
    return TokenPair(
        access_token=access.token,
        expires_in=int(access.expires_at - access.claims["iat"]),
        refresh_token=refresh,
        scope=scope if isinstance(scope, str) else None,
    )


# -- validate_token ----------------------------------------------------------------------------------------


def _verify_gen(auth: Any, svc: TokenService, token: str) -> Generator[Any, Any, Principal]:
    """Verify signature and claims; fetch remote keys when configured; ``verify_signature`` hooks wrap the
    signature check when any are registered (as Joken's before/after_verify)."""
    keys = svc.keys
    if svc.remote is not None:
        kid = parse_header(split_compact(token, svc.settings.max_token_bytes)[0]).kid
        remote = yield Call(svc.remote.get_sync, svc.remote.get, (kid,))
        keys = svc.keyset_with(remote)
    registry = auth._registry
    if not (registry.get("verify_signature.pre") or registry.get("verify_signature.post")):
        principal: Principal = svc.validator.validate(token, keys=keys)
        return principal
    result: Principal = yield SubFlow("verify_signature", _verify_signature_jws_gen(svc, token, keys))
    return result


def _verify_signature_jws_gen(svc: TokenService, token: str, keys: Any) -> Generator[Any, Any, Principal]:
    message, _, signature = token.rpartition(".")
    values: dict[str, Any] = {"subject": None, "message": message, "signature": signature, "scheme": "jws"}
    yield RunHooks(_VS_PRE, values)
    if values["scheme"] != "jws" or not isinstance(values["message"], str) or not isinstance(values["signature"], str):
        raise HookError("verify_signature.pre: a JWS keeps scheme 'jws' and string message/signature")
    token = f"{values['message']}.{values['signature']}"
    try:
        principal = svc.validator.validate(token, keys=keys)
    except InvalidToken:
        yield RunHooks(_VS_POST, {"subject": None, "message": values["message"], "scheme": "jws", "valid": False})
        raise
    yield Note(subject=principal.subject)
    yield RunHooks(
        _VS_POST, {"subject": principal.subject, "message": values["message"], "scheme": "jws", "valid": True}
    )
    return principal


def validate_token_gen(auth: Any, token: str) -> Generator[Any, Any, Principal]:
    """Validate an access token: ``pre`` (replace or deny), the cache or a full check plus the revocation
    lookup, ``post`` (enrich or deny); any refusal fires ``failed`` with its reason and is re-raised.

    Raises:
        InvalidToken: a subclass naming the reason (``token_revoked`` for an invalidated ``jti``).
        Deny: a hook denied.
        StoreUnavailableError: the revocation check could not be made and ``store_failure`` is ``closed``.
        KeySetUnavailableError: no usable key (remote key set down, nothing cached).
    """
    svc: TokenService = auth.tokens
    hooks = auth._registry.get
    observed = bool(auth._runtime.watching())
    # Effects that would do nothing (no hooks at a point, no observer for a note) are not yielded: on the hot
    # path of a first-seen token the flow then yields only the revocation lookup.
    try:
        if hooks("validate_token.pre"):
            values: dict[str, Any] = {"token": token}
            yield RunHooks(_VT_PRE, values)
            token = values["token"]
        if type(token) is not str:
            raise MalformedToken()
        principal = svc.cache.get(token)
        if principal is None:
            if svc.remote is None and not (hooks("verify_signature.pre") or hooks("verify_signature.post")):
                principal = svc.validator.validate(token)
            else:
                principal = yield from _verify_gen(auth, svc, token)
            epoch = svc.cache.epoch
            yield from _check_revocation_gen(svc, principal)
            svc.cache.put(token, principal, epoch)
        if observed:
            yield Note(subject=principal.subject)
        if not hooks("validate_token.post"):
            return principal
        values = {"token": token, "principal": principal, "claims": principal.claims}
        yield RunHooks(_VT_POST, values)
        result = values["principal"]
        if not isinstance(result, Principal):
            raise HookError("validate_token.post: 'principal' must stay a Principal")
        return result
    except (AuthError, StoreError, KeySetUnavailableError) as exc:
        if hooks("validate_token.failed"):
            yield RunHooks(_VT_FAILED, {"reason": _fault_reason(exc), "error": exc})
        raise


def _login_id(principal: Principal) -> str | None:
    """The ``sid`` (refresh family) a token belongs to, when it carries a usable one."""
    sid = principal.claims.get("sid")
    return sid if type(sid) is str and 0 < len(sid) <= _MAX_SID_LEN else None


def _check_revocation_gen(svc: TokenService, principal: Principal) -> Gen:
    """Refuse a token whose ``jti`` was invalidated or whose login (``sid``) was ended.

    Both lookups are needed: a ``jti`` alone misses a token issued concurrently with its family's revocation,
    a ``sid`` alone misses a token invalidated on its own. A store fault fails closed unless ``store_failure``
    is ``open``.
    """
    keys = [f"revoked:{principal.jti}"] if principal.jti is not None else []
    sid = _login_id(principal)
    if sid is not None:
        keys.append(f"family:{sid}:revoked")
    for key in keys:
        try:
            revoked = yield StoreCall("get", (key,))
        except StoreError:
            if svc.settings.store_failure == "closed":
                raise
            yield Note(reason="store_unavailable_fail_open")
            return
        if revoked is not None:
            raise RevokedToken()


# -- refresh_token -----------------------------------------------------------------------------------------


def _revoke_family_gen(svc: TokenService, family: str, remaining: float) -> Gen:
    """End a login: mark its refresh family revoked and invalidate every access token issued within it.

    The family mark outlives both the family (``remaining`` seconds) and every access token of the family (their
    ``exp``, at least ``access_ttl``), since validation consults it for tokens that were issued concurrently and
    so are missing from the member list read here.
    """
    settings = svc.settings
    now = time.time()
    mark = max(remaining, settings.access_ttl_seconds) + settings.leeway_seconds
    yield StoreCall("set", (f"family:{family}:revoked", b"1", max(1.0, mark)))
    members = yield StoreCall("smembers", (f"family:{family}:jtis",))
    for member in members:
        # Each token stays revoked until its own exp: an issue_token.pre hook may have lengthened its life.
        jti, _, exp = member.partition(" ")
        lifetime = float(exp) - now if exp.isdigit() else settings.access_ttl_seconds
        yield from _revoke_jti_gen(svc, jti, max(lifetime, settings.access_ttl_seconds) + settings.leeway_seconds)


def _revoke_jti_gen(svc: TokenService, jti: str, ttl: float) -> Gen:
    yield StoreCall("set", (f"revoked:{jti}", b"1", max(1.0, ttl)))
    svc.cache.drop_jti(jti)
    yield StoreCall("publish", (REVOCATION_CHANNEL, jti.encode("ascii")))


def refresh_gen(auth: Any, refresh_token: str) -> Generator[Any, Any, TokenPair]:
    """Redeem a refresh token: rotate it (one use) and issue a new pair in the same family.

    Reuse of a rotated token revokes the whole family (its refresh tokens and its access tokens) and fires
    ``refresh_token.failed`` with ``family_revoked=True``.

    Raises:
        InvalidGrant: unknown, expired, revoked or reused (``reason`` says which).
    """
    svc: TokenService = auth.tokens
    subject: str | None = None
    family: str | None = None
    family_revoked = False
    try:
        yield RunHooks(_RT_PRE, {"refresh_token": refresh_token})
        if (
            type(refresh_token) is not str
            or not refresh_token.startswith(REFRESH_TOKEN_PREFIX)
            or len(refresh_token) > _MAX_REFRESH_LEN
        ):
            raise InvalidGrant(reason="refresh_token_unknown")
        digest = hash_refresh_token(refresh_token)
        raw = yield StoreCall("get", (f"refresh:{digest}",))
        if raw is None:
            raise InvalidGrant(reason="refresh_token_unknown")
        record = RefreshRecord.from_bytes(raw)
        subject, family = record.subject, record.family_id
        yield Note(subject=subject)
        remaining = record.expires_at - time.time()
        if remaining <= 0:
            raise InvalidGrant(reason="refresh_token_expired")
        # The one-use claim is atomic (set-if-absent): of two concurrent uses exactly one wins, and the other
        # (like any later use) is a reuse, which revokes the family (RFC 9700 §4.14.2).
        claimed = yield StoreCall("add", (f"refresh-used:{digest}", b"1", max(1.0, remaining)))
        if not claimed or record.state == "rotated":
            yield from _revoke_family_gen(svc, family, remaining)
            family_revoked = True
            raise InvalidGrant(reason="refresh_token_reused")
        if (yield StoreCall("get", (f"family:{family}:revoked",))) is not None:
            raise InvalidGrant(reason="refresh_token_revoked")
        claims = {k: v for k, v in record.claims.items() if k != "scope"}
        scope = record.claims.get("scope")
        scopes = scope.split() if isinstance(scope, str) else ()
        pair = yield from issue_tokens_gen(
            auth, subject, claims, scopes, family=family, family_expires_at=record.expires_at
        )
    except (AuthError, StoreError) as exc:
        yield RunHooks(
            _RT_FAILED,
            {
                "reason": _fault_reason(exc),
                "error": exc,
                "subject": subject,
                "family": family,
                "family_revoked": family_revoked,
            },
        )
        raise
    principal = Principal(subject, scopes=frozenset(scopes), token_type="refresh")
    yield RunHooks(_RT_POST, {"subject": subject, "principal": principal, "tokens": pair, "family": family})
    return pair


# -- invalidate_token --------------------------------------------------------------------------------------


def invalidate_token_gen(auth: Any, token: str) -> Generator[Any, Any, bool]:
    """End the login a token belongs to: a refresh token or an access token carrying ``sid`` revokes the whole
    refresh family (every refresh and access token of that login); an access token without ``sid`` (issued
    alone, by :meth:`issue_token`) is revoked by ``jti`` until its ``exp``.

    Returns True when something was revoked; False for a token that is invalid, expired or unknown (RFC 7009
    §2.2: the caller answers 200 either way; §2.1 lets revoking an access token revoke its refresh token).
    ``invalidate_token.pre`` may deny.
    """
    svc: TokenService = auth.tokens
    if type(token) is str and token.startswith(REFRESH_TOKEN_PREFIX) and len(token) <= _MAX_REFRESH_LEN:
        raw = yield StoreCall("get", (f"refresh:{hash_refresh_token(token)}",))
        if raw is None:
            yield Note(outcome=Outcome.NONE, reason="unknown_token")
            return False
        record = RefreshRecord.from_bytes(raw)
        yield Note(subject=record.subject)
        yield RunHooks(_IV_PRE, {"token": token, "principal": None, "jti": None})
        yield from _revoke_family_gen(svc, record.family_id, record.expires_at - time.time())
        yield RunHooks(
            _IV_POST,
            {"principal": None, "jti": None, "subject": record.subject, "expires_at": int(record.expires_at)},
        )
        return True
    try:
        principal = svc.cache.get(token) if type(token) is str else None
        if principal is None:
            principal = yield from _verify_gen(auth, svc, token)
    except InvalidToken as exc:
        yield Note(outcome=Outcome.NONE, reason=exc.reason)
        return False
    jti = principal.jti
    if jti is None:
        yield Note(outcome=Outcome.NONE, reason="no_jti")
        return False
    yield Note(subject=principal.subject)
    yield RunHooks(_IV_PRE, {"token": token, "principal": principal, "jti": jti})
    expires_at = principal.expires_at or time.time() + svc.settings.access_ttl_seconds
    yield from _revoke_jti_gen(svc, jti, expires_at - time.time() + svc.settings.leeway_seconds)
    sid = _login_id(principal)
    if sid is not None:
        # The family's own expiry is unknown here; it cannot outlive refresh_ttl from now.
        yield from _revoke_family_gen(svc, sid, svc.settings.refresh_ttl_seconds)
    yield RunHooks(
        _IV_POST,
        {"principal": principal, "jti": jti, "subject": principal.subject, "expires_at": int(expires_at)},
    )
    return True
