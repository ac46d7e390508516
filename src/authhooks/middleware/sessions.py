"""Sessions and sign-in with OpenID providers over HTTP, driver-neutral (the route seam of
:mod:`authhooks.middleware.seam`): the routes ``{prefix}/oauth/{provider}/start`` and ``/callback``, the session
cookies, and the judgement of a protected request that carries a session cookie.

=================================== ====== ================================================================
route                               method what
=================================== ====== ================================================================
``{prefix}/oauth/{provider}/start`` GET    ``return_to``? (a local path) → 302 to the provider, with the
                                           browser binding cookie ``__Host-authhooks_oauth`` (10 min)
``{prefix}/oauth/{provider}/callb`` GET    the provider's redirect: with ``AUTHHOOKS_SESSIONS`` a session
``ack``                                    (303 to ``return_to`` with the session and CSRF cookies), else the
                                           token JSON; a failure is an HTML page with its status (400, 403,
                                           502 when the provider is down), never a 500; every answer carries
                                           ``Referrer-Policy: no-referrer`` (its URL holds the code and state:
                                           RFC 9700 §4.2.4)
=================================== ====== ================================================================

Which credential a protected path takes (per path, from the settings): a Bearer token on ``bearer_paths``, the
session cookie on ``session_paths`` when ``sessions`` is on; both where both match. An unsafe method with a
session must pass :func:`~authhooks.sessions.check_csrf`: its token comes from the ``X-CSRF-Token`` header or,
for a form post, the ``csrf_token`` field (the body is then read here, bounded, and handed on to the app).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl

from authhooks.config import Settings
from authhooks.errors import AuthError, Deny
from authhooks.middleware.bodies import media_type
from authhooks.middleware.paths import PathRules
from authhooks.middleware.responses import Prepared, Responses, build, json_response
from authhooks.middleware.seam import ReadBody, RouteGen, RouteRequest, Steps, call
from authhooks.records import Principal, RequestInfo, TokenPair
from authhooks.sessions import (
    CSRF_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    SessionGrant,
    check_csrf,
    check_same_origin,
    cookie_name,
    csrf_cookie_name,
    grant_cookies,
    session_cookie,
)

__all__ = ["BINDING_COOKIE", "SessionWeb", "cookies", "own_origin"]

BINDING_COOKIE = "__Host-authhooks_oauth"
_INSECURE_BINDING = "authhooks_oauth"
_MAX_QUERY = 8192
_NO_REFERRER = (b"referrer-policy", b"no-referrer")
_WEB_SCHEMES = {"ws": "http", "wss": "https"}
_TOKEN_CLAIMS = frozenset({"iss", "aud", "exp", "nbf", "iat", "jti", "sid", "scope", "typ", "token_type"})


def cookies(headers: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    """The request's cookies by name (RFC 6265 §5.4: ``name=value`` pairs separated by ``;``, a value in double
    quotes unquoted); the first of two cookies of one name wins (the one with the longest path, as browsers order
    them). Anything else in the header is skipped, never an error."""
    found: dict[str, str] = {}
    for key, value in headers:
        if key != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            name, sep, text = part.strip().partition("=")
            if not sep or not name or name in found:
                continue
            text = text.strip()
            if len(text) >= 2 and text[0] == text[-1] == '"':
                text = text[1:-1]
            found[name] = text
    return found


def own_origin(headers: Sequence[tuple[bytes, bytes]], scheme: str) -> str:
    """``scheme://host[:port]`` of the request itself, from its ``Host`` header (RFC 6454 §4)."""
    hosts = [v for k, v in headers if k == b"host"]
    host = hosts[0].decode("latin-1") if len(hosts) == 1 else ""
    return f"{scheme}://{host}"


def _header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> str | None:
    values = [v for k, v in headers if k == name]
    return values[0].decode("latin-1") if len(values) == 1 else None


def _page(status: int, title: str, text: str, extra: Sequence[tuple[bytes, bytes]] = ()) -> Prepared:
    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p><p><a href='/'>Back</a></p></body></html>"
    ).encode()
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"cache-control", b"no-store"),
        (b"content-security-policy", b"default-src 'none'"),
        _NO_REFERRER,
        *extra,
    ]
    return build(status, headers, body)


