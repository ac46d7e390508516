"""Fetching an issuer's documents for :class:`~authhooks.tokens.jwks.RemoteKeySet`: the discovery document (its
``issuer`` must equal the configured one exactly, RFC 8414 §3.3, OpenID Connect Discovery §4.3) and the JWK Set,
over a given ``httpx`` client or transport, sync (bounded by a :class:`~authhooks.tokens._fetch.Watchdog`) or
async; every failure is a :class:`~authhooks.tokens._fetch.FetchError` with its precise reason."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import httpx

from authhooks.errors import ConfigurationError
from authhooks.tokens._fetch import (
    MAX_DOCUMENT_BYTES,
    FetchError,
    Watchdog,
    document_label,
    fetch_reason,
    host_port,
    loads_document,
)

__all__ = ["DocumentFetcher", "check_key_url", "discovery_urls"]

_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_key_url(url: str, *, allow_http: bool = False) -> str:
    """Return ``url`` if it may serve keys: https, or http on 127.0.0.1/localhost (or ``allow_http``).

    Raises:
        ConfigurationError: any other URL (RFC 8414 §3: discovery is over TLS).
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise ConfigurationError("key set URL is not a valid URL") from None
    if parsed.scheme == "https" and parsed.host:
        return url
    if parsed.scheme == "http" and parsed.host and (allow_http or parsed.host in _LOCAL_HOSTS):
        return url
    raise ConfigurationError("key set URL must use https (http only for 127.0.0.1/localhost)")


def discovery_urls(issuer: str) -> tuple[str, str]:
    """The OIDC (appended) and RFC 8414 §3.1 (inserted before the path) metadata URLs of ``issuer``."""
    parsed = httpx.URL(issuer)
    path = parsed.path.rstrip("/")
    oidc = issuer.rstrip("/") + "/.well-known/openid-configuration"
    rfc8414 = str(parsed.copy_with(path="/.well-known/oauth-authorization-server" + path, query=None))
    return oidc, rfc8414


class _DocumentBody:
    """A document's response as it streams in, sync or async: a status other than 200, more than
    ``MAX_DOCUMENT_BYTES`` or the deadline passing is a :class:`FetchError`; then the parsed JSON object."""

    __slots__ = ("_body", "_deadline")

    def __init__(self, response: httpx.Response, deadline: float) -> None:
        if response.status_code != 200:
            raise FetchError(f"HTTP {response.status_code}")
        self._body = bytearray()
        self._deadline = deadline

    def add(self, chunk: bytes) -> None:
        self._body += chunk
        if len(self._body) > MAX_DOCUMENT_BYTES:
            raise FetchError("document too large")
        if time.monotonic() > self._deadline:
            raise FetchError("timeout")

    def document(self) -> dict[str, Any]:
        return loads_document(bytes(self._body))


class DocumentFetcher:
    """The document-fetching half of :class:`~authhooks.tokens.jwks.RemoteKeySet` (which sets these attributes)."""

    _allow_http: bool
    _jwks_uri: str | None
    _issuer: str | None
    _timeout: float
    _transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None
    _client: httpx.Client | httpx.AsyncClient | None
    _watchdog: Watchdog | None

    def _check_document(self, document: dict[str, Any]) -> str:
        """The ``jwks_uri`` of a discovery document whose ``issuer`` is ours, exactly (RFC 8414 §3.3, OpenID
        Connect Discovery §4.3)."""
        issuer = document.get("issuer")
        if issuer != self._issuer:
            shown = repr(issuer[:100]) if isinstance(issuer, str) else "no issuer"
            raise FetchError(f"issuer mismatch: the document names {shown}, expected {self._issuer!r}")
        uri = document.get("jwks_uri")
        if type(uri) is not str:
            raise FetchError("the document has no jwks_uri")
        try:
            return check_key_url(uri, allow_http=self._allow_http)
        except ConfigurationError:
            raise FetchError("jwks_uri is not https") from None

    # -- sync ---------------------------------------------------------------------------------------------

    def _document_sync(self) -> dict[str, Any]:
        """Discovery (when needed) and the JWK Set, on this thread, bounded by the watchdog."""
        watchdog = self._watchdog = Watchdog(self._timeout)
        deadline = time.monotonic() + self._timeout
        try:
            with watchdog, self._sync_client() as client:
                if self._jwks_uri is None:
                    reasons = []
                    for url in discovery_urls(self._issuer or ""):
                        try:
                            self._jwks_uri = self._check_document(self._get_json_sync(client, url, watchdog, deadline))
                            break
                        except Exception as exc:
                            if watchdog.fired:
                                raise
                            reasons.append(f"{document_label(url)}: {fetch_reason(exc)}")
                    else:
                        raise FetchError("discovery failed: " + "; ".join(reasons))
                uri = self._jwks_uri
                try:
                    return self._get_json_sync(client, uri, watchdog, deadline)
                except FetchError as exc:
                    raise FetchError(f"jwks_uri at {host_port(uri)}: {exc}") from None
        except Exception:
            if watchdog.fired:
                raise FetchError("timeout") from None
            raise
        finally:
            self._watchdog = None

    def _sync_client(self) -> contextlib.AbstractContextManager[httpx.Client]:
        client = self._client
        if isinstance(client, httpx.Client):
            return contextlib.nullcontext(client)
        if isinstance(client, httpx.AsyncClient):
            raise FetchError("http_client is an httpx.AsyncClient: a sync (WSGI) fetch needs an httpx.Client")
        transport = self._transport if isinstance(self._transport, httpx.BaseTransport) else None
        return httpx.Client(transport=transport, timeout=self._timeout, follow_redirects=False)

    def _get_json_sync(self, client: httpx.Client, url: str, watchdog: Watchdog, deadline: float) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        with client.stream(
            "GET",
            url,
            headers=headers,
            timeout=self._timeout,
            follow_redirects=False,
            extensions={"trace": watchdog.trace},
        ) as response:
            body = _DocumentBody(response, deadline)
            for chunk in response.iter_bytes():
                body.add(chunk)
        return body.document()

    # -- async --------------------------------------------------------------------------------------------

    async def _document_async(self) -> dict[str, Any]:
        deadline = time.monotonic() + self._timeout
        client = self._client
        if isinstance(client, httpx.AsyncClient):
            return await self._fetch_document(client, deadline)
        transport = self._transport if isinstance(self._transport, httpx.AsyncBaseTransport) else None
        async with httpx.AsyncClient(transport=transport, timeout=self._timeout, follow_redirects=False) as own:
            return await self._fetch_document(own, deadline)

    async def _fetch_document(self, client: httpx.AsyncClient, deadline: float) -> dict[str, Any]:
        if self._jwks_uri is None:
            reasons = []
            for url in discovery_urls(self._issuer or ""):
                try:
                    self._jwks_uri = self._check_document(await self._get_json_async(client, url, deadline))
                    break
                except Exception as exc:
                    reasons.append(f"{document_label(url)}: {fetch_reason(exc)}")
            else:
                raise FetchError("discovery failed: " + "; ".join(reasons))
        uri = self._jwks_uri
        try:
            return await self._get_json_async(client, uri, deadline)
        except FetchError as exc:
            raise FetchError(f"jwks_uri at {host_port(uri)}: {exc}") from None

    async def _get_json_async(self, client: httpx.AsyncClient, url: str, deadline: float) -> dict[str, Any]:
        async with client.stream(
            "GET", url, headers={"Accept": "application/json"}, timeout=self._timeout, follow_redirects=False
        ) as response:
            body = _DocumentBody(response, deadline)
            async for chunk in response.aiter_bytes():
                body.add(chunk)
        return body.document()
