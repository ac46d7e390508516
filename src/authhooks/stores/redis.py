"""``redis://host:port/db`` and ``rediss://``: the store that several app instances share.

Every operation has a bounded wait: clients are built with ``socket_connect_timeout`` and ``socket_timeout`` set to
the store timeout and without redis-py's own retries, so an unreachable server costs at most about that timeout (a
refused connection fails at once). A connection or timeout error becomes
:class:`~authhooks.errors.StoreUnavailableError`, any other Redis error :class:`~authhooks.errors.StoreError`;
both name the URL with its password masked.

**One retry on a broken connection.** A pooled connection that a server restart (or an idle-connection reaper)
closed is not always noticed when it is checked out: the first command then fails with "connection closed". So an
operation that fails with a connection error (never a timeout, never bad credentials) within half the store
timeout is retried once, on a fresh connection; an operation therefore waits at most about 1.5 x the store
timeout. Whether the first attempt reached the server cannot be known in general (the error may come from reading
the reply), so the retry is safe by construction for each operation:

- ``get``, ``set``, ``ttl``, ``sadd``, ``smembers``, ``ping``: idempotent, retried as they are. ``delete`` and
  ``srem`` too; their "did it exist" answer may then be ``False`` for a key the first attempt removed.
- ``publish``: retried; a subscriber may then get a message twice (revocation messages are idempotent).
- ``add`` (``SET NX``) and ``take`` (``GETDEL``): retried, and only an answer that proves the first attempt did
  nothing is returned (``add`` stored the value; ``take`` found one). Otherwise the first attempt may have been
  the one that applied, and the operation raises :class:`~authhooks.errors.StoreUnavailableError` instead of
  answering "taken by someone else" / "absent": a lost answer must never look like a reused refresh token or a
  replayed challenge.
- ``incr``: retried; if the first attempt was applied, the counter is one increment too high, which only makes a
  rate limit stricter.

**Subscriptions notice gaps.** Pub/sub is at-most-once, so each subscription reports when its delivery stops and
resumes (``on_status``, see :mod:`authhooks.stores.base`). A connection the server or the network closed
(restart, ``CLIENT KILL``) is noticed at the next read, within milliseconds; a silent one (half-open TCP, a
partition) by a ``PING`` sent after ``health_check_interval`` seconds without traffic and left unanswered for the
store timeout. The listener then reconnects with a backoff of at most one second.

Keys and channels get the prefix (``Settings.store_key_prefix``, or ``?prefix=`` in the URL). Atomicity comes
from Redis itself: ``take`` is ``GETDEL``, ``add`` is ``SET NX PX``, ``incr`` is ``INCRBY`` + ``PEXPIRE NX`` in
one ``MULTI``, ``sadd`` with a TTL is ``SADD`` + ``PEXPIRE`` in one ``MULTI``.

The async client is bound to the event loop that first uses it, so one is created per running loop; call
:meth:`RedisStore.aclose` on each loop that used the store (an app normally has one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
import redis.asyncio
import redis.asyncio.retry
import redis.exceptions
import redis.retry
from redis.backoff import NoBackoff

from authhooks.errors import ConfigurationError, StoreError, StoreUnavailableError
from authhooks.stores._url import mask_url, scrub
from authhooks.stores.base import MessageHandler, StatusHandler, Subscription

__all__ = ["RedisStore"]

_log = logging.getLogger("authhooks.stores")
_UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
_BROKEN = (redis.exceptions.ConnectionError, ConnectionError)  # redis-py's, and the socket's (reset, broken pipe)
_NOT_BROKEN = (redis.exceptions.AuthenticationError, redis.exceptions.AuthorizationError)
_LISTEN_POLL = 0.1
_T = TypeVar("_T")


def _may_retry(exc: BaseException, started: float, timeout: float) -> bool:
    """Whether a failed operation gets its one retry: a broken connection (not a timeout, not bad credentials)
    noticed within half the store timeout, so that the retry keeps the operation within 1.5 x the timeout."""
    return isinstance(exc, _BROKEN) and not isinstance(exc, _NOT_BROKEN) and time.monotonic() - started < timeout / 2


def _unclear(first: BaseException) -> redis.exceptions.ConnectionError:
    return redis.exceptions.ConnectionError(f"{first} (retried; the first attempt may have been applied)")


def _bytes(value: bytes | str | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


def _members(members: Iterable[bytes | str]) -> frozenset[str]:
    return frozenset(m.decode() if isinstance(m, bytes) else m for m in members)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _refused(done: Any) -> bool:
    """After a retry, ``SET NX`` refusing may be the first attempt's own write: not an answer."""
    return not done


