"""The hook engine: points, registration, ordering, policies and dispatch."""

from __future__ import annotations

from authhooks.hooks.observer import FlowRun, HookRecord, Observer
from authhooks.hooks.points import ALIASES, CATALOGUE, HookPoint, PointKind
from authhooks.hooks.registry import HookImpl

__all__ = ["ALIASES", "CATALOGUE", "FlowRun", "HookImpl", "HookPoint", "HookRecord", "Observer", "PointKind"]
