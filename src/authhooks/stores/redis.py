"""``redis://host:port/db`` and ``rediss://``: the store that several app instances share.

Every operation has a bounded wait: clients are built with ``socket_connect_timeout`` and ``socket_timeout`` set to
the store timeout and without retries, so an unreachable server costs at most about that timeout (a refused
connection fails at once). A connection or timeout error becomes
:class:`~authhooks.errors.StoreUnavailableError`, any other Redis error :class:`~authhooks.errors.StoreError`;
both name the URL with its password masked. Pooled connections broken by a server restart are detected when
they are next checked out, so the same store works again as soon as the server is back.

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
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
import redis.asyncio
import redis.asyncio.retry
import redis.exceptions
import redis.retry
from redis.backoff import NoBackoff

from authhooks.errors import ConfigurationError, StoreError, StoreUnavailableError
from authhooks.stores._url import mask_url, scrub
from authhooks.stores.base import MessageHandler, Subscription

__all__ = ["RedisStore"]

_log = logging.getLogger("authhooks.stores")
_UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


def _bytes(value: bytes | str | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


def _members(members: Iterable[bytes | str]) -> frozenset[str]:
    return frozenset(m.decode() if isinstance(m, bytes) else m for m in members)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


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
    """One Redis pub/sub connection and its listener thread, reconnecting after the server comes back."""

    def __init__(self, owner: _RedisSync, channel: str, handler: MessageHandler) -> None:
        self._owner, self._channel, self._handler = owner, channel, handler
        self._stop = threading.Event()
        self._pubsub: Any = self._connect()  # raises StoreUnavailableError when Redis is down
        self._thread = threading.Thread(target=self._listen, name="authhooks-redis-pubsub", daemon=True)
        self._thread.start()

    def _connect(self) -> Any:
        pubsub = self._owner.client.pubsub()  # type: ignore[no-untyped-call]
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
        while not self._stop.is_set():
            pubsub = self._pubsub
            if pubsub is None:
                try:
                    self._pubsub = pubsub = self._connect()
                    delay = 0.05
                    _log.info("state store %s: subscription resumed", self._owner.masked_url)
                except StoreError:
                    self._stop.wait(delay)
                    delay = min(delay * 2, 1.0)
                    continue
            try:
                msg = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            except (*_UNAVAILABLE, redis.exceptions.RedisError, ValueError):
                if self._stop.is_set():
                    break
                _log.warning("state store %s: subscription lost; reconnecting", self._owner.masked_url)
                self._pubsub = None
                with contextlib.suppress(Exception):
                    pubsub.close()
                continue
            if msg is not None and msg["type"] == "message" and not self._stop.is_set():
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
        if self._thread is not threading.current_thread():
            self._thread.join()
        self._owner.forget(self)


class _RedisSync:
    """The blocking operations of :class:`RedisStore` (see :class:`~authhooks.stores.base.SyncStore`)."""

    def __init__(self, url: str, prefix: str, timeout: float, options: dict[str, Any]) -> None:
        self.masked_url, self.timeout, self._prefix = mask_url(url), timeout, prefix
        self.errors = _Errors(url)
        self.client: redis.Redis = redis.Redis.from_url(url, retry=redis.retry.Retry(NoBackoff(), 0), **options)
        self._subs: list[_RedisSubscription] = []
        self._lock = threading.Lock()

    def _k(self, key: str) -> str:
        return self._prefix + key

    def get(self, key: str) -> bytes | None:
        with self.errors():
            return _bytes(self.client.get(self._k(key)))

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        with self.errors():
            self.client.set(self._k(key), bytes(value), px=None if ttl is None else _ms(ttl))

    def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        with self.errors():
            done = self.client.set(self._k(key), bytes(value), nx=True, px=None if ttl is None else _ms(ttl))
        return bool(done)

    def take(self, key: str) -> bytes | None:
        with self.errors():
            return _bytes(self.client.getdel(self._k(key)))

    def delete(self, key: str) -> bool:
        with self.errors():
            return bool(self.client.delete(self._k(key)))

    def incr(self, key: str, window: float, amount: int = 1) -> int:
        with self.errors():
            pipe = self.client.pipeline(transaction=True)
            pipe.incrby(self._k(key), amount)
            pipe.pexpire(self._k(key), _ms(window), nx=True)
            count, _ = pipe.execute()
        return int(count)

    def ttl(self, key: str) -> float | None:
        with self.errors():
            ms = int(self.client.pttl(self._k(key)))
        return None if ms < 0 else ms / 1000

    def sadd(self, key: str, member: str, ttl: float | None = None) -> None:
        with self.errors():
            pipe = self.client.pipeline(transaction=True)
            pipe.sadd(self._k(key), member)
            if ttl is not None:
                pipe.pexpire(self._k(key), _ms(ttl))
            pipe.execute()

    def smembers(self, key: str) -> frozenset[str]:
        with self.errors():
            members = self.client.smembers(self._k(key))
        return _members(members)

    def srem(self, key: str, member: str) -> bool:
        with self.errors():
            return bool(self.client.srem(self._k(key), member))

    def publish(self, channel: str, message: bytes) -> None:
        with self.errors():
            self.client.publish(self._k(channel), bytes(message))

    def subscribe(self, channel: str, handler: MessageHandler) -> Subscription:
        sub = _RedisSubscription(self, self._k(channel), handler)
        with self._lock:
            self._subs.append(sub)
        return sub

    def forget(self, sub: _RedisSubscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def ping(self) -> None:
        with self.errors():
            self.client.ping()

    def close(self) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.close()
        self.client.close()


class RedisStore:
    """The ``redis://`` / ``rediss://`` backend: a :class:`~authhooks.stores.base.Store` shared by instances.

    Args:
        url: ``redis://[user:password@]host:port/db`` or ``rediss://…``; ``?prefix=`` overrides ``prefix``; other
            query parameters are passed to redis-py.
        prefix: prepended to every key and channel.
        timeout: seconds one operation may wait (connect and read) before it raises
            :class:`~authhooks.errors.StoreUnavailableError`.

    Raises:
        ConfigurationError: the URL is malformed (names ``AUTHHOOKS_STORE_URL``, never the password).
    """

    def __init__(self, url: str, *, prefix: str = "authhooks:", timeout: float = 0.5) -> None:
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
            self._sync = _RedisSync(client_url, prefix, timeout, self._options)
        except ValueError:
            raise ConfigurationError(
                f"AUTHHOOKS_STORE_URL: malformed Redis URL {self.url}; expected redis://host:port/db"
            ) from None
        self._errors = _Errors(client_url)
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

    async def get(self, key: str) -> bytes | None:
        with self._errors():
            return _bytes(await self._client().get(self._k(key)))

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        with self._errors():
            await self._client().set(self._k(key), bytes(value), px=None if ttl is None else _ms(ttl))

    async def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        px = None if ttl is None else _ms(ttl)
        with self._errors():
            return bool(await self._client().set(self._k(key), bytes(value), nx=True, px=px))

    async def take(self, key: str) -> bytes | None:
        with self._errors():
            return _bytes(await self._client().getdel(self._k(key)))

    async def delete(self, key: str) -> bool:
        with self._errors():
            return bool(await self._client().delete(self._k(key)))

    async def incr(self, key: str, window: float, amount: int = 1) -> int:
        with self._errors():
            pipe = self._client().pipeline(transaction=True)
            pipe.incrby(self._k(key), amount)
            pipe.pexpire(self._k(key), _ms(window), nx=True)
            count, _ = await pipe.execute()
        return int(count)

    async def ttl(self, key: str) -> float | None:
        with self._errors():
            ms = int(await self._client().pttl(self._k(key)))
        return None if ms < 0 else ms / 1000

    async def sadd(self, key: str, member: str, ttl: float | None = None) -> None:
        with self._errors():
            pipe = self._client().pipeline(transaction=True)
            pipe.sadd(self._k(key), member)
            if ttl is not None:
                pipe.pexpire(self._k(key), _ms(ttl))
            await pipe.execute()

    async def smembers(self, key: str) -> frozenset[str]:
        with self._errors():
            members = await self._client().smembers(self._k(key))
        return _members(members)

    async def srem(self, key: str, member: str) -> bool:
        with self._errors():
            return bool(await self._client().srem(self._k(key), member))

    async def publish(self, channel: str, message: bytes) -> None:
        with self._errors():
            await self._client().publish(self._k(channel), bytes(message))

    def subscribe(self, channel: str, handler: MessageHandler) -> Subscription:
        """Call ``handler`` (on a listener thread) with each message published on ``channel`` from now on.

        Redis pub/sub is at-most-once: messages published while the server is unreachable are lost; the listener
        reconnects and resumes delivery when the server is back.

        Raises:
            StoreUnavailableError: Redis cannot be reached to subscribe.
        """
        return self._sync.subscribe(channel, handler)

    async def ping(self) -> None:
        with self._errors():
            await self._client().ping()

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