def _absent(value: Any) -> bool:
    """After a retry, ``GETDEL`` finding nothing may mean the first attempt took it: not an answer."""
    return value is None


class _Errors:
    """Turns redis-py exceptions into the store's, with the URL masked and the password scrubbed."""

    def __init__(self, url: str) -> None:
        self._url, self._masked = url, mask_url(url)

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        try:
            yield
        except _UNAVAILABLE as exc:
            detail = scrub(str(exc), self._url)
            raise StoreUnavailableError(f"state store {self._masked} is unreachable: {detail}") from None
        except redis.exceptions.RedisError as exc:
            detail = scrub(str(exc), self._url)
            raise StoreError(f"state store {self._masked} failed: {detail}") from None


class _RedisSubscription:
    """One Redis pub/sub connection and its listener thread, reconnecting after the server comes back.

    ``live`` is ``True`` from a confirmed subscription until the listener notices the connection is gone (a failed
    read, or a ``PING`` unanswered for the store timeout); ``on_status`` hears of each change, from the thread that
    called ``subscribe`` the first time and from the listener thread afterwards.
    """

    def __init__(
        self, owner: _RedisSync, channel: str, handler: MessageHandler, on_status: StatusHandler | None
    ) -> None:
        self._owner, self._channel, self._handler, self._on_status = owner, channel, handler, on_status
        self._stop = threading.Event()
        self.live = False
        self._pubsub: Any = self._connect()  # raises StoreUnavailableError when Redis is down
        self._set_live(True)
        self._thread = threading.Thread(target=self._listen, name="authhooks-redis-pubsub", daemon=True)
        self._thread.start()

    def _set_live(self, live: bool) -> None:
        if self.live is live or self._stop.is_set():
            return
        self.live = live
        if self._on_status is not None:
            try:
                self._on_status(live)
            except Exception:
                _log.exception("state store: a subscription status handler raised")

    def _connect(self) -> Any:
        pubsub = self._owner.pubsub_client.pubsub()  # type: ignore[no-untyped-call]
        try:
            with self._owner.errors():
                pubsub.subscribe(self._channel)
                # Wait for the confirmation, so a message published after subscribe() returns is delivered.
                deadline = self._owner.timeout
                while (msg := pubsub.get_message(timeout=deadline)) is None or msg["type"] != "subscribe":
                    if msg is None:
                        raise redis.exceptions.TimeoutError("no subscription confirmation")
        except BaseException:
            pubsub.close()
            raise
        return pubsub

    def _listen(self) -> None:
        delay = 0.05
        heard = time.monotonic()  # when the server last said anything on this connection
        pinged: float | None = None  # when the PING still unanswered was sent
        while not self._stop.is_set():
            pubsub = self._pubsub
            if pubsub is None:
                try:
                    self._pubsub = pubsub = self._connect()
                except StoreError:
                    self._stop.wait(delay)
                    delay = min(delay * 2, 1.0)
                    continue
                delay, heard, pinged = 0.05, time.monotonic(), None
                self._set_live(True)
                _log.info("state store %s: subscription resumed", self._owner.masked_url)
            try:
                now = time.monotonic()
                if pinged is None and now - heard >= self._owner.health_check_interval:
                    pubsub.ping()
                    pinged = now
                elif pinged is not None and now - pinged > self._owner.timeout:
                    raise redis.exceptions.TimeoutError("no answer to PING on the subscription")
                msg = pubsub.get_message(ignore_subscribe_messages=True, timeout=_LISTEN_POLL)
            except (*_UNAVAILABLE, redis.exceptions.RedisError, ValueError):
                if self._stop.is_set():
                    break
                # First stop trusting the feed, then reconnect: what is published from now on may be lost.
                self._set_live(False)
                _log.warning("state store %s: subscription lost; reconnecting", self._owner.masked_url)
                self._pubsub = None
                with contextlib.suppress(Exception):
                    pubsub.close()
                continue
            if msg is None:
                continue
            heard = time.monotonic()
            if msg["type"] == "pong":
                pinged = None
            elif msg["type"] == "message" and not self._stop.is_set():
                try:
                    self._handler(bytes(msg["data"]))
                except Exception:
                    _log.exception("state store: a message handler raised")
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                pubsub.close()

    def close(self) -> None:
        self._stop.set()
        self.live = False
        if self._thread is not threading.current_thread():
            self._thread.join()
        self._owner.forget(self)


