"""Settings: one frozen dataclass, read from ``AUTHHOOKS_*`` environment variables, keyword arguments winning.

Parsing follows the OpenTelemetry environment-variable rules (``sdk-environment-variables.md``):

- an empty value is the same as unset;
- booleans are ``true`` or ``false`` (case-insensitive) and nothing else;
- lists are comma-separated (``a,b``) or a JSON array (``["a", "b"]``);
- numbers are decimal; durations are in seconds, as the field name says.

``AUTHHOOKS_<FIELD>`` matches the :class:`Settings` field one to one. A malformed value raises
:class:`~authhooks.errors.ConfigurationError` naming the variable and what it expected, and so does an unknown
``AUTHHOOKS_*`` variable (a typo must not silently disable a security setting). Secrets are held in
:class:`Secret`, whose ``repr``/``str`` are masked.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import json
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from authhooks.errors import ConfigurationError

__all__ = ["Secret", "Settings"]


class Secret:
    """A secret value whose ``repr`` and ``str`` are masked; call :meth:`get_secret_value` to use it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | bytes) -> None:
        self._value = value

    def get_secret_value(self) -> str | bytes:
        """Return the secret itself; never log or trace the result."""
        return self._value

    def __bytes__(self) -> bytes:
        value = self._value
        return value if isinstance(value, bytes) else value.encode("utf-8")

    def __len__(self) -> int:
        return len(bytes(self))

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and bytes(self) == bytes(other)

    def __hash__(self) -> int:
        return hash(bytes(self))

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError("a Secret cannot be pickled")


def _setting(default: Any, doc: str, *, low: float | None = None, high: float | None = None) -> Any:
    return field(default=default, metadata={"doc": doc, "low": low, "high": high})


HookTelemetry = Literal["event", "attributes", "span", "off"]
FlowSpans = Literal["auto", "always"]
ErrorFormat = Literal["bearer", "problem+json"]
StoreFailure = Literal["closed", "open"]
OnError = Literal["deny", "ignore", "raise"]


