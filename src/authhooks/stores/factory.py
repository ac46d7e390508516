"""Choose a store backend by URL, and check at start-up that it answers."""

from __future__ import annotations

from urllib.parse import urlsplit

from authhooks.config import Settings
from authhooks.errors import ConfigurationError
from authhooks.stores._url import mask_url
from authhooks.stores.base import Store
from authhooks.stores.memory import MemoryStore

__all__ = ["check_store", "check_store_url", "open_store"]

_EXPECTED = "expected memory://, sqlite:///relative/path, sqlite:////absolute/path or redis[s]://host:port/db"


def open_store(url: str | None = None, settings: Settings | None = None) -> Store:
    """Build the store named by ``url`` (default: ``settings.store_url``).

    Schemes: ``memory://`` (this process only), ``sqlite:///relative/path`` or ``sqlite:////absolute/path``,
    ``redis://host:port/db`` and ``rediss://…`` (``?prefix=`` overrides ``settings.store_key_prefix``). With no
    URL at all, the embedded default: the SQLite file ``settings.state_dir / "state.sqlite3"``.

    Building a store does not contact a Redis server; call :func:`check_store` at start-up for that.

    Raises:
        ConfigurationError: the URL is malformed or names an unknown scheme (the message names
            ``AUTHHOOKS_STORE_URL`` and what was expected, never a password).
        StoreUnavailableError: the SQLite file or its directory cannot be created or opened.
    """
    settings = settings or Settings()
    # SQLite's wait is for a lock held by a write in another local process, not for a network: a burst of writers
    # must queue rather than fail, so it gets at least 5 s (each write holds the lock for well under 1 ms).
    sqlite_timeout = max(settings.store_timeout_seconds, 5.0)
    url = url if url is not None else settings.store_url
    if url is None:
        from authhooks.stores.sqlite import SQLiteStore

        return SQLiteStore(settings.state_dir / "state.sqlite3", timeout=sqlite_timeout)
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        raise ConfigurationError(f"AUTHHOOKS_STORE_URL: malformed URL {mask_url(url)}; {_EXPECTED}") from None
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        from authhooks.stores.sqlite import SQLiteStore, path_from_url

        return SQLiteStore(path_from_url(url), timeout=sqlite_timeout)
    if scheme in ("redis", "rediss"):
        from authhooks.stores.redis import RedisStore

        return RedisStore(url, prefix=settings.store_key_prefix, timeout=settings.store_timeout_seconds)
    shown = f"{scheme!r}" if scheme else f"in {mask_url(url)!r}"
    raise ConfigurationError(f"AUTHHOOKS_STORE_URL: unsupported store URL scheme {shown}; {_EXPECTED}")


def check_store_url(url: str | None) -> None:
    """Check a store URL's scheme and shape without opening anything (no file created, no server contacted).

    ``None`` is the embedded default (SQLite in ``state_dir``) and always passes.

    Raises:
        ConfigurationError: naming ``AUTHHOOKS_STORE_URL`` and what was expected (never a password).
    """
    if url is None:
        return
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError:
        raise ConfigurationError(f"AUTHHOOKS_STORE_URL: malformed URL {mask_url(url)}; {_EXPECTED}") from None
    scheme = parts.scheme.lower()
    if scheme == "memory":
        return
    if scheme == "sqlite":
        from authhooks.stores.sqlite import path_from_url

        path_from_url(url)
        return
    if scheme in ("redis", "rediss"):
        if not parts.hostname and not parts.path.strip("/"):
            raise ConfigurationError(f"AUTHHOOKS_STORE_URL: {mask_url(url)} names no host; {_EXPECTED}")
        db = parts.path.strip("/")
        if db and not db.isdigit():
            raise ConfigurationError(f"AUTHHOOKS_STORE_URL: the database of {mask_url(url)} must be a number")
        return
    shown = f"{scheme!r}" if scheme else f"in {mask_url(url)!r}"
    raise ConfigurationError(f"AUTHHOOKS_STORE_URL: unsupported store URL scheme {shown}; {_EXPECTED}")


async def check_store(store: Store) -> None:
    """Check at start-up that ``store`` answers, so an unreachable server is a clear error, not a late one.

    Raises:
        StoreUnavailableError: the backend cannot be reached; the message names the URL with its password masked.
    """
    await store.ping()
