"""What a flow may use: one typed, frozen :class:`FlowDeps` object, built by ``AuthHooks`` and handed to every
flow generator. A flow never sees ``AuthHooks``; it reaches the hooks, the store, key sets and observers only by
yielding effects (:mod:`authhooks.flows.effects`), which the driver performs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from authhooks.config import Settings
from authhooks.tokens.service import TokenService
from authhooks.verifiers.base import VerifierRegistry

__all__ = ["Clock", "FlowDeps"]

Clock = Callable[[], float]
"""The one wall clock (Unix seconds) of an ``AuthHooks``: flows, the issuer, the validator and the cache read it."""


@dataclass(frozen=True, slots=True)
class FlowDeps:
    """The dependencies of the flows.

    Attributes:
        settings: the resolved settings.
        tokens: the token layer (keys, issuer, validator, validated-token cache).
        verifiers: the signature verifiers by scheme.
        clock: the wall clock.
    """

    settings: Settings
    tokens: TokenService
    verifiers: VerifierRegistry
    clock: Clock

    def now(self) -> float:
        """The current Unix time from :attr:`clock`."""
        return self.clock()
