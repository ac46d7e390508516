"""The OpenID providers of one ``AuthHooks``: their clients (discovery, keys, token endpoint) and the box that
encrypts the provider tokens it keeps. Built from the settings on first use; what the OAuth flows receive."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from authhooks.config import Settings
from authhooks.oauth.client import ProviderClient
from authhooks.oauth.errors import ExternalLoginFailed, ProviderUnavailable
from authhooks.oauth.providers import OAuthProvider, load_providers
from authhooks.oauth.tokenbox import TokenBox

__all__ = ["OAuthService"]


class OAuthService:
    """The configured providers and their clients.

    Args:
        settings: the settings (``oauth_providers_file``, ``oauth_timeout_seconds``, the token key).
        providers: providers given as the ``oauth_providers=`` keyword.
        transport: an httpx transport for every provider request (tests).

    Raises:
        ConfigurationError: a malformed providers file or provider, naming the setting.
    """

    def __init__(
        self,
        settings: Settings,
        providers: Iterable[OAuthProvider | Mapping[str, Any]] = (),
        *,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.providers = load_providers(settings.oauth_providers_file, providers)
        self._clients = {
            name: ProviderClient(
                provider,
                timeout=settings.oauth_timeout_seconds,
                ttl=settings.jwks_ttl_seconds,
                cooldown=settings.jwks_refetch_cooldown_seconds,
                transport=transport,
            )
            for name, provider in self.providers.items()
        }
        self._box: TokenBox | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OAuthService(providers={sorted(self.providers)})"

    def client(self, name: object) -> ProviderClient:
        """The client of provider ``name``.

        Raises:
            ExternalLoginFailed: (``provider_unknown``) no such provider.
        """
        client = self._clients.get(name) if isinstance(name, str) else None
        if client is None:
            raise ExternalLoginFailed("No such identity provider.", reason="provider_unknown")
        return client

    @property
    def box(self) -> TokenBox:
        """The token box (its key loaded or created on first use)."""
        box = self._box
        if box is None:
            with self._lock:
                box = self._box
                if box is None:
                    box = self._box = TokenBox(self.settings)
        return box

    async def check(self) -> list[str]:
        """Fetch every provider's discovery document and key set (the start-up checks); one line per provider
        that failed, naming it and the reason (``provider_unavailable``, ``discovery_mismatch``…), never a URL."""
        problems = []
        for name, client in sorted(self._clients.items()):
            try:
                await client.metadata()
                await client.keys(None)
            except ProviderUnavailable as exc:
                problems.append(f"oauth provider {name!r}: discovery or keys failed ({exc.reason})")
        return problems

    async def aclose(self) -> None:
        """Stop every provider's background key fetch."""
        for client in self._clients.values():
            await client.aclose()

    def close(self) -> None:
        """The sync twin of :meth:`aclose`."""
        for client in self._clients.values():
            client.close()
