"""The token layer assembled from :class:`~authhooks.config.Settings`: keys, issuer, validator, cache.

Built once per ``AuthHooks`` (lazily: the embedded default key is only generated when tokens are first used).
Keys come from, in this order of precedence for signing: ``AUTHHOOKS_SIGNING_KEY_FILE``, ``AUTHHOOKS_SECRET``;
for validation: every signing key plus ``AUTHHOOKS_PUBLIC_KEY_FILE`` and, fetched at run time,
``AUTHHOOKS_JWKS_URL`` / ``AUTHHOOKS_OIDC_ISSUER``. With none of them configured, an Ed25519 key is generated in
``AUTHHOOKS_STATE_DIR`` (and reused after a restart).
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable
from typing import Any

from authhooks.config import Settings
from authhooks.errors import ConfigurationError
from authhooks.tokens.cache import ValidatedTokenCache
from authhooks.tokens.claims import ClaimsPolicy
from authhooks.tokens.issuer import TokenIssuer
from authhooks.tokens.jwks import RemoteKeySet
from authhooks.tokens.keys import Key
from authhooks.tokens.keyset import KeySet
from authhooks.tokens.loading import keys_from_settings
from authhooks.tokens.validator import TokenValidator

__all__ = ["REVOCATION_CHANNEL", "TokenService"]

REVOCATION_CHANNEL = "revocations"
"""The store channel on which revoked ``jti`` values are published to every instance.

The validated-token cache trusts this feed, so it serves only while the subscription is live: from the moment the
store reports a gap (``on_status(False)``; a dropped Redis connection is noticed within milliseconds, a silent one
within the store's health-check interval plus its timeout) until delivery has resumed, the cache is empty and
bypassed (every token gets the store's revocation lookup, which fails closed by default), and it resumes empty.
"""


def _reports_gaps(store: Any) -> bool:
    try:
        params = inspect.signature(store.subscribe).parameters
    except (TypeError, ValueError):
        return False
    return "on_status" in params or any(p.kind is p.VAR_POSITIONAL for p in params.values())


class TokenService:
    """Keys, issuer, validator and validated-token cache for one ``AuthHooks``.

    Args:
        settings: where keys, issuer, audience, lifetimes and limits come from.
        clock: the wall clock (Unix seconds) of the issuer, the claims checks and the cache.
        keys: what :func:`~authhooks.tokens.loading.keys_from_settings` returned for ``settings`` (loaded when
            ``AuthHooks`` was built, so they are not read twice); ``None`` loads them here, creating the embedded
            default key when nothing is configured.

    Raises:
        ConfigurationError: unreadable or weak keys, naming the variable.
    """

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        *,
        keys: tuple[Key | None, KeySet | None, RemoteKeySet | None] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        if keys is None or all(part is None for part in keys):
            keys = keys_from_settings(settings, create_default=True)
        signing, keyset, remote = keys
        self.remote: RemoteKeySet | None = remote
        self.issuer: TokenIssuer | None = None
        if signing is not None:
            self.issuer = TokenIssuer(
                [signing],
                issuer=settings.issuer,
                audience=settings.audience,
                access_ttl=settings.access_ttl_seconds,
                clock=clock,
            )
        local: list[Key] = list(keyset) if keyset is not None else []
        if signing is not None and signing.kid not in {k.kid for k in local}:
            local.insert(0, signing)
        self.keys = KeySet(local)
        self.policy = ClaimsPolicy.from_settings(settings, clock=clock)
        self.validator = TokenValidator(self.keys, self.policy, max_bytes=settings.max_token_bytes)
        self.cache = ValidatedTokenCache(settings.token_cache_size, leeway=settings.leeway_seconds, clock=clock)
        self._subscribed = False
        self._lock = threading.Lock()
        self._union: tuple[KeySet | None, KeySet] = (None, self.keys)

    def require_issuer(self) -> TokenIssuer:
        """The issuer, or a ``ConfigurationError`` when only validation keys are configured."""
        if self.issuer is None:
            raise ConfigurationError(
                "issuing tokens needs a signing key: set AUTHHOOKS_SIGNING_KEY_FILE or AUTHHOOKS_SECRET"
            )
        return self.issuer

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public keys this service signs and validates with (never secrets), as a JWK Set."""
        return self.keys.jwks()

    def subscribe(self, store: Any) -> None:
        """Listen for revocations published by other instances and drop them from the cache (once).

        The cache is suspended until the store confirms the subscription, and again during every gap in it.

        Raises:
            StoreUnavailableError: the store cannot be reached to subscribe (the cache stays suspended).
        """
        with self._lock:
            if not self._subscribed:
                self.cache.suspend()
                if _reports_gaps(store):
                    store.subscribe(REVOCATION_CHANNEL, self._on_revocation, self._on_feed)
                else:  # a store written before ``on_status``: trusted as gapless, as before
                    store.subscribe(REVOCATION_CHANNEL, self._on_revocation)
                    self.cache.resume()
                self._subscribed = True

    def _on_feed(self, live: bool) -> None:
        if live:
            self.cache.resume()
        else:
            self.cache.suspend()

    def _on_revocation(self, message: bytes) -> None:
        try:
            self.cache.drop_jti(message.decode("ascii"))
        except UnicodeDecodeError:
            return

    def keyset_with(self, remote: KeySet | None) -> KeySet:
        """The static keys joined with a fetched remote set (memoized per remote set, so the verified-header
        cache of the joined set survives between requests)."""
        if remote is None:
            return self.keys
        last_remote, joined = self._union
        if last_remote is not remote:
            joined = self.keys.union(k for k in remote if k.kid not in self.keys) if len(self.keys) else remote
            self._union = (remote, joined)
        return joined
