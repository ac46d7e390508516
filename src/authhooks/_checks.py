"""Configuration checks, at the three moments a newcomer meets them.

- :func:`check_settings` — when :class:`~authhooks.AuthHooks` is built: key material (secret strength, key files
  readable and valid, JWKS/issuer URLs), the store URL's scheme and shape, the handlers file. Nothing is created
  or contacted: the embedded default key is not generated, the store is not opened.
- :func:`startup_problems` — at start-up (the ASGI lifespan): the token layer is built (the default key loaded or
  created), the remote key set fetched, the store pinged. One line per failure.
- :func:`doctor` — ``authhooks check``: all of the above, plus the handlers file loaded through the handlers
  loader (one line per bad handler) and a test span, one line per check.

Every problem is one line that starts with the variable it concerns and says the reason; it never holds a
secret (messages go through :func:`authhooks._redact.scrub`, store URLs are masked).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authhooks import _toml
from authhooks._redact import scrub
from authhooks.clients import clients_from_settings
from authhooks.config import Settings
from authhooks.errors import ConfigurationError, KeySetUnavailableError, StoreError
from authhooks.metadata import check_public_url
from authhooks.stores.factory import check_store_url
from authhooks.tokens.jwks import RemoteKeySet
from authhooks.tokens.keys import Key
from authhooks.tokens.keyset import KeySet
from authhooks.tokens.loading import DEFAULT_KEY_FILENAME, keys_from_settings, remote_key_set_from_settings

__all__ = ["Check", "check_handlers_file", "check_settings", "doctor", "problem_line", "startup_problems"]

Keys = tuple[Key | None, KeySet | None, RemoteKeySet | None]

# -- construction ------------------------------------------------------------------------------------------


def check_settings(settings: Settings, *, http_client: Any = None) -> Keys:
    """Check every setting that can be checked without side effects; return the configured keys (loaded once).

    ``http_client`` (an httpx client or transport) is what the remote key set will fetch with.

    Returns:
        What :func:`~authhooks.tokens.loading.keys_from_settings` returns, without the default key:
        ``(None, None, None)`` when no key is configured (the default key is made on first use).

    Raises:
        ConfigurationError: naming the variable and the reason.
    """
    keys = keys_from_settings(settings, create_default=False, http_client=http_client)
    check_store_url(settings.store_url)
    if settings.handlers_file is not None:
        check_handlers_file(settings.handlers_file)
    clients_from_settings(settings)  # the clients file and entries (AuthHooks keeps the registry it builds)
    check_public_url(settings)
    return keys


def check_handlers_file(path: Path) -> None:
    """Check that the handlers file is readable and is TOML, before anything is built (``AuthHooks`` then loads it
    through :mod:`authhooks.handlers.loading`, whose errors name the file, the line and the field).

    Raises:
        ConfigurationError: naming ``AUTHHOOKS_HANDLERS_FILE``.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"AUTHHOOKS_HANDLERS_FILE: cannot read {path} ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"AUTHHOOKS_HANDLERS_FILE: {path} is not UTF-8 text") from None
    try:
        _toml.loads(text)
    except _toml.TOMLDecodeError as exc:
        raise ConfigurationError(f"AUTHHOOKS_HANDLERS_FILE: {path} is not valid TOML ({exc})") from None


# -- start-up ------------------------------------------------------------------------------------------------

_FETCH_FAILED = re.compile(r"^authhooks: key set fetch failed \((.*)\); ")


class _FetchFailures(logging.Filter):
    """Takes the key set's own "fetch failed" warning off the log while a check runs and keeps its reason, so
    that the failure is reported once, on the check's line."""

    def __init__(self) -> None:
        super().__init__()
        self.reasons: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        match = _FETCH_FAILED.match(record.getMessage())
        if match is None:
            return True
        self.reasons.append(match.group(1))
        return False


@contextlib.contextmanager
def _fetch_failures() -> Iterator[_FetchFailures]:
    logger = logging.getLogger("authhooks")
    captured = _FetchFailures()
    logger.addFilter(captured)
    try:
        yield captured
    finally:
        logger.removeFilter(captured)


def _key_set_variable(settings: Any) -> str:
    if getattr(settings, "jwks_url", None) is not None:
        return "AUTHHOOKS_JWKS_URL"
    if getattr(settings, "oidc_issuer", None) is not None:
        return "AUTHHOOKS_OIDC_ISSUER"
    return "key set"


def problem_line(exc: BaseException, settings: Any = None, fetch_reason: str | None = None) -> str:
    """One line for a failed check: the variable it concerns and the reason, scrubbed of credentials."""
    if isinstance(exc, ConfigurationError):
        text = str(exc)
    elif isinstance(exc, KeySetUnavailableError):
        reason = f"key set fetch failed ({fetch_reason})" if fetch_reason else str(exc)
        text = f"{_key_set_variable(settings)}: {reason}; no keys cached"
    elif isinstance(exc, StoreError):
        variable = "AUTHHOOKS_STORE_URL" if getattr(settings, "store_url", None) else "AUTHHOOKS_STATE_DIR"
        text = f"{variable}: {exc}"
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return scrub(" ".join(text.split()))


