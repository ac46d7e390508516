"""An external login (sans-IO): the ``login`` flow's stages for an identity an OpenID provider proved.

The provider already proved who signed in, so there is no ``login.provide`` stage; otherwise it is an ordinary
login (product.md §4), with the same points and the same rules:

1. ``login.pre`` (decision) with ``subject`` ``{provider}:{sub}``, ``credentials`` ``{"provider": name}`` and
   ``scheme`` ``"oidc"``: may rewrite the subject (link) or deny (a lockout);
2. ``login.verified`` (decision) also sees ``external``, the :class:`~authhooks.oauth.records.ExternalIdentity`
   (provider, subject, claims): may link it to a local ``subject``, add ``claims`` or ``scopes``, or deny;
3. a session (:func:`~authhooks.flows.session.create_session`, rotating the one the request came with) or a token
   pair (:func:`~authhooks.flows.issue_token.issue_token_pair`);
4. ``login.post``, or ``login.failed`` on any failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from authhooks.errors import HookError, InvalidRequest
from authhooks.events import Flow
from authhooks.flows.challenge import validate_subject
from authhooks.flows.deps import FlowDeps
from authhooks.flows.effects import FlowGen, Note, RunHooks, SubFlow, flow
from authhooks.flows.issue_token import issue_token_pair
from authhooks.flows.login import failure_reason, verified_principal
from authhooks.flows.session import create_session
from authhooks.hooks.points import CATALOGUE
from authhooks.oauth.records import ExternalIdentity
from authhooks.records import Principal, TokenPair
from authhooks.sessions import SessionGrant

__all__ = ["LoginResult", "external_login"]

_PRE, _VERIFIED = CATALOGUE["login.pre"], CATALOGUE["login.verified"]
_POST, _FAILED = CATALOGUE["login.post"], CATALOGUE["login.failed"]


@dataclass(frozen=True, slots=True)
class LoginResult:
    """What a login made: the principal, and a token pair or a session."""

    principal: Principal
    tokens: TokenPair | None = None
    session: SessionGrant | None = None


@flow(Flow.LOGIN)
def external_login(
    deps: FlowDeps, identity: ExternalIdentity, session: bool = False, replaces: str | None = None
) -> FlowGen[LoginResult]:
    """Log in the identity a provider proved; a session when ``session`` (ending ``replaces``), else tokens.

    Raises:
        Deny: a hook denied.
        HookError: a hook set a malformed subject, claims or scopes.
    """
    values: dict[str, Any] = {
        "subject": identity.local_subject,
        "credentials": {"provider": identity.provider},
        "scheme": "oidc",
    }
    try:
        yield Note(subject=identity.local_subject)
        yield RunHooks(_PRE, values)
        try:
            subject = validate_subject(values["subject"])
        except InvalidRequest:
            raise HookError("a login.pre hook set a malformed subject") from None
        principal = Principal(
            subject=subject, attributes=MappingProxyType({"scheme": "oidc", "provider": identity.provider})
        )
        verified: dict[str, Any] = {
            "subject": subject,
            "principal": principal,
            "claims": {"auth_time": int(deps.now()), "idp": identity.provider},
            "scopes": set(),
            "external": identity,
        }
        yield RunHooks(_VERIFIED, verified)
        principal = verified_principal(principal, verified)
        yield Note(subject=principal.subject)
        pair: TokenPair | None = None
        grant: SessionGrant | None = None
        if session:
            grant = yield SubFlow(create_session(deps, principal, identity.provider, replaces))
        else:
            pair = yield from issue_token_pair(deps, principal.subject, principal.claims, principal.scopes)
        yield RunHooks(_POST, {"subject": principal.subject, "principal": principal, "tokens": pair})
        return LoginResult(principal, pair, grant)
    except Exception as exc:
        reason = failure_reason(exc)
        yield Note(reason=reason)
        yield RunHooks(_FAILED, {"subject": values["subject"], "reason": reason, "error": exc, "scheme": "oidc"})
        raise