@dataclass(frozen=True, slots=True)
class Settings:
    """Every option of authhooks, each with an ``AUTHHOOKS_<FIELD>`` variable.

    Build it with :meth:`from_env` (environment plus keyword overrides) or directly (keyword arguments only,
    defaults elsewhere). ``Settings.describe()`` lists every field with its variable and documentation.
    """

    # -- general -------------------------------------------------------------------------------------------
    service_name: str = _setting("authhooks", "Name shown in challenge messages and as the default realm.")
    realm: str | None = _setting(None, "The realm of `WWW-Authenticate` challenges (default: service_name).")
    state_dir: Path = _setting(
        Path(".authhooks"), "Directory for embedded state: the generated signing key and the SQLite store."
    )
    # -- hook engine ---------------------------------------------------------------------------------------
    propagate_hook_errors: bool = _setting(
        False, "Make every hook's error policy `raise` (Evrmore's propagate_hook_errors)."
    )
    hook_timeout_seconds: float | None = _setting(
        5.0,
        "Timeout of every hook run without its own `timeout=` (not `inline=True` ones); a timeout counts as a "
        "hook error. Only the keyword `None` turns it off.",
        low=0.001,
        high=3600,
    )
    hook_workers: int = _setting(
        8,
        "Threads that run blocking (sync) hooks, off the event loop; when all are busy a run waits at most its "
        "timeout.",
        low=1,
        high=1024,
    )
    background_queue_size: int = _setting(
        1000, "Capacity of the queue of background hooks; what does not fit is dropped and counted.", low=1
    )
    shutdown_timeout_seconds: float = _setting(
        5.0,
        "Bound of the whole shutdown (`aclose`/`close`, the ASGI lifespan): background queue, running hooks, "
        "telemetry flush, store.",
        low=0,
        high=600,
    )
    # -- state store ---------------------------------------------------------------------------------------
    store_url: str | None = _setting(
        None,
        "State store: `memory://`, `sqlite:///path` or `redis://host:port/db` (default: SQLite in state_dir).",
    )
    store_key_prefix: str = _setting("authhooks:", "Prefix of every key the store writes (Redis).")
    store_failure: StoreFailure = _setting(
        "closed", "When the store is unreachable: `closed` refuses tokens whose revocation cannot be checked."
    )
    store_timeout_seconds: float = _setting(
        0.5, "Bounded wait for one store operation before it counts as unreachable.", low=0.001, high=60
    )
    # -- tokens and keys -----------------------------------------------------------------------------------
    secret: Secret | None = _setting(None, "HMAC secret for HS256/384/512 (at least as long as the hash output).")
    signing_key_file: Path | None = _setting(None, "PEM private key used to issue tokens.")
    public_key_file: Path | None = _setting(None, "PEM public key used to validate tokens.")
    jwks_url: str | None = _setting(None, "JWKS document URL of the token issuer.")
    oidc_issuer: str | None = _setting(None, "OIDC / RFC 8414 issuer URL; its discovery document names the JWKS URL.")
    jwks_file: Path | None = _setting(
        None,
        "Static JWK Set file of validation keys, each with its `kid`: RSA, EC, OKP public keys and `oct` HMAC "
        "secrets (several HMAC keys, one `kid` each).",
    )
    algorithms: tuple[str, ...] = _setting((), "Allowed JWS algorithms (default: those the keys imply).")
    access_token_types: tuple[str, ...] = _setting(
        ("at+jwt",),
        "Accepted access-token `typ` values: `at+jwt` (RFC 9068), `JWT`, `none` (untyped); case-insensitive, "
        "`application/` optional. Tokens not typed `at+jwt` that carry `nonce`/`at_hash` (ID tokens) are refused.",
    )
    required_claims: tuple[str, ...] = _setting((), "Claims every access token must carry, besides `exp` and `sub`.")
    issuer: str | None = _setting(None, "Expected and issued `iss` claim.")
    audience: tuple[str, ...] = _setting((), "Expected `aud` values; the first is issued.")
    leeway_seconds: int = _setting(30, "Clock-skew leeway for exp/nbf/iat, at most 300.", low=0, high=300)
    access_ttl_seconds: int = _setting(900, "Lifetime of issued access tokens.", low=1, high=86400 * 7)
    refresh_ttl_seconds: int = _setting(
        1209600, "Lifetime of refresh tokens (and of their rotation family).", low=1, high=86400 * 365
    )
    token_cache_size: int = _setting(10000, "Size of the validated-token cache; 0 disables it.", low=0)
    max_token_bytes: int = _setting(8192, "Longest token accepted, in bytes.", low=64, high=1 << 20)
    jwks_ttl_seconds: float = _setting(300.0, "How long a fetched key set is fresh.", low=1, high=86400)
    jwks_refetch_cooldown_seconds: float = _setting(
        30.0, "At most one refetch per cooldown when a token names an unknown `kid`.", low=0, high=86400
    )
    jwks_timeout_seconds: float = _setting(
        2.0, "Bounded wait for a key-set fetch before serving stale keys.", low=0.01, high=60
    )
    # -- login flows ---------------------------------------------------------------------------------------
    challenge_ttl_seconds: int = _setting(300, "Lifetime of a login challenge.", low=1, high=86400)
    # -- sign-in with OpenID providers, browser sessions ---------------------------------------------------
    oauth_providers_file: Path | None = _setting(
        None, "TOML file of OpenID providers to sign in with (`[provider.NAME]` tables; see the README)."
    )
    oauth_token_key: Secret | None = _setting(
        None,
        "Key (at least 32 bytes) encrypting the provider tokens kept with `keep_tokens` (default: generated in "
        "state_dir/oauth-token-key).",
    )
    oauth_pending_ttl_seconds: int = _setting(
        600, "How long a started sign-in (its `state`) waits for the provider's callback.", low=10, high=3600
    )
    oauth_timeout_seconds: float = _setting(
        5.0, "Bound of one request to a provider (discovery, keys, token endpoint).", low=0.1, high=60
    )
    sessions: bool = _setting(False, "Let logins set a browser session cookie, accepted on `session_paths`.")
    session_idle_seconds: int = _setting(
        1800, "A session unused this long ends (idle timeout).", low=10, high=86400 * 30
    )
    session_absolute_seconds: int = _setting(
        43200, "A session ends this long after its login, used or not (absolute timeout).", low=10, high=86400 * 365
    )
    session_paths: tuple[str, ...] = _setting(
        ("/**",), "Protected path patterns that accept the session cookie (with `sessions`)."
    )
    bearer_paths: tuple[str, ...] = _setting(("/**",), "Protected path patterns that accept a Bearer token.")
    session_insecure_cookie: bool = _setting(
        False,
        "Development only: name the cookie `authhooks_session` without `Secure` (not `__Host-`), for plain http "
        "on a host the browser does not treat as secure.",
    )
    # -- HTTP ----------------------------------------------------------------------------------------------
    protect: tuple[str, ...] = _setting(
        ("/*",), "Protected path patterns (anchored; `*` matches the rest of one segment, `/**` any suffix)."
    )
    public_paths: tuple[str, ...] = _setting((), "Path patterns that never require a token.")
    optional_auth: bool = _setting(False, "Let anonymous requests pass (a bad token is still refused).")
    routes: bool = _setting(True, "Serve the built-in auth routes.")
    routes_prefix: str = _setting("/auth", "Path prefix of the built-in auth routes.")
    error_format: ErrorFormat = _setting("bearer", "Denial bodies: `bearer` (RFC 6750) or `problem+json` (RFC 9457).")
    max_body_bytes: int = _setting(65536, "Largest request body the auth routes read.", low=1, high=1 << 26)
    trusted_proxies: tuple[str, ...] = _setting(
        (),
        "Addresses and CIDRs of reverse proxies whose `X-Forwarded-For` / `Forwarded` is believed when a handler "
        "needs the client address (`client_ip` conditions, `rate_limit` by `ip`); from anyone else it is ignored.",
    )
    instrument_asgi: bool = _setting(False, "Wrap the app in opentelemetry-instrumentation-asgi.")
    instrument_wsgi: bool = _setting(
        False,
        "Wrap the WSGI app in opentelemetry-instrumentation-wsgi (the `wsgi` extra), so flow spans nest under it.",
    )
    strict_startup: bool = _setting(
        False,
        "Fail the ASGI lifespan startup when a start-up check fails (store ping, keys, key set fetch); default: "
        "log one line per failure and go on.",
    )
    # -- telemetry -----------------------------------------------------------------------------------------
    telemetry: bool = _setting(True, "Record flows and hook runs with the OpenTelemetry API.")
    flow_spans: FlowSpans = _setting(
        "auto",
        "`auto`: a flow records onto the recording span already current (the HTTP server span) and starts its "
        "own INTERNAL span only when there is none; `always`: its own span every time.",
    )
    hook_telemetry: HookTelemetry = _setting(
        "event",
        "How each hook run is recorded: a span `event`, three array `attributes` per flow (names, decisions, "
        "durations) in one call, a child `span`, or `off`.",
    )
    flow_histogram: bool = _setting(
        False, "Record the `authhooks.flow.duration` histogram (one SDK measurement per flow, several µs each)."
    )
    hook_metrics: bool = _setting(
        False, "Record the `authhooks.hook.duration` histogram (one SDK measurement per hook run, several µs each)."
    )
    record_subject: bool = _setting(False, "Put subject ids in telemetry and audit records.")
    record_subject_hashed: bool = _setting(False, "Record subject ids as a keyed hash instead of in clear.")
    audit_log_file: Path | None = _setting(None, "Hash-chained JSONL audit log to append to.")
    audit_key: Secret | None = _setting(
        None, "HMAC-SHA256 key of the audit log, at least 32 bytes (default: generated in state_dir/audit-key)."
    )
    # -- declarative handlers ------------------------------------------------------------------------------
    handlers_file: Path | None = _setting(None, "TOML file binding events to built-in actions.")
    # -- as an issuer: metadata documents, registered clients ---------------------------------------------
    public_url: str | None = _setting(
        None,
        "External URL of the app (https, or http on a loopback host): the auth routes' URLs in the RFC 8414 / "
        "OIDC metadata documents are this + routes_prefix (default: `issuer`, when it is such a URL).",
    )
    clients_file: Path | None = _setting(
        None, "TOML or JSON file of clients of introspection/revocation (`client_id`, `secret_hash`, `uses`)."
    )
    clients: tuple[str, ...] = _setting(
        (), "Clients of introspection and revocation as `client_id:secret_hash` (see `authhooks client-secret`)."
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            checked = _check_value(f, value, f.name)
            if checked is not value:
                object.__setattr__(self, f.name, checked)
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ConfigurationError(f"AUTHHOOKS_TRUSTED_PROXIES: {proxy!r} is not an IP address or CIDR") from None

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        prefix: str = "AUTHHOOKS_",
        **overrides: Any,
    ) -> Settings:
        """Read settings from ``environ`` (default ``os.environ``); keyword ``overrides`` win.

        Raises:
            ConfigurationError: a malformed value (naming the variable and what it expected), or an unknown
                ``<prefix>*`` variable.
        """
        env = os.environ if environ is None else environ
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown_overrides = set(overrides) - set(fields)
        if unknown_overrides:
            raise ConfigurationError(f"unknown setting(s): {', '.join(sorted(unknown_overrides))}")
        values: dict[str, Any] = {}
        for key, raw in env.items():
            if not key.startswith(prefix):
                continue
            name = key[len(prefix) :].lower()
            if name not in fields:
                hint = difflib.get_close_matches(name, list(fields), n=1)
                suggestion = f"; did you mean {prefix}{hint[0].upper()}?" if hint else ""
                raise ConfigurationError(f"{key}: unknown authhooks setting{suggestion}")
            if name in overrides or raw.strip() == "":
                continue
            values[name] = _check_value(fields[name], _parse(fields[name], raw, key), key)
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied (validated like the constructor)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def describe(cls, prefix: str = "AUTHHOOKS_") -> list[tuple[str, str, str]]:
        """Return ``(variable, default, documentation)`` for every field, in declaration order."""
        rows = []
        for f in dataclasses.fields(cls):
            default = f.default
            shown = ",".join(default) if isinstance(default, tuple) else ("" if default is None else str(default))
            if isinstance(default, bool):
                shown = str(default).lower()
            rows.append((prefix + f.name.upper(), shown, f.metadata["doc"]))
        return rows

    @property
    def effective_realm(self) -> str:
        """The realm for challenges: ``realm`` or, unset, ``service_name``."""
        return self.realm or self.service_name


