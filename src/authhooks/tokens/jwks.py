"""Remote key sets: a JWKS URL or an issuer's discovery document, fetched with httpx, sync or async.

This is the token layer's only I/O. :class:`RemoteKeySet` keeps the last good :class:`KeySet` and decides
when to fetch again (RFC 8414 §3, OpenID Connect Discovery 1.0 §4, RFC 7517 §5):

- a fresh set (younger than ``ttl``) is returned as is;
- a ``kid`` the set does not know triggers at most one refetch per ``cooldown`` (key rotation at the issuer is
  picked up within one cooldown of the last fetch; a flood of invented ``kid`` values costs at most one fetch
  per cooldown);
- a stale set is refetched; failed attempts are retried at most once per ``cooldown``;
- a fetch is bounded by ``timeout``; when it fails the stale keys are served, and with nothing cached
  :class:`~authhooks.errors.KeySetUnavailableError` is raised (a fault; its message names no URL);
- concurrent async callers share one in-flight fetch; threads wait for one fetch, or take the stale keys.

JWKS members with an unsupported ``kty``/``alg``, a weak size, or symmetric (``oct``) material are skipped
and logged at debug level: a published symmetric key would let anyone forge tokens.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from authhooks.errors import ConfigurationError, KeySetUnavailableError, MalformedToken
from authhooks.tokens._json import loads_object
from authhooks.tokens.keys import Key
from authhooks.tokens.keyset import KeySet

__all__ = ["RemoteKeySet", "check_key_url", "discovery_urls"]

logger = logging.getLogger("authhooks")

MAX_DOCUMENT_BYTES = 512 * 1024
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_CACHED, _FETCH, _UNAVAILABLE = range(3)


class _FetchError(Exception):
    """A fetch failed; the reason is a short, URL-free label."""


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


class RemoteKeySet:
    """A key set fetched from ``url`` or discovered from ``issuer``; see the module docstring for the rules.

    Args:
        url: the JWKS URL (``jwks_uri``).
        issuer: the issuer whose discovery document names the JWKS URL (used when ``url`` is ``None``); the
            document's ``issuer`` must equal it exactly (RFC 8414 §3.3).
        ttl: seconds a fetched set stays fresh.
        cooldown: the least seconds between two fetches triggered by an unknown ``kid`` or a failure.
        timeout: the bound, in seconds, on one fetch (discovery included).
        transport: an httpx transport for tests (``httpx.MockTransport`` serves both sync and async).
        allow_http: accept plain-http URLs on any host.
        algorithms: restrict every key's allow-list to these algorithms.
        clock: a monotonic time source.

    Raises:
        ConfigurationError: neither ``url`` nor ``issuer``, or a URL that is not https.
    """

    def __init__(
        self,
        url: str | None = None,
        issuer: str | None = None,
        *,
        ttl: float = 300.0,
        cooldown: float = 30.0,
        timeout: float = 2.0,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        allow_http: bool = False,
        algorithms: Iterable[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if url is None and issuer is None:
            raise ConfigurationError("a remote key set needs a JWKS URL or an issuer")
        self._allow_http = allow_http
        self._jwks_uri = None if url is None else check_key_url(url, allow_http=allow_http)
        self._issuer = None if issuer is None else check_key_url(issuer, allow_http=allow_http)
        self._ttl = ttl
        self._cooldown = cooldown
        self._timeout = timeout
        self._transport = transport
        self._algorithms = None if algorithms is None else tuple(algorithms)
        self._clock = clock
        self._keyset: KeySet | None = None
        self._fetched_at = -float("inf")
        self._attempted_at = -float("inf")
        self._fetches = 0
        self._lock = threading.Lock()
        self._inflight: asyncio.Future[None] | None = None
        self._inflight_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        cached = None if self._keyset is None else len(self._keyset)
        return f"RemoteKeySet(cached_keys={cached}, fetches={self._fetches})"

    @property
    def keyset(self) -> KeySet | None:
        """The last fetched set, fresh or not, or ``None``."""
        return self._keyset

    @property
    def fetches(self) -> int:
        """How many fetches were attempted (for telemetry and tests)."""
        return self._fetches

    # -- decision (no I/O) ----------------------------------------------------------------------------------

    def _plan(self, kid: str | None, now: float) -> int:
        keyset = self._keyset
        may_retry = now - self._attempted_at >= self._cooldown
        if keyset is None:
            return _FETCH if may_retry else _UNAVAILABLE
        if now - self._fetched_at < self._ttl:
            if kid is None or kid in keyset:
                return _CACHED
            return _FETCH if may_retry else _CACHED
        # stale: refetch, unless the last attempt failed within the cooldown
        return _FETCH if may_retry or self._attempted_at <= self._fetched_at else _CACHED

    def _current(self) -> KeySet:
        if self._keyset is None:
            raise KeySetUnavailableError("the key set endpoint is unavailable and no keys are cached")
        return self._keyset

    def _begin(self) -> None:
        self._attempted_at = self._clock()
        self._fetches += 1

    def _succeed(self, document: dict[str, Any], started: float) -> None:
        self._keyset = self._parse(document)
        self._fetched_at = started

    def _fail(self, reason: str) -> None:
        state = "serving cached keys" if self._keyset is not None else "no keys cached"
        logger.warning("authhooks: key set fetch failed (%s); %s", reason, state)

    def _parse(self, document: dict[str, Any]) -> KeySet:
        entries = document.get("keys")
        if type(entries) is not list:
            raise _FetchError("not a JWK Set")
        keys: list[Key] = []
        seen: set[str] = set()
        for jwk in entries:
            if not isinstance(jwk, dict) or jwk.get("kty") == "oct":
                logger.debug("authhooks: skipped a JWK: not an asymmetric key")
                continue
            try:
                key = Key.from_jwk(jwk, self._algorithms)
            except ConfigurationError as exc:
                logger.debug("authhooks: skipped JWK kid=%r: %s", jwk.get("kid"), exc)
                continue
            if key.kid in seen:
                logger.debug("authhooks: skipped JWK kid=%r: duplicate kid", key.kid)
                continue
            seen.add(key.kid)
            keys.append(key)
        if not keys:
            raise _FetchError("no usable key")
        return KeySet(keys)

    def _check_document(self, document: dict[str, Any]) -> str:
        """The ``jwks_uri`` of a discovery document whose ``issuer`` is ours (RFC 8414 §3.3)."""
        uri = document.get("jwks_uri")
        if document.get("issuer") != self._issuer or type(uri) is not str:
            raise _FetchError("discovery document does not match the issuer")
        try:
            return check_key_url(uri, allow_http=self._allow_http)
        except ConfigurationError:
            raise _FetchError("jwks_uri is not https") from None

    # -- sync ---------------------------------------------------------------------------------------------

    def get_sync(self, kid: str | None = None) -> KeySet:
        """The keys to verify a token whose header names ``kid`` (blocking I/O when a fetch is due).

        Raises:
            KeySetUnavailableError: no keys could be fetched and none are cached.
        """
        plan = self._plan(kid, self._clock())
        if plan == _CACHED:
            return self._current()
        if plan == _UNAVAILABLE:
            return self._current()
        # With keys cached, a thread that finds another one fetching serves the cached keys instead of waiting.
        acquired = (
            self._lock.acquire(timeout=self._timeout * 2 + 1)
            if self._keyset is None
            else self._lock.acquire(blocking=False)
        )
        if not acquired:
            return self._current()
        try:
            if self._plan(kid, self._clock()) == _FETCH:
                self._fetch_sync()
        finally:
            self._lock.release()
        return self._current()

    def _fetch_sync(self) -> None:
        self._begin()
        started = self._clock()
        deadline = started + self._timeout
        transport = self._transport if isinstance(self._transport, httpx.BaseTransport) else None
        try:
            with httpx.Client(transport=transport, timeout=self._timeout, follow_redirects=False) as client:
                if self._jwks_uri is None:
                    self._jwks_uri = self._discover_sync(client, deadline)
                self._succeed(self._get_json_sync(client, self._jwks_uri, deadline), started)
        except _FetchError as exc:
            self._fail(str(exc))
        except httpx.HTTPError as exc:
            self._fail(type(exc).__name__)

    def _discover_sync(self, client: httpx.Client, deadline: float) -> str:
        for url in discovery_urls(self._issuer or ""):
            try:
                return self._check_document(self._get_json_sync(client, url, deadline))
            except _FetchError:
                continue
        raise _FetchError("discovery failed")

    def _get_json_sync(self, client: httpx.Client, url: str, deadline: float) -> dict[str, Any]:
        with client.stream("GET", url, headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                raise _FetchError(f"HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise _FetchError("document too large")
                if self._clock() > deadline:
                    raise _FetchError("timeout")
        return _loads(bytes(body))

    # -- async --------------------------------------------------------------------------------------------

    async def get(self, kid: str | None = None) -> KeySet:
        """The keys to verify a token whose header names ``kid``; concurrent callers share one fetch.

        Raises:
            KeySetUnavailableError: no keys could be fetched and none are cached.
        """
        plan = self._plan(kid, self._clock())
        if plan != _FETCH:
            return self._current()
        loop = asyncio.get_running_loop()
        inflight = self._inflight
        if inflight is None or inflight.done() or self._inflight_loop is not loop:
            inflight = loop.create_task(self._fetch_async())
            self._inflight, self._inflight_loop = inflight, loop
        await asyncio.shield(inflight)
        return self._current()

    async def _fetch_async(self) -> None:
        self._begin()
        started = self._clock()
        deadline = started + self._timeout
        transport = self._transport if isinstance(self._transport, httpx.AsyncBaseTransport) else None
        try:
            async with httpx.AsyncClient(transport=transport, timeout=self._timeout, follow_redirects=False) as client:
                document = await asyncio.wait_for(self._fetch_document(client, deadline), self._timeout)
            self._succeed(document, started)
        except _FetchError as exc:
            self._fail(str(exc))
        except asyncio.TimeoutError:
            self._fail("timeout")
        except httpx.HTTPError as exc:
            self._fail(type(exc).__name__)

    async def _fetch_document(self, client: httpx.AsyncClient, deadline: float) -> dict[str, Any]:
        if self._jwks_uri is None:
            for url in discovery_urls(self._issuer or ""):
                try:
                    self._jwks_uri = self._check_document(await self._get_json_async(client, url, deadline))
                    break
                except _FetchError:
                    continue
            else:
                raise _FetchError("discovery failed")
        return await self._get_json_async(client, self._jwks_uri, deadline)

    async def _get_json_async(self, client: httpx.AsyncClient, url: str, deadline: float) -> dict[str, Any]:
        async with client.stream("GET", url, headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                raise _FetchError(f"HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise _FetchError("document too large")
                if self._clock() > deadline:
                    raise _FetchError("timeout")
        return _loads(bytes(body))


def _loads(body: bytes) -> dict[str, Any]:
    try:
        return loads_object(body)
    except MalformedToken:
        raise _FetchError("not a JSON object") from None
