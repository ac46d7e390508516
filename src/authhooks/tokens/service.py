"""The token layer assembled from :class:`~authhooks.config.Settings`: keys, issuer, validator, cache.

Built once per ``AuthHooks`` (lazily: the embedded default key is only generated when tokens are first used).
Keys come from, in this order of precedence for signing: ``AUTHHOOKS_SIGNING_KEY_FILE``, ``AUTHHOOKS_SECRET``;
for validation: every signing key plus ``AUTHHOOKS_PUBLIC_KEY_FILE`` and, fetched at run time,
``AUTHHOOKS_JWKS_URL`` / ``AUTHHOOKS_OIDC_ISSUER``. With none of them configured, an Ed25519 key is generated in
``AUTHHOOKS_STATE_DIR`` (and reused after a restart).
"""

from __future__ import annotations

import threading
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
"""The store channel on which revoked ``jti`` values are published to every instance."""


class TokenService:
    """Keys, issuer, validator and validated-token cache for one ``AuthHooks``.

    Args:
        settings: where keys, issuer, audience, lifetimes and limits come from.

    Raises:
        ConfigurationError: unreadable or weak keys, naming the variable.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        signing, keyset, remote = keys_from_settings(settings, create_default=True)
        self.remote: RemoteKeySet | None = remote
        self.issuer: TokenIssuer | None = None
        if signing is not None:
            self.issuer = TokenIssuer(
                [signing],
                issuer=settings.issuer,
                audience=settings.audience,
                access_ttl=settings.access_ttl_seconds,
            )
        keys: list[Key] = list(keyset) if keyset is not None else []
        if signing is not None and signing.kid not in {k.kid for k in keys}:
            keys.insert(0, signing)
        self.keys = KeySet(keys)
        self.policy = ClaimsPolicy.from_settings(settings)
        self.validator = TokenValidator(self.keys, self.policy, max_bytes=settings.max_token_bytes)
        self.cache = ValidatedTokenCache(settings.token_cache_size, leeway=settings.leeway_seconds)
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
        """Listen for revocations published by other instances and drop them from the cache (once)."""
        with self._lock:
            if not self._subscribed:
                store.subscribe(REVOCATION_CHANNEL, self._on_revocation)
                self._subscribed = True

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
