"""Remote key sets: a JWKS URL or an issuer's discovery document, fetched with httpx, sync or async.

This is the token layer's only I/O. :class:`RemoteKeySet` keeps the last good :class:`KeySet` and decides
when to fetch again (RFC 8414 §3, OpenID Connect Discovery 1.0 §4, RFC 7517 §5):

- a fresh set (younger than ``ttl``) is returned as is;
- a ``kid`` the set does not know triggers at most one refetch per ``cooldown`` (key rotation at the issuer is
  picked up within one cooldown of the last fetch; a flood of invented ``kid`` values costs at most one fetch
  per cooldown);
- a stale set is refetched; a failed attempt is retried no sooner than ``cooldown`` after it ended;
- **once a set is cached, no caller waits on the network**: a due refetch (stale set, unknown ``kid``) starts
  in the background (async: one :mod:`asyncio` task; sync: one daemon thread; never two at a time) and the
  caller gets the cached set at once, so a token with a new ``kid`` is refused as an unknown key until the
  refetch lands;
- only a cold start (nothing cached yet) waits, and concurrent cold-start callers share one fetch;
- a fetch is bounded by ``timeout`` as a whole (connect, discovery, headers and body together: a server that
  drips bytes cannot stretch httpx's per-read timeout); when it fails the stale keys are served, and with
  nothing cached :class:`~authhooks.errors.KeySetUnavailableError` is raised (a fault; its message names no
  URL). Name resolution in the sync client is not interruptible and is outside this bound;
- :meth:`RemoteKeySet.aclose` / :meth:`RemoteKeySet.close` stop a background fetch (cancelled, or its socket
  shut) and wait for it, so nothing outlives its owner.

JWKS members with an unsupported ``kty``/``alg``, a weak size or the ROCA fingerprint, or symmetric (``oct``)
material are skipped (a published symmetric key would let anyone forge tokens) with one warning per distinct
outcome naming each skipped key and why. A set that holds no usable key at all is still a successful fetch: it
replaces the cached keys (the issuer withdrew them) and every token is refused as ``invalid_token`` with the
reason ``no_usable_key``, not answered 503 as if the issuer were down.

Keys fetched through discovery (or with ``issuer`` set) are bound to that issuer (:meth:`Key.bound_to`): a token
they verify must carry exactly that ``iss`` (RFC 9068 §4, OpenID Connect Discovery §4.3).

A refetch that no longer lists a key (by RFC 7638 thumbprint) calls :attr:`RemoteKeySet.on_keys_removed` after
the new set is in place, so the validated-token cache can evict what that key vouched for.

A failed fetch is logged with its precise reason: the HTTP status, "not JSON", an issuer mismatch (with the
``issuer`` the document names), "connection refused (host:port)", for each discovery URL tried. Reasons name a
host and port at most, never a path, query or credentials.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from authhooks.errors import ConfigurationError, KeySetUnavailableError
from authhooks.tokens._documents import DocumentFetcher, check_key_url, discovery_urls
from authhooks.tokens._fetch import FetchError, Watchdog, fetch_reason
from authhooks.tokens.keys import Key
from authhooks.tokens.keyset import KeySet

__all__ = ["RemoteKeySet", "check_key_url", "discovery_urls"]

logger = logging.getLogger("authhooks")

_CACHED, _FETCH, _UNAVAILABLE = range(3)


class RemoteKeySet(DocumentFetcher):
    """A key set fetched from ``url`` or discovered from ``issuer``; see the module docstring for the rules.

    Args:
        url: the JWKS URL (``jwks_uri``).
        issuer: the issuer whose discovery document names the JWKS URL (used when ``url`` is ``None``); the
            document's ``issuer`` must equal it exactly (RFC 8414 §3.3).
        ttl: seconds a fetched set stays fresh.
        cooldown: the least seconds between two fetches triggered by an unknown ``kid`` or a failure.
        timeout: the bound, in seconds, on one fetch (discovery included), and on a cold-start wait.
        transport: an httpx transport (``httpx.MockTransport`` serves both sync and async).
        http_client: an ``httpx.Client`` (sync fetches; async ones run it on a thread) or ``httpx.AsyncClient``
            (async fetches; a sync fetch then fails with that reason), for proxies and custom CAs; it is never
            closed here. A transport may be passed here too.
        allow_http: accept plain-http URLs on any host.
        algorithms: restrict every key's allow-list to these algorithms.
        clock: a monotonic time source (for TTL and cooldown; I/O bounds use real time).

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
        http_client: httpx.Client | httpx.AsyncClient | httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
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
        if isinstance(http_client, (httpx.BaseTransport, httpx.AsyncBaseTransport)):
            transport, http_client = http_client, None
        elif http_client is not None and not isinstance(http_client, (httpx.Client, httpx.AsyncClient)):
            raise ConfigurationError("http_client must be an httpx.Client, httpx.AsyncClient or httpx transport")
        self._transport = transport
        self._client = http_client
        self.on_keys_removed: Callable[[tuple[Key, ...]], None] | None = None
        """Called (on the fetching thread or task) with the keys a refetch no longer lists, after the new set is
        in place."""
        self._skipped: tuple[str, ...] = ()
        self._last_failure: str | None = None
        self._algorithms = None if algorithms is None else tuple(algorithms)
        self._clock = clock
        self._keyset: KeySet | None = None
        self._fetched_at = -float("inf")
        self._attempted_at = -float("inf")
        self._fetches = 0
        # One fetch at a time, whichever driver started it: ``_busy`` is claimed under ``_lock``; ``_idle`` is
        # set when no fetch runs (threads wait on it).
        self._lock = threading.Lock()
        self._busy = False
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._task_loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._watchdog: Watchdog | None = None

    def __repr__(self) -> str:
        cached = None if self._keyset is None else len(self._keyset)
        return f"RemoteKeySet(cached_keys={cached}, fetches={self._fetches})"

    @property
    def keyset(self) -> KeySet | None:
        """The last fetched set, fresh or not, or ``None``."""
        return self._keyset

    @property
    def last_failure(self) -> str | None:
        """Why the last fetch failed (``None`` after a success); see :func:`~authhooks.tokens._fetch.fetch_reason`."""
        return self._last_failure

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

    def _claim(self, kid: str | None, *, background: bool) -> bool:
        """Start a fetch if one is due and none runs; the caller then runs it and ends with :meth:`_release`."""
        with self._lock:
            if background and self._closed:
                return False
            if self._busy and not self._orphaned():
                return False
            if self._plan(kid, self._clock()) != _FETCH:
                return False
            self._busy = True
            self._idle.clear()
            self._attempted_at = self._clock()
            self._fetches += 1
            return True

    def _orphaned(self) -> bool:
        """A fetch task whose event loop was closed without running it to the end (its ``finally`` never runs)."""
        task, loop = self._task, self._task_loop
        return task is not None and loop is not None and not task.done() and loop.is_closed()

    def _release(self) -> None:
        with self._lock:
            self._busy = False
            self._idle.set()

    def _current(self) -> KeySet:
        if self._keyset is None:
            # the message names no host (it may reach telemetry); the reason was logged with it (and is kept in
            # :attr:`last_failure` for ``authhooks check``)
            raise KeySetUnavailableError("the key set endpoint is unavailable and no keys are cached")
        return self._keyset

    def _succeed(self, document: dict[str, Any], started: float) -> None:
        keyset = self._parse(document)
        self._fetched_at = started
        self._last_failure = None
        self._install(keyset)

    def _install(self, keyset: KeySet) -> None:
        old = self._keyset
        self._keyset = keyset
        if old is None:
            return
        kept = {k.thumbprint for k in keyset}
        removed = tuple(k for k in old if k.thumbprint not in kept)
        callback = self.on_keys_removed
        if removed and callback is not None:
            try:
                callback(removed)
            except Exception:  # the eviction must not undo the fetch; it is logged
                logger.exception("authhooks: evicting the tokens of withdrawn keys failed")

    def drop_keys(self, thumbprints: Iterable[str]) -> tuple[Key, ...]:
        """Stop trusting the cached keys with these RFC 7638 thumbprints at once (another instance saw them leave
        the issuer's set) and make the set due for a refetch. Returns the keys dropped; calls no callback."""
        gone = frozenset(thumbprints)
        with self._lock:
            keyset = self._keyset
            if keyset is None:
                return ()
            dropped = tuple(k for k in keyset if k.thumbprint in gone)
            if dropped:
                self._keyset = KeySet(k for k in keyset if k.thumbprint not in gone)
                self._fetched_at = -float("inf")
            return dropped

    def _fail(self, reason: str) -> None:
        # the cooldown after a failure counts from its end: a fetch that hangs for the whole timeout must not
        # leave a cold start retrying (and waiting) again at once
        self._attempted_at = self._clock()
        self._last_failure = reason
        state = "serving cached keys" if self._keyset is not None else "no keys cached"
        logger.warning("authhooks: key set fetch failed (%s); %s", reason, state)

    def _parse(self, document: dict[str, Any]) -> KeySet:
        entries = document.get("keys")
        if type(entries) is not list:
            raise FetchError("not a JWK Set (no 'keys' array)")
        keys: list[Key] = []
        skipped: list[str] = []
        seen: set[str] = set()
        for index, jwk in enumerate(entries):
            name = f"#{index} kid={str(jwk['kid'])[:64]!r}" if isinstance(jwk, dict) and "kid" in jwk else f"#{index}"
            if not isinstance(jwk, dict):
                skipped.append(f"{name}: not a JSON object")
                continue
            if jwk.get("kty") == "oct":
                skipped.append(f"{name}: a symmetric (oct) key is never trusted from a published set")
                continue
            try:
                key = Key.from_jwk(jwk, self._algorithms)
            except ConfigurationError as exc:
                skipped.append(f"{name}: {exc}")
                continue
            if key.kid in seen:
                skipped.append(f"{name}: duplicate kid")
                continue
            seen.add(key.kid)
            keys.append(key.bound_to(self._issuer))
        self._report_skipped(tuple(skipped), len(keys))
        return KeySet(keys)

    def _report_skipped(self, skipped: tuple[str, ...], usable: int) -> None:
        """Log why keys were skipped, once per distinct outcome (a refetch of the same set logs nothing)."""
        if skipped == self._skipped:
            return
        self._skipped = skipped
        if not skipped:
            return
        if usable:
            logger.warning("authhooks: key set: skipped %d key(s): %s", len(skipped), "; ".join(skipped))
        else:
            logger.warning(
                "authhooks: the key set holds no usable key, every token is refused (no_usable_key): %s",
                "; ".join(skipped) or "the set is empty",
            )

    # -- sync ---------------------------------------------------------------------------------------------

    def get_sync(self, kid: str | None = None) -> KeySet:
        """The keys to verify a token whose header names ``kid``.

        With keys cached this never blocks on the network: a due refetch runs on a background thread and the
        cached keys are returned. With nothing cached it fetches (or waits for the fetch in flight), bounded
        by ``timeout``.

        Raises:
            KeySetUnavailableError: no keys could be fetched and none are cached.
        """
        plan = self._plan(kid, self._clock())
        if plan == _CACHED:
            return self._current()
        cached = self._keyset
        if cached is not None:
            if plan == _FETCH and self._claim(kid, background=True):
                thread = threading.Thread(target=self._fetch_sync, name="authhooks-jwks-fetch", daemon=True)
                self._thread = thread
                try:
                    thread.start()
                except RuntimeError:  # no thread to be had: try again on a later request
                    self._release()
            return cached
        if self._claim(kid, background=False):
            self._fetch_sync()
        elif self._busy:
            self._idle.wait(self._timeout + 1)
        return self._current()

    def wait_for_fetch_sync(self, timeout: float | None = None) -> bool:
        """Wait for the fetch in flight, if any, at most ``timeout`` seconds (default: the fetch timeout plus 1).

        Returns:
            ``True`` when no fetch runs any more.
        """
        self._idle.wait(self._timeout + 1 if timeout is None else timeout)
        return not self._busy

    def _fetch_sync(self) -> None:
        started = self._attempted_at
        try:
            self._succeed(self._document_sync(), started)
        except Exception as exc:  # a background thread must end quietly; the reason is logged
            self._fail(fetch_reason(exc))
        finally:
            self._release()

    # -- async --------------------------------------------------------------------------------------------

    async def get(self, kid: str | None = None) -> KeySet:
        """The keys to verify a token whose header names ``kid``.

        With keys cached this never awaits the network: a due refetch starts as a background task (one at a
        time) and the cached keys are returned. With nothing cached, concurrent callers share one fetch,
        bounded by ``timeout``.

        Raises:
            KeySetUnavailableError: no keys could be fetched and none are cached.
        """
        plan = self._plan(kid, self._clock())
        if plan == _CACHED:
            return self._current()
        loop = asyncio.get_running_loop()
        cached = self._keyset
        if cached is not None:
            if plan == _FETCH and self._claim(kid, background=True):
                self._spawn(loop)
            return cached
        task = self._task if self._task_loop is loop else None
        if task is None or task.done():
            task = self._spawn(loop) if self._claim(kid, background=False) else None
        if task is not None:
            await asyncio.wait({task})  # not shield: a waiter's cancellation must not cancel the shared fetch
        elif self._busy:
            await self._poll(self._timeout + 1)
        return self._current()

    async def wait_for_fetch(self) -> None:
        """Wait for the fetch in flight, if any (bounded by ``timeout`` plus a second)."""
        task = self._task
        if task is not None and self._task_loop is asyncio.get_running_loop() and not task.done():
            await asyncio.wait({task}, timeout=self._timeout + 1)
        elif self._busy:
            await self._poll(self._timeout + 1)

    async def _poll(self, timeout: float) -> None:
        """Wait for a fetch run by a thread or another event loop (rare: mixed sync and async use)."""
        await asyncio.to_thread(self._idle.wait, timeout)

    def _spawn(self, loop: asyncio.AbstractEventLoop) -> asyncio.Task[None]:
        task = loop.create_task(self._fetch_async(), name="authhooks-jwks-fetch")
        self._task, self._task_loop = task, loop
        return task

    async def _fetch_async(self) -> None:
        started = self._attempted_at
        try:
            if isinstance(self._client, httpx.Client):  # a sync client: its blocking fetch runs on a thread
                document = await asyncio.to_thread(self._document_sync)
            else:
                document = await asyncio.wait_for(self._document_async(), self._timeout)
            self._succeed(document, started)
        except Exception as exc:  # nobody may await a background task: it must not end with an exception
            self._fail(fetch_reason(exc))
        finally:
            self._release()

    # -- shutdown -----------------------------------------------------------------------------------------

    async def aclose(self, timeout: float | None = None) -> None:
        """Stop background fetching: cancel a fetch task (awaited when it runs on this loop), shut the socket of
        a fetch thread and wait for it, each wait at most ``timeout`` seconds (default: the fetch timeout plus
        1; both normally end at once). Cached keys stay served and a cold start still fetches; no new background
        fetch starts. Idempotent."""
        wait = self._timeout + 1 if timeout is None else max(0.0, timeout)
        self._closed = True
        task, loop = self._task, self._task_loop
        if task is not None and loop is not None and not task.done():
            if loop is asyncio.get_running_loop():
                task.cancel()
                await asyncio.wait({task}, timeout=wait)
            elif not loop.is_closed():
                loop.call_soon_threadsafe(task.cancel)
        thread = self._thread
        if thread is not None and thread.is_alive():
            watchdog = self._watchdog
            if watchdog is not None:
                watchdog.fire()
            await asyncio.to_thread(thread.join, wait)

    def close(self, timeout: float | None = None) -> None:
        """The sync twin of :meth:`aclose`: a fetch task is cancelled through its loop, not awaited."""
        wait = self._timeout + 1 if timeout is None else max(0.0, timeout)
        self._closed = True
        task, loop = self._task, self._task_loop
        if task is not None and loop is not None and not task.done() and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            watchdog = self._watchdog
            if watchdog is not None:
                watchdog.fire()
            thread.join(wait)
