"""The hook-point catalogue of product.md §4, the seed systems' aliases, and application-declared points.

A hook point is ``<flow>.<stage>``. Each is either a **decision** point (hooks may change the named inputs by
returning a mapping, or deny), a **provide** point (a first-result-wins chain), or a **notification** point
(returns are ignored; hooks may run in the background).

Every hook may name, besides the point's inputs, these context parameters:

========== ==========================================================================================
``event``  the frozen :class:`~authhooks.events.Event` (point, flow, stage, a snapshot of the inputs)
``request`` the :class:`~authhooks.events.RequestInfo` of the HTTP request, or ``None``
``store``  the state :class:`~authhooks.stores.Store`
``auth``   the :class:`~authhooks.AuthHooks` instance (to issue, validate or invalidate tokens)
``point``  the point name
========== ==========================================================================================
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from authhooks.errors import HookError
from authhooks.events import Flow, Stage

__all__ = [
    "ALIASES",
    "CATALOGUE",
    "CONTEXT_PARAMETERS",
    "HookPoint",
    "PointKind",
    "PointSpec",
    "declare_point",
    "resolve_point",
]

CONTEXT_PARAMETERS = frozenset({"event", "request", "store", "auth", "point"})


class PointKind(str, enum.Enum):
    """How a point treats its hooks' returns."""

    DECISION = "decision"
    PROVIDE = "provide"
    NOTIFICATION = "notification"


@dataclass(frozen=True, slots=True)
class HookPoint:
    """A declared hook point.

    Attributes:
        name: ``"<flow>.<stage>"``.
        flow: the flow part.
        stage: the stage part.
        kind: decision, provide or notification.
        inputs: the names a hook may take as parameters (besides :data:`CONTEXT_PARAMETERS`).
        mutable: the names a decision hook may change by returning a mapping.
        doc: what the point is for.
    """

    name: str
    flow: str
    stage: str
    kind: PointKind
    inputs: frozenset[str]
    mutable: frozenset[str] = frozenset()
    doc: str = ""

    @property
    def parameters(self) -> frozenset[str]:
        """Every parameter name a hook at this point may take."""
        return self.inputs | CONTEXT_PARAMETERS


PointSpec = str | tuple[Flow | str, Stage | str] | HookPoint
"""How callers name a point: ``"login.pre"``, an alias (``"pre_auth"``), ``(Flow.LOGIN, Stage.PRE)``, or a
:class:`HookPoint`."""

_D, _P, _N = PointKind.DECISION, PointKind.PROVIDE, PointKind.NOTIFICATION


def _p(name: str, kind: PointKind, inputs: str, mutable: str = "", doc: str = "") -> HookPoint:
    flow, stage = name.split(".")
    return HookPoint(name, flow, stage, kind, frozenset(inputs.split()), frozenset(mutable.split()), doc)


