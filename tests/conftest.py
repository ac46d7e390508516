"""Shared fixtures: a clean ``AUTHHOOKS_*``/``OTEL_*`` environment for every test; the Hypothesis profile."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# Property tests explore new random examples on every local run; under CI (CI=true) they draw the same examples
# each run, so a landing is judged on the code, not on the draw. A failure found locally is kept in the example
# database and replayed.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("AUTHHOOKS_", "OTEL_")):
            monkeypatch.delenv(key)
