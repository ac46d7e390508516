"""Every ``authhooks.reason`` the code can produce is snake_case (issue 14 item 5): the reasons of the error tree,
the driver's fault reasons, and every reason literal the package spells (``reason=`` arguments, ``Note``s,
``reason`` assignments and the returns of the functions that compute a reason)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import authhooks
from authhooks import errors
from authhooks.flows.driver import fault_reason
from authhooks.flows.revocation import fault_reason as revocation_reason

PACKAGE = Path(authhooks.__file__).parent
SNAKE = re.compile(r"[a-z][a-z0-9_]*")


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _literal_reasons() -> dict[str, str]:
    """Every reason string literal in the package, with where it is."""
    found: dict[str, str] = {}

    def add(node: ast.AST, path: Path) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.setdefault(node.value, f"{path.relative_to(PACKAGE)}:{node.lineno}")

    def is_reason(target: ast.AST) -> bool:
        name = target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) else ""
        return name in ("reason", "default_reason")

    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "reason":
                add(node.value, path)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if is_reason(target):
                        add(node.value, path)  # type: ignore[arg-type]
                    elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                        for item, value in zip(target.elts, node.value.elts, strict=False):
                            if is_reason(item):
                                add(value, path)
            elif isinstance(node, ast.FunctionDef) and "reason" in node.name:
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Return) and inner.value is not None:
                        add(inner.value, path)
    return found


def test_every_error_reason_is_snake_case() -> None:
    classes = _subclasses(errors.AuthError)
    assert len(classes) >= 20
    for cls in [errors.AuthError, *classes]:
        assert SNAKE.fullmatch(cls.default_reason), cls


def test_every_fault_reason_is_snake_case_never_a_class_name() -> None:
    faults: list[BaseException] = [
        errors.KeySetUnavailableError("down"),
        errors.StoreUnavailableError("down"),
        errors.StoreError("down"),
        errors.HookError("bad hook"),
        errors.ConfigurationError("bad setting"),
        RuntimeError("boom"),
        KeyError("x"),
    ]
    reasons = [fault_reason(exc) for exc in faults]
    assert reasons == [
        "key_set_unavailable",
        "store_unavailable",
        "store_unavailable",
        "hook_error",
        "configuration_error",
        "internal_error",
        "internal_error",
    ]
    for exc in faults:
        assert SNAKE.fullmatch(revocation_reason(exc)), exc


def test_every_reason_literal_in_the_package_is_snake_case() -> None:
    found = _literal_reasons()
    assert {"missing_credentials", "malformed_header", "insufficient_scope", "rate_limited"} <= found.keys()
    offenders = [f"{where} {reason!r}" for reason, where in found.items() if not SNAKE.fullmatch(reason)]
    assert offenders == []