# -- parsing ---------------------------------------------------------------------------------------------

_HINTS: dict[str, Any] = {}


def _field_type(f: dataclasses.Field[Any]) -> tuple[Any, bool]:
    """Return (the non-None type, whether None is allowed) of a Settings field."""
    if not _HINTS:
        _HINTS.update(typing.get_type_hints(Settings))
    hint = _HINTS[f.name]
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return hint, False


def _describe_type(tp: Any) -> str:
    if tp is bool:
        return "`true` or `false`"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in typing.get_args(tp))
    if typing.get_origin(tp) is tuple:
        return "a comma-separated list or a JSON array of strings"
    return "a string"


def _parse(f: dataclasses.Field[Any], raw: str, where: str) -> Any:
    tp, _ = _field_type(f)
    text = raw.strip()
    try:
        if tp is bool:
            low = text.lower()
            if low not in ("true", "false"):
                raise ValueError
            return low == "true"
        if tp is int:
            return int(text, 10)
        if tp is float:
            value = float(text)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError
            return value
        if typing.get_origin(tp) is tuple:
            return _parse_list(text)
        if tp is Path:
            return Path(text)
        if tp is Secret:
            return Secret(raw)
        if typing.get_origin(tp) is Literal:
            low = text.lower()
            if low not in typing.get_args(tp):
                raise ValueError
            return low
        return text
    except ValueError:
        shown = "" if tp is Secret else f" (got {text[:40]!r})"
        raise ConfigurationError(f"{where}: expected {_describe_type(tp)}{shown}") from None


