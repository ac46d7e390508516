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
                                        existed (public; a request that presents client credentials must
                                        authenticate a client allowed to ``revoke``)
``{prefix}/introspect``          POST   RFC 7662: a Bearer caller whose token has scope ``introspect``, or a
                                        registered client allowed to ``introspect`` (§2.1); ``token`` → the
                                        introspection JSON, ``{"active": false}`` for anything invalid, with
                                        no reason (§2.2)
``{prefix}/jwks.json``           GET    ``auth.jwks()`` with ``Cache-Control: public, max-age=300``
``/.well-known/oauth-``          GET    RFC 8414 §3 metadata (:mod:`authhooks.metadata`), at the host root with
``authorization-server[/path]``         the issuer's path inserted; ``Cache-Control: public, max-age=300``;
                                        only when ``AUTHHOOKS_ISSUER`` is an https URL (http on loopback)
``[/path]/.well-known/``         GET    OIDC Discovery §4 document: the same members plus
``openid-configuration``                ``subject_types_supported``; same conditions
================================ ====== ==================================================================

Client authentication at introspection and revocation (:mod:`authhooks.clients`): ``client_secret_basic``
(``Authorization: Basic``, the id and secret form-urlencoded first, RFC 6749 §2.3.1) or ``client_secret_post``
(``client_id``, ``client_secret`` in the body), one method per request (else 400 ``invalid_request``). A failed
client authentication is 401 ``invalid_client`` with ``WWW-Authenticate: Basic realm="…"`` (RFC 6749 §5.2); a
client not allowed the endpoint is 400 ``unauthorized_client``.

The login route hands both forms to the ``login`` flow: the password grant as ``auth.login(username,
{"password": password}, scheme="password")``, so a ``login.provide`` hook checks the password (Swagger UI's
"Authorize" button sends this form); the challenge form as ``auth.authenticate``. Another ``grant_type`` is 400
``unsupported_grant_type``, and so is the password grant when no provider answers it. The requested ``scope`` is
not a filter: the scopes granted are those ``login.provide`` and ``login.verified`` hooks give, and the response's
``scope`` names them (RFC 6749 §3.3).

Bodies are JSON or forms, read with a bound on size (and, under ASGI, time) and parsed strictly
(:mod:`authhooks.middleware.bodies`). Responses carrying tokens are ``Cache-Control: no-store`` (RFC 6749 §5.1).
A wrong method is a 405 with ``Allow``; ``OPTIONS`` answers 204 with ``Allow``.

The routes are driver-neutral (:mod:`authhooks.middleware.seam`): :meth:`AuthRoutes.handle` is a generator that
yields the flow calls and the body read it needs and returns the response; the ASGI driver runs it with
:func:`~authhooks.middleware.seam.run_async`, the WSGI driver with :func:`~authhooks.middleware.seam.run_sync`.
To add a route: write a method ``def _name(self, req: RouteRequest) -> RouteGen`` that reads its parameters with
``f = yield from self._fields(req, fields)``, calls flows with ``result = yield call("flow_name", …,
request=req.info)`` and returns a ``Prepared``; then add a ``_Route`` row to the table in ``__init__``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from authhooks.clients import InvalidClient, UnauthorizedClient, client_credentials, is_basic
from authhooks.errors import (
    AuthError,
    Deny,
    HookFailed,
    InvalidCredentials,
    InvalidGrant,
    InvalidRequest,
    MissingCredentials,
)
from authhooks.metadata import IssuerMetadata, Kind
from authhooks.middleware.bearer import parse_authorization
from authhooks.middleware.bodies import ClientDisconnected, Field, MethodNotAllowed, parse_fields
from authhooks.middleware.responses import Responses, build, json_response
from authhooks.middleware.seam import ReadBody, RouteGen, RouteRequest, Steps, call
from authhooks.middleware.sessions import SessionWeb
from authhooks.records import Principal, RequestInfo, TokenPair

