"""The catalogue is consistent: every mutable name is an input, every alias points at a declared point."""

from __future__ import annotations

from authhooks.hooks.points import ALIASES, CATALOGUE, CONTEXT_PARAMETERS, PointKind


def test_mutable_names_are_inputs_and_never_context_names() -> None:
    for point in CATALOGUE.values():
        assert point.mutable <= point.inputs, point.name
        assert not point.inputs & CONTEXT_PARAMETERS, point.name
        if point.kind is PointKind.NOTIFICATION:
            assert not point.mutable, point.name


def test_aliases_target_declared_points() -> None:
    assert set(ALIASES.values()) <= set(CATALOGUE)
