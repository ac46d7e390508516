r"""Path patterns: which requests need a token, which are public, which scopes a path requires.

HTTP-agnostic (shared by the ASGI and the WSGI driver). Everything is compiled at construction;
a request costs a scan for control characters and one regular-expression match (two when it has runs of ``/``).

Pattern grammar: the table in :mod:`authhooks._patterns`, which compiles the patterns (the handlers' ``path``
condition shares it); a pattern is always **anchored** to the whole path, never a substring match.

Paths are matched on the *decoded* path the app routes on (ASGI ``scope["path"]`` less its ``root_path`` prefix, as
Starlette's ``get_route_path``; WSGI ``PATH_INFO``, which the WSGI driver first turns back into UTF-8 text, since
PEP 3333 decodes it as latin-1: :func:`~authhooks.middleware.environ.wsgi_text`). :func:`path_is_safe` refuses
outright (400 ``invalid_request``) a path that is not absolute, that has a ``.`` or ``..`` segment (RFC 3986 §5.2.4
dot-segments must never reach an app unresolved), or that has a **control character**: C0 ``\x00-\x1f``, DEL
``\x7f`` or C1 ``\x80-\x9f``.

Agreement with the router. The middleware decides on a path before the app's router decides again; a path the
router dispatches to a protected endpoint while the middleware lets it pass is a bypass. The rule: for every path
that passes :func:`path_is_safe`, a pattern covers every path a route spelt the same way is dispatched
(``/users/*`` exactly the paths of ``/users/{id}``; ``/files/**`` those of ``/files/{rest:path}`` and of
``Mount("/files")``, and ``/files`` itself).

* Starlette (and FastAPI, which uses its router) compiles a route to ``^…$`` and calls ``re.match``; ``$`` also
  matches *before a final* ``\n``, so ``/admin/stats\n`` (``/admin/stats%0a``) reaches the ``/admin/stats``
  endpoint. Patterns use ``fullmatch``. Refusing control characters is what makes the two agree: no path with a
  ``\n`` (nor any other character a regular expression or a log line treats specially) reaches either.
* Runs of ``/``: Starlette does not collapse them (``//admin`` routes nowhere); some servers and proxies do. A path
  is judged in both forms (:func:`path_forms`): protected when either form is, and it needs the scopes of both.
* A trailing ``/``: a ``protect`` or ``required_scopes`` pattern also covers its path followed by one ``/``
  (``/items`` covers ``/items/``), so a route declared ``/items/`` (reached from ``/items`` by Starlette's 307
  ``redirect_slashes``) is guarded by either spelling. ``public_paths`` patterns are exact (``/health`` does not
  make ``/health/`` public): both choices fail closed.
* Case, Unicode normalisation, ``;`` parameters, trailing dots and spaces: neither side folds or strips them.
  ``%2f`` is already ``/`` in ``scope["path"]``, for the router as for the patterns.

``tests/middleware/test_path_differential.py`` checks the rule against Starlette's own router on generated paths.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from authhooks._patterns import compile_patterns
from authhooks.errors import ConfigurationError

__all__ = ["PathRules", "ScopeRules", "compile_patterns", "normalise_path", "path_forms", "path_is_safe"]

_SLASHES = re.compile(r"/{2,}")
# C0, DEL and C1: "$" in a router's "^...$" matches before a final "\n"; the rest have no place in a path either.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def path_is_safe(path: str) -> bool:
    """False for a path that must be refused with 400: not absolute, a control character (C0, DEL, C1) or a
    ``.``/``..`` segment. Only a path that passed may be matched (see "Agreement with the router" above)."""
    # isprintable() is False for every C0, DEL and C1 character: the regex runs only on the rare path it rejects.
    if not path.startswith("/") or (not path.isprintable() and _CONTROL.search(path) is not None):
        return False
    if "/." not in path:
        return True
    return not any(segment in (".", "..") for segment in path.split("/"))


def normalise_path(path: str) -> str:
    """The path as patterns see it: runs of ``/`` collapsed (only when there are any, to keep the common case free)."""
    return _SLASHES.sub("/", path) if "//" in path else path


def path_forms(path: str) -> tuple[str, ...]:
    """Every form a router may dispatch ``path`` as, the :func:`normalise_path`-ed one first: ``(path,)`` or, when
    it has runs of ``/``, ``(collapsed, path)`` (Starlette routes the path as given, a collapsing server the other).

    Pass them all to :meth:`PathRules.is_protected` and :meth:`ScopeRules.required` (fail closed).
    """
    if "//" not in path:
        return (path,)
    return (_SLASHES.sub("/", path), path)


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
        protect_re = compile_patterns(protect, "protect", trailing_slash=True)
        public_re = compile_patterns(public, "public")
        if protect_re is None:
            self._regex: re.Pattern[str] | None = None
        else:
            alternatives = [r for r in (public_re, protect_re) if r is not None]
            self._regex = re.compile("|".join(alternatives), re.DOTALL)

    def is_protected(self, path: str, *forms: str) -> bool:
        """True when ``path`` needs a token, or any of the other ``forms`` of it does (:func:`path_forms`).

        Each form is matched as given (``public`` wins within a form); the middleware passes the forms of a path
        that passed :func:`path_is_safe`.
        """
        regex = self._regex
        if regex is None:
            return False
        match = regex.fullmatch(path)
        if match is not None and match.lastgroup == "protect":
            return True
        for form in forms:
            match = regex.fullmatch(form)
            if match is not None and match.lastgroup == "protect":
                return True
        return False


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
            regex = compile_patterns([pattern], trailing_slash=True)
            assert regex is not None
            compiled.append((re.compile(regex, re.DOTALL), names))
        self._rules = tuple(compiled)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def required(self, path: str, *forms: str) -> tuple[str, ...]:
        """The scopes ``path`` requires, with those of every other form of it (:func:`path_forms`), sorted and
        without duplicates (empty when none)."""
        found: set[str] = set()
        for regex, scopes in self._rules:
            if regex.fullmatch(path) or any(regex.fullmatch(form) for form in forms):
                found.update(scopes)
        return tuple(sorted(found))