class _RedisSync:
    """The blocking operations of :class:`RedisStore` (see :class:`~authhooks.stores.base.SyncStore`)."""

    def __init__(
        self, url: str, prefix: str, timeout: float, options: dict[str, Any], health_check_interval: float = 1.0
    ) -> None:
        self.masked_url, self.timeout, self._prefix = mask_url(url), timeout, prefix
        self.health_check_interval = health_check_interval
        self.errors = _Errors(url)
        self.client: redis.Redis = redis.Redis.from_url(url, retry=redis.retry.Retry(NoBackoff(), 0), **options)
        # Subscriptions get a pool of their own whose failures surface at once: with the default retry policy
        # redis-py reconnects (and re-subscribes) inside the failing call before raising, which delays the notice
        # of a gap by up to a connect timeout.
        self.pubsub_client: redis.Redis = redis.Redis.from_url(
            url, retry=redis.retry.Retry(NoBackoff(), 0, supported_errors=()), **options
        )
        self._subs: list[_RedisSubscription] = []
        self._lock = threading.Lock()

    def _k(self, key: str) -> str:
        return self._prefix + key

    def _run(self, op: Callable[[], _T], unclear: Callable[[_T], bool] | None = None) -> _T:
        """``op()``, retried once on a broken connection (see the module docstring); ``unclear(result)`` says
        whether the retry's answer could hide the first attempt's effect, which then raises instead."""
        started = time.monotonic()
        with self.errors():
            try:
                return op()
            except _BROKEN as exc:
                if not _may_retry(exc, started, self.timeout):
                    raise
                first: BaseException = exc
            _log.debug("state store %s: retrying on a fresh connection after: %s", self.masked_url, type(first))
            result = op()
            if unclear is not None and unclear(result):
                raise _unclear(first)
            return result

    def get(self, key: str) -> bytes | None:
        return _bytes(self._run(lambda: self.client.get(self._k(key))))

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        return [_bytes(v) for v in self._run(lambda: self.client.mget([self._k(k) for k in keys]))]

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self._run(lambda: self.client.set(self._k(key), bytes(value), px=None if ttl is None else _ms(ttl)))

    def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        px = None if ttl is None else _ms(ttl)
        return bool(self._run(lambda: self.client.set(self._k(key), bytes(value), nx=True, px=px), _refused))

    def take(self, key: str) -> bytes | None:
        return _bytes(self._run(lambda: self.client.getdel(self._k(key)), _absent))

    def delete(self, key: str) -> bool:
        return bool(self._run(lambda: self.client.delete(self._k(key))))

    def incr(self, key: str, window: float, amount: int = 1) -> int:
        def op() -> Any:
            pipe = self.client.pipeline(transaction=True)
            pipe.incrby(self._k(key), amount)
            pipe.pexpire(self._k(key), _ms(window), nx=True)
            return pipe.execute()[0]

        return int(self._run(op))

    def ttl(self, key: str) -> float | None:
        ms = int(self._run(lambda: self.client.pttl(self._k(key))))
        return None if ms < 0 else ms / 1000

    def sadd(self, key: str, member: str, ttl: float | None = None) -> None:
        def op() -> Any:
            pipe = self.client.pipeline(transaction=True)
            pipe.sadd(self._k(key), member)
            if ttl is not None:
                pipe.pexpire(self._k(key), _ms(ttl))
            return pipe.execute()

        self._run(op)

    def smembers(self, key: str) -> frozenset[str]:
        return _members(self._run(lambda: self.client.smembers(self._k(key))))

    def srem(self, key: str, member: str) -> bool:
        return bool(self._run(lambda: self.client.srem(self._k(key), member)))

    def publish(self, channel: str, message: bytes) -> None:
        self._run(lambda: self.client.publish(self._k(channel), bytes(message)))

    def subscribe(self, channel: str, handler: MessageHandler, on_status: StatusHandler | None = None) -> Subscription:
        sub = _RedisSubscription(self, self._k(channel), handler, on_status)
        with self._lock:
            self._subs.append(sub)
        return sub

    def forget(self, sub: _RedisSubscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def ping(self) -> None:
        self._run(self.client.ping)

    def close(self) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.close()
        self.client.close()
        self.pubsub_client.close()


class RedisStore:
    """The ``redis://`` / ``rediss://`` backend: a :class:`~authhooks.stores.base.Store` shared by instances.

    Args:
        url: ``redis://[user:password@]host:port/db`` or ``rediss://…``; ``?prefix=`` overrides ``prefix``; other
            query parameters are passed to redis-py.
        prefix: prepended to every key and channel.
        timeout: seconds one operation may wait (connect and read) before it raises
            :class:`~authhooks.errors.StoreUnavailableError` (about 1.5 x that with the retry on a broken
            connection).
        health_check_interval: seconds without traffic after which a subscription sends ``PING``; an answer
            missing for ``timeout`` seconds ends the subscription's connection (a gap; it reconnects).

    Raises:
        ConfigurationError: the URL is malformed (names ``AUTHHOOKS_STORE_URL``, never the password).
    """

    def __init__(
        self, url: str, *, prefix: str = "authhooks:", timeout: float = 0.5, health_check_interval: float = 1.0
    ) -> None:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018  (raises ValueError on a malformed port)
            query = parse_qsl(parts.query, keep_blank_values=True)
        except ValueError:
            raise ConfigurationError(
                f"AUTHHOOKS_STORE_URL: malformed Redis URL {mask_url(url)}; expected redis://host:port/db"
            ) from None
        db = parts.path.lstrip("/")
        if parts.scheme.lower() not in ("redis", "rediss") or not parts.hostname or not (db == "" or db.isdigit()):
            raise ConfigurationError(
                f"AUTHHOOKS_STORE_URL: malformed Redis URL {mask_url(url)}; expected redis://host:port/db"
            )
        prefix = dict(query).get("prefix", prefix)
        client_url = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query if k != "prefix"])))
        self.url = mask_url(url)
        self.prefix = prefix
        self._client_url = client_url
        self._options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        try:
            self._sync = _RedisSync(client_url, prefix, timeout, self._options, health_check_interval)
        except ValueError:
            raise ConfigurationError(
                f"AUTHHOOKS_STORE_URL: malformed Redis URL {self.url}; expected redis://host:port/db"
            ) from None
        self._errors = _Errors(client_url)
        self._timeout = timeout
        self._clients: dict[asyncio.AbstractEventLoop, redis.asyncio.Redis] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r}, prefix={self.prefix!r})"

    @property
    def sync(self) -> _RedisSync:
        """The blocking twin of this store."""
        return self._sync

    def _client(self) -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.get(loop)
            if client is None:
                for old in [old for old in self._clients if old.is_closed()]:
                    del self._clients[old]
                client = redis.asyncio.Redis.from_url(
                    self._client_url, retry=redis.asyncio.retry.Retry(NoBackoff(), 0), **self._options
                )
                self._clients[loop] = client
        return client

    def _k(self, key: str) -> str:
        return self.prefix + key

    async def _run(self, op: Callable[[], Awaitable[_T]], unclear: Callable[[_T], bool] | None = None) -> _T:
        """The async twin of ``_RedisSync._run``: one retry on a broken connection, unclear answers raise."""
        started = time.monotonic()
        with self._errors():
            try:
                return await op()
            except _BROKEN as exc:
                if not _may_retry(exc, started, self._timeout):
                    raise
                first: BaseException = exc
            _log.debug("state store %s: retrying on a fresh connection after: %s", self.url, type(first))
            result = await op()
            if unclear is not None and unclear(result):
                raise _unclear(first)
            return result

    async def get(self, key: str) -> bytes | None:
        return _bytes(await self._run(lambda: self._client().get(self._k(key))))

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        return [_bytes(v) for v in await self._run(lambda: self._client().mget([self._k(k) for k in keys]))]

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        px = None if ttl is None else _ms(ttl)
        await self._run(lambda: self._client().set(self._k(key), bytes(value), px=px))

    async def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        px = None if ttl is None else _ms(ttl)
        return bool(await self._run(lambda: self._client().set(self._k(key), bytes(value), nx=True, px=px), _refused))

    async def take(self, key: str) -> bytes | None:
        return _bytes(await self._run(lambda: self._client().getdel(self._k(key)), _absent))

    async def delete(self, key: str) -> bool:
        return bool(await self._run(lambda: self._client().delete(self._k(key))))

    async def incr(self, key: str, window: float, amount: int = 1) -> int:
        async def op() -> Any:
            pipe = self._client().pipeline(transaction=True)
            pipe.incrby(self._k(key), amount)
            pipe.pexpire(self._k(key), _ms(window), nx=True)
            return (await pipe.execute())[0]

        return int(await self._run(op))

    async def ttl(self, key: str) -> float | None:
        ms = int(await self._run(lambda: self._client().pttl(self._k(key))))
        return None if ms < 0 else ms / 1000

    async def sadd(self, key: str, member: str, ttl: float | None = None) -> None:
        async def op() -> Any:
            pipe = self._client().pipeline(transaction=True)
            pipe.sadd(self._k(key), member)
            if ttl is not None:
                pipe.pexpire(self._k(key), _ms(ttl))
            return await pipe.execute()

        await self._run(op)

    async def smembers(self, key: str) -> frozenset[str]:
        return _members(await self._run(lambda: self._client().smembers(self._k(key))))

    async def srem(self, key: str, member: str) -> bool:
        return bool(await self._run(lambda: self._client().srem(self._k(key), member)))

    async def publish(self, channel: str, message: bytes) -> None:
        await self._run(lambda: self._client().publish(self._k(channel), bytes(message)))

    def subscribe(self, channel: str, handler: MessageHandler, on_status: StatusHandler | None = None) -> Subscription:
        """Call ``handler`` (on a listener thread) with each message published on ``channel`` from now on.

        Redis pub/sub is at-most-once: messages published while the connection is down are lost. The listener
        notices the loss (see the module docstring), calls ``on_status(False)``, reconnects, and calls
        ``on_status(True)`` once delivery has resumed. ``on_status(True)`` is also called before this returns.

        Raises:
            StoreUnavailableError: Redis cannot be reached to subscribe.
        """
        return self._sync.subscribe(channel, handler, on_status)

    async def ping(self) -> None:
        await self._run(lambda: self._client().ping())

    def close(self) -> None:
        """Stop listener threads and close the blocking client (async clients need :meth:`aclose`)."""
        self._sync.close()

    async def aclose(self) -> None:
        """Close the async client of the running loop, listener threads and the blocking client."""
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()
        await asyncio.to_thread(self._sync.close)
