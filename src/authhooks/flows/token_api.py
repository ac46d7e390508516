"""The public token API of ``AuthHooks``: issue, validate, refresh, invalidate, introspect, JWKS.

Every method is async with a ``*_sync`` twin, takes ``request=`` (the HTTP request behind the call, shown to
hooks as ``request``) and runs a sans-IO flow from :mod:`authhooks.flows.tokens` under the matching driver.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from authhooks.errors import AuthError
from authhooks.events import Principal, RequestInfo, TokenPair
from authhooks.flows.host import FlowHost
from authhooks.flows.tokens import (
    invalidate_token_gen,
    issue_token_gen,
    issue_tokens_gen,
    refresh_gen,
    validate_token_gen,
)
from authhooks.tokens.issuer import IssuedToken
from authhooks.tokens.service import TokenService

__all__ = ["TokenFlows"]

_VALIDATION_POINTS = (
    "validate_token.pre",
    "validate_token.post",
    "validate_token.failed",
    "verify_signature.pre",
    "verify_signature.post",
)
_service_lock = threading.Lock()


def _introspection(principal: Principal) -> dict[str, Any]:
    """The RFC 7662 §2.2 body of an active access token."""
    body: dict[str, Any] = {"active": True, "token_type": "access_token", "sub": principal.subject}
    for claim in ("scope", "client_id", "exp", "iat", "nbf", "jti", "iss", "aud"):
        if claim in principal.claims:
            body[claim] = principal.claims[claim]
    return body


class TokenFlows(FlowHost):
    """Token methods of :class:`~authhooks.AuthHooks` (a mixin)."""

    _token_service: TokenService | None = None

    @property
    def tokens(self) -> TokenService:
        """The token layer (keys, issuer, validator, cache), built on first use.

        Raises:
            ConfigurationError: unreadable or weak keys, naming the variable.
        """
        svc = self._token_service
        if svc is None:
            with _service_lock:
                svc = self._token_service
                if svc is None:
                    svc = TokenService(self.settings)
                    svc.subscribe(self.store)
                    self._token_service = svc
        return svc

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public JWK Set of the keys this instance signs and validates with (RFC 7517 §5)."""
        return self.tokens.jwks()

    async def prepare(self) -> None:
        """Build the token layer and prefetch remote keys (the middleware calls this at startup).

        Raises:
            ConfigurationError: bad keys. A remote key set that is down is logged by the caller, not raised.
        """
        svc = self.tokens
        if svc.remote is not None:
            await svc.remote.get(None)

    def prepare_sync(self) -> None:
        """The sync twin of :meth:`prepare`."""
        svc = self.tokens
        if svc.remote is not None:
            svc.remote.get_sync(None)

    # -- issue ------------------------------------------------------------------------------------------------

    async def issue_token(
        self,
        subject: str,
        claims: Mapping[str, Any] | None = None,
        *,
        token_type: str = "access",
        ttl_seconds: int | None = None,
        request: RequestInfo | None = None,
    ) -> IssuedToken:
        """Sign one JWT for ``subject`` (``issue_token.pre`` may add claims or deny; ``post`` observes).

        Reserved claims (``iss``, ``sub``, ``iat``, ``exp``, ``jti``) are set by the issuer; ``aud`` is the
        first configured audience.
        """
        gen = issue_token_gen(self.tokens, subject, claims, token_type, ttl_seconds)
        return await self.run_flow("issue_token", gen, request)

    def issue_token_sync(
        self,
        subject: str,
        claims: Mapping[str, Any] | None = None,
        *,
        token_type: str = "access",
        ttl_seconds: int | None = None,
        request: RequestInfo | None = None,
    ) -> IssuedToken:
        """The sync twin of :meth:`issue_token`."""
        gen = issue_token_gen(self.tokens, subject, claims, token_type, ttl_seconds)
        return self.run_flow_sync("issue_token", gen, request)

    async def issue_tokens(
        self,
        subject: str,
        claims: Mapping[str, Any] | None = None,
        *,
        scopes: Iterable[str] = (),
        request: RequestInfo | None = None,
    ) -> TokenPair:
        """Issue an access token and a refresh token starting a new refresh family."""
        return await self.run_flow("issue_token", issue_tokens_gen(self, subject, claims, scopes), request)

    def issue_tokens_sync(
        self,
        subject: str,
        claims: Mapping[str, Any] | None = None,
        *,
        scopes: Iterable[str] = (),
        request: RequestInfo | None = None,
    ) -> TokenPair:
        """The sync twin of :meth:`issue_tokens`."""
        return self.run_flow_sync("issue_token", issue_tokens_gen(self, subject, claims, scopes), request)

    # -- validate ---------------------------------------------------------------------------------------------

    _plain_version: int = -1

    def _cached(self, token: str) -> Principal | None:
        """A cache hit when nothing would observe the flow: the fast path of a repeated token."""
        if self._runtime.watching():
            return None
        registry = self._registry
        if registry.version != self._plain_version:
            if any(registry.get(point) for point in _VALIDATION_POINTS):
                return None
            self._plain_version = registry.version
        return self.tokens.cache.get(token)

    async def validate_token(self, token: str, *, request: RequestInfo | None = None) -> Principal:
        """Validate an access token and return its principal.

        Raises:
            InvalidToken: a subclass naming why (``token_expired``, ``bad_signature``, ``token_revoked``…).
            Deny: a ``validate_token`` hook denied.
            StoreUnavailableError: the revocation check failed and ``store_failure`` is ``closed``.
            KeySetUnavailableError: no usable verification key.
        """
        principal = self._cached(token)
        if principal is not None:
            return principal
        return await self.run_flow("validate_token", validate_token_gen(self, token), request)

    def validate_token_sync(self, token: str, *, request: RequestInfo | None = None) -> Principal:
        """The sync twin of :meth:`validate_token`."""
        principal = self._cached(token)
        if principal is not None:
            return principal
        return self.run_flow_sync("validate_token", validate_token_gen(self, token), request)

    # -- refresh and invalidate -------------------------------------------------------------------------------

    async def refresh(self, refresh_token: str, *, request: RequestInfo | None = None) -> TokenPair:
        """Rotate a refresh token into a new pair (reuse revokes the family).

        Raises:
            InvalidGrant: unknown, expired, revoked or reused.
        """
        return await self.run_flow("refresh_token", refresh_gen(self, refresh_token), request)

    def refresh_sync(self, refresh_token: str, *, request: RequestInfo | None = None) -> TokenPair:
        """The sync twin of :meth:`refresh`."""
        return self.run_flow_sync("refresh_token", refresh_gen(self, refresh_token), request)

    async def invalidate_token(self, token: str, *, request: RequestInfo | None = None) -> bool:
        """Revoke an access token (by ``jti``, until ``exp``) or a refresh token (its family).

        Returns:
            True when something was revoked; False for an invalid or unknown token (RFC 7009 §2.2).
        """
        return await self.run_flow("invalidate_token", invalidate_token_gen(self, token), request)

    def invalidate_token_sync(self, token: str, *, request: RequestInfo | None = None) -> bool:
        """The sync twin of :meth:`invalidate_token`."""
        return self.run_flow_sync("invalidate_token", invalidate_token_gen(self, token), request)

    # -- introspect -------------------------------------------------------------------------------------------

    async def introspect(self, token: str, *, request: RequestInfo | None = None) -> dict[str, Any]:
        """The RFC 7662 §2.2 answer for an access token: its claims when active, else ``{"active": false}``
        (with no reason, whatever the cause)."""
        try:
            principal = await self.validate_token(token, request=request)
        except AuthError:
            return {"active": False}
        return _introspection(principal)

    def introspect_sync(self, token: str, *, request: RequestInfo | None = None) -> dict[str, Any]:
        """The sync twin of :meth:`introspect`."""
        try:
            principal = self.validate_token_sync(token, request=request)
        except AuthError:
            return {"active": False}
        return _introspection(principal)
