"""The flow methods of :class:`~authhooks.AuthHooks` for signing in with OpenID providers (:mod:`authhooks.oauth`)
and for browser sessions (:mod:`authhooks.sessions`); ``auth.sync`` holds their blocking twins.
"""

from __future__ import annotations

from collections.abc import Mapping

from authhooks._auth_engine import Engine
from authhooks.flows.oauth_authorize import Authorization, oauth_authorize
from authhooks.flows.oauth_callback import ExternalLogin, oauth_callback
from authhooks.flows.oauth_refresh import oauth_refresh, provider_tokens
from authhooks.flows.session import (
    ValidSession,
    create_session,
    end_session,
    end_sessions,
    list_sessions,
    rotate_session,
    validate_session,
)
from authhooks.oauth.records import ProviderTokens
from authhooks.records import Principal, RequestInfo
from authhooks.sessions import SessionGrant, SessionInfo

__all__ = ["SessionFlows"]


class SessionFlows(Engine):
    """Sign-in with OpenID providers and browser sessions, async."""

    async def oauth_authorize(
        self,
        provider: str,
        *,
        redirect_uri: str,
        return_to: str = "/",
        binding: str | None = None,
        request: RequestInfo | None = None,
    ) -> Authorization:
        """Start a sign-in with ``provider``: the URL to send the browser to, its ``state`` and browser binding
        (``binding``, the one the browser holds, is reused when well-formed: :mod:`authhooks.flows.oauth_authorize`)."""
        call = oauth_authorize(self.deps, self.oauth, provider, redirect_uri, return_to, binding)
        return await self.run_flow(call, request)

    async def oauth_callback(
        self,
        provider: str,
        params: Mapping[str, str],
        *,
        binding: str | None = None,
        session: bool = False,
        replaces: str | None = None,
        request: RequestInfo | None = None,
    ) -> ExternalLogin:
        """Finish a sign-in from the callback's query ``params``: a session (``session=True``) or a token pair
        (:mod:`authhooks.flows.oauth_callback`)."""
        call = oauth_callback(self.deps, self.oauth, provider, params, binding, session, replaces)
        return await self.run_flow(call, request)

    async def oauth_refresh(self, provider: str, subject: str, *, request: RequestInfo | None = None) -> ProviderTokens:
        """Refresh the provider's tokens kept for ``subject`` (``keep_tokens``; see :mod:`~.flows.oauth_refresh`)."""
        return await self.run_flow(oauth_refresh(self.deps, self.oauth, provider, subject), request)

    async def provider_tokens(self, provider: str, subject: str) -> ProviderTokens | None:
        """The provider's tokens kept for ``subject``, decrypted, or ``None``."""
        return await self.run_flow(provider_tokens(self.deps, self.oauth, provider, subject))

    async def create_session(
        self,
        principal: Principal,
        *,
        provider: str | None = None,
        replaces: str | None = None,
        family: str | None = None,
        request: RequestInfo | None = None,
    ) -> SessionGrant:
        """Make a browser session for ``principal``, ending ``replaces`` first (rotation); ``family`` links it to the
        refresh family of tokens the same login issued (:mod:`authhooks.flows.session`)."""
        return await self.run_flow(create_session(self.deps, principal, provider, replaces, family), request)

    async def rotate_session(self, session_id: str, *, request: RequestInfo | None = None) -> SessionGrant:
        """A new id for the live session ``session_id`` names, the old one ended: call it after a
        reauthentication and set the new cookies (:func:`authhooks.sessions.grant_cookies`)."""
        return await self.run_flow(rotate_session(self.deps, session_id), request)

    async def validate_session(self, session_id: str, *, request: RequestInfo | None = None) -> ValidSession:
        """The live session a cookie names (touched), or :class:`~authhooks.sessions.InvalidSession`."""
        return await self.run_flow(validate_session(self.deps, session_id), request)

    async def end_session(
        self,
        session_id: str | None = None,
        *,
        handle: str | None = None,
        reason: str = "logout",
        request: RequestInfo | None = None,
    ) -> bool:
        """End the session a cookie's id (or a listing's ``handle``) names, in every instance."""
        return await self.run_flow(end_session(self.deps, session_id, handle, reason), request)

    async def sessions(self, subject: str) -> list[SessionInfo]:
        """The live sessions of ``subject``, oldest first."""
        return await self.run_flow(list_sessions(self.deps, subject))

    async def end_sessions(self, subject: str, *, request: RequestInfo | None = None) -> int:
        """End every session of ``subject`` in every instance; return how many ended."""
        return await self.run_flow(end_sessions(self.deps, subject), request)