CATALOGUE: dict[str, HookPoint] = {
    p.name: p
    for p in (
        # challenge-response login: a challenge is issued for a subject
        _p(
            "challenge.pre",
            _D,
            "subject expire_minutes metadata",
            "subject expire_minutes metadata",
            "Before a challenge is made: change its expiry, or deny (rate limiting).",
        ),
        _p("challenge.post", _N, "subject challenge expires_at", doc="A challenge was issued and stored."),
        # login
        _p(
            "login.pre",
            _D,
            "subject credentials scheme",
            "subject credentials scheme",
            "Before a login is checked: rewrite the identifier or credentials, or deny.",
        ),
        _p(
            "login.provide",
            _P,
            "subject credentials scheme",
            doc="Provider chain: the first hook returning a Principal (or subject string) wins; the built-in "
            "challenge-response provider runs last.",
        ),
        _p(
            "login.verified",
            _D,
            "subject principal claims scopes external",
            "subject claims scopes",
            "The identity is known, tokens not issued yet: add claims or scopes, link the identity to a local "
            "subject, or deny (second factor). `external` is the provider's identity (provider, subject, claims) "
            "of a sign-in with an OpenID provider, else None.",
        ),
        _p("login.post", _N, "subject principal tokens", doc="A login succeeded and tokens were issued."),
        _p(
            "login.failed",
            _N,
            "subject reason error scheme",
            doc="A login failed; `reason` is low-cardinality (`bad_signature`, `challenge_expired`…).",
        ),
        # signature verification (challenge-response)
        _p(
            "verify_signature.pre",
            _D,
            "subject message signature scheme",
            "subject message signature scheme",
            "Before a signature is checked: change the message, signature or scheme, or deny.",
        ),
        _p(
            "verify_signature.post",
            _N,
            "subject message scheme valid",
            doc="A signature was checked; `valid` says how it went.",
        ),
        # tokens
        _p(
            "issue_token.pre",
            _D,
            "subject claims token_type ttl_seconds",
            "claims ttl_seconds",
            "Before a token is signed: add or change claims, change the lifetime, or deny.",
        ),
        _p(
            "issue_token.post",
            _N,
            "subject claims token_type token jti expires_at",
            doc="A token was issued (access or refresh).",
        ),
        _p("validate_token.pre", _D, "token", "token", "Before a token is checked: replace it, or deny."),
        _p(
            "validate_token.post",
            _D,
            "token principal claims",
            "principal",
            "A token verified: enrich the principal (return {'principal': ...}) or deny.",
        ),
        _p("validate_token.failed", _N, "reason error", doc="A token was refused; `reason` says why."),
        _p("refresh_token.pre", _D, "refresh_token", doc="Before a refresh token is redeemed: deny."),
        _p("refresh_token.post", _N, "subject principal tokens family", doc="A refresh succeeded."),
        _p(
            "refresh_token.failed",
            _N,
            "reason error subject family family_revoked",
            doc="A refresh failed; `family_revoked` is true when reuse revoked the whole family.",
        ),
        _p("invalidate_token.pre", _D, "token principal jti", doc="Before a token is revoked: deny."),
        _p("invalidate_token.post", _N, "principal jti subject expires_at", doc="A token was revoked."),
        # reauthentication (FlaskBB)
        _p(
            "reauthenticate.pre",
            _D,
            "principal credentials scheme",
            "credentials scheme",
            "Before a reauthentication: rewrite the credentials, or deny.",
        ),
        _p(
            "reauthenticate.provide",
            _P,
            "principal credentials scheme",
            doc="Reauthentication providers: the first hook returning True/a Principal confirms the identity.",
        ),
        _p("reauthenticate.post", _N, "principal", doc="A reauthentication succeeded."),
        _p(
            "reauthenticate.failed",
            _N,
            "principal reason error failures",
            doc="A reauthentication failed; `failures` counts recent failures for the subject.",
        ),
        # authorization
        _p(
            "authorize.pre",
            _D,
            "principal required_scopes permission granted",
            "required_scopes granted",
            "Before scopes are checked: return {'granted': True} to grant, change the scopes, or deny.",
        ),
        _p("authorize.post", _N, "principal required_scopes permission", doc="Access was granted."),
        _p("authorize.failed", _N, "principal required_scopes permission reason", doc="Access was denied."),
        # registration
        _p(
            "register.pre",
            _D,
            "subject scheme attributes",
            "subject attributes",
            "Before an identity is registered: change its attributes, or deny.",
        ),
        _p("register.post", _N, "subject principal attributes", doc="An identity was registered."),
        _p("register.failed", _N, "subject reason error", doc="A registration failed."),
        # sign-in with an external OpenID provider (authorization code + PKCE; lback's OAuth2 client)
        _p(
            "oauth_authorize.pre",
            _D,
            "provider scopes params return_to",
            "scopes params return_to",
            "Before the authorization URL is built: change the scopes, add parameters (`prompt`, `login_hint`), "
            "change where to land after the login, or deny.",
        ),
        _p(
            "oauth_authorize.post",
            _N,
            "provider url expires_at",
            doc="The authorization URL (with `state`, `nonce` and the PKCE challenge) was built and the pending "
            "login stored.",
        ),
        _p(
            "oauth_callback.pre",
            _D,
            "provider params",
            doc="The provider redirected back: look at the query parameters (`error`, `iss`…), or deny.",
        ),
        _p(
            "oauth_callback.post",
            _N,
            "provider subject external",
            doc="An external login completed: the ID token was valid and the login succeeded.",
        ),
        _p(
            "oauth_callback.failed",
            _N,
            "provider reason error",
            doc="An external login failed; `reason` is low-cardinality (`state_unknown`, `nonce_mismatch`…).",
        ),
        _p(
            "oauth_exchange.post",
            _N,
            "provider tokens claims",
            doc="The authorization code was exchanged and the ID token validated (lback's token fetched).",
        ),
        _p(
            "oauth_exchange.failed",
            _N,
            "provider reason error",
            doc="The code exchange or the ID token validation failed (lback's token fetch failed).",
        ),
        _p(
            "oauth_refresh.post",
            _N,
            "provider subject tokens",
            doc="The provider's tokens kept for a subject were refreshed.",
        ),
        _p(
            "oauth_refresh.failed",
            _N,
            "provider subject reason error",
            doc="Refreshing the provider's tokens failed.",
        ),
        # browser sessions (lback's session auth)
        _p("session.created", _N, "subject principal session", doc="A browser session was created (a login)."),
        _p(
            "session.validated",
            _D,
            "subject principal session",
            "principal",
            "A session cookie matched a live session: enrich the principal, or deny (ends nothing).",
        ),
        _p(
            "session.ended",
            _N,
            "subject session reason",
            doc="A session ended: `reason` is `logout`, `rotated`, `revoked`, `idle_timeout` or `absolute_timeout`.",
        ),
        _p("session.failed", _N, "reason error", doc="A session cookie was refused; `reason` says why."),
        # observed application routes (privacyIDEA: every API call is an event)
        _p("request.pre", _D, "method path identifier body", doc="Before an observed route runs: deny."),
        _p(
            "request.post",
            _N,
            "method path identifier status_code",
            doc="An observed route answered with `status_code`.",
        ),
    )
}

