"""The public API: one curated, sorted ``__all__``; the version from package metadata; a light import."""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys

import authhooks


def test_all_is_sorted_and_unique() -> None:
    assert authhooks.__all__ == sorted(authhooks.__all__)
    assert len(set(authhooks.__all__)) == len(authhooks.__all__)


def test_every_name_in_all_is_importable() -> None:
    for name in authhooks.__all__:
        assert hasattr(authhooks, name), name
    namespace: dict[str, object] = {}
    exec("from authhooks import *", namespace)
    assert set(authhooks.__all__) - {"__version__"} <= set(namespace)


def test_the_main_names_are_public() -> None:
    for name in ("AuthHooks", "Deny", "StopAuthentication", "HookError", "HookFailed", "Settings", "Secret"):
        assert name in authhooks.__all__


def test_no_private_module_leaks_into_all() -> None:
    assert not [n for n in authhooks.__all__ if n.startswith("_") and n != "__version__"]


def test_version_matches_package_metadata() -> None:
    assert authhooks.__version__ == importlib.metadata.version("authhooks")
    assert authhooks.__version__ != "0.0.0"


def test_import_does_not_load_the_otel_sdk_or_integrations() -> None:
    code = (
        "import sys, authhooks; "
        "heavy = sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'authhooks.integrations', "
        "'fastapi', 'uvicorn'))); "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""


def test_testing_module_is_importable_on_its_own() -> None:
    module = importlib.import_module("authhooks.testing")
    assert module.__all__ == ["FlowStepper", "HookRecorder", "hook_recorder"]
