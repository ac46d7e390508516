"""What the middleware hands to the app in the ASGI ``scope``, and the request view hooks get.

The ``scope`` contract (Starlette conventions, ecosystem.md §2.3):

``scope["user"]``
    an :class:`AuthUser` (a :class:`starlette.authentication.BaseUser`: ``is_authenticated``, ``display_name``,
    ``identity`` = the subject, plus ``.principal``), or ``UnauthenticatedUser()`` for an anonymous request.
``scope["auth"]``
    ``AuthCredentials(["authenticated", *sorted(principal.scopes)])`` (empty for anonymous), so
    ``@requires("authenticated")`` and ``@requires("scope")`` work as with Starlette's own middleware.
``scope["authhooks"]``
    an :class:`AuthState` dict: ``principal`` (the :class:`~authhooks.records.Principal`, or ``None``),
    ``token_type`` (``"Bearer"`` or ``None``), ``auth`` (the :class:`~authhooks.AuthHooks`) and ``request`` (the
    :class:`~authhooks.records.RequestInfo` hooks saw). The raw token is never put in the scope.

Every request that passes the middleware (protected, public or open) carries all three keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser

from authhooks._redact import SENSITIVE_HEADERS, redact_headers
from authhooks.records import Principal, RequestInfo, TokenPair

if TYPE_CHECKING:
    from authhooks._auth import AuthHooks

__all__ = [
    "SCOPE_KEY",
    "AuthState",
    "AuthUser",
    "FlowAPI",
    "RequestHeaders",
    "header_values",
    "request_info",
    "set_anonymous",
    "set_principal",
]

SCOPE_KEY = "authhooks"
"""The namespaced ``scope`` key holding :class:`AuthState`."""


class AuthState(TypedDict):
    """``scope["authhooks"]``: what the middleware learnt about the request."""

    principal: Principal | None
    token_type: str | None
    auth: AuthHooks
    request: RequestInfo


class AuthUser(BaseUser):
    """A Starlette user backed by a :class:`~authhooks.records.Principal` (``request.user``).

    Attributes:
        principal: the validated principal (claims, scopes, attributes hooks added).
    """

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        """Always ``True``."""
        return True

    @property
    def display_name(self) -> str:
        """The subject."""
        return self.principal.subject

    @property
    def identity(self) -> str:
        """The subject (``sub``)."""
        return self.principal.subject

    @property
    def scopes(self) -> frozenset[str]:
        """The granted scopes."""
        return self.principal.scopes

    def __repr__(self) -> str:
        return f"AuthUser(subject={self.principal.subject!r})"


class RequestHeaders(Mapping[str, str]):
    """The request headers hooks see, built on first access (the hot path never pays for them).

    Names are lower-cased; credential-bearing headers (``Authorization``, ``Cookie``… see
    :data:`authhooks._redact.SENSITIVE_HEADERS`) are left out and other values pass through
    :func:`authhooks._redact.redact_headers`, so a token pasted elsewhere is masked too.
    """

    __slots__ = ("_data", "_raw")

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        self._raw = raw
        self._data: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        if self._data is None:
            safe = [(n, v) for n, v in self._raw if n.lower().decode("latin-1") not in SENSITIVE_HEADERS]
            self._data = redact_headers(safe)
        return self._data

    def __getitem__(self, key: str) -> str:
        return self._load()[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return f"RequestHeaders({self._load()!r})"


def header_values(scope: Mapping[str, Any], name: bytes) -> list[bytes]:
    """Every value of header ``name`` (lower-case bytes) in an ASGI scope, in order."""
    return [value for key, value in scope.get("headers", ()) if key == name]


def request_info(scope: Mapping[str, Any], route: str | None = None) -> RequestInfo:
    """The :class:`~authhooks.records.RequestInfo` of an HTTP or WebSocket scope (no credentials in it).

    ``route`` names the route template when known (the built-in routes set it).
    """
    client = scope.get("client")
    info = _new_info(RequestInfo)  # every field set through its slot (see _set_method)
    _set_method(info, scope.get("method", "GET"))
    _set_path(info, scope["path"])
    _set_client_ip(info, client[0] if client else None)
    _set_scheme(info, scope.get("scheme", "http"))
    _set_headers(info, RequestHeaders(scope.get("headers", ())))
    _set_route(info, route)
    return info


_new_info = object.__new__
_FIELDS = ("method", "path", "client_ip", "scheme", "headers", "route")
if tuple(f.name for f in dataclasses.fields(RequestInfo)) != _FIELDS or hasattr(RequestInfo, "__post_init__"):
    raise TypeError("RequestInfo changed: update request_info's slot setters")  # pragma: no cover
_set_method, _set_path, _set_client_ip, _set_scheme, _set_headers, _set_route = (
    RequestInfo.__dict__[name].__set__ for name in _FIELDS
)
"""The slot setters of :class:`~authhooks.records.RequestInfo`'s fields: setting every one of them builds the same
value as its ``__init__`` (checked above: these fields, no ``__post_init__``) in half the time of the frozen
dataclass's ``object.__setattr__`` per field, on every protected request."""


