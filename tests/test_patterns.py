"""The one path-pattern grammar (authhooks._patterns) that the middleware's path rules and the handlers' ``path``
condition both compile through."""

from __future__ import annotations

import re

import pytest

from authhooks import _patterns
from authhooks.errors import ConfigurationError
from authhooks.handlers import conditions
from authhooks.middleware import paths

PATHS = ["/", "/health", "/health/", "/users", "/users/1", "/users/1/2", "/files/a.txt", "/files/a.txt/b",
         "/api", "/api/", "/api/v1/x", "/apix", "/a/b/c", "/a//c", "/a/b/c/d", "/x", "/api/\n"]  # fmt: skip
GRAMMAR = {
    "/health": {"/health"},
    "/users/*": {"/users/1"},
    "/files/*.txt": {"/files/a.txt"},
    "/api/**": {"/api", "/api/", "/api/v1/x", "/api/\n"},
    "/a/*/c": {"/a/b/c"},
    "/*": set(PATHS),
    "**": set(PATHS),
}


def test_the_grammar_matches_whole_paths() -> None:
    for pattern, matched in GRAMMAR.items():
        source = _patterns.compile_patterns([pattern])
        assert source is not None
        regex = re.compile(source, re.DOTALL)
        assert {p for p in PATHS if regex.fullmatch(p)} == matched, pattern


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "non-empty string"),
        ("api", "must start with '/'"),
        ("/a?b", "NUL, '?' or '#'"),
        ("/a/**/b", "may only be the last segment"),
        ("/a/x**", "must be a whole segment"),
    ],
)
def test_a_malformed_pattern_is_refused_naming_it(pattern: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        _patterns.pattern_regex(pattern)


def test_one_grammar_no_copy() -> None:
    assert paths.compile_patterns is _patterns.compile_patterns
    assert "compile_patterns" in vars(conditions) and conditions.compile_patterns is _patterns.compile_patterns
    assert not hasattr(conditions, "_path_regex")
