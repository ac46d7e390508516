"""The token layer assembled from :class:`~authhooks.config.Settings`: keys, issuer, validator, cache.

Built once per ``AuthHooks`` (lazily: the embedded default key is only generated when tokens are first used).
Keys come from, in this order of precedence for signing: ``AUTHHOOKS_SIGNING_KEY_FILE``, ``AUTHHOOKS_SECRET``;
for validation: every signing key plus ``AUTHHOOKS_PUBLIC_KEY_FILE`` and, fetched at run time,
``AUTHHOOKS_JWKS_URL`` / ``AUTHHOOKS_OIDC_ISSUER``. With none of them configured, an Ed25519 key is generated in
``AUTHHOOKS_STATE_DIR`` (and reused after a restart).
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterable
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
from authhooks.tokens.subjects import SUBJECT_REVOKED_PREFIX
from authhooks.tokens.validator import TokenValidator

__all__ = ["REVOCATION_CHANNEL", "TokenService"]

REVOCATION_CHANNEL = "revocations"
"""The store channel on which revoked ``jti`` values are published to every instance, and key withdrawals too
(a message :data:`KEY_EVICTION_PREFIX` + space-separated RFC 7638 thumbprints), and subject revocations
(:data:`~authhooks.tokens.subjects.SUBJECT_REVOKED_PREFIX` + the subject).