async def startup_problems(auth: Any) -> list[str]:
    """Check what is reachable at start-up: the store answers a ping, the token layer builds (the default key is
    loaded or created), the remote key set is fetched (``auth.prepare()``) and every OpenID provider to sign in with
    answers discovery and its keys. Returns one line per failure.

    ``auth`` is an :class:`~authhooks.AuthHooks`, or any object with ``prepare`` (and, optionally, ``store``).
    """
    problems: list[str] = []
    settings = getattr(auth, "settings", None)
    store_failed = False
    if getattr(type(auth), "store", None) is not None:  # an AuthHooks (a stand-in may have only prepare)
        try:
            await auth.store.ping()
        except Exception as exc:
            store_failed = True
            problems.append(problem_line(exc, settings))
    prepare = getattr(auth, "prepare", None)
    if prepare is not None:
        with _fetch_failures() as fetches:
            try:
                await prepare()
            except Exception as exc:
                if not (store_failed and isinstance(exc, StoreError)):  # the same failure, reported above
                    problems.append(problem_line(exc, settings, fetches.reasons[-1] if fetches.reasons else None))
    check_providers = getattr(getattr(auth, "oauth", None), "check", None)
    if check_providers is not None:  # the OpenID providers to sign in with: discovery and keys
        problems.extend(await check_providers())
    return problems


# -- the doctor ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    """One line of ``authhooks check``: what was checked, and ``ok``/``skipped`` with a detail, or the failure."""

    name: str
    status: str  # "ok", "skipped" or "failed"
    detail: str

    def line(self) -> str:
        """``name: ok (detail)``, ``name: skipped (detail)`` or ``name: FAILED: problem``."""
        if self.status == "failed":
            return f"{self.name}: FAILED: {self.detail}"
        return f"{self.name}: {self.status}" + (f" ({self.detail})" if self.detail else "")


def _keys_detail(keys: Keys) -> str:
    signing, keyset, remote = keys
    parts = []
    if signing is not None:
        parts.append(f"signing with {signing.algorithms[0]}")
    if keyset is not None:
        parts.append(f"{len(keyset)} validation key{'s' if len(keyset) != 1 else ''}")
    if remote is not None:
        parts.append("remote key set configured")
    return ", ".join(parts)


async def _check_keys(settings: Settings) -> Check:
    try:
        keys = keys_from_settings(settings, create_default=False)
    except ConfigurationError as exc:
        return Check("keys", "failed", problem_line(exc, settings))
    if any(part is not None for part in keys):
        return Check("keys", "ok", _keys_detail(keys))
    path = Path(settings.state_dir) / DEFAULT_KEY_FILENAME
    if not path.exists():
        return Check(
            "keys",
            "ok",
            f"none configured: an Ed25519 key will be generated at {path} on first use; "
            "set AUTHHOOKS_SIGNING_KEY_FILE or AUTHHOOKS_SECRET to choose one",
        )
    try:
        keys = keys_from_settings(settings, create_default=True)  # the file exists: loaded, not created
    except ConfigurationError as exc:
        return Check("keys", "failed", problem_line(exc, settings))
    return Check("keys", "ok", f"the generated key at {path}: {_keys_detail(keys)}")


async def _check_store(settings: Settings) -> Check:
    try:
        check_store_url(settings.store_url)
    except ConfigurationError as exc:
        return Check("store", "failed", problem_line(exc, settings))
    url = settings.store_url
    sqlite_path: Path | None = None
    if url is None:
        sqlite_path = Path(settings.state_dir) / "state.sqlite3"
    elif url.lower().startswith("sqlite:"):
        from authhooks.stores.sqlite import path_from_url

        sqlite_path = path_from_url(url)
    if sqlite_path is not None and not sqlite_path.exists():
        return Check("store", "ok", f"SQLite file {sqlite_path} will be created on first use")
    from authhooks.stores._url import mask_url
    from authhooks.stores.factory import open_store

    shown = mask_url(url) if url is not None else f"SQLite file {sqlite_path}"
    try:
        store = open_store(settings=settings)
        try:
            await store.ping()
        finally:
            await store.aclose()
    except Exception as exc:
        return Check("store", "failed", problem_line(exc, settings))
    return Check("store", "ok", f"{shown} answered a ping")


async def _check_key_set(settings: Settings) -> Check:
    if settings.jwks_url is None and settings.oidc_issuer is None:
        return Check("key set", "skipped", "neither AUTHHOOKS_JWKS_URL nor AUTHHOOKS_OIDC_ISSUER is set")
    variable = _key_set_variable(settings)
    try:
        remote = remote_key_set_from_settings(settings)
    except ConfigurationError as exc:
        return Check("key set", "failed", problem_line(exc, settings))
    assert remote is not None
    with _fetch_failures() as fetches:
        try:
            keyset = await remote.get(None)
        except Exception as exc:
            return Check(
                "key set", "failed", problem_line(exc, settings, fetches.reasons[-1] if fetches.reasons else None)
            )
        finally:
            await remote.aclose(settings.jwks_timeout_seconds)
    return Check("key set", "ok", f"{len(keyset)} key{'s' if len(keyset) != 1 else ''} fetched ({variable})")