_CREDENTIAL_SCOPES: dict[frozenset[str], tuple[str, ...]] = {}
_CREDENTIAL_SCOPES_LIMIT = 1024


def _credential_scopes(scopes: frozenset[str]) -> tuple[str, ...]:
    """``("authenticated", *sorted(scopes))``, remembered per scope set (a few distinct sets serve most requests;
    bounded: cleared when full). ``AuthCredentials`` copies it into a list of its own."""
    found = _CREDENTIAL_SCOPES.get(scopes)
    if found is None:
        if len(_CREDENTIAL_SCOPES) >= _CREDENTIAL_SCOPES_LIMIT:
            _CREDENTIAL_SCOPES.clear()
        found = _CREDENTIAL_SCOPES[scopes] = ("authenticated", *sorted(scopes))
    return found


def set_anonymous(scope: MutableMapping[str, Any], auth: AuthHooks, info: RequestInfo | None = None) -> None:
    """Mark ``scope`` as anonymous: ``UnauthenticatedUser``, empty credentials, ``principal=None``."""
    scope["user"] = UnauthenticatedUser()
    scope["auth"] = AuthCredentials()
    state: AuthState = {  # a literal: calling the TypedDict builds the same dict through keyword arguments
        "principal": None,
        "token_type": None,
        "auth": auth,
        "request": info if info is not None else request_info(scope),
    }
    scope[SCOPE_KEY] = state


def set_principal(scope: MutableMapping[str, Any], auth: AuthHooks, principal: Principal, info: RequestInfo) -> None:
    """Mark ``scope`` as authenticated by ``principal`` (see the module docstring)."""
    scope["user"] = AuthUser(principal)
    scope["auth"] = AuthCredentials(_credential_scopes(principal.scopes))
    state: AuthState = {"principal": principal, "token_type": "Bearer", "auth": auth, "request": info}
    scope[SCOPE_KEY] = state


class FlowAPI(Protocol):
    """The part of the flows API (on :class:`~authhooks.AuthHooks`) the middleware calls.

    Declared here so the middleware type-checks against the contract, whichever flow family implements it.
    """

    async def validate_token(self, token: str, *, request: RequestInfo | None = None) -> Principal: ...

    async def authorize(
        self,
        principal: Principal,
        required_scopes: tuple[str, ...] = (),
        *,
        permission: str | None = None,
        request: RequestInfo | None = None,
    ) -> Principal: ...

    async def generate_challenge(
        self,
        subject: str,
        expire_minutes: int | None = None,
        *,
        scheme: str | None = None,
        request: RequestInfo | None = None,
    ) -> Any: ...

    async def authenticate(
        self, subject: str, challenge: str, signature: str, *, scheme: str = ..., request: RequestInfo | None = None
    ) -> TokenPair: ...

    async def refresh_token(self, refresh_token: str, *, request: RequestInfo | None = None) -> TokenPair: ...

    async def invalidate_token(self, token: str, *, request: RequestInfo | None = None) -> bool: ...

    async def introspect(self, token: str, *, request: RequestInfo | None = None) -> Mapping[str, Any]: ...

    def jwks(self) -> Any: ...

    async def prepare(self) -> None: ...
