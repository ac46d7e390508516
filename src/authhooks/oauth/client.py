"""The network side of one OpenID provider: discovery, its key set and its token endpoint, sync and async.

The flows never call this directly: they yield :class:`~authhooks.flows.effects.Call` effects naming a sync and an
async method of :class:`ProviderClient`, which the drivers perform. Every request is bounded by ``timeout`` and
its answer by :data:`MAX_DOCUMENT_BYTES` (read no further, and within ``timeout`` as a whole); anything that is
not a well-formed answer in time becomes :class:`~authhooks.oauth.errors.ProviderUnavailable` (a 502, never a
500) whose message names no URL or secret.

- Discovery (OpenID Connect Discovery 1.0 §4): ``{issuer}/.well-known/openid-configuration``; its ``issuer``
  must equal the configured one exactly (§4.3) and its endpoints be https (http only on 127.0.0.1/localhost).
  A fetched document is kept for ``ttl`` seconds.
- Keys: a :class:`~authhooks.tokens.jwks.RemoteKeySet` on the document's ``jwks_uri`` (the token layer's cache
  and refetch rules).
- Token endpoint (RFC 6749 §4.1.3, §6; OIDC Core §9): a form POST with the client's authentication:
  ``client_secret_basic`` (the id and secret form-urlencoded first, RFC 6749 §2.3.1), ``client_secret_post``, or
  ``none`` (a public client sends its ``client_id``). A 4xx with an OAuth error is a refusal
  (:class:`~authhooks.oauth.errors.ExternalLoginFailed`, ``reason`` given by the caller).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from authhooks.errors import ConfigurationError
from authhooks.oauth.errors import ExternalLoginFailed, ProviderUnavailable
from authhooks.oauth.providers import OAuthProvider
from authhooks.tokens.jwks import RemoteKeySet, check_key_url
from authhooks.tokens.keyset import KeySet

__all__ = ["MAX_DOCUMENT_BYTES", "ProviderClient", "ProviderMetadata"]

MAX_DOCUMENT_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """What the flows need from a discovery document (OpenID Connect Discovery 1.0 §3; RFC 9207 §3 for
    ``iss_in_response``: the provider names itself in every authorization response; ``id_token_algs``: its
    ``id_token_signing_alg_values_supported``, the only algorithms an ID token of it may carry, empty when the
    document does not say)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    iss_in_response: bool = False
    id_token_algs: tuple[str, ...] = ()

    @classmethod
    def from_document(cls, document: Mapping[str, Any], issuer: str) -> ProviderMetadata:
        """Check a discovery document against the configured ``issuer``.

        Raises:
            ProviderUnavailable: another issuer, or a missing or non-https endpoint.
        """
        if document.get("issuer") != issuer:
            raise ProviderUnavailable(reason="discovery_mismatch")
        values: list[str] = []
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            url = document.get(name)
            try:
                if not isinstance(url, str):
                    raise ConfigurationError(name)
                values.append(check_key_url(url))
            except ConfigurationError:
                raise ProviderUnavailable(reason="discovery_invalid") from None
        authorization, token, jwks = values
        algs = document.get("id_token_signing_alg_values_supported")
        if algs is not None and not (isinstance(algs, list) and all(isinstance(a, str) for a in algs)):
            raise ProviderUnavailable(reason="discovery_invalid")
        return cls(
            issuer,
            authorization,
            token,
            jwks,
            document.get("authorization_response_iss_parameter_supported") is True,
            tuple(algs or ()),
        )


def _bounded(chunks: bytearray, chunk: bytes, deadline: float) -> None:
    """Add ``chunk`` to an answer being read: more than :data:`MAX_DOCUMENT_BYTES`, or past ``deadline`` (a
    provider trickling its answer), stops the read."""
    chunks += chunk
    if len(chunks) > MAX_DOCUMENT_BYTES:
        raise ProviderUnavailable(reason="provider_answer_too_large")
    if time.monotonic() > deadline:
        raise ProviderUnavailable(reason="provider_unavailable")


def _object(response: httpx.Response) -> dict[str, Any]:
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise ProviderUnavailable(reason="provider_answer_too_large")
    try:
        document = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise ProviderUnavailable(reason="provider_answer_invalid") from None
    if not isinstance(document, dict):
        raise ProviderUnavailable(reason="provider_answer_invalid")
    return document


