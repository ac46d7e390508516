"""Start-up and shutdown of :class:`~authhooks.AuthHooks`: :meth:`~Lifecycle.prepare` (the token layer and the
remote keys, before the first request), :meth:`~Lifecycle.setup_telemetry`, and :meth:`~Lifecycle.aclose` /
:meth:`~Lifecycle.close` within one time budget.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from authhooks._auth_engine import Engine
from authhooks.hooks.deadlines import run_in_thread, run_in_thread_sync

__all__ = ["Lifecycle"]

logger = logging.getLogger("authhooks")


class Lifecycle(Engine):
    """Start-up and shutdown."""

    async def prepare(self) -> None:
        """Build the token layer and prefetch remote keys (the middleware calls this at startup).

        Raises:
            ConfigurationError: bad keys. A remote key set that is down is logged by the caller, not raised.
        """
        tokens = self.tokens
        if tokens.remote is not None:
            await tokens.remote.get(None)

    def setup_telemetry(self, *, exporter: Any = None) -> Any:
        """Build an OpenTelemetry SDK from the ``OTEL_*`` variables (only when none is installed yet) and keep
        its handle, so that :meth:`aclose`/:meth:`close` and the middleware's shutdown flush it.

        Args:
            exporter: ``"compact"`` for the one-line-per-flow console exporter, a ``SpanExporter``, or ``None``
                for what ``OTEL_TRACES_EXPORTER`` says.

        Returns:
            The :class:`~authhooks.telemetry.TelemetryHandle`.
        """
        from authhooks.exporters.setup import setup

        self.telemetry_handle = setup(self.settings, exporter=exporter)
        return self.telemetry_handle

    # -- shutdown ---------------------------------------------------------------------------------------------

    # The budget is shared in order; the hook work may use at most this part of it, so that a hung hook still
    # leaves time to flush the telemetry that records it.
    _HOOKS_SHARE = 0.5

    async def aclose(self, timeout: float | None = None) -> None:
        """Shut down within ``timeout`` seconds (default ``shutdown_timeout_seconds``, 5 s), whatever is down.

        In order: drain the background queue and wait for running hook threads (together at most half the
        budget), close the audit log, close the store, then flush and shut down the telemetry made by
        :meth:`setup_telemetry` with what is left (once: later calls do not flush again). What does not finish
        in its share is abandoned and logged: background tasks are cancelled, hook threads (daemon threads) are
        left to end on their own, an unreachable collector's data is lost.
        """
        budget = self.settings.shutdown_timeout_seconds if timeout is None else max(0.0, timeout)
        start = time.monotonic()
        deadline = start + budget
        hooks_deadline = start + budget * self._HOOKS_SHARE
        await self._runtime.background.aclose(max(0.0, hooks_deadline - time.monotonic()))
        if not await run_in_thread(
            lambda: self._runner.close(max(0.0, hooks_deadline - time.monotonic())),
            max(0.0, hooks_deadline - time.monotonic()) + 0.05,
            "authhooks-hooks-close",
        ):
            logger.warning("authhooks: hooks still running at shutdown were abandoned")
        if self._audit is not None:
            self._audit.close()
        await self.oauth.aclose()
        self.clients.close()
        remote = self._tokens.remote if self._tokens is not None else None
        if remote is not None:  # a background key-set fetch in flight is cancelled
            await remote.aclose(max(0.01, deadline - time.monotonic()))
        store = self._runtime._store
        if store is not None:
            try:
                await asyncio.wait_for(store.aclose(), max(0.01, deadline - time.monotonic()))
            except (TimeoutError, asyncio.TimeoutError):
                logger.warning("authhooks: closing the store ran past the shutdown budget; abandoned")
        if self.telemetry_handle is not None:
            await self.telemetry_handle.ashutdown(max(0.0, deadline - time.monotonic()))

    def close(self, timeout: float | None = None) -> None:
        """The sync twin of :meth:`aclose`, within the same budget (the worker thread is drained; async background
        tasks need ``aclose``)."""
        budget = self.settings.shutdown_timeout_seconds if timeout is None else max(0.0, timeout)
        start = time.monotonic()
        deadline = start + budget
        hooks_deadline = start + budget * self._HOOKS_SHARE
        self._runtime.background.close(max(0.0, hooks_deadline - time.monotonic()))
        if not self._runner.close(max(0.0, hooks_deadline - time.monotonic())):
            logger.warning("authhooks: hooks still running at shutdown were abandoned")
        if self._audit is not None:
            self._audit.close()
        self.oauth.close()
        self.clients.close()
        remote = self._tokens.remote if self._tokens is not None else None
        if remote is not None:
            remote.close(max(0.01, deadline - time.monotonic()))
        store = self._runtime._store
        if store is not None and not run_in_thread_sync(
            store.sync.close, max(0.01, deadline - time.monotonic()), "authhooks-store-close"
        ):
            logger.warning("authhooks: closing the store ran past the shutdown budget; abandoned")
        if self.telemetry_handle is not None:
            self.telemetry_handle.shutdown(max(0.0, deadline - time.monotonic()))
