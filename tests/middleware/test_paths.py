"""Path patterns: anchored matching, public over protect, per-route scopes, unsafe paths."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authhooks.errors import ConfigurationError
from authhooks.middleware.paths import PathRules, ScopeRules, normalise_path, path_is_safe


@pytest.mark.parametrize(
    ("pattern", "path", "protected"),
    [
        ("/health", "/health", True),
        ("/health", "/healthz", False),
        ("/health", "/x/health", False),
        ("/health", "/health/", True),  # the slash variant of a protected path is protected (fail closed)
        ("/users/*", "/users/42", True),
        ("/users/*", "/users", False),
        ("/users/*", "/users/", False),
        ("/users/*", "/users/42/posts", False),
        ("/files/*.txt", "/files/a.txt", True),
        ("/files/*.txt", "/files/a.txt.bak", False),
        ("/api/**", "/api", True),
        ("/api/**", "/api/", True),
        ("/api/**", "/api/v1/users/7", True),
        ("/api/**", "/apix", False),
        ("/api/**", "/v1/api/x", False),
        ("/*", "/", True),
        ("/*", "/anything/at/all", True),
        ("/**", "/deep/path", True),
        ("/a.b", "/aXb", False),  # the dot is literal, not a regex wildcard
    ],
)
def test_patterns_are_anchored(pattern: str, path: str, protected: bool) -> None:
    assert PathRules([pattern]).is_protected(path) is protected


def test_public_wins_over_protect() -> None:
    rules = PathRules(["/api/**"], ["/api/health", "/api/docs/**"])
    assert rules.is_protected("/api/users")
    assert not rules.is_protected("/api/health")
    assert not rules.is_protected("/api/docs/index.html")
    assert rules.is_protected("/api/healthz")


def test_no_protect_patterns_protect_nothing() -> None:
    assert not PathRules([]).is_protected("/admin")


@pytest.mark.parametrize("bad", ["api/**", "/a/**/b", "/a**", "", "/a?b", "/a\x00"])
def test_malformed_patterns_are_configuration_errors(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        PathRules([bad])


@pytest.mark.parametrize(
    ("path", "safe"),
    [
        ("/", True),
        ("/a/b", True),
        ("/a/.well-known/x", True),
        ("/a/..b", True),
        ("/a/../b", False),
        ("/..", False),
        ("/a/./b", False),
        ("/a/.", False),
        ("/a\x00b", False),
        ("relative", False),
        ("", False),
    ],
)
def test_unsafe_paths(path: str, safe: bool) -> None:
    assert path_is_safe(path) is safe


def test_slash_runs_are_collapsed_before_matching() -> None:
    rules = PathRules(["/*"], ["/public/**"])
    assert normalise_path("//admin///x") == "/admin/x"
    assert not rules.is_protected(normalise_path("//public//x"))
    assert not PathRules(["/admin/**"]).is_protected("//admin")  # raw: the middleware normalises first
    assert PathRules(["/admin/**"]).is_protected(normalise_path("//admin"))


def test_scope_rules_union_of_every_matching_pattern() -> None:
    rules = ScopeRules({"/admin/**": ["admin"], "/admin/reports/*": "reports:read audit"})
    assert rules.required("/admin/users") == ("admin",)
    assert rules.required("/admin/reports/q1") == ("admin", "audit", "reports:read")
    assert rules.required("/other") == ()
    assert not ScopeRules({})


def test_scope_rules_refuse_invalid_scope_tokens() -> None:
    with pytest.raises(ConfigurationError):
        ScopeRules({"/a": ['bad"scope']})


segment = st.text(alphabet=st.characters(blacklist_characters="/*\x00?#"), min_size=1, max_size=8)


@given(st.lists(segment, min_size=1, max_size=4), st.text(max_size=12))
def test_exact_patterns_match_only_themselves(segments: list[str], suffix: str) -> None:
    pattern = "/" + "/".join(segments)
    rules = PathRules([pattern])
    assert rules.is_protected(pattern)
    if suffix:  # the slash variant is protected too (fail closed: a router may route it to the same endpoint)
        assert rules.is_protected(pattern + suffix) is (suffix == "/")
        assert not rules.is_protected(suffix + pattern) or suffix + pattern == pattern


@given(st.lists(segment, min_size=1, max_size=3), st.text(max_size=20))
def test_any_suffix_matches_exactly_the_subtree(segments: list[str], rest: str) -> None:
    base = "/" + "/".join(segments)
    rules = PathRules([base + "/**"])
    path = base + rest
    expected = rest == "" or rest.startswith("/")
    assert rules.is_protected(path) is expected


@given(st.text(max_size=40))
def test_matching_never_raises(path: str) -> None:
    rules = PathRules(["/api/**", "/users/*", "/x.y"], ["/api/public/*"])
    rules.is_protected(path)
    path_is_safe(path)
    assert "//" not in normalise_path(path)
