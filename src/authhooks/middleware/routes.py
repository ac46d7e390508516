"""The built-in auth routes, served by the middleware itself under ``routes_prefix`` (default ``/auth``).

================================ ====== ==================================================================
route                            method what
================================ ====== ==================================================================
``{prefix}/challenge``           POST   ``subject``, ``scheme``? → 200 challenge JSON (public)
``{prefix}/login``               POST   the OAuth2 password grant (RFC 6749 §4.3.2: ``grant_type=password``,
                                        ``username``, ``password``, ``scope``?, ``scheme``? default
                                        ``password``) or a signed challenge (``subject``, ``challenge``,
                                        ``signature``, ``scheme``?) → RFC 6749 §5.1 token JSON; a failed login
                                        is 400 ``invalid_grant`` (§5.2) (public)
``{prefix}/refresh``             POST   ``refresh_token`` (``grant_type``? must be ``refresh_token``) → token JSON;
                                        RFC 6749 §5.2 error body on failure (public)
``{prefix}/logout``              POST   Bearer-authenticated; ends the whole login of the presented access token
                                        (it, its refresh family and every access token of that family) and of
                                        an optional ``refresh_token`` → 204
``{prefix}/revoke``              POST   RFC 7009: ``token``, ``token_type_hint``? → 200 whether or not the token
                                        existed (public)
``{prefix}/introspect``          POST   RFC 7662: the caller's Bearer token needs scope ``introspect``;
                                        ``token`` → the introspection JSON, ``{"active": false}`` for anything
                                        invalid, with no reason (§2.2)
``{prefix}/jwks.json``           GET    ``auth.jwks()`` with ``Cache-Control: public, max-age=300``
================================ ====== ==================================================================

The login route hands both forms to the ``login`` flow: the password grant as ``auth.login(username,
{"password": password}, scheme="password")``, so a ``login.provide`` hook checks the password (Swagger UI's
"Authorize" button sends this form); the challenge form as ``auth.authenticate``. Another ``grant_type`` is 400
``unsupported_grant_type``, and so is the password grant when no provider answers it. The requested ``scope`` is
not a filter: the scopes granted are those ``login.provide`` and ``login.verified`` hooks give, and the response's
``scope`` names them (RFC 6749 §3.3).

Bodies are JSON or forms, read with a bound on size and time (:mod:`authhooks.middleware.bodies`). Responses
carrying tokens are ``Cache-Control: no-store`` (RFC 6749 §5.1). A wrong method is a 405 with ``Allow``;
``OPTIONS`` answers 204 with ``Allow``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from authhooks.errors import (
    AuthError,
    Deny,
    HookFailed,
    InvalidCredentials,
    InvalidGrant,
    InvalidRequest,
    MissingCredentials,
)
from authhooks.middleware.bearer import parse_authorization
from authhooks.middleware.bodies import (
    ClientDisconnected,
    Field,
    MethodNotAllowed,
    parse_fields,
    read_body,
)
from authhooks.middleware.responses import Prepared, Responses, build, json_response, send_prepared
from authhooks.middleware.scope import FlowAPI, header_values, request_info
from authhooks.records import Principal, RequestInfo, TokenPair

__all__ = ["PASSWORD_SCHEME", "AuthRoutes", "LoginAPI", "UnsupportedGrantType"]

PASSWORD_SCHEME = "password"
"""The ``scheme`` the password grant logs in with (what a password ``login.provide`` hook checks for)."""

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Handler = Callable[[Scope, Receive, RequestInfo], Awaitable[Prepared]]

_NO_CONTENT = build(204, [(b"cache-control", b"no-store")])
_REVOKED = build(200, [(b"cache-control", b"no-store")])
_INACTIVE = json_response(200, {"active": False})


class UnsupportedGrantType(AuthError):
    """A ``grant_type`` the route does not serve (RFC 6749 §5.2): other than ``refresh_token`` at the refresh
    route, other than ``password`` (or none, for a signed challenge) at the login route."""

    error: ClassVar[str | None] = "unsupported_grant_type"
    status: ClassVar[int] = 400
    default_reason = "unsupported_grant_type"
    default_description = "Only the refresh_token grant type is supported here."


@runtime_checkable
class LoginAPI(Protocol):
    """The general login of :class:`~authhooks.AuthHooks` (``auth.login``), which the password grant needs."""

    async def login(
        self, subject: str, credentials: Mapping[str, Any], *, scheme: str = ..., request: RequestInfo | None = None
    ) -> TokenPair: ...


def _require(fields: Mapping[str, str], *names: str) -> None:
    for name in names:
        if name not in fields:
            raise InvalidRequest(f"The request is missing `{name}`.", reason="missing_parameter")


@dataclass(frozen=True, slots=True)
class _Route:
    name: str
    methods: frozenset[str]
    handler: Handler
    protected: bool

    @property
    def allow(self) -> bytes:
        return ", ".join(sorted(self.methods | {"OPTIONS"})).encode("ascii")


class AuthRoutes:
    """The route table and handlers (see the module docstring).

    Args:
        api: the flows API (an :class:`~authhooks.AuthHooks`).
        prefix: the routes prefix, normalised (``""`` or ``/x`` without a trailing ``/``).
        responses: the response builder.
        max_body_bytes: the body limit (413 past it).
        max_token_bytes: the longest token parameter accepted.
        introspect_scope: the scope a caller needs at the introspection route.
        body_timeout: seconds to wait for a whole body.
    """

    def __init__(
        self,
        api: FlowAPI,
        *,
        prefix: str,
        responses: Responses,
        max_body_bytes: int,
        max_token_bytes: int,
        introspect_scope: str = "introspect",
        body_timeout: float = 10.0,
    ) -> None:
        self._api = api
        self._responses = responses
        self._limit = max_body_bytes
        self._timeout = body_timeout
        self._introspect_scope = (introspect_scope,) if introspect_scope else ()
        token = max_token_bytes
        self._challenge_fields = (Field("subject", max_length=512), Field("scheme", required=False, max_length=64))
        self._login_api = api if isinstance(api, LoginAPI) else None
        self._login_fields = (
            Field("grant_type", required=False, max_length=64),
            Field("username", required=False, max_length=512),
            Field("password", required=False, max_length=1024),
            Field("scope", required=False, max_length=1024),
            Field("subject", required=False, max_length=512),
            Field("challenge", required=False, max_length=4096, multiline=True),
            Field("signature", required=False, max_length=4096),
            Field("scheme", required=False, max_length=64),
        )
        self._refresh_fields = (Field("refresh_token", max_length=token), Field("grant_type", False, 64))
        self._logout_fields = (Field("refresh_token", required=False, max_length=token),)
        self._token_fields = (Field("token", max_length=token), Field("token_type_hint", False, 64))
        post = frozenset({"POST"})
        routes = [
            _Route("challenge", post, self._challenge, protected=False),
            _Route("login", post, self._login, protected=False),
            _Route("refresh", post, self._refresh, protected=False),
            _Route("logout", post, self._logout, protected=True),
            _Route("revoke", post, self._revoke, protected=False),
            _Route("introspect", post, self._introspect, protected=True),
            _Route("jwks.json", frozenset({"GET", "HEAD"}), self._jwks, protected=False),
        ]
        self.table: dict[str, _Route] = {f"{prefix}/{r.name}": r for r in routes}
        """Every route by its full path."""
        self._allow = {path: (b"allow", r.allow) for path, r in self.table.items()}

    async def serve(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer an HTTP request to the route at ``path`` (a key of :attr:`table`)."""
        route = self.table[path]
        method = scope.get("method", "GET")
        if method not in route.methods:
            allow = self._allow[path]
            if method == "OPTIONS":
                await send_prepared(send, build(204, [allow]))
            else:
                await send_prepared(send, self._responses.error(MethodNotAllowed(), challenge=False, extra=[allow]))
            return
        info = request_info(scope, route=path)
        try:
            response = await route.handler(scope, receive, info)
        except ClientDisconnected:
            return
        except Exception as exc:
            response = self._responses.for_exception(exc, challenge=route.protected)
        await send_prepared(send, response, head=method == "HEAD")

    # -- helpers --------------------------------------------------------------------------------------------

    async def _fields(self, scope: Scope, receive: Receive, fields: tuple[Field, ...]) -> dict[str, str]:
        length = header_values(scope, b"content-length")
        types = header_values(scope, b"content-type")
        if len(length) > 1 or len(types) > 1:
            raise InvalidRequest(
                "The request repeats a Content-Type or Content-Length header.", reason="duplicate_header"
            )
        body = await read_body(receive, self._limit, length[0] if length else None, self._timeout)
        return parse_fields(types[0] if types else None, body, fields)

    async def _caller(self, scope: Scope, info: RequestInfo) -> tuple[str, Principal]:
        """The Bearer token the caller presented and its principal (RFC 6750 §2.1)."""
        token = parse_authorization(header_values(scope, b"authorization"))
        if token is None:
            raise MissingCredentials()
        return token, await self._api.validate_token(token, request=info)

    # -- handlers -------------------------------------------------------------------------------------------

    async def _challenge(self, scope: Scope, receive: Receive, info: RequestInfo) -> Prepared:
        fields = await self._fields(scope, receive, self._challenge_fields)
        # With a scheme, the subject must be a key of it (400 invalid_request naming the subject otherwise).
        challenge = await self._api.generate_challenge(fields["subject"], scheme=fields.get("scheme"), request=info)
        data = challenge.to_dict() if hasattr(challenge, "to_dict") else dict(challenge)
        return json_response(200, data)

    async def _login(self, scope: Scope, receive: Receive, info: RequestInfo) -> Prepared:
        f = await self._fields(scope, receive, self._login_fields)
        grant = f.get("grant_type")
        try:
            if grant == "password":
                pair = await self._password_grant(f, info)
            elif grant is None:
                _require(f, "subject", "challenge", "signature")
                extra = {"scheme": f["scheme"]} if "scheme" in f else {}
                pair = await self._api.authenticate(f["subject"], f["challenge"], f["signature"], request=info, **extra)
            else:
                raise UnsupportedGrantType("Only the password grant type or a signed challenge is accepted here.")
        except InvalidCredentials as exc:
            # RFC 6749 §5.2: credentials that do not prove the identity are an invalid grant (400), not a 401.
            raise InvalidGrant("The credentials are invalid.", reason=exc.reason) from None
        return json_response(200, pair.as_dict())

    async def _password_grant(self, f: Mapping[str, str], info: RequestInfo) -> TokenPair:
        """RFC 6749 §4.3.2 through the ``login.provide`` chain (``scope`` is read, not used: see the docstring)."""
        _require(f, "username", "password")
        scheme = f.get("scheme", PASSWORD_SCHEME)
        if self._login_api is None:
            raise UnsupportedGrantType("The password grant type is not supported here.")
        try:
            return await self._login_api.login(f["username"], {"password": f["password"]}, scheme=scheme, request=info)
        except InvalidRequest as exc:
            if exc.reason != "unsupported_scheme":
                raise
            # No provider answered and the built-in challenge-response provider knows no such scheme.
            raise UnsupportedGrantType(
                "The password grant needs a login.provide hook that checks passwords.", reason="no_password_provider"
            ) from None

    async def _refresh(self, scope: Scope, receive: Receive, info: RequestInfo) -> Prepared:
        f = await self._fields(scope, receive, self._refresh_fields)
        if f.get("grant_type", "refresh_token") != "refresh_token":
            raise UnsupportedGrantType()
        pair = await self._api.refresh_token(f["refresh_token"], request=info)
        return json_response(200, pair.as_dict())

    async def _logout(self, scope: Scope, receive: Receive, info: RequestInfo) -> Prepared:
        token, _ = await self._caller(scope, info)
        f = await self._fields(scope, receive, self._logout_fields)
        await self._api.invalidate_token(token, request=info)
        if "refresh_token" in f:
            await self._api.invalidate_token(f["refresh_token"], request=info)
        return _NO_CONTENT

    async def _revoke(self, scope: Scope, receive: Receive, info: RequestInfo) -> Prepared:
        f = await self._fields(scope, receive, self._token_fields)
        try:
            await self._api.invalidate_token(f["token"], request=info)
        except Deny:
            raise
        except AuthError:
            pass  # RFC 7009 §2.2: an invalid token is answered like a revoked one.
        return _REVOKED

    async def _introspect(self, scope: Scope, receive: Receive, info: RequestInfo) -> Prepared:
        _, caller = await self._caller(scope, info)
        if self._introspect_scope:
            await self._api.authorize(caller, self._introspect_scope, request=info)
        f = await self._fields(scope, receive, self._token_fields)
        try:
            result = await self._api.introspect(f["token"], request=info)
        except HookFailed:
            raise
        except AuthError:
            return _INACTIVE  # RFC 7662 §2.2: no reason for an inactive token.
        if not isinstance(result, Mapping) or result.get("active") is not True:
            return _INACTIVE
        return json_response(200, dict(result))

    async def _jwks(self, scope: Scope, receive: Receive, info: RequestInfo) -> Prepared:
        keys = self._api.jwks()
        if inspect.isawaitable(keys):
            keys = await keys
        return json_response(200, keys, cache_control=b"public, max-age=300")