ALIASES: dict[str, str] = {
    # Evrmore Authentication
    "pre_challenge": "challenge.pre",
    "post_challenge": "challenge.post",
    "pre_auth": "login.pre",
    "post_auth": "login.post",
    "pre_verify": "verify_signature.pre",
    "post_verify": "verify_signature.post",
    "pre_token_validate": "validate_token.pre",
    "post_token_validate": "validate_token.post",
    "pre_token_invalidate": "invalidate_token.pre",
    "post_token_invalidate": "invalidate_token.post",
    # Joken
    "before_generate": "issue_token.pre",
    "after_generate": "issue_token.post",
    "before_sign": "issue_token.pre",
    "after_sign": "issue_token.post",
    "before_verify": "verify_signature.pre",
    "after_verify": "verify_signature.post",
    "before_validate": "validate_token.pre",
    "after_validate": "validate_token.post",
    # FlaskBB
    "authenticate": "login.provide",
    "post_authenticate": "login.verified",
    "authentication_failed": "login.failed",
    "reauth_attempt": "reauthenticate.provide",
    "post_reauth": "reauthenticate.post",
    "reauth_failed": "reauthenticate.failed",
    "user_registered": "register.post",
    # lback (OAuth2Auth, SessionAuth)
    "oauth2_authorize_url_generated": "oauth_authorize.post",
    "oauth2_token_fetched": "oauth_exchange.post",
    "oauth2_token_fetch_failed": "oauth_exchange.failed",
    "oauth2_token_refreshed": "oauth_refresh.post",
    "oauth2_token_refresh_failed": "oauth_refresh.failed",
    "user_logged_in": "session.created",
    "session_login_failed": "session.failed",
    "session_authentication_check": "session.validated",
    "user_logged_out": "session.ended",
}

_NAME = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")


def _normalise(spec: PointSpec) -> str:
    if isinstance(spec, HookPoint):
        return spec.name
    if isinstance(spec, tuple):
        if len(spec) != 2:
            raise HookError(f"a hook point tuple is (flow, stage), got {spec!r}")
        flow, stage = spec
        return f"{getattr(flow, 'value', flow)}.{getattr(stage, 'value', stage)}"
    if isinstance(spec, str):
        return ALIASES.get(spec, spec)
    raise HookError(f"a hook point is a 'flow.stage' string, an alias or a (Flow, Stage) pair, got {spec!r}")


def resolve_point(spec: PointSpec, points: dict[str, HookPoint]) -> HookPoint:
    """Return the declared point ``spec`` names in ``points`` (the catalogue plus application points).

    Raises:
        HookError: the name is neither declared nor an alias (the message suggests close names).
    """
    name = _normalise(spec)
    point = points.get(name)
    if point is None:
        import difflib

        hint = difflib.get_close_matches(name, [*points, *ALIASES], n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        raise HookError(f"unknown hook point {name!r}{suggestion} (declare your own with auth.declare_point)")
    return point


def declare_point(
    name: str,
    *,
    kind: PointKind | str = PointKind.NOTIFICATION,
    inputs: tuple[str, ...] | frozenset[str] = (),
    mutable: tuple[str, ...] | frozenset[str] = (),
    doc: str = "",
) -> HookPoint:
    """Build an application hook point (FlaskBB's post-save events).

    Raises:
        HookError: a malformed name, ``mutable`` names that are not inputs, or a context-parameter clash.
    """
    if not _NAME.match(name):
        raise HookError(f"a hook point name is '<flow>.<stage>' in lower case, got {name!r}")
    try:
        kind = PointKind(kind)
    except ValueError:
        raise HookError(f"{name}: kind must be one of {', '.join(k.value for k in PointKind)}") from None
    inputs_set, mutable_set = frozenset(inputs), frozenset(mutable)
    if not mutable_set <= inputs_set:
        raise HookError(f"{name}: mutable names {sorted(mutable_set - inputs_set)} are not inputs")
    if inputs_set & CONTEXT_PARAMETERS:
        raise HookError(f"{name}: inputs may not use the context names {sorted(inputs_set & CONTEXT_PARAMETERS)}")
    if mutable_set and kind is PointKind.NOTIFICATION:
        raise HookError(f"{name}: a notification point cannot have mutable inputs")
    flow, stage = name.split(".")
    return HookPoint(name, flow, stage, kind, inputs_set, mutable_set, doc)