The validated-token cache trusts this feed, so it serves only while the subscription is live: from the moment the
store reports a gap (``on_status(False)``; a dropped Redis connection is noticed within milliseconds, a silent one
within the store's health-check interval plus its timeout) until delivery has resumed, the cache is empty and
bypassed (every token gets the store's revocation lookup, which fails closed by default), and it resumes empty.
"""


KEY_EVICTION_PREFIX = b"\x00key-evicted "
"""Marks a key-withdrawal message on :data:`REVOCATION_CHANNEL` (a ``jti`` never starts with NUL in practice, and
an instance that does not know the prefix merely drops a ``jti`` nobody has). One channel, so one subscription
and one gap signal cover both: while it is down the cache is bypassed, so a withdrawal missed then costs nothing.
"""

_THUMBPRINT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

logger = logging.getLogger("authhooks")


def _reports_gaps(store: Any) -> bool:
    try:
        params = inspect.signature(store.subscribe).parameters
    except (TypeError, ValueError):
        return False
    return "on_status" in params or any(p.kind is p.VAR_POSITIONAL for p in params.values())


class TokenService:
    """Keys, issuer, validator and validated-token cache for one ``AuthHooks``.

    Key withdrawal: when the remote key set's refetch no longer lists a key, or :meth:`replace_local_keys`
    drops one, the cached tokens that key verified are evicted at once and the withdrawal is published on the
    store (:data:`KEY_EVICTION_PREFIX`); every other instance then evicts them too and stops trusting that key
    in its own cached copy of the remote set (which it refetches on the next token).

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
        http_client: Any = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        if keys is None or all(part is None for part in keys):
            keys = keys_from_settings(settings, create_default=True, http_client=http_client)
        signing, keyset, remote = keys
        self._signing = signing
        self.remote: RemoteKeySet | None = remote
        if remote is not None:
            remote.on_keys_removed = self._keys_removed
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
        self._store: Any = None
        self._evictions = threading.Condition()
        self.evictions_heard = 0
        """How many key-withdrawal messages this instance has heard (its own included), for tests and telemetry."""
        self.subjects_heard = 0
        """How many subject revocations this instance has heard (its own included), for tests and telemetry."""
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
                self._store = store
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
        if message.startswith(KEY_EVICTION_PREFIX):
            self._on_key_eviction(message[len(KEY_EVICTION_PREFIX) :])
            return
        if message.startswith(SUBJECT_REVOKED_PREFIX):
            self._on_subject(message[len(SUBJECT_REVOKED_PREFIX) :])
            return
        try:
            self.cache.drop_jti(message.decode("ascii"))
        except UnicodeDecodeError:
            return

    # -- subject revocation -----------------------------------------------------------------------------------

    def _on_subject(self, payload: bytes) -> None:
        try:
            self.cache.drop_subject(payload.decode("utf-8", "surrogatepass"))
        except UnicodeDecodeError:
            self.cache.clear()  # not a subject this instance can name: forget everything rather than keep it
        with self._evictions:
            self.subjects_heard += 1
            self._evictions.notify_all()

    def wait_for_subjects(self, count: int, timeout: float) -> bool:
        """Wait until :attr:`subjects_heard` reaches ``count`` (at most ``timeout`` seconds); return whether it did."""
        with self._evictions:
            return self._evictions.wait_for(lambda: self.subjects_heard >= count, timeout)

    # -- key withdrawal ---------------------------------------------------------------------------------------

    def _keys_removed(self, keys: tuple[Key, ...]) -> None:
        """The remote set's refetch no longer lists ``keys``: evict here, then tell the other instances."""
        self._evict(keys, "left the issuer's key set")
        self._publish_eviction([k.thumbprint for k in keys])

    def _evict(self, keys: Iterable[Key], why: str) -> None:
        keys = tuple(keys)
        dropped = sum(self.cache.drop_key(k.thumbprint) for k in keys)
        logger.warning(
            "authhooks: key(s) %s %s; evicted %d cached token(s)", ", ".join(repr(k.kid) for k in keys), why, dropped
        )

    def _publish_eviction(self, thumbprints: list[str]) -> None:
        store = self._store
        if store is None or not thumbprints:
            return
        message = KEY_EVICTION_PREFIX + " ".join(thumbprints).encode("ascii")
        # on its own thread: the caller may be an event loop's fetch task, and the publish is a blocking call
        # bounded by the store's timeout; a rotation is rare, so a thread per withdrawal is cheap
        threading.Thread(
            target=self._publish, args=(store, message), name="authhooks-key-eviction", daemon=True
        ).start()

    @staticmethod
    def _publish(store: Any, message: bytes) -> None:
        try:
            store.sync.publish(REVOCATION_CHANNEL, message)
        except Exception as exc:  # the other instances then keep the tokens until their own refetch
            logger.warning("authhooks: could not publish a key withdrawal to other instances (%s)", type(exc).__name__)

    def _on_key_eviction(self, payload: bytes) -> None:
        try:
            thumbprints = [t for t in payload.decode("ascii").split() if set(t) <= _THUMBPRINT_CHARS]
        except UnicodeDecodeError:
            thumbprints = []
        remote = self.remote
        dropped = remote.drop_keys(thumbprints) if remote is not None else ()
        if dropped:  # seen by another instance first: stop trusting the key here too, then evict
            self._evict(dropped, "left the issuer's key set (seen by another instance)")
        for thumbprint in thumbprints:
            self.cache.drop_key(thumbprint)
        with self._evictions:
            self.evictions_heard += 1
            self._evictions.notify_all()

    def wait_for_evictions(self, count: int, timeout: float) -> bool:
        """Wait until :attr:`evictions_heard` reaches ``count`` (at most ``timeout`` seconds); return whether it did."""
        with self._evictions:
            return self._evictions.wait_for(lambda: self.evictions_heard >= count, timeout)

    def replace_local_keys(self, keys: Iterable[Key]) -> None:
        """Replace the static validation keys (e.g. after ``AUTHHOOKS_JWKS_FILE`` changed); the tokens verified by a
        key that is gone are evicted here and, through the store, in every instance.

        Raises:
            ConfigurationError: two keys share a ``kid``.
        """
        listed = list(keys)
        signing = self._signing
        if signing is not None and signing.kid not in {k.kid for k in listed}:
            listed.insert(0, signing)  # the signing key always validates what this instance issues
        new = KeySet(listed)
        kept = {k.thumbprint for k in new}
        removed = tuple(k for k in self.keys if k.thumbprint not in kept)
        self.keys = new
        self.validator = TokenValidator(new, self.policy, max_bytes=self.settings.max_token_bytes)
        self._union = (None, new)
        if removed:
            self._evict(removed, "were withdrawn from the local key set")
            self._publish_eviction([k.thumbprint for k in removed])

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
