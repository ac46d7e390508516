"""The issuer's metadata documents: RFC 8414 (OAuth 2.0 Authorization Server Metadata) and OpenID Connect
Discovery 1.0, so that another service (a second authhooks with ``AUTHHOOKS_OIDC_ISSUER``, PyJWT's
``PyJWKClient``, joserfc, Authlib) finds authhooks' key set and endpoints from its issuer URL alone.

HTTP-agnostic: :class:`IssuerMetadata` knows the paths the documents are served at and builds them; the
routes module serves them (``Cache-Control: public``).

Where (from the issuer identifier, ``AUTHHOOKS_ISSUER``, any terminating ``/`` removed):

- RFC 8414 §3.1: ``/.well-known/oauth-authorization-server`` at the host root, the issuer's path appended
  (path insertion: issuer ``https://a.example/t1`` → ``/.well-known/oauth-authorization-server/t1``);
- OIDC Discovery §4.1: the issuer's path, then ``/.well-known/openid-configuration``.

The paths are matched against the path the app sees, so the app is assumed to be reached at the host root;
behind a path prefix, map the well-known paths in the proxy.

Absolute URLs come from configuration only: ``AUTHHOOKS_PUBLIC_URL`` (default: the issuer) plus
``routes_prefix``, never from the request's ``Host`` header (which a client chooses: RFC 8414 §6.1 and the
Host-header-injection class of bugs). The issuer must be an ``https`` URL without query or fragment (RFC 8414 §2,
OIDC Discovery §3), or ``http`` on a loopback host for development and tests; any other issuer (a plain name,
``http`` elsewhere) serves no documents. The ``issuer`` member is the configured value itself, identical to the
``iss`` of issued tokens (RFC 8414 §3.3, RFC 9068 §4).

Members (RFC 8414 §2; OIDC Discovery §3): ``issuer``, ``jwks_uri`` (``{prefix}/jwks.json``),
``token_endpoint`` (``{prefix}/refresh``: the one RFC 6749 token-endpoint grant served is ``refresh_token``;
the login route is authhooks' own), ``revocation_endpoint`` (RFC 7009), ``introspection_endpoint`` (RFC 7662),
``grant_types_supported`` (``["refresh_token"]``), ``response_types_supported`` (required; ``[]``: there is no
authorization endpoint), ``token_endpoint_auth_methods_supported`` (``["none"]``: refresh tokens are bearer
credentials of public clients), ``revocation_endpoint_auth_methods_supported`` (``none`` plus
``client_secret_basic`` and ``client_secret_post`` when clients are registered),
``introspection_endpoint_auth_methods_supported`` (``Bearer``, the RFC 6750 token type that RFC 8414 §2 allows
here, plus the client methods), ``id_token_signing_alg_values_supported`` (the algorithms authhooks signs its
tokens with, from its signing key; it issues no ID tokens, but OIDC Discovery §3 requires the member and
validators read it as the issuer's algorithms) and, in the OpenID document, ``subject_types_supported``
(``["public"]``). authhooks is not an OpenID Provider (no authorization endpoint, no ID tokens): the OpenID
document serves the validators that discover keys through it.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import SplitResult, unquote, urlsplit

from authhooks.config import Settings
from authhooks.errors import ConfigurationError

__all__ = ["OAUTH_WELL_KNOWN", "OPENID_WELL_KNOWN", "IssuerMetadata", "check_public_url", "issuer_url"]

logger = logging.getLogger("authhooks")

OAUTH_WELL_KNOWN = "/.well-known/oauth-authorization-server"
"""The RFC 8414 §3 well-known path (before the issuer's path is appended)."""
OPENID_WELL_KNOWN = "/.well-known/openid-configuration"
"""The OIDC Discovery §4 well-known path (after the issuer's path)."""

Kind = Literal["oauth", "openid"]
CLIENT_METHODS = ("client_secret_basic", "client_secret_post")


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def issuer_url(value: str) -> SplitResult:
    """Check that ``value`` can be an issuer or base URL: ``https``, or ``http`` on a loopback host; a host; no
    user info, query or fragment (RFC 8414 §2).

    Raises:
        ValueError: what is wrong (the value itself is configuration, not a secret).
    """
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        raise ValueError("is not a URL") from None
    if url.scheme not in ("https", "http") or not url.hostname:
        raise ValueError("must be an https URL (or http on a loopback host)")
    if url.scheme == "http" and not _loopback(url.hostname):
        raise ValueError("must use https (http only on a loopback host such as 127.0.0.1)")
    if url.username is not None or url.password is not None:
        raise ValueError("may not hold user information")
    if url.query or url.fragment or value.endswith(("?", "#")):
        raise ValueError("may not have a query or fragment (RFC 8414 §2)")
    return url


def check_public_url(settings: Settings) -> None:
    """Check ``AUTHHOOKS_PUBLIC_URL`` (when set) as :func:`issuer_url` does.

    Raises:
        ConfigurationError: naming ``AUTHHOOKS_PUBLIC_URL`` and what is wrong.
    """
    if settings.public_url is not None:
        try:
            issuer_url(settings.public_url)
        except ValueError as exc:
            raise ConfigurationError(f"AUTHHOOKS_PUBLIC_URL: {exc}") from None


@dataclass(frozen=True, slots=True)
class IssuerMetadata:
    """Where the metadata documents are served and what they say (see the module docstring).

    Attributes:
        issuer: the issuer identifier, as configured (the ``iss`` of issued tokens).
        base_url: the external URL the routes prefix is appended to, without a terminating ``/``.
        prefix: the routes prefix (``""`` or ``/x``).
        clients: whether registered clients authenticate at introspection and revocation.
        paths: the well-known paths served, each with its kind (``oauth`` or ``openid``).
    """

    issuer: str
    base_url: str
    prefix: str
    clients: bool
    paths: dict[str, Kind]

    @classmethod
    def build(cls, issuer: str, prefix: str, *, public_url: str | None = None, clients: bool = False) -> IssuerMetadata:
        """The metadata of ``issuer`` whose routes are at ``public_url`` (default: ``issuer``) + ``prefix``.

        Raises:
            ValueError: ``issuer`` or ``public_url`` is not an acceptable URL (see :func:`issuer_url`).
        """
        path = unquote(issuer_url(issuer).path).rstrip("/")
        base = (public_url if public_url is not None else issuer).rstrip("/")
        if public_url is not None:
            issuer_url(public_url)
        paths: dict[str, Kind] = {OAUTH_WELL_KNOWN + path: "oauth", path + OPENID_WELL_KNOWN: "openid"}
        return cls(issuer, base, prefix, clients, paths)

    @classmethod
    def from_settings(cls, settings: Settings, prefix: str) -> IssuerMetadata | None:
        """The metadata for ``settings`` with routes under ``prefix``, or ``None`` when no document is served:
        the built-in routes are off, or ``AUTHHOOKS_ISSUER`` is unset or not an acceptable URL (logged once
        when it looks like a URL).

        Raises:
            ConfigurationError: ``AUTHHOOKS_PUBLIC_URL`` is set but not an acceptable URL.
        """
        check_public_url(settings)
        if not settings.routes or settings.issuer is None:
            return None
        clients = bool(settings.clients) or settings.clients_file is not None
        try:
            return cls.build(settings.issuer, prefix, public_url=settings.public_url, clients=clients)
        except ValueError as exc:
            if "://" in settings.issuer:
                logger.warning("authhooks: AUTHHOOKS_ISSUER %s: the metadata documents are not served", exc)
            return None

    def endpoint(self, name: str) -> str:
        """The absolute URL of the route ``name`` (``introspect``, ``jwks.json``…)."""
        return f"{self.base_url}{self.prefix}/{name}"

    def document(self, kind: Kind, signing_algorithms: Sequence[str]) -> dict[str, Any]:
        """The metadata document of ``kind`` (``oauth``: RFC 8414; ``openid``: OIDC Discovery), the tokens being
        signed with ``signing_algorithms`` (the member is left out when there are none: nothing is issued)."""
        client_methods = list(CLIENT_METHODS) if self.clients else []
        doc: dict[str, Any] = {
            "issuer": self.issuer,
            "jwks_uri": self.endpoint("jwks.json"),
            "token_endpoint": self.endpoint("refresh"),
            "revocation_endpoint": self.endpoint("revoke"),
            "introspection_endpoint": self.endpoint("introspect"),
            "grant_types_supported": ["refresh_token"],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none", *client_methods],
            "introspection_endpoint_auth_methods_supported": [*client_methods, "Bearer"],
        }
        if signing_algorithms:
            doc["id_token_signing_alg_values_supported"] = list(dict.fromkeys(signing_algorithms))
        if kind == "openid":
            doc["subject_types_supported"] = ["public"]
        return doc
