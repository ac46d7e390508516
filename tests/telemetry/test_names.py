"""Every telemetry name is declared once, in telemetry/names.py."""

from __future__ import annotations

import ast
from pathlib import Path

import authhooks
from authhooks.events import Flow
from authhooks.telemetry import names

PACKAGE = Path(authhooks.__file__).parent


def _declared() -> set[str]:
    # Span, event, metric and attribute names. The error.type values double as failure reasons
    # (``HookFailed.reason == "hook_error"``), so they are not policed here.
    prefixes = ("ATTR_", "METRIC_", "SPAN_", "EVENT_")
    return {v for k, v in vars(names).items() if k.startswith(prefixes) and isinstance(v, str)}


def test_custom_names_start_with_the_prefix() -> None:
    for key, value in vars(names).items():
        if key.startswith(("ATTR_", "METRIC_", "SPAN_", "EVENT_")) and value != names.ATTR_ERROR_TYPE:
            assert value.startswith("authhooks."), key
            assert value == value.lower()
    assert {names.flow_span_name(f) for f in Flow} == {f"authhooks.{f.value}" for f in Flow}


def test_no_other_module_spells_a_telemetry_name() -> None:
    declared = _declared()
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path == Path(names.__file__):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in declared:
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.value!r}")
    assert offenders == []
