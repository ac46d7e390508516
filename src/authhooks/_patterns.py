"""The path-pattern grammar, compiled to regular expressions: one grammar for everything that matches paths.

HTTP-agnostic and below every layer that matches paths: the middleware's path rules
(:mod:`authhooks.middleware.paths`, which documents the rules against the router) and the handlers' ``path``
condition (:mod:`authhooks.handlers.conditions`) both compile through :func:`compile_patterns`.

Grammar (always **anchored** to the whole path by ``fullmatch``, never a substring match):

============== ================================================================================
``/health``    exactly ``/health``
``/users/*``   one non-empty segment: ``/users/42``, not ``/users``, not ``/users/42/posts``
``/files/*.t`` ``*`` inside a segment matches any run of non-``/`` characters
``/api/**``    ``/api`` itself and anything below it: ``/api/``, ``/api/v1/x``; never ``/apix``
``/*``         everything (as does ``/**``)
============== ================================================================================

A pattern is a non-empty string starting with ``/`` (``*`` and ``**`` alone are accepted for "everything"); it
holds no NUL, ``?`` or ``#`` (a query or fragment is not part of the path, RFC 3986 §3.3); ``**`` is a whole
segment and the last one. Anything else is a :class:`~authhooks.errors.ConfigurationError` naming the pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from authhooks.errors import ConfigurationError

__all__ = ["compile_patterns", "pattern_regex"]

_EVERYTHING = frozenset({"/*", "/**", "*", "**"})


def pattern_regex(pattern: str) -> str:
    """Translate one pattern to a regular-expression fragment (no anchors: match it with ``fullmatch``).

    Raises:
        ConfigurationError: a malformed pattern, named in the message.
    """
    if not isinstance(pattern, str) or not pattern:
        raise ConfigurationError(f"a path pattern is a non-empty string starting with '/', got {pattern!r}")
    if pattern in _EVERYTHING:
        return ".*"
    if not pattern.startswith("/"):
        raise ConfigurationError(f"path pattern {pattern!r} must start with '/'")
    if "\x00" in pattern or "?" in pattern or "#" in pattern:
        raise ConfigurationError(f"path pattern {pattern!r} may not contain NUL, '?' or '#'")
    segments = pattern[1:].split("/")
    parts: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            if not last:
                raise ConfigurationError(f"path pattern {pattern!r}: '**' may only be the last segment")
            # "/api/**" matches "/api" itself and every path below it.
            return "".join(parts) + "(?:/.*)?"
        if "**" in segment:
            raise ConfigurationError(f"path pattern {pattern!r}: '**' must be a whole segment")
        if segment == "*":
            parts.append("/[^/]+")
        else:
            parts.append("/" + "[^/]*".join(re.escape(piece) for piece in segment.split("*")))
    return "".join(parts)


def compile_patterns(patterns: Iterable[str], name: str = "", *, trailing_slash: bool = False) -> str | None:
    """One alternation of every pattern (``None`` when there are none); ``name`` makes it a named group.

    With ``trailing_slash=True`` each pattern also matches its path followed by one ``/`` (``/admin`` matches
    ``/admin/``): a router that redirects or routes the slash variant to the same endpoint must not find it
    unguarded, so protecting patterns and scope patterns use it (fail closed) while public patterns do not.

    Raises:
        ConfigurationError: a malformed pattern.
    """
    fragments = [pattern_regex(p) for p in patterns]
    if trailing_slash:
        fragments = [f if f.endswith((".*", "(?:/.*)?")) else f + "/?" for f in fragments]
    if not fragments:
        return None
    body = "|".join(f"(?:{f})" for f in dict.fromkeys(fragments))
    return f"(?P<{name}>{body})" if name else f"(?:{body})"
