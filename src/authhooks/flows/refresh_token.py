"""The ``refresh_token`` flow (sans-IO): redeem a refresh token for a new pair in the same login."""

from __future__ import annotations

from authhooks.errors import AuthError, InvalidGrant, StoreError
from authhooks.events import Flow
from authhooks.flows.deps import FlowDeps
from authhooks.flows.effects import FlowGen, Note, RunHooks, StoreCall, flow
from authhooks.flows.issue_token import issue_token_pair
from authhooks.flows.revocation import MAX_REFRESH_LEN, fault_reason, revoke_family
from authhooks.hooks.points import CATALOGUE
from authhooks.records import Principal, TokenPair
from authhooks.tokens.refresh import REFRESH_TOKEN_PREFIX, RefreshRecord, hash_refresh_token
from authhooks.tokens.subjects import issued_before_mark, mark_key

__all__ = ["refresh_token"]

_PRE, _POST, _FAILED = (CATALOGUE[f"refresh_token.{s}"] for s in ("pre", "post", "failed"))


@flow(Flow.REFRESH_TOKEN)
def refresh_token(deps: FlowDeps, refresh_token: str) -> FlowGen[TokenPair]:
    """Redeem a refresh token: rotate it (one use) and issue a new pair in the same family.

    Reuse of a rotated token revokes the whole family (its refresh tokens and its access tokens) and fires
    ``refresh_token.failed`` with ``family_revoked=True``.

    Raises:
        InvalidGrant: unknown, expired, revoked or reused (``reason`` says which).
    """
    subject: str | None = None
    family: str | None = None
    family_revoked = False
    scopes: list[str] = []
    try:
        yield RunHooks(_PRE, {"refresh_token": refresh_token})
        if (
            type(refresh_token) is not str
            or not refresh_token.startswith(REFRESH_TOKEN_PREFIX)
            or len(refresh_token) > MAX_REFRESH_LEN
        ):
            raise InvalidGrant(reason="refresh_token_unknown")
        digest = hash_refresh_token(refresh_token)
        raw = yield StoreCall("get", (f"refresh:{digest}",))
        if raw is None:
            raise InvalidGrant(reason="refresh_token_unknown")
        record = RefreshRecord.from_bytes(raw)
        subject, family = record.subject, record.family_id
        yield Note(subject=subject)
        remaining = record.expires_at - deps.now()
        if remaining <= 0:
            raise InvalidGrant(reason="refresh_token_expired")
        if issued_before_mark(record.issued_at, (yield StoreCall("get", (mark_key(subject),)))):
            raise InvalidGrant(reason="refresh_token_revoked")  # auth.revoke_subject: every family of the subject
        # The family mark is read before the one-use claim and judged after it. The claim is atomic
        # (set-if-absent): of concurrent uses exactly one wins, and the others (like any later use) are reuses,
        # which revoke the family (RFC 9700 §4.14.2). A mark read after the claim could be a loser's, set between
        # the winner's claim and its issue; read before, it is only a login already ended (logout, an earlier
        # reuse). So the race has one outcome whatever the interleaving: one pair, the rest reuses, and the
        # winner's pair refused at validation with its family (revocation.py: a ``sid`` naming a revoked family).
        ended = (yield StoreCall("get", (f"family:{family}:revoked",))) is not None
        claimed = yield StoreCall("add", (f"refresh-used:{digest}", b"1", max(1.0, remaining)))
        if not claimed or record.state == "rotated":
            yield from revoke_family(deps, family, remaining)
            family_revoked = True
            raise InvalidGrant(reason="refresh_token_reused")
        if ended:
            raise InvalidGrant(reason="refresh_token_revoked")
        claims = {k: v for k, v in record.claims.items() if k != "scope"}
        scope = record.claims.get("scope")
        scopes = scope.split() if isinstance(scope, str) else []
        pair = yield from issue_token_pair(
            deps, subject, claims, scopes, family=family, family_expires_at=record.expires_at
        )
    except (AuthError, StoreError) as exc:
        yield RunHooks(
            _FAILED,
            {
                "reason": fault_reason(exc),
                "error": exc,
                "subject": subject,
                "family": family,
                "family_revoked": family_revoked,
            },
        )
        raise
    assert subject is not None
    principal = Principal(subject, scopes=frozenset(scopes), token_type="refresh")
    yield RunHooks(_POST, {"subject": subject, "principal": principal, "tokens": pair, "family": family})
    return pair