__all__ = ["PASSWORD_SCHEME", "AuthRoutes", "LoginAPI", "UnsupportedGrantType"]

PASSWORD_SCHEME = "password"
"""The ``scheme`` the password grant logs in with (what a password ``login.provide`` hook checks for)."""

Handler = Callable[[RouteRequest], RouteGen]

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
    """The route table and handlers (see the module docstring), shared by the ASGI and WSGI drivers.

    Args:
        prefix: the routes prefix, normalised (``""`` or ``/x`` without a trailing ``/``).
        responses: the response builder.
        max_body_bytes: the body limit (413 past it).
        max_token_bytes: the longest token parameter accepted.
        introspect_scope: the scope a caller needs at the introspection route.
        password_grant: whether the flows API has the general ``login`` (:class:`LoginAPI`) the password grant
            needs; without it the password grant is 400 ``unsupported_grant_type``.
        metadata: the issuer metadata to serve at its well-known paths (``None``: none served).
        sessions: sessions and the OpenID provider routes (:mod:`authhooks.middleware.sessions`), or ``None``.
    """

    def __init__(
        self,
        *,
        prefix: str,
        responses: Responses,
        max_body_bytes: int,
        max_token_bytes: int,
        introspect_scope: str = "introspect",
        password_grant: bool = True,
        metadata: IssuerMetadata | None = None,
        sessions: SessionWeb | None = None,
    ) -> None:
        self._responses = responses
        self._limit = max_body_bytes
        self._introspect_scope = (introspect_scope,) if introspect_scope else ()
        self._password_grant_served = password_grant
        token = max_token_bytes
        self._challenge_fields = (Field("subject", max_length=512), Field("scheme", required=False, max_length=64))
        self._login_fields = (
            Field("grant_type", required=False, max_length=64),
            Field("username", required=False, max_length=512),
            Field("password", required=False, max_length=1024),
            Field("scope", required=False, max_length=1024),
            Field("subject", required=False, max_length=512),
            Field("challenge", required=False, max_length=4096, multiline=True),
            Field("signature", required=False, max_length=4096),
            Field("scheme", required=False, max_length=64),
            Field("session", required=False, max_length=5),
        )
        self._refresh_fields = (Field("refresh_token", max_length=token), Field("grant_type", False, 64))
        self._logout_fields = (
            Field("refresh_token", required=False, max_length=token),
            Field("csrf_token", required=False, max_length=256),
        )
        self._sessions = sessions
        # ``token`` is checked after the caller is authenticated; client_secret_post needs the body first.
        self._token_fields = (
            Field("token", required=False, max_length=token),
            Field("token_type_hint", False, 64),
            Field("client_id", required=False, max_length=255),
            Field("client_secret", required=False, max_length=1024),
        )
        self._metadata = metadata
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
        if sessions is not None:  # {prefix}/oauth/{provider}/start and /callback
            for path in sessions.routes:
                self.table[path] = _Route(path, frozenset({"GET", "HEAD"}), sessions.handle, protected=False)
        if metadata is not None:  # at the host root, not under the prefix (RFC 8414 §3, OIDC Discovery §4)
            for path, kind in metadata.paths.items():
                handler = self._oauth_metadata if kind == "oauth" else self._openid_metadata
                self.table[path] = _Route(path, frozenset({"GET", "HEAD"}), handler, protected=False)
        self._allow = {path: (b"allow", r.allow) for path, r in self.table.items()}

    def handle(self, req: RouteRequest) -> RouteGen:
        """Answer ``req`` (its ``path`` a key of :attr:`table`): the method check, the route, and the mapping of
        its exceptions to responses. :class:`~authhooks.middleware.bodies.ClientDisconnected` propagates (the
        driver answers nothing). A ``HEAD`` answer still carries its body: the driver drops it."""
        route = self.table[req.path]
        if req.method not in route.methods:
            allow = self._allow[req.path]
            if req.method == "OPTIONS":
                return build(204, [allow])
            return self._responses.error(MethodNotAllowed(), challenge=False, extra=[allow])
        try:
            return (yield from route.handler(req))
        except ClientDisconnected:
            raise
        except (InvalidClient, UnauthorizedClient) as exc:
            return self._responses.client_error(exc)
        except Exception as exc:
            return self._responses.for_exception(exc, challenge=route.protected)

    # -- helpers --------------------------------------------------------------------------------------------

    def _fields(self, req: RouteRequest, fields: tuple[Field, ...]) -> Steps[dict[str, str]]:
        """The body's ``fields`` (:func:`~authhooks.middleware.bodies.parse_fields`), after a bounded read."""
        length = req.header(b"content-length")
        types = req.header(b"content-type")
        if len(length) > 1 or len(types) > 1:
            raise InvalidRequest(
                "The request repeats a Content-Type or Content-Length header.", reason="duplicate_header"
            )
        body: bytes = yield ReadBody(self._limit, length[0] if length else None)
        return parse_fields(types[0] if types else None, body, fields)

    def _caller(self, req: RouteRequest) -> Steps[tuple[str, Principal]]:
        """The Bearer token the caller presented and its principal (RFC 6750 §2.1), as a pair."""
        token = parse_authorization(req.header(b"authorization"))
        if token is None:
            raise MissingCredentials()
        principal: Principal = yield call("validate_token", token, request=req.info)
        return token, principal

    # -- handlers -------------------------------------------------------------------------------------------

    def _challenge(self, req: RouteRequest) -> RouteGen:
        fields = yield from self._fields(req, self._challenge_fields)
        # With a scheme, the subject must be a key of it (400 invalid_request naming the subject otherwise).
        challenge = yield call("generate_challenge", fields["subject"], scheme=fields.get("scheme"), request=req.info)
        data = challenge.to_dict() if hasattr(challenge, "to_dict") else dict(challenge)
        return json_response(200, data)

    def _login(self, req: RouteRequest) -> RouteGen:
        f = yield from self._fields(req, self._login_fields)
        grant = f.get("grant_type")
        info = req.info
        web = self._sessions
        if web is not None and web.enabled and f.get("session") == "true":  # login CSRF: refused before the login
            web.check_login(req)
        try:
            if grant == "password":
                pair = yield from self._password_grant(f, info)
            elif grant is None:
                _require(f, "subject", "challenge", "signature")
                extra = {"scheme": f["scheme"]} if "scheme" in f else {}
                pair = yield call("authenticate", f["subject"], f["challenge"], f["signature"], request=info, **extra)
            else:
                raise UnsupportedGrantType("Only the password grant type or a signed challenge is accepted here.")
        except InvalidCredentials as exc:
            # RFC 6749 §5.2: credentials that do not prove the identity are an invalid grant (400), not a 401.
            raise InvalidGrant("The credentials are invalid.", reason=exc.reason) from None
        if web is not None and web.enabled and f.get("session") == "true":  # and a browser session (rotated)
            cookies = yield from web.login_session(req, pair)
            return json_response(200, pair.as_dict(), extra=cookies)
        return json_response(200, pair.as_dict())

    def _password_grant(self, f: Mapping[str, str], info: RequestInfo) -> Steps[TokenPair]:
        """RFC 6749 §4.3.2 through the ``login.provide`` chain (``scope`` is read, not used: see the docstring)."""
        _require(f, "username", "password")
        scheme = f.get("scheme", PASSWORD_SCHEME)
        if not self._password_grant_served:
            raise UnsupportedGrantType("The password grant type is not supported here.")
        try:
            pair: TokenPair = yield call(
                "login", f["username"], {"password": f["password"]}, scheme=scheme, request=info
            )
        except InvalidRequest as exc:
            if exc.reason != "unsupported_scheme":
                raise
            # No provider answered and the built-in challenge-response provider knows no such scheme.
            raise UnsupportedGrantType(
                "The password grant needs a login.provide hook that checks passwords.", reason="no_password_provider"
            ) from None
        return pair

    def _refresh(self, req: RouteRequest) -> RouteGen:
        f = yield from self._fields(req, self._refresh_fields)
        if f.get("grant_type", "refresh_token") != "refresh_token":
            raise UnsupportedGrantType()
        pair: TokenPair = yield call("refresh_token", f["refresh_token"], request=req.info)
        return json_response(200, pair.as_dict())

    def _logout(self, req: RouteRequest) -> RouteGen:
        web = self._sessions
        if web is not None and web.enabled and not req.header(b"authorization"):  # a browser: its session cookie
            f = yield from self._fields(req, self._logout_fields)
            yield from web.check_logout(req, f.get("csrf_token"))
            cleared = yield from web.logout(req)
            if cleared is None:
                raise MissingCredentials()
            return build(204, [(b"cache-control", b"no-store"), *cleared])
        token, _ = yield from self._caller(req)
        f = yield from self._fields(req, self._logout_fields)
        yield call("invalidate_token", token, request=req.info)
        if "refresh_token" in f:
            yield call("invalidate_token", f["refresh_token"], request=req.info)
        if web is not None and web.enabled:  # and the session the request's cookie names (the whole login ends)
            cleared = yield from web.logout(req)
            if cleared is not None:
                return build(204, [(b"cache-control", b"no-store"), *cleared])
        return _NO_CONTENT

    def _revoke(self, req: RouteRequest) -> RouteGen:
        f = yield from self._fields(req, self._token_fields)
        credentials = client_credentials(req.header(b"authorization"), f)
        if credentials is not None:  # RFC 7009 §2.1: a client that authenticates must succeed
            yield call("authenticate_client", credentials, "revoke")
        _require(f, "token")
        try:
            yield call("invalidate_token", f["token"], request=req.info)
        except Deny:
            raise
        except AuthError:
            pass  # RFC 7009 §2.2: an invalid token is answered like a revoked one.
        return _REVOKED

    def _introspect(self, req: RouteRequest) -> RouteGen:
        authorization = req.header(b"authorization")
        if authorization and not is_basic(authorization):  # a Bearer caller: validated before the body is read
            _, caller = yield from self._caller(req)
            if self._introspect_scope:
                yield call("authorize", caller, self._introspect_scope, request=req.info)
            f = yield from self._fields(req, self._token_fields)
            client_credentials(authorization, f)  # a Bearer token and client parameters: 400, two methods
        else:  # RFC 7662 §2.1: a registered client
            f = yield from self._fields(req, self._token_fields)
            credentials = client_credentials(authorization, f)
            if credentials is None:
                raise MissingCredentials()
            yield call("authenticate_client", credentials, "introspect")
        _require(f, "token")
        try:
            result = yield call("introspect", f["token"], request=req.info)
        except HookFailed:
            raise
        except AuthError:
            return _INACTIVE  # RFC 7662 §2.2: no reason for an inactive token.
        if not isinstance(result, Mapping) or result.get("active") is not True:
            return _INACTIVE
        return json_response(200, dict(result))

    def _jwks(self, req: RouteRequest) -> RouteGen:
        keys = yield call("jwks")
        return json_response(200, keys, cache_control=b"public, max-age=300")

    def _oauth_metadata(self, req: RouteRequest) -> RouteGen:
        return (yield from self._metadata_document("oauth"))

    def _openid_metadata(self, req: RouteRequest) -> RouteGen:
        return (yield from self._metadata_document("openid"))

    def _metadata_document(self, kind: Kind) -> RouteGen:
        assert self._metadata is not None
        algorithms = yield call("signing_algorithms")
        return json_response(200, self._metadata.document(kind, algorithms), cache_control=b"public, max-age=300")
