"""The flow methods of :class:`~authhooks.AuthHooks` over keys and tokens: challenges, signatures, logins,
registration, authorization, issuing, validating, refreshing, invalidating and introspecting tokens, and what the
built-in endpoints publish (the JWK Set, the signing algorithms) and whom they serve (registered clients).

Each flow method builds its flow (a generator function of :mod:`authhooks.flows`) and hands it to the async
driver; :mod:`authhooks._sync` hands the same flows to the sync driver, building the ones that take more than
their arguments through the helpers here.
"""

from __future__ import annotations

import warnings
from collections.abc import Coroutine, Iterable, Mapping
from typing import Any

from authhooks._auth_engine import Engine
from authhooks.clients import Client, ClientCredentials
from authhooks.errors import AuthError
from authhooks.flows.authorize import authorize, required_tuple
from authhooks.flows.challenge import Challenge, challenge, validate_subject
from authhooks.flows.deps import FlowDeps
from authhooks.flows.effects import FlowCall
from authhooks.flows.invalidate_token import invalidate_token
from authhooks.flows.issue_token import issue_token, issue_tokens
from authhooks.flows.login import login
from authhooks.flows.reauthenticate import reauthenticate
from authhooks.flows.refresh_token import refresh_token as refresh_token_flow
from authhooks.flows.register import register, registration_from_bytes, registration_key
from authhooks.flows.validate_token import validate_token
from authhooks.flows.verify_signature import verify_signature
from authhooks.records import Principal, RequestInfo, TokenPair
from authhooks.tokens.introspection import introspection
from authhooks.tokens.issuer import IssuedToken
from authhooks.tokens.service import REVOCATION_CHANNEL
from authhooks.tokens.subjects import subject_revocation

__all__ = ["TokenFlows", "answer_challenge", "authorize_call"]


def _required(required_scopes: str | Iterable[str]) -> tuple[str, ...]:
    try:
        return required_tuple(required_scopes)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


def answer_challenge(deps: FlowDeps, subject: str, challenge: str, signature: str, scheme: str) -> FlowCall[TokenPair]:
    """The ``login`` flow answering a challenge (:meth:`TokenFlows.authenticate` and its blocking twin)."""
    return login(deps, subject, {"challenge": challenge, "signature": signature}, scheme)


def authorize_call(
    principal: Principal, required_scopes: str | Iterable[str], permission: str | None
) -> FlowCall[Principal]:
    """The ``authorize`` flow (:meth:`TokenFlows.authorize` and its blocking twin).

    Raises:
        ValueError: ``required_scopes`` is not scopes.
    """
    return authorize(principal, _required(required_scopes), permission)