class ProviderClient:
    """Discovery, keys and token requests of one :class:`~authhooks.oauth.providers.OAuthProvider`.

    Args:
        provider: the provider.
        timeout: the bound, in seconds, on each request.
        ttl: seconds a discovery document (and a key set) stays fresh.
        cooldown: the least seconds between two key set fetches an unknown ``kid`` triggers.
        transport: an httpx transport for tests (``httpx.MockTransport`` serves sync and async).
        clock: a monotonic clock for the discovery cache.
    """

    def __init__(
        self,
        provider: OAuthProvider,
        *,
        timeout: float = 5.0,
        ttl: float = 300.0,
        cooldown: float = 30.0,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self._timeout = timeout
        self._ttl = ttl
        self._cooldown = cooldown
        self._transport = transport
        self._clock = clock
        self._metadata: ProviderMetadata | None = None
        self._fetched_at = -float("inf")
        self._keys: RemoteKeySet | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ProviderClient({self.provider.name!r})"

    def _send_sync(self, client: httpx.Client, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read its answer, at most :data:`MAX_DOCUMENT_BYTES` and within ``timeout`` as a
        whole (httpx's own timeout bounds each read, not their sum)."""
        deadline = time.monotonic() + self._timeout
        response = client.send(request, stream=True)
        try:
            body = bytearray()
            for chunk in response.iter_bytes():
                _bounded(body, chunk, deadline)
        finally:
            response.close()
        return httpx.Response(response.status_code, headers=response.headers, content=bytes(body))

    async def _send(self, client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
        """The async twin of :meth:`_send_sync`."""
        deadline = time.monotonic() + self._timeout
        response = await client.send(request, stream=True)
        try:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                _bounded(body, chunk, deadline)
        finally:
            await response.aclose()
        return httpx.Response(response.status_code, headers=response.headers, content=bytes(body))

    def _client_sync(self) -> httpx.Client:
        transport = self._transport if isinstance(self._transport, httpx.BaseTransport) else None
        return httpx.Client(transport=transport, timeout=self._timeout, follow_redirects=False)

    def _client_async(self) -> httpx.AsyncClient:
        transport = self._transport if isinstance(self._transport, httpx.AsyncBaseTransport) else None
        return httpx.AsyncClient(transport=transport, timeout=self._timeout, follow_redirects=False)

    # -- discovery ----------------------------------------------------------------------------------------

    def _discovery_url(self) -> str:
        return self.provider.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def _fresh(self) -> ProviderMetadata | None:
        if self._metadata is not None and self._clock() - self._fetched_at < self._ttl:
            return self._metadata
        return None

    def _keep(self, response: httpx.Response) -> ProviderMetadata:
        if response.status_code != 200:
            raise ProviderUnavailable(reason="discovery_failed")
        metadata = ProviderMetadata.from_document(_object(response), self.provider.issuer)
        with self._lock:
            if self._keys is None or self._metadata is None or self._metadata.jwks_uri != metadata.jwks_uri:
                self._keys = RemoteKeySet(
                    metadata.jwks_uri,
                    ttl=self._ttl,
                    cooldown=self._cooldown,
                    timeout=self._timeout,
                    transport=self._transport,
                )
            self._metadata, self._fetched_at = metadata, self._clock()
        return metadata

    def metadata_sync(self) -> ProviderMetadata:
        """The provider's endpoints (cached for ``ttl``; on a failed refetch the stale document is kept).

        Raises:
            ProviderUnavailable: nothing cached and the document cannot be fetched or is invalid.
        """
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        try:
            with self._client_sync() as client:
                request = client.build_request("GET", self._discovery_url(), headers={"Accept": "application/json"})
                response = self._send_sync(client, request)
            return self._keep(response)
        except (httpx.HTTPError, ProviderUnavailable):
            if self._metadata is not None:
                return self._metadata
            raise ProviderUnavailable(reason="provider_unavailable") from None

    async def metadata(self) -> ProviderMetadata:
        """The async twin of :meth:`metadata_sync`."""
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        try:
            async with self._client_async() as client:
                request = client.build_request("GET", self._discovery_url(), headers={"Accept": "application/json"})
                response = await asyncio.wait_for(self._send(client, request), self._timeout)
            return self._keep(response)
        except (httpx.HTTPError, asyncio.TimeoutError, ProviderUnavailable):
            if self._metadata is not None:
                return self._metadata
            raise ProviderUnavailable(reason="provider_unavailable") from None

    # -- keys ---------------------------------------------------------------------------------------------

    def _key_set(self) -> RemoteKeySet:
        keys = self._keys
        if keys is None:
            raise ProviderUnavailable(reason="provider_unavailable")
        return keys

    def keys_sync(self, kid: str | None) -> KeySet:
        """The provider's keys for an ID token whose header names ``kid`` (discovery first when needed).

        A ``kid`` the cached set does not know starts a refetch (at most one per ``cooldown``, the token layer's
        rule); unlike a resource server, a sign-in waits for it (bounded by ``timeout``), so a provider's key
        rotation does not fail the logins of the next minutes.

        Raises:
            ProviderUnavailable: no keys can be had.
        """
        self.metadata_sync()
        remote = self._key_set()
        try:
            keys = remote.get_sync(kid)
            if kid is not None and kid not in keys:
                remote.wait_for_fetch_sync()
                keys = remote.get_sync(kid)
            return keys
        except Exception:
            raise ProviderUnavailable(reason="keys_unavailable") from None

    async def keys(self, kid: str | None) -> KeySet:
        """The async twin of :meth:`keys_sync`."""
        await self.metadata()
        remote = self._key_set()
        try:
            keys = await remote.get(kid)
            if kid is not None and kid not in keys:
                await remote.wait_for_fetch()
                keys = await remote.get(kid)
            return keys
        except Exception:
            raise ProviderUnavailable(reason="keys_unavailable") from None

    # -- token endpoint -----------------------------------------------------------------------------------

    def _token_request(self, form: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        provider = self.provider
        body = dict(form)
        headers = {"Accept": "application/json"}
        secret = provider.client_secret
        if provider.token_auth == "client_secret_basic" and secret is not None:
            pair = f"{quote(provider.client_id, safe='')}:{quote(bytes(secret).decode('utf-8'), safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        else:
            body["client_id"] = provider.client_id
            if provider.token_auth == "client_secret_post" and secret is not None:
                body["client_secret"] = bytes(secret).decode("utf-8")
        return body, headers

    @staticmethod
    def _answer(response: httpx.Response, refused: str) -> dict[str, Any]:
        if response.status_code == 200:
            return _object(response)
        if 400 <= response.status_code < 500:
            raise ExternalLoginFailed(reason=refused)
        raise ProviderUnavailable(reason="provider_unavailable")

    def token_sync(self, form: Mapping[str, str], refused: str) -> dict[str, Any]:
        """POST ``form`` to the token endpoint with the client's authentication; return the JSON answer.

        Raises:
            ExternalLoginFailed: (``refused``) the provider refused the grant (RFC 6749 §5.2).
            ProviderUnavailable: no answer in time, a 5xx, or not a JSON object.
        """
        endpoint = self.metadata_sync().token_endpoint
        body, headers = self._token_request(form)
        try:
            with self._client_sync() as client:
                response = self._send_sync(client, client.build_request("POST", endpoint, data=body, headers=headers))
        except httpx.HTTPError:
            raise ProviderUnavailable(reason="provider_unavailable") from None
        return self._answer(response, refused)

    async def token(self, form: Mapping[str, str], refused: str) -> dict[str, Any]:
        """The async twin of :meth:`token_sync`."""
        endpoint = (await self.metadata()).token_endpoint
        body, headers = self._token_request(form)
        try:
            async with self._client_async() as client:
                request = client.build_request("POST", endpoint, data=body, headers=headers)
                response = await asyncio.wait_for(self._send(client, request), self._timeout)
        except (httpx.HTTPError, asyncio.TimeoutError):
            raise ProviderUnavailable(reason="provider_unavailable") from None
        return self._answer(response, refused)

    # -- shutdown -----------------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop the key set's background fetch, if any."""
        if self._keys is not None:
            await self._keys.aclose()

    def close(self) -> None:
        """The sync twin of :meth:`aclose`."""
        if self._keys is not None:
            self._keys.close()
