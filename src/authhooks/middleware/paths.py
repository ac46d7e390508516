"""Path patterns: which requests need a token, which are public, which scopes a path requires.

HTTP-agnostic (shared by the ASGI middleware and a future WSGI driver). Everything is compiled at construction;
a request costs one regular-expression match.

Pattern grammar (always **anchored** to the whole path, never a substring match):

============== ================================================================================
``/health``    exactly ``/health``
``/users/*``   one non-empty segment: ``/users/42``, not ``/users``, not ``/users/42/posts``
``/files/*.t`` ``*`` inside a segment matches any run of non-``/`` characters
``/api/**``    ``/api`` itself and anything below it: ``/api/``, ``/api/v1/x``; never ``/apix``
``/*``         everything (as does ``/**``)
============== ================================================================================

Paths are matched on the *decoded* path the app routes on (ASGI ``scope["path"]`` less its ``root_path`` prefix,
as Starlette's ``get_route_path``; WSGI ``PATH_INFO``). Runs of ``/`` are collapsed before matching, so
``//admin`` is judged as ``/admin``. A path with a ``..`` or ``.`` segment or a NUL is refused
outright by :func:`path_is_safe` (RFC 3986 §5.2.4 dot-segments must never reach an app unresolved).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from authhooks.errors import ConfigurationError

__all__ = ["PathRules", "ScopeRules", "compile_patterns", "normalise_path", "path_is_safe"]

_EVERYTHING = frozenset({"/*", "/**", "*", "**"})
_SLASHES = re.compile(r"/{2,}")


def _pattern_regex(pattern: str) -> str:
    """Translate one pattern to a regular-expression fragment (no anchors)."""
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


def compile_patterns(patterns: Iterable[str], name: str = "") -> str | None:
    """One alternation of every pattern (``None`` when there are none); ``name`` makes it a named group.

    Raises:
        ConfigurationError: a malformed pattern.
    """
    fragments = [_pattern_regex(p) for p in patterns]
    if not fragments:
        return None
    body = "|".join(f"(?:{f})" for f in dict.fromkeys(fragments))
    return f"(?P<{name}>{body})" if name else f"(?:{body})"


def path_is_safe(path: str) -> bool:
    """False for a path that must be refused with 400: not absolute, a NUL, or a ``.``/``..`` segment."""
    if not path.startswith("/") or "\x00" in path:
        return False
    if "/." not in path:
        return True
    return not any(segment in (".", "..") for segment in path.split("/"))


def normalise_path(path: str) -> str:
    """The path as patterns see it: runs of ``/`` collapsed (only when there are any, to keep the common case free)."""
    return _SLASHES.sub("/", path) if "//" in path else path


class PathRules:
    """Decides whether a path is protected: ``public`` wins over ``protect``; anything matching neither is open.

    Args:
        protect: patterns of paths that need a token.
        public: patterns of paths that never need one (wins over ``protect``).

    Both sets compile into **one** regular expression, public alternatives first, so a request costs one
    ``fullmatch`` (``re`` tries alternatives in order, so a path matching both is public).
    """

    __slots__ = ("_regex",)

    def __init__(self, protect: Sequence[str], public: Sequence[str] = ()) -> None:
        protect_re = compile_patterns(protect, "protect")
        public_re = compile_patterns(public, "public")
        if protect_re is None:
            self._regex: re.Pattern[str] | None = None
        else:
            alternatives = [r for r in (public_re, protect_re) if r is not None]
            self._regex = re.compile("|".join(alternatives), re.DOTALL)

    def is_protected(self, path: str) -> bool:
        """True when ``path`` (already :func:`normalise_path`-ed) needs a token."""
        regex = self._regex
        if regex is None:
            return False
        match = regex.fullmatch(path)
        return match is not None and match.lastgroup == "protect"


class ScopeRules:
    """Per-route required scopes: ``{"/admin/**": ["admin"], "/reports/*": ["reports:read"]}``.

    A path needs the union of the scopes of **every** pattern it matches (fail closed when patterns overlap).

    Raises:
        ConfigurationError: a malformed pattern or a scope that is not an RFC 6749 §3.3 scope-token.
    """

    __slots__ = ("_rules",)

    _SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")

    def __init__(self, rules: Mapping[str, Sequence[str] | str]) -> None:
        compiled: list[tuple[re.Pattern[str], tuple[str, ...]]] = []
        for pattern, scopes in rules.items():
            names = tuple(scopes.split()) if isinstance(scopes, str) else tuple(scopes)
            for scope in names:
                if not isinstance(scope, str) or not self._SCOPE_TOKEN.fullmatch(scope):
                    raise ConfigurationError(f"required_scopes[{pattern!r}]: {scope!r} is not a valid scope")
            regex = compile_patterns([pattern])
            assert regex is not None
            compiled.append((re.compile(regex, re.DOTALL), names))
        self._rules = tuple(compiled)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def required(self, path: str) -> tuple[str, ...]:
        """The scopes ``path`` requires, sorted and without duplicates (empty when none)."""
        found: set[str] = set()
        for regex, scopes in self._rules:
            if regex.fullmatch(path):
                found.update(scopes)
        return tuple(sorted(found))
