"""Choose a store backend by URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from authhooks.config import Settings
from authhooks.errors import ConfigurationError
from authhooks.stores.base import Store
from authhooks.stores.memory import MemoryStore

__all__ = ["open_store"]


def open_store(url: str | None = None, settings: Settings | None = None) -> Store:
    """Build the store named by ``url`` (default: ``settings.store_url``, else ``memory://``).

    Supported schemes: ``memory://``. (SQLite and Redis backends are added by the stores issue.)

    Raises:
        ConfigurationError: the URL is malformed or names an unknown scheme (the message names
            ``AUTHHOOKS_STORE_URL``).
    """
    settings = settings or Settings()
    url = url if url is not None else settings.store_url
    if url is None:
        return MemoryStore()
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        return MemoryStore()
    raise ConfigurationError(
        f"AUTHHOOKS_STORE_URL: unsupported store URL scheme {scheme!r}; expected memory://, sqlite:/// or redis://"
    )
