"""What the Flask and Django integrations share over
:class:`~authhooks.middleware.wsgi.AuthHooksWSGIMiddleware`: the scopes a ``require_scopes`` decorator names, and a
refusal's headers as the frameworks take them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from authhooks.middleware.responses import Prepared

__all__ = ["scope_names", "text_headers"]


def scope_names(scopes: Iterable[str | Sequence[str]]) -> tuple[str, ...]:
    """The scopes of ``require_scopes("a", "b")`` or ``require_scopes(["a", "b"])`` (a string is one scope), in
    order."""
    names: list[str] = []
    for scope in scopes:
        names.extend([scope] if isinstance(scope, str) else scope)
    return tuple(names)


def text_headers(prepared: Prepared) -> list[tuple[str, str]]:
    """``prepared``'s headers as text (PEP 3333 latin-1), without ``Content-Length``: the framework's response
    object sets its own."""
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in prepared.headers if k != b"content-length"]
