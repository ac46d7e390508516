"""The identity flows' public API: challenges, signature checks, login, reauthentication, authorization and
registration, each async with a ``*_sync`` twin (the same sans-IO flow under the other driver).

``AuthHooks`` inherits these methods from :class:`IdentityFlows`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from authhooks.events import Principal, RequestInfo, TokenPair
from authhooks.flows.authorize import authorize_gen, required_tuple
from authhooks.flows.challenge import Challenge, challenge_gen, validate_subject, verify_signature_gen
from authhooks.flows.host import FlowHost
from authhooks.flows.login import login_gen
from authhooks.flows.reauthenticate import reauthenticate_gen
from authhooks.flows.register import register_gen, registration_from_bytes, registration_key
from authhooks.verifiers.base import VerifierRegistry

__all__ = ["IdentityFlows"]


def _credentials(challenge: str, signature: str) -> dict[str, Any]:
    return {"challenge": challenge, "signature": signature}


def _required(required_scopes: str | Iterable[str]) -> tuple[str, ...]:
    try:
        return required_tuple(required_scopes)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


class IdentityFlows(FlowHost):
    """Who is this, and may they? The challenge-response login and its neighbours."""

    @property
    def verifiers(self) -> VerifierRegistry:
        """The signature verifiers by scheme (built-ins: ``ed25519``, ``p256``, ``evrmore``, ``bitcoin``);
        ``auth.verifiers.register(verifier)`` adds one."""
        registry: VerifierRegistry | None = self.__dict__.get("_verifiers")
        if registry is None:
            registry = self.__dict__.setdefault("_verifiers", VerifierRegistry())
        return registry

    # -- challenge --------------------------------------------------------------------------------------------

    async def generate_challenge(
        self,
        subject: str,
        expire_minutes: float | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        request: RequestInfo | None = None,
    ) -> Challenge:
        """Issue a one-time challenge for ``subject`` to sign (Evrmore's ``generate_challenge``).

        Args:
            subject: who will sign: a key identity (``did:key:…``, an address) or any non-empty text of at most
                512 characters without control characters.
            expire_minutes: lifetime in minutes, in ``(0, 1440]``; default ``settings.challenge_ttl_seconds``.
                ``challenge.pre`` hooks may change it (and ``subject``, ``metadata``) or deny.
            metadata: JSON-able data kept with the challenge (at most 4 KiB).
            request: the HTTP request behind the call, for hooks.

        Returns:
            The stored :class:`~authhooks.flows.challenge.Challenge`; give the client its ``to_dict()``.

        Raises:
            InvalidRequest: a malformed subject, expiry or metadata.
            Deny: a ``challenge.pre`` hook denied (rate limiting).
        """
        return await self.run_flow("challenge", challenge_gen(self, subject, expire_minutes, metadata), request)

    def generate_challenge_sync(
        self,
        subject: str,
        expire_minutes: float | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        request: RequestInfo | None = None,
    ) -> Challenge:
        """The sync twin of :meth:`generate_challenge`."""
        return self.run_flow_sync("challenge", challenge_gen(self, subject, expire_minutes, metadata), request)

    # -- verify_signature -------------------------------------------------------------------------------------

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
        gen = verify_signature_gen(self, subject, message, signature, scheme)
        return await self.run_flow("verify_signature", gen, request)

    def verify_signature_sync(
        self,
        subject: str,
        message: str | bytes,
        signature: str,
        *,
        scheme: str = "ed25519",
        request: RequestInfo | None = None,
    ) -> bool:
        """The sync twin of :meth:`verify_signature`."""
        return self.run_flow_sync(
            "verify_signature", verify_signature_gen(self, subject, message, signature, scheme), request
        )

    # -- login ------------------------------------------------------------------------------------------------

    async def login(
        self,
        subject: str,
        credentials: Mapping[str, Any],
        *,
        scheme: str = "ed25519",
        request: RequestInfo | None = None,
    ) -> TokenPair:
        """Log ``subject`` in with any credentials and issue a token pair (the general form of
        :meth:`authenticate`; see :mod:`authhooks.flows.login` for the stages).

        ``login.provide`` hooks (an LDAP check, a password store…) see ``credentials`` first; when none answers,
        the built-in provider reads ``credentials["challenge"]`` and ``credentials["signature"]``.

        Raises:
            InvalidRequest: malformed subject, credentials or scheme.
            InvalidCredentials: the identity was not proven (401; ``reason`` such as ``bad_signature``).
            Deny: a hook denied (``StopAuthentication`` included).
        """
        return await self.run_flow("login", login_gen(self, subject, credentials, scheme), request)

    def login_sync(
        self,
        subject: str,
        credentials: Mapping[str, Any],
        *,
        scheme: str = "ed25519",
        request: RequestInfo | None = None,
    ) -> TokenPair:
        """The sync twin of :meth:`login`."""
        return self.run_flow_sync("login", login_gen(self, subject, credentials, scheme), request)

    async def authenticate(
        self,
        subject: str,
        challenge: str,
        signature: str,
        *,
        scheme: str = "ed25519",
        request: RequestInfo | None = None,
    ) -> TokenPair:
        """Answer a challenge: prove ``subject`` holds its key and get a token pair (Evrmore's ``authenticate``).

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
        return await self.login(subject, _credentials(challenge, signature), scheme=scheme, request=request)

    def authenticate_sync(
        self,
        subject: str,
        challenge: str,
        signature: str,
        *,
        scheme: str = "ed25519",
        request: RequestInfo | None = None,
    ) -> TokenPair:
        """The sync twin of :meth:`authenticate`."""
        return self.login_sync(subject, _credentials(challenge, signature), scheme=scheme, request=request)

    # -- reauthenticate ---------------------------------------------------------------------------------------

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
        return await self.run_flow("reauthenticate", reauthenticate_gen(self, principal, credentials, scheme), request)

    def reauthenticate_sync(
        self,
        principal: Principal,
        credentials: Mapping[str, Any],
        *,
        scheme: str | None = None,
        request: RequestInfo | None = None,
    ) -> Principal:
        """The sync twin of :meth:`reauthenticate`."""
        return self.run_flow_sync("reauthenticate", reauthenticate_gen(self, principal, credentials, scheme), request)

    # -- authorize --------------------------------------------------------------------------------------------

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
        gen = authorize_gen(principal, _required(required_scopes), permission)
        return await self.run_flow("authorize", gen, request)

    def authorize_sync(
        self,
        principal: Principal,
        required_scopes: str | Iterable[str] = (),
        *,
        permission: str | None = None,
        request: RequestInfo | None = None,
    ) -> Principal:
        """The sync twin of :meth:`authorize`."""
        return self.run_flow_sync(
            "authorize", authorize_gen(principal, _required(required_scopes), permission), request
        )

    # -- register ---------------------------------------------------------------------------------------------

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
        return await self.run_flow("register", register_gen(self, subject, scheme, attributes), request)

    def register_sync(
        self,
        subject: str,
        *,
        scheme: str = "ed25519",
        attributes: Mapping[str, Any] | None = None,
        request: RequestInfo | None = None,
    ) -> Principal:
        """The sync twin of :meth:`register`."""
        return self.run_flow_sync("register", register_gen(self, subject, scheme, attributes), request)

    def _registration_key(self, subject: str, scheme: str) -> str:
        verifier = self.verifiers.get(scheme)
        return registration_key(verifier.scheme, verifier.normalize_subject(validate_subject(subject)))

    async def get_registration(self, subject: str, *, scheme: str = "ed25519") -> Principal | None:
        """The registered principal of ``subject``, or ``None`` (no hooks run; a plain store read).

        Raises:
            InvalidRequest: a malformed subject or an unsupported scheme.
        """
        return registration_from_bytes(await self.store.get(self._registration_key(subject, scheme)))

    def get_registration_sync(self, subject: str, *, scheme: str = "ed25519") -> Principal | None:
        """The sync twin of :meth:`get_registration`."""
        return registration_from_bytes(self.store.sync.get(self._registration_key(subject, scheme)))