def _check_handlers(settings: Settings, environ: Mapping[str, str]) -> list[Check]:
    """The handlers file loaded as ``AuthHooks`` loads it: one failed line per bad handler (file, line, field)."""
    if settings.handlers_file is None:
        return [Check("handlers file", "skipped", "AUTHHOOKS_HANDLERS_FILE is not set")]
    from authhooks.handlers.command import check_file

    try:
        count, problems = check_file(settings.handlers_file, settings, environ)
    except ConfigurationError as exc:
        return [Check("handlers file", "failed", problem_line(exc, settings))]
    if problems:
        return [Check("handlers file", "failed", problem_line(ConfigurationError(p), settings)) for p in problems]
    return [
        Check("handlers file", "ok", f"{settings.handlers_file}: {count} handler{'s' if count != 1 else ''} loaded")
    ]


async def _check_providers(settings: Settings) -> Check:
    if settings.oauth_providers_file is None:
        return Check("oauth providers", "skipped", "AUTHHOOKS_OAUTH_PROVIDERS_FILE is not set")
    from authhooks.oauth.service import OAuthService

    try:
        service = OAuthService(settings)
    except ConfigurationError as exc:
        return Check("oauth providers", "failed", problem_line(exc, settings))
    try:
        problems = await service.check()
    finally:
        await service.aclose()
    if problems:
        return Check("oauth providers", "failed", "; ".join(problems))
    return Check("oauth providers", "ok", f"{', '.join(sorted(service.providers))}: discovery and keys fetched")


def _check_telemetry(settings: Settings, environ: Mapping[str, str]) -> Check:
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return Check("telemetry", "skipped", "OTEL_SDK_DISABLED=true")
    if exporters in ("", "none"):
        return Check("telemetry", "skipped", "OTEL_TRACES_EXPORTER is not set: no span is exported")
    try:
        from opentelemetry import trace

        from authhooks.exporters.setup import setup

        handle = setup(settings)
        try:
            with trace.get_tracer("authhooks.check").start_as_current_span("authhooks.check"):
                pass
            flushed = handle.force_flush(int(settings.shutdown_timeout_seconds * 1000))
        finally:
            handle.shutdown(settings.shutdown_timeout_seconds)
    except Exception as exc:
        return Check("telemetry", "failed", problem_line(exc, settings))
    if not flushed:
        return Check("telemetry", "failed", f"OTEL_TRACES_EXPORTER={exporters}: the test span was not flushed in time")
    return Check("telemetry", "ok", f"a test span was sent through OTEL_TRACES_EXPORTER={exporters}")


async def doctor(environ: Mapping[str, str] | None = None) -> list[Check]:
    """Run every check of ``authhooks check`` and return one :class:`Check` per line, in order.

    Settings that cannot be resolved end the run (the other checks need them).
    """
    env = os.environ if environ is None else environ
    try:
        settings = Settings.from_env(env)
    except ConfigurationError as exc:
        return [Check("settings", "failed", problem_line(exc))]
    configured = sum(1 for key, value in env.items() if key.startswith("AUTHHOOKS_") and value.strip())
    checks = [Check("settings", "ok", f"{configured} AUTHHOOKS_* variable{'s' if configured != 1 else ''} set")]
    checks.append(await _check_keys(settings))
    checks.append(await _check_store(settings))
    checks.append(await _check_key_set(settings))
    checks.extend(_check_handlers(settings, env))
    checks.append(await _check_providers(settings))
    checks.append(_check_telemetry(settings, env))
    return checks


# -- an uncaught construction error ----------------------------------------------------------------------------

_PACKAGE_DIR = str(Path(__file__).resolve().parent)


_uncaught: list[tuple[BaseException, str]] = []  # the latest construction error, and where AuthHooks was built


def _excepthook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
    if _uncaught and value is _uncaught[0][0]:
        print(f"authhooks: configuration error: {scrub(str(value))}{_uncaught[0][1]}", file=sys.stderr)
    else:
        sys.__excepthook__(kind, value, tb)


def quiet_if_uncaught(exc: ConfigurationError) -> None:
    """Have ``exc``, should nothing catch it, end the process with one line instead of a traceback.

    A configuration mistake is the user's to fix in the environment, and its message names the variable and the
    reason; a traceback through the server that imported the app (uvicorn's, dozens of lines) only hides it. The
    line also says where ``AuthHooks`` was built. Installed only over Python's default ``sys.excepthook`` (an
    application's or a debugger's own hook is left alone), and it acts only on the latest such exception:
    anything else is printed as before.
    """
    if sys.excepthook is not _excepthook:
        if sys.excepthook is not sys.__excepthook__:
            return
        sys.excepthook = _excepthook
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
    where = f" (AuthHooks built at {frame.f_code.co_filename}:{frame.f_lineno})" if frame is not None else ""
    _uncaught[:] = [(exc, where)]
