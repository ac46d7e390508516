"""Store URL helpers: the one place a store URL's password is masked before it reaches a message or ``repr``."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit, urlunsplit

__all__ = ["mask_url", "scrub"]

_MASK = "***"


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError:
        return None
    return parts


def mask_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***`` (the user name is kept).

    A URL that cannot be parsed is reduced to its scheme, so a malformed URL never leaks what it holds.
    """
    parts = _split(url)
    if parts is None:
        scheme = url.split(":", 1)[0] if ":" in url else ""
        return f"{scheme}://{_MASK}" if scheme.isalnum() else _MASK
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    netloc = f"{user}:{_MASK}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def scrub(text: str, url: str) -> str:
    """Remove the password of ``url`` from ``text`` (for error texts coming from a client library)."""
    parts = _split(url)
    password = parts.password if parts is not None else None
    if password:
        text = text.replace(password, _MASK)
    return text
