"""Revocation steps shared by the token flows (sans-IO helpers, not flows of their own).

Store layout (keys are prefixed by the store backend):

============================== ========================================================================
``revoked:<jti>``              an invalidated access token, kept until its ``exp`` (plus leeway)
``refresh:<sha256>``           a refresh token's :class:`~authhooks.tokens.refresh.RefreshRecord`
``refresh-used:<sha256>``      the atomic one-use claim of a refresh token (a second claim is a reuse)
``family:<id>:revoked``        a revoked refresh family (reuse detected, or logout)
``family:<id>:jtis``           ``"<jti> <exp>"`` of each access token issued within a family (revoked with it)
``subject-nbf:<sha256>``       a subject's not-before mark: its tokens and refresh tokens issued earlier are refused
============================== ========================================================================

Refresh families keep the lifetime of the login that started them: rotation never extends it.

A refresh family **is** the login: every access token issued within it carries the family id as its ``sid``
claim. Validation refuses a token whose ``jti`` is revoked *or* whose ``sid`` names a revoked family, so a token
issued concurrently with a family's revocation (the winner of a refresh-reuse race, issued after the loser read
the family's members) is refused too; and invalidating any token of a login (the access token at logout, or the
refresh token) ends the whole login.
"""

from __future__ import annotations

from authhooks.errors import AuthError, KeySetUnavailableError, RevokedToken, StoreError
from authhooks.flows.deps import FlowDeps
from authhooks.flows.effects import FlowGen, Note, StoreCall
from authhooks.records import Principal
from authhooks.tokens.service import REVOCATION_CHANNEL
from authhooks.tokens.subjects import issued_before_mark, mark_key

__all__ = ["MAX_REFRESH_LEN", "check_revocation", "fault_reason", "login_id", "revoke_family", "revoke_jti"]

MAX_REFRESH_LEN = 128
_MAX_SID_LEN = 128


def fault_reason(exc: BaseException) -> str:
    """The low-cardinality reason of a refusal or fault."""
    if isinstance(exc, AuthError):
        return exc.reason
    if isinstance(exc, KeySetUnavailableError):
        return "key_set_unavailable"
    if isinstance(exc, StoreError):
        return "store_unavailable"
    return "internal_error"


def login_id(principal: Principal) -> str | None:
    """The ``sid`` (refresh family) a token belongs to, when it carries a usable one."""
    sid = principal.claims.get("sid")
    return sid if type(sid) is str and 0 < len(sid) <= _MAX_SID_LEN else None


def check_revocation(deps: FlowDeps, principal: Principal) -> FlowGen[None]:
    """Refuse a token whose ``jti`` was invalidated, whose login (``sid``) was ended, or that was issued before its
    subject's not-before mark (``auth.revoke_subject``: :mod:`authhooks.tokens.subjects`).

    The lookups go to the store in one ``get_many`` (one round trip). Both ``jti`` and ``sid`` are needed: a
    ``jti`` alone misses a token issued concurrently with its family's revocation, a ``sid`` alone misses a token
    invalidated on its own. A store fault fails closed unless ``store_failure`` is ``open``.

    Raises:
        RevokedToken: any of them says so.
        StoreError: the store could not answer and ``store_failure`` is ``closed``.
    """
    jti = principal.jti
    keys = [f"revoked:{jti}"] if jti is not None else []
    sid = login_id(principal)
    if sid is not None:
        keys.append(f"family:{sid}:revoked")
    keys.append(mark_key(principal.subject))
    try:  # one round trip for every lookup (a Redis MGET)
        values = yield StoreCall("get_many", (keys,))
    except StoreError:
        if deps.settings.store_failure == "closed":
            raise
        yield Note(reason="store_unavailable_fail_open")
        return
    if values.count(None) == len(values):
        return  # no mark at all: the common case, judged in one call
    marks = values[:-1]  # the jti and sid marks; the last value is the subject's not-before mark
    if marks.count(None) != len(marks) or issued_before_mark(principal.claims.get("iat"), values[-1]):
        raise RevokedToken()


def revoke_family(deps: FlowDeps, family: str, remaining: float) -> FlowGen[None]:
    """End a login: mark its refresh family revoked and invalidate every access token issued within it.

    The family mark outlives both the family (``remaining`` seconds) and every access token of the family (their
    ``exp``, at least ``access_ttl``), since validation consults it for tokens that were issued concurrently and
    so are missing from the member list read here.
    """
    settings = deps.settings
    now = deps.now()
    mark = max(remaining, settings.access_ttl_seconds) + settings.leeway_seconds
    yield StoreCall("set", (f"family:{family}:revoked", b"1", max(1.0, mark)))
    members = yield StoreCall("smembers", (f"family:{family}:jtis",))
    for member in members:
        # Each token stays revoked until its own exp: an issue_token.pre hook may have lengthened its life.
        jti, _, exp = member.partition(" ")
        lifetime = float(exp) - now if exp.isdigit() else settings.access_ttl_seconds
        yield from revoke_jti(deps, jti, max(lifetime, settings.access_ttl_seconds) + settings.leeway_seconds)


def revoke_jti(deps: FlowDeps, jti: str, ttl: float) -> FlowGen[None]:
    """Revoke one access token for ``ttl`` seconds, drop it from this instance's cache and tell the others."""
    yield StoreCall("set", (f"revoked:{jti}", b"1", max(1.0, ttl)))
    deps.tokens.cache.drop_jti(jti)
    yield StoreCall("publish", (REVOCATION_CHANNEL, jti.encode("ascii")))