def _parse_list(text: str) -> tuple[str, ...]:
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError from None
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ValueError
        return tuple(i.strip() for i in items if i.strip())
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _check_value(f: dataclasses.Field[Any], value: Any, where: str) -> Any:
    tp, nullable = _field_type(f)
    if value is None:
        if nullable:
            return value
        raise ConfigurationError(f"{where}: may not be None; expected {_describe_type(tp)}")
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigurationError(f"{where}: expected `true` or `false`, got {type(value).__name__}")
        return value
    if tp in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (tp is int and isinstance(value, float)):
            raise ConfigurationError(f"{where}: expected {_describe_type(tp)}, got {type(value).__name__}")
        low, high = f.metadata["low"], f.metadata["high"]
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigurationError(f"{where}: expected a finite number, got {value}")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ConfigurationError(f"{where}: expected a value {bounds}, got {value}")
        return tp(value)
    if typing.get_origin(tp) is tuple:
        if isinstance(value, str):
            return _parse_list(value)
        if not isinstance(value, (list, tuple)) or not all(isinstance(i, str) for i in value):
            raise ConfigurationError(f"{where}: expected a list of strings")
        return tuple(value)
    if tp is Path:
        if not isinstance(value, (str, os.PathLike)):
            raise ConfigurationError(f"{where}: expected a path")
        return Path(value)
    if tp is Secret:
        if isinstance(value, (str, bytes)):
            return Secret(value)
        if not isinstance(value, Secret):
            raise ConfigurationError(f"{where}: expected a secret string")
        return value
    if typing.get_origin(tp) is Literal:
        if value not in typing.get_args(tp):
            raise ConfigurationError(f"{where}: expected {_describe_type(tp)}, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ConfigurationError(f"{where}: expected a string, got {type(value).__name__}")
    return value
