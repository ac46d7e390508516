"""``auth.sync``: the blocking twin of every flow method of :class:`~authhooks.AuthHooks`.

The same flows (the same generators, the same hooks, the same telemetry) run under the sync driver: for WSGI
apps, scripts and threads. Sync hooks only: an async hook fails its run (its error policy applies). Each method
is one line, the twin of the async method of the same name, whose docstring says the contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from authhooks._auth_flows import answer_challenge, authorize_call
from authhooks.clients import Client, ClientCredentials
from authhooks.errors import AuthError
from authhooks.flows.challenge import Challenge, challenge
from authhooks.flows.invalidate_token import invalidate_token
from authhooks.flows.issue_token import issue_token, issue_tokens
from authhooks.flows.login import login
from authhooks.flows.oauth_authorize import Authorization, oauth_authorize
from authhooks.flows.oauth_callback import ExternalLogin, oauth_callback
from authhooks.flows.oauth_refresh import oauth_refresh, provider_tokens
from authhooks.flows.reauthenticate import reauthenticate
from authhooks.flows.refresh_token import refresh_token as refresh_token_flow
from authhooks.flows.register import register, registration_from_bytes
from authhooks.flows.session import (
    ValidSession,
    create_session,
    end_session,
    end_sessions,
    list_sessions,
    rotate_session,
    validate_session,
)
from authhooks.flows.validate_token import validate_token
from authhooks.flows.verify_signature import verify_signature
from authhooks.hooks.points import PointSpec
from authhooks.oauth.records import ProviderTokens
from authhooks.records import Principal, RequestInfo, TokenPair
from authhooks.sessions import SessionGrant, SessionInfo
from authhooks.tokens.introspection import introspection
from authhooks.tokens.issuer import IssuedToken
from authhooks.tokens.service import REVOCATION_CHANNEL
from authhooks.tokens.subjects import subject_revocation

if TYPE_CHECKING:
    from authhooks._auth import AuthHooks
    from authhooks._auth_hooks import FireResult

__all__ = ["SyncAuthHooks"]


class SyncAuthHooks:
    """The blocking flow methods of one ``AuthHooks`` (``auth.sync``); see the async methods for each contract."""

    __slots__ = ("_auth",)

    def __init__(self, auth: AuthHooks) -> None:
        self._auth = auth

    def __repr__(self) -> str:
        return f"<sync view of {self._auth!r}>"

    def fire(self, point: PointSpec, *, request: RequestInfo | None = None, **inputs: Any) -> FireResult:
        """Blocking :meth:`AuthHooks.fire`."""
        return self._auth.run_flow_sync(self._auth._fire(point, inputs), request)

    def generate_challenge(
        self,
        subject: str,
        expire_minutes: float | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        scheme: str | None = None,
        request: RequestInfo | None = None,
    ) -> Challenge:
        """Blocking :meth:`AuthHooks.generate_challenge`."""
        call = challenge(self._auth.deps, subject, expire_minutes, metadata, scheme)
        return self._auth.run_flow_sync(call, request)

    def verify_signature(
        self,
        subject: str,
        message: str | bytes,
        signature: str,
        *,
        scheme: str = "ed25519",
        request: RequestInfo | None = None,
    ) -> bool:
        """Blocking :meth:`AuthHooks.verify_signature`."""
        return self._auth.run_flow_sync(verify_signature(self._auth.deps, subject, message, signature, scheme), request)

    def login(
        self,
        subject: str,
        credentials: Mapping[str, Any],
        *,
        scheme: str = "ed25519",
        request: RequestInfo | None = None,
    ) -> TokenPair:
        """Blocking :meth:`AuthHooks.login`."""
        return self._auth.run_flow_sync(login(self._auth.deps, subject, credentials, scheme), request)

    def authenticate(
        self,
        subject: str,
        challenge: str,
        signature: str,
        *,
        scheme: str = "ed25519",
        request: RequestInfo | None = None,
    ) -> TokenPair:
        """Blocking :meth:`AuthHooks.authenticate`."""
        return self._auth.run_flow_sync(
            answer_challenge(self._auth.deps, subject, challenge, signature, scheme), request
        )

    def reauthenticate(
        self,
        principal: Principal,
        credentials: Mapping[str, Any],
        *,
        scheme: str | None = None,
        request: RequestInfo | None = None,
    ) -> Principal:
        """Blocking :meth:`AuthHooks.reauthenticate`."""
        return self._auth.run_flow_sync(reauthenticate(self._auth.deps, principal, credentials, scheme), request)

    def authorize(
        self,
        principal: Principal,
        required_scopes: str | Iterable[str] = (),
        *,
        permission: str | None = None,
        request: RequestInfo | None = None,
    ) -> Principal:
        """Blocking :meth:`AuthHooks.authorize`."""
        return self._auth.run_flow_sync(authorize_call(principal, required_scopes, permission), request)

    def register(
        self,
        subject: str,
        *,
        scheme: str = "ed25519",
        attributes: Mapping[str, Any] | None = None,
        request: RequestInfo | None = None,
    ) -> Principal:
        """Blocking :meth:`AuthHooks.register`."""
        return self._auth.run_flow_sync(register(self._auth.deps, subject, scheme, attributes), request)

    def get_registration(self, subject: str, *, scheme: str = "ed25519") -> Principal | None:
        """Blocking :meth:`AuthHooks.get_registration`."""
        return registration_from_bytes(self._auth.store.sync.get(self._auth.registration_key(subject, scheme)))

    def issue_token(
        self,
        subject: str,
        claims: Mapping[str, Any] | None = None,
        *,
        token_type: str = "access",
        ttl_seconds: int | None = None,
        request: RequestInfo | None = None,
    ) -> IssuedToken:
        """Blocking :meth:`AuthHooks.issue_token`."""
        return self._auth.run_flow_sync(issue_token(self._auth.deps, subject, claims, token_type, ttl_seconds), request)

    def issue_tokens(
        self,
        subject: str,
        claims: Mapping[str, Any] | None = None,
        *,
        scopes: Iterable[str] = (),
        request: RequestInfo | None = None,
    ) -> TokenPair:
        """Blocking :meth:`AuthHooks.issue_tokens`."""
        return self._auth.run_flow_sync(issue_tokens(self._auth.deps, subject, claims, scopes), request)

    def validate_token(self, token: str, *, request: RequestInfo | None = None) -> Principal:
        """Blocking :meth:`AuthHooks.validate_token`."""
        return self._auth.run_flow_sync(validate_token(self._auth.deps, token), request)

    def refresh_token(self, refresh_token: str, *, request: RequestInfo | None = None) -> TokenPair:
        """Blocking :meth:`AuthHooks.refresh_token`."""
        return self._auth.run_flow_sync(refresh_token_flow(self._auth.deps, refresh_token), request)

    def refresh(self, refresh_token: str, *, request: RequestInfo | None = None) -> TokenPair:
        """Deprecated name of :meth:`refresh_token`; kept for one release."""
        import warnings

        warnings.warn("auth.sync.refresh is deprecated: use refresh_token", DeprecationWarning, stacklevel=2)
        return self.refresh_token(refresh_token, request=request)

    def invalidate_token(self, token: str, *, request: RequestInfo | None = None) -> bool:
        """Blocking :meth:`AuthHooks.invalidate_token`."""
        return self._auth.run_flow_sync(invalidate_token(self._auth.deps, token), request)

    def revoke_subject(self, subject: str) -> None:
        """Blocking :meth:`AuthHooks.revoke_subject`."""
        auth = self._auth
        key, mark, ttl, message = subject_revocation(subject, auth.clock(), auth.settings)
        store = auth.store.sync
        store.set(key, mark, ttl)
        auth.tokens.cache.drop_subject(subject)
        store.publish(REVOCATION_CHANNEL, message)

    def introspect(self, token: str, *, request: RequestInfo | None = None) -> dict[str, Any]:
        """Blocking :meth:`AuthHooks.introspect`."""
        try:
            return introspection(self.validate_token(token, request=request))
        except AuthError:
            return {"active": False}

    def oauth_authorize(
        self,
        provider: str,
        *,
        redirect_uri: str,
        return_to: str = "/",
        binding: str | None = None,
        request: RequestInfo | None = None,
    ) -> Authorization:
        """Blocking :meth:`AuthHooks.oauth_authorize`."""
        auth = self._auth
        call = oauth_authorize(auth.deps, auth.oauth, provider, redirect_uri, return_to, binding)
        return auth.run_flow_sync(call, request)

    def oauth_callback(
        self,
        provider: str,
        params: Mapping[str, str],
        *,
        binding: str | None = None,
        session: bool = False,
        replaces: str | None = None,
        request: RequestInfo | None = None,
    ) -> ExternalLogin:
        """Blocking :meth:`AuthHooks.oauth_callback`."""
        auth = self._auth
        call = oauth_callback(auth.deps, auth.oauth, provider, params, binding, session, replaces)
        return auth.run_flow_sync(call, request)

    def oauth_refresh(self, provider: str, subject: str, *, request: RequestInfo | None = None) -> ProviderTokens:
        """Blocking :meth:`AuthHooks.oauth_refresh`."""
        return self._auth.run_flow_sync(oauth_refresh(self._auth.deps, self._auth.oauth, provider, subject), request)

    def provider_tokens(self, provider: str, subject: str) -> ProviderTokens | None:
        """Blocking :meth:`AuthHooks.provider_tokens`."""
        return self._auth.run_flow_sync(provider_tokens(self._auth.deps, self._auth.oauth, provider, subject))

    def create_session(
        self,
        principal: Principal,
        *,
        provider: str | None = None,
        replaces: str | None = None,
        family: str | None = None,
        request: RequestInfo | None = None,
    ) -> SessionGrant:
        """Blocking :meth:`AuthHooks.create_session`."""
        call = create_session(self._auth.deps, principal, provider, replaces, family)
        return self._auth.run_flow_sync(call, request)

    def rotate_session(self, session_id: str, *, request: RequestInfo | None = None) -> SessionGrant:
        """Blocking :meth:`AuthHooks.rotate_session`."""
        return self._auth.run_flow_sync(rotate_session(self._auth.deps, session_id), request)

    def validate_session(self, session_id: str, *, request: RequestInfo | None = None) -> ValidSession:
        """Blocking :meth:`AuthHooks.validate_session`."""
        return self._auth.run_flow_sync(validate_session(self._auth.deps, session_id), request)

    def end_session(
        self,
        session_id: str | None = None,
        *,
        handle: str | None = None,
        reason: str = "logout",
        request: RequestInfo | None = None,
    ) -> bool:
        """Blocking :meth:`AuthHooks.end_session`."""
        return self._auth.run_flow_sync(end_session(self._auth.deps, session_id, handle, reason), request)

    def sessions(self, subject: str) -> list[SessionInfo]:
        """Blocking :meth:`AuthHooks.sessions`."""
        return self._auth.run_flow_sync(list_sessions(self._auth.deps, subject))

    def end_sessions(self, subject: str, *, request: RequestInfo | None = None) -> int:
        """Blocking :meth:`AuthHooks.end_sessions`."""
        return self._auth.run_flow_sync(end_sessions(self._auth.deps, subject), request)

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """:meth:`AuthHooks.jwks` (already blocking), so ``auth.sync`` holds every method the WSGI driver calls."""
        return self._auth.jwks()

    def signing_algorithms(self) -> tuple[str, ...]:
        """:meth:`AuthHooks.signing_algorithms` (already blocking)."""
        return self._auth.signing_algorithms()

    def authenticate_client(self, credentials: ClientCredentials, use: str) -> Client:
        """Blocking :meth:`AuthHooks.authenticate_client`, in the caller's thread."""
        return self._auth.clients.authenticate(credentials, use)

    def prepare(self) -> None:
        """Blocking :meth:`AuthHooks.prepare`."""
        tokens = self._auth.tokens
        if tokens.remote is not None:
            tokens.remote.get_sync(None)