class TokenFlows(Engine):
    """The flows of keys and tokens, async; ``auth.sync`` holds their blocking twins."""

    # -- the flows --------------------------------------------------------------------------------------------

    async def generate_challenge(
        self,
        subject: str,
        expire_minutes: float | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        scheme: str | None = None,
        request: RequestInfo | None = None,
    ) -> Challenge:
        """Issue a one-time challenge for ``subject`` to sign (the ``challenge`` flow; Evrmore's name).

        Args:
            subject: who will sign: a key identity (``did:key:…``, an address) or any non-empty text of at most
                512 characters without control characters.
            expire_minutes: lifetime in minutes, in ``(0, 1440]``; default ``settings.challenge_ttl_seconds``.
                ``challenge.pre`` hooks may change it (and ``subject``, ``metadata``) or deny.
            metadata: JSON-able data kept with the challenge (at most 4 KiB).
            scheme: the signature scheme the subject will sign with (``ed25519``…); when given, ``subject`` must
                be a key identity of that scheme and the challenge names its canonical form.
            request: the HTTP request behind the call, for hooks.

        Returns:
            The stored :class:`~authhooks.flows.challenge.Challenge`; give the client its ``to_dict()``.

        Raises:
            InvalidRequest: a malformed subject (or one that is not a key of ``scheme``), an unsupported
                ``scheme``, a malformed expiry or metadata.
            Deny: a ``challenge.pre`` hook denied (rate limiting).
        """
        return await self.run_flow(challenge(self.deps, subject, expire_minutes, metadata, scheme), request)

    async def verify_signature(
        self,
        subject: str,
        message: str | bytes,
        signature: str,
        *,
        scheme: str = "ed25519",
        request: RequestInfo | None = None,
    ) -> bool:
        """Check a signature over any message, through the ``verify_signature`` hooks (no challenge involved).

        Returns:
            Whether ``signature`` is a valid signature of ``message`` by the key ``subject`` names.

        Raises:
            InvalidRequest: an unsupported scheme.
            Deny: a ``verify_signature.pre`` hook denied.
        """
        return await self.run_flow(verify_signature(self.deps, subject, message, signature, scheme), request)

    async def login(
        self,
        subject: str,
        credentials: Mapping[str, Any],
        *,
        scheme: str = "ed25519",
        request: RequestInfo | None = None,
    ) -> TokenPair:
        """Log ``subject`` in with any credentials and issue a token pair (see :mod:`authhooks.flows.login`).

        ``login.provide`` hooks (an LDAP check, a password store…) see ``credentials`` first; when none answers,
        the built-in provider reads ``credentials["challenge"]`` and ``credentials["signature"]``.

        Raises:
            InvalidRequest: malformed subject, credentials or scheme.
            InvalidCredentials: the identity was not proven (401; ``reason`` such as ``bad_signature``).
            Deny: a hook denied (``StopAuthentication`` included).
        """
        return await self.run_flow(login(self.deps, subject, credentials, scheme), request)

    async def authenticate(
        self,
        subject: str,
        challenge: str,
        signature: str,
        *,
        scheme: str = "ed25519",
        request: RequestInfo | None = None,
    ) -> TokenPair:
        """Answer a challenge: the ``login`` flow with ``{"challenge": …, "signature": …}`` as credentials
        (Evrmore's ``authenticate``, kept as the seed name of that call, as seed point names are aliases).

        Args:
            subject: the subject the challenge was issued for.
            challenge: the challenge's ``nonce``, or its exact ``message`` (then it must match what was issued).
            signature: the signature of the challenge message, in the scheme's text form (base64/base64url).
            scheme: the verifier (``ed25519``, ``p256``, ``evrmore``, ``bitcoin`` or one you registered).

        Raises:
            InvalidCredentials: 401 ``invalid_credentials`` for every way the answer can be wrong; ``reason``
                is one of ``challenge_unknown`` (never issued, or already used), ``challenge_tampered``,
                ``challenge_subject_mismatch``, ``challenge_expired``, ``bad_signature``.
            InvalidRequest: malformed subject, missing challenge/signature, unsupported scheme.
            Deny: a hook denied.
        """
        return await self.run_flow(answer_challenge(self.deps, subject, challenge, signature, scheme), request)

    async def reauthenticate(
        self,
        principal: Principal,
        credentials: Mapping[str, Any],
        *,
        scheme: str | None = None,
        request: RequestInfo | None = None,
    ) -> Principal:
        """Have a signed-in principal prove its identity again (see :mod:`authhooks.flows.reauthenticate`).

        Args:
            principal: who is signed in (typically from :meth:`validate_token`).
            credentials: for the built-in provider, ``{"challenge": …, "signature": …}`` answering a challenge
                issued for ``principal.subject``; ``reauthenticate.provide`` hooks may accept others.
            scheme: the verifier; by default the one scheme that recognises the subject.

        Returns:
            The principal with ``attributes["fresh"] is True`` and ``attributes["auth_time"]`` = now.

        Raises:
            InvalidCredentials: not proven; ``reauthenticate.failed`` got the failure count.
            InvalidRequest: malformed credentials, or no scheme recognises the subject.
            Deny: a hook denied.
        """
        return await self.run_flow(reauthenticate(self.deps, principal, credentials, scheme), request)

    async def authorize(
        self,
        principal: Principal,
        required_scopes: str | Iterable[str] = (),
        *,
        permission: str | None = None,
        request: RequestInfo | None = None,
    ) -> Principal:
        """Check that ``principal`` may proceed (see :mod:`authhooks.flows.authorize`).

        Args:
            principal: who asks.
            required_scopes: every scope needed (a space-separated string or strings).
            permission: a named permission that a hook grants, or that the principal holds as a scope or in
                its ``permissions`` claim.

        Returns:
            ``principal``, when access is granted.

        Raises:
            InsufficientScope: 403 ``insufficient_scope`` with ``required_scopes``; ``reason`` is
                ``insufficient_scope`` or ``permission_denied``.
            Deny: an ``authorize.pre`` hook denied.
            ValueError: ``required_scopes`` is not scopes.
        """
        return await self.run_flow(authorize_call(principal, required_scopes, permission), request)

    async def register(
        self,
        subject: str,
        *,
        scheme: str = "ed25519",
        attributes: Mapping[str, Any] | None = None,
        request: RequestInfo | None = None,
    ) -> Principal:
        """Register a key-based identity (see :mod:`authhooks.flows.register`).

        Returns:
            The registered principal (``attributes``: yours plus ``scheme`` and ``registered_at``).

        Raises:
            InvalidRequest: malformed subject (``invalid_subject``), unsupported scheme, bad attributes, or
                already registered (``already_registered``).
            Deny: a ``register.pre`` hook denied.
        """
        return await self.run_flow(register(self.deps, subject, scheme, attributes), request)

    def registration_key(self, subject: str, scheme: str) -> str:
        """The store key of ``subject``'s registration under ``scheme`` (canonical form of the subject)."""
        verifier = self.verifiers.get(scheme)
        return registration_key(verifier.scheme, verifier.normalize_subject(validate_subject(subject)))

    async def get_registration(self, subject: str, *, scheme: str = "ed25519") -> Principal | None:
        """The registered principal of ``subject``, or ``None`` (no hooks run; a plain store read).

        Raises:
            InvalidRequest: a malformed subject or an unsupported scheme.
        """
        return registration_from_bytes(await self.store.get(self.registration_key(subject, scheme)))

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
        first configured audience. A token issued alone belongs to no login (no ``sid``).
        """
        return await self.run_flow(issue_token(self.deps, subject, claims, token_type, ttl_seconds), request)

    async def issue_tokens(
        self,
        subject: str,
        claims: Mapping[str, Any] | None = None,
        *,
        scopes: Iterable[str] = (),
        request: RequestInfo | None = None,
    ) -> TokenPair:
        """Issue an access token and a refresh token starting a new login (refresh family)."""
        return await self.run_flow(issue_tokens(self.deps, subject, claims, scopes), request)

    def validate_token(self, token: str, *, request: RequestInfo | None = None) -> Coroutine[Any, Any, Principal]:
        """Validate an access token and return its principal (``await auth.validate_token(token)``).

        A plain method returning the driver's coroutine rather than an ``async def`` awaiting it: every protected
        request calls it, and that saves one coroutine per request. (The token layer is built on first use, so a
        configuration fault surfaces when it is called, not when it is awaited.)

        Raises:
            InvalidToken: a subclass naming why (``token_expired``, ``bad_signature``, ``token_revoked``…).
            Deny: a ``validate_token`` hook denied.
            StoreUnavailableError: the revocation check failed and ``store_failure`` is ``closed``.
            KeySetUnavailableError: no usable verification key.
        """
        return self.run_flow(validate_token(self.deps, token), request)

    async def refresh_token(self, refresh_token: str, *, request: RequestInfo | None = None) -> TokenPair:
        """Rotate a refresh token into a new pair of the same login (reuse revokes the whole login).

        Raises:
            InvalidGrant: unknown, expired, revoked or reused.
        """
        return await self.run_flow(refresh_token_flow(self.deps, refresh_token), request)

    async def refresh(self, refresh_token: str, *, request: RequestInfo | None = None) -> TokenPair:
        """Deprecated name of :meth:`refresh_token` (one name per flow); kept for one release."""
        warnings.warn("AuthHooks.refresh is deprecated: use refresh_token", DeprecationWarning, stacklevel=2)
        return await self.refresh_token(refresh_token, request=request)

    async def invalidate_token(self, token: str, *, request: RequestInfo | None = None) -> bool:
        """End the login ``token`` belongs to (an access token with its ``sid``, or a refresh token: the whole
        refresh family); an access token outside any login is revoked by ``jti`` until ``exp``.

        Returns:
            True when something was revoked; False for an invalid or unknown token (RFC 7009 §2.2).
        """
        return await self.run_flow(invalidate_token(self.deps, token), request)

    async def revoke_subject(self, subject: str) -> None:
        """Revoke every access token and refresh family of ``subject``, in every instance sharing the store: a
        not-before mark stored for the subject refuses its tokens issued up to now (and in this second: ``iat``
        has whole seconds), and the revocation channel evicts them from every instance's validated-token cache
        (:mod:`authhooks.tokens.subjects`). Tokens issued afterwards are valid.

        Raises:
            ValueError: an empty subject.
            StoreError: the store could not record the mark.
        """
        key, mark, ttl, message = subject_revocation(subject, self.clock(), self.settings)
        store = self.store
        await store.set(key, mark, ttl)
        self.tokens.cache.drop_subject(subject)
        await store.publish(REVOCATION_CHANNEL, message)

    async def introspect(self, token: str, *, request: RequestInfo | None = None) -> dict[str, Any]:
        """The RFC 7662 §2.2 answer for an access token: its claims when active, else ``{"active": false}``
        (with no reason, whatever the cause)."""
        try:
            return introspection(await self.validate_token(token, request=request))
        except AuthError:
            return {"active": False}

    # -- what the built-in endpoints publish, and whom they serve -----------------------------------------------

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public JWK Set of the keys this instance signs and validates with (RFC 7517 §5)."""
        return self.tokens.jwks()

    def signing_algorithms(self) -> tuple[str, ...]:
        """The JWS algorithms of the tokens this instance issues (its signing key's); empty when it only
        validates. The metadata documents list them."""
        issuer = self.tokens.issuer
        return () if issuer is None else (issuer.algorithm,)

    async def authenticate_client(self, credentials: ClientCredentials, use: str) -> Client:
        """Authenticate a registered client for ``use`` (``introspect`` or ``revoke``) without blocking the event
        loop: a secret verified before costs one HMAC here, a new one (PBKDF2, ~0.1 s) waits on the registry's own
        bounded derivation thread, never the default pool's (see :meth:`ClientRegistry.authenticate_async`).

        Raises:
            InvalidClient: unknown client or wrong secret (401, RFC 6749 §5.2).
            UnauthorizedClient: the client may not ``use`` the endpoint (400).
            ClientAuthBusy: too many derivations are waiting already (429, ``Retry-After: 1``).
        """
        return await self.clients.authenticate_async(credentials, use)