class SessionWeb:
    """What the drivers need for sessions and provider sign-in (built once, from the settings).

    Args:
        settings: the effective settings.
        prefix: the routes prefix (normalised).
        providers: the configured providers' names.
        responses: the response builder.
        max_body_bytes: the bound of a form body read for its CSRF token.
    """

    def __init__(
        self, settings: Settings, prefix: str, providers: Sequence[str], responses: Responses, max_body_bytes: int
    ) -> None:
        self._settings = settings
        self.enabled = settings.sessions
        insecure = settings.session_insecure_cookie
        self.insecure = insecure
        self.cookie = cookie_name(insecure)
        self.csrf_cookie = csrf_cookie_name(insecure)
        self.binding_cookie = _INSECURE_BINDING if insecure else BINDING_COOKIE
        self.absolute = settings.session_absolute_seconds
        self.pending_ttl = settings.oauth_pending_ttl_seconds
        self.prefix = prefix
        self._responses = responses
        self._limit = max_body_bytes
        everything = {"/*", "/**"}
        self._bearer_all = bool(everything & set(settings.bearer_paths))
        self._bearer = PathRules(settings.bearer_paths)
        self._session = PathRules(settings.session_paths) if self.enabled else None
        self.routes: dict[str, tuple[str, str]] = {}
        for name in providers:
            self.routes[f"{prefix}/oauth/{name}/start"] = (name, "start")
            self.routes[f"{prefix}/oauth/{name}/callback"] = (name, "callback")

    # -- which credential ------------------------------------------------------------------------------------

    def bearer(self, *forms: str) -> bool:
        """Whether the path (in all its ``forms``) takes a Bearer token."""
        return self._bearer_all or self._bearer.is_protected(*forms)

    def session_id(self, headers: Sequence[tuple[bytes, bytes]], *forms: str) -> str | None:
        """The session cookie's value when the path takes sessions and the request carries one."""
        rules = self._session
        if rules is None or not rules.is_protected(*forms):
            return None
        if not any(k == b"cookie" for k, _ in headers):
            return None
        return cookies(headers).get(self.cookie)

    def judge(
        self, method: str, headers: Sequence[tuple[bytes, bytes]], info: RequestInfo, session_id: str
    ) -> Steps[Principal]:
        """The principal of a request carrying ``session_id``: the session validated (``auth.validate_session``),
        then, for a WebSocket handshake, the same-origin rule (:func:`~authhooks.sessions.check_same_origin`), and
        for an unsafe method the CSRF rule; a form's ``csrf_token`` is read with a :class:`ReadBody` effect (the
        driver keeps the bytes for the app).

        Raises:
            InvalidSession / CsrfRefused / Deny: as the flow or the rule decides.
        """
        valid = yield call("validate_session", session_id, request=info)
        if any(k == b"upgrade" and v.strip().lower() == b"websocket" for k, v in headers):
            # A WebSocket handshake is a GET a page of any origin may open, cookies included for a same-site one
            # (cross-site WebSocket hijacking): browsers always send its Origin, which must be the request's own.
            scheme = _WEB_SCHEMES.get(info.scheme, info.scheme)  # a page at https:// opens wss://
            check_same_origin(
                own_origin=own_origin(headers, scheme),
                origin=_header(headers, b"origin"),
                fetch_site=_header(headers, b"sec-fetch-site"),
            )
        if method.upper() not in SAFE_METHODS:
            token = _header(headers, CSRF_HEADER.encode("ascii"))
            types = [v for k, v in headers if k == b"content-type"]
            if token is None and len(types) == 1 and media_type(types[0])[0] == "application/x-www-form-urlencoded":
                lengths = [v for k, v in headers if k == b"content-length"]
                body: bytes = yield ReadBody(self._limit, lengths[0] if len(lengths) == 1 else None)
                token = _csrf_field(types[0], body)
            check_csrf(
                method,
                own_origin=own_origin(headers, info.scheme),
                origin=_header(headers, b"origin"),
                fetch_site=_header(headers, b"sec-fetch-site"),
                token=token,
                expected=valid.csrf,
            )
        principal: Principal = valid.principal
        return principal

    # -- cookies ---------------------------------------------------------------------------------------------

    def grant_cookies(self, grant: SessionGrant) -> list[tuple[bytes, bytes]]:
        """``Set-Cookie`` headers for a new session (and its CSRF token, readable by scripts)."""
        return [(b"set-cookie", value.encode("ascii")) for value in grant_cookies(grant, self._settings)]

    def clear_cookies(self) -> list[tuple[bytes, bytes]]:
        """``Set-Cookie`` headers that delete the session and CSRF cookies."""
        return [
            (b"set-cookie", session_cookie(name, "", 0, http_only=name == self.cookie, insecure=self.insecure).encode())
            for name in (self.cookie, self.csrf_cookie)
        ]

    # -- routes ----------------------------------------------------------------------------------------------

    def handle(self, req: RouteRequest) -> RouteGen:
        """Answer a provider route (``req.path`` a key of :attr:`routes`; the method already checked)."""
        provider, step = self.routes[req.path]
        query = req.query
        if len(query) > _MAX_QUERY:
            return _page(400, "Sign-in failed", "The request is too long.")
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=False)
        params = dict(pairs)
        if len(params) != len(pairs):  # RFC 6749 §3.1: a parameter must not be included more than once
            return _page(400, "Sign-in failed", "The request repeats a parameter (invalid_request).")
        try:
            if step == "start":
                return (yield from self._start(req, provider, params))
            return (yield from self._callback(req, provider, params))
        except AuthError as exc:  # the binding cookie stays: a forged callback must not break the real one
            status = exc.status if isinstance(exc, Deny) or exc.status >= 400 else 400
            return _page(status, "Sign-in failed", f"{exc.description} ({exc.reason})")
        except Exception as exc:  # a fault (store down, a failing hook): the generic fault answer, no trace
            return self._responses.for_exception(exc, challenge=False)

    def _start(self, req: RouteRequest, provider: str, params: Mapping[str, str]) -> RouteGen:
        origin = own_origin(req.headers, req.info.scheme)
        redirect_uri = f"{origin}{self.prefix}/oauth/{provider}/callback"
        started = yield call(
            "oauth_authorize",
            provider,
            redirect_uri=redirect_uri,
            return_to=params.get("return_to", "/"),
            binding=cookies(req.headers).get(self.binding_cookie),  # a second tab keeps the first's binding
            request=req.info,
        )
        binding = session_cookie(self.binding_cookie, started.binding, self.pending_ttl, insecure=self.insecure)
        headers = [(b"location", started.url.encode("ascii")), (b"cache-control", b"no-store")]
        return build(302, [*headers, (b"set-cookie", binding.encode("ascii"))])

    def _callback(self, req: RouteRequest, provider: str, params: Mapping[str, str]) -> RouteGen:
        jar = cookies(req.headers)
        done = yield call(
            "oauth_callback",
            provider,
            params,
            binding=jar.get(self.binding_cookie),
            session=self.enabled,
            replaces=jar.get(self.cookie),
            request=req.info,
        )
        clear_binding = (b"set-cookie", session_cookie(self.binding_cookie, "", 0, insecure=self.insecure).encode())
        grant = done.login.session
        if grant is not None:
            headers = [
                (b"location", done.return_to.encode("ascii")),
                (b"cache-control", b"no-store"),
                _NO_REFERRER,
                clear_binding,
                *self.grant_cookies(grant),
            ]
            return build(303, headers)
        return json_response(200, done.login.tokens.as_dict(), extra=[_NO_REFERRER, clear_binding])

    def check_login(self, req: RouteRequest) -> None:
        """Before a login that is to set a session cookie: refuse it when the browser marks it cross-site
        (:func:`~authhooks.sessions.check_same_origin`; login CSRF).

        Raises:
            CsrfRefused: a cross-site request.
        """
        check_same_origin(
            own_origin=own_origin(req.headers, req.info.scheme),
            origin=_header(req.headers, b"origin"),
            fetch_site=_header(req.headers, b"sec-fetch-site"),
        )

    def login_session(self, req: RouteRequest, pair: TokenPair) -> Steps[list[tuple[bytes, bytes]]]:
        """A session for the login that issued ``pair`` (the login route with ``session=true``), ending the session
        the request came with (rotation); returns its ``Set-Cookie`` headers."""
        issued: Principal = yield call("validate_token", pair.access_token, request=req.info)
        claims = {k: v for k, v in issued.claims.items() if k not in _TOKEN_CLAIMS}
        principal = Principal(issued.subject, claims=claims, scopes=issued.scopes)
        replaces = cookies(req.headers).get(self.cookie)
        family = issued.claims.get("sid")  # the login's refresh family: one logout ends both
        family = family if isinstance(family, str) else None
        grant = yield call("create_session", principal, replaces=replaces, family=family, request=req.info)
        return self.grant_cookies(grant)

    def logout(self, req: RouteRequest) -> Steps[list[tuple[bytes, bytes]] | None]:
        """End the session the request's cookie names (in every instance), after the cross-site check (the CSRF
        token from ``X-CSRF-Token``; the caller reads a form's ``csrf_token``). Returns the cookie-clearing
        headers, or ``None`` when the request carries no session cookie.

        Raises:
            CsrfRefused: a cross-site request.
        """
        session_id = cookies(req.headers).get(self.cookie) if self.enabled else None
        if session_id is None:
            return None
        yield call("end_session", session_id, request=req.info)
        return self.clear_cookies()

    def check_logout(self, req: RouteRequest, form_token: str | None) -> Steps[None]:
        """The CSRF rule for a logout with a session cookie (a live session's token; an unknown session passes:
        there is nothing to end)."""
        session_id = cookies(req.headers).get(self.cookie) if self.enabled else None
        if session_id is None:
            return
        try:
            valid = yield call("validate_session", session_id, request=req.info)
        except AuthError:
            return
        check_csrf(
            req.method,
            own_origin=own_origin(req.headers, req.info.scheme),
            origin=_header(req.headers, b"origin"),
            fetch_site=_header(req.headers, b"sec-fetch-site"),
            token=_header(req.headers, CSRF_HEADER.encode("ascii")) or form_token,
            expected=valid.csrf,
        )


def _csrf_field(content_type: bytes, body: bytes) -> str | None:
    """A form's ``csrf_token`` (other fields ignored: they are the app's)."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=False, strict_parsing=False)
    except UnicodeDecodeError:
        return None
    values = [v for k, v in pairs if k == CSRF_FIELD]
    return values[0] if len(values) == 1 else None
