"""The one module that turns credentials and subjects into something safe to record.

- :func:`fingerprint` — a short, stable, non-reversible tag for a credential (``sha256:1a2b3c4d``), for the rare
  place that must tell two credentials apart (never enabled by default in telemetry).
- :func:`redact_headers` — a copy of a header mapping with credential-bearing headers masked.
- :func:`scrub` — masks anything that looks like a credential in free text (JWTs, ``Bearer``/``Basic``
  credentials, ``ahr_`` refresh tokens, ``ahs_`` session ids, ``whsec_`` webhook secrets, ``password=…``-style
  pairs, OAuth ``code``/``state``/``code_verifier``/``nonce`` query parameters); applied to exception messages
  and log records before they leave the process.
- :class:`RedactingFilter` — a :class:`logging.Filter` applying :func:`scrub` to a record's message, arguments
  and formatted traceback. :func:`install_redacting_filter` (run when :mod:`authhooks` is imported, and again by
  :func:`authhooks.telemetry.setup`) wraps the process's log-record factory so that **every** record of the
  ``authhooks`` logger or of any ``authhooks.*`` logger — including loggers created later, such as the one a hook
  module makes for itself — is scrubbed when it is made, whatever handlers the application installs (logger
  filters are not inherited by child loggers in :mod:`logging`, and handler filters only cover the handlers that
  exist). Records of other loggers pass through untouched at the cost of one prefix test.
- :class:`SubjectRecorder` — the ``record_subject`` / ``record_subject_hashed`` policy: nothing, the subject in
  clear, or a keyed HMAC-SHA256 of it.

Subject hashing key: by default a random 32-byte key drawn once per process, so hashes correlate the flows of one
process but cannot be reversed by hashing a dictionary of user ids (an unkeyed hash of a small, predictable id
space can). Pass ``key=`` to :class:`SubjectRecorder` (for instance from a secret store) to make hashes stable
across restarts and instances.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

__all__ = [
    "REDACTED",
    "SENSITIVE_HEADERS",
    "RedactingFilter",
    "SubjectRecorder",
    "fingerprint",
    "get_logger",
    "install_redacting_filter",
    "redact_headers",
    "scrub",
]

REDACTED = "[REDACTED]"
"""What a masked value is replaced with."""

SENSITIVE_HEADERS: frozenset[str] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-access-token",
        "x-refresh-token",
        "x-csrf-token",
        "x-xsrf-token",
        "x-amz-security-token",
        "x-authhooks-signature",
    }
)
"""Header names (lower-case) whose values :func:`redact_headers` masks."""

_SCHEMES = ("bearer", "basic", "digest", "dpop", "token", "mac", "negotiate")

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Compact JWS/JWE (and a lone base64url JSON header): every JOSE header starts with '{"' = 'eyJ'.
    (re.compile(r"\beyJ[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*){0,4}"), REDACTED),
    # Opaque authhooks credentials: ``ahr_`` refresh tokens, ``ahs_`` session ids and any later ``ah?_`` kind,
    # and Standard Webhooks ``whsec_`` secrets.
    (re.compile(r"\b(?:ah[a-z]_[A-Za-z0-9_-]+|whsec_[A-Za-z0-9+/=]+)"), REDACTED),
    # OAuth/OIDC protocol parameters in a query string or form body (RFC 6749 §4.1.2 ``code`` and ``state``,
    # RFC 7636 ``code_verifier``, OIDC ``nonce``, a form's ``csrf_token``): only as a ``name=value`` pair at the
    # start of the text or after ``?``/``&``, so "state=open" in prose is unchanged.
    (
        re.compile(
            r"(?i)(?:^|(?<=[?&]))(code|state|code_verifier|nonce|csrf_token|session_state|client_assertion)"
            r"=(?!\[REDACTED\])[^\s&#\"']+"
        ),
        r"\1=" + REDACTED,
    ),
    # "Bearer <credential>" and the other HTTP authentication schemes: keep the scheme, mask the value.
    (
        re.compile(r"(?i)\b(" + "|".join(_SCHEMES) + r")(\s+)[A-Za-z0-9._~+/=:-]{4,}"),
        r"\1\2" + REDACTED,
    ),
    # key=value / "key": "value" pairs naming a secret (form bodies, query strings, JSON, reprs).
    (
        re.compile(
            r"(?i)\b(access_token|refresh_token|id_token|client_secret|password|passwd|secret|api_key|apikey"
            r"|authorization|signature|code_verifier|client_assertion|csrf_token|webhook_secret)(\"?'?\s*[=:]\s*\"?'?)(?!\[REDACTED\])[^\s&\"',;)}]+"
        ),
        r"\1\2" + REDACTED,
    ),
)


def fingerprint(value: str | bytes) -> str:
    """A short, stable tag for a credential: ``"sha256:"`` and the first 8 hex digits of its SHA-256.

    Enough to tell two credentials apart in a debugging session, not enough to recover or forge one. Do not use
    it on low-entropy values (passwords, user ids): those can be found by hashing guesses.
    """
    data = value.encode("utf-8") if isinstance(value, str) else value
    return "sha256:" + hashlib.sha256(data).hexdigest()[:8]


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def redact_headers(
    headers: Mapping[str, str] | Mapping[bytes, bytes] | Iterable[tuple[str | bytes, str | bytes]],
    *,
    with_fingerprint: bool = False,
) -> dict[str, str]:
    """A copy of ``headers`` (a mapping or ASGI ``(name, value)`` pairs) with credentials masked.

    Header names are lower-cased. Values of :data:`SENSITIVE_HEADERS` become :data:`REDACTED`; an
    ``Authorization``-style value keeps its scheme (``"Bearer [REDACTED]"``). With ``with_fingerprint=True`` the
    mask carries :func:`fingerprint` of the value. Other values go through :func:`scrub`, so a token pasted into
    an unexpected header is masked too. Repeated headers are joined with ``", "``.
    """
    pairs: Iterable[tuple[Any, Any]] = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        name = _text(raw_name).lower()
        value = _text(raw_value)
        if name in SENSITIVE_HEADERS:
            mask = f"{REDACTED[:-1]} {fingerprint(value)}]" if with_fingerprint else REDACTED
            scheme, sep, _ = value.strip().partition(" ")
            masked = f"{scheme} {mask}" if sep and scheme.lower() in _SCHEMES else mask
        else:
            masked = scrub(value)
        out[name] = f"{out[name]}, {masked}" if name in out else masked
    return out


def scrub(text: str) -> str:
    """Mask whatever looks like a credential in ``text``: JWTs (``eyJ…``), ``Bearer``/``Basic``… credentials,
    ``ahr_…`` refresh tokens, ``ahs_…`` session ids, ``whsec_…`` webhook secrets, ``password=…``,
    ``access_token=…``-style pairs, and the OAuth parameters ``code``, ``state``, ``code_verifier``, ``nonce``
    and ``csrf_token`` of a query string or form body (RFC 6749 §4.1.2, RFC 7636 §4.5: a server span's URL of a
    sign-in callback carries them). Other text is unchanged."""
    if not text:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Applies :func:`scrub` to a log record before any handler sees it.

    The message is formatted with its arguments first (so a token passed as ``%s`` argument is caught), then
    scrubbed; a traceback is formatted and scrubbed into ``record.exc_text``, which standard formatters use
    instead of formatting ``exc_info`` again. It never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        scrubbed = scrub(message)
        if scrubbed != message or record.args:
            record.msg, record.args = scrubbed, None
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


_FILTER = RedactingFilter()


def _attach(logger: logging.Logger) -> None:
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(_FILTER)


class _RedactingRecordFactory:
    """Wraps the previous log-record factory; scrubs the records of ``prefix`` loggers as they are made."""

    __slots__ = ("_name", "_prefix", "previous")

    def __init__(self, previous: Callable[..., logging.LogRecord], name: str) -> None:
        self.previous = previous
        self._name, self._prefix = name, name + "."

    def covers(self, name: str) -> bool:
        return name == self._name or name.startswith(self._prefix)

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        name = record.name
        if name == self._name or name.startswith(self._prefix):
            _FILTER.filter(record)
        return record


def _factory_installed(name: str) -> bool:
    factory: Any = logging.getLogRecordFactory()
    while isinstance(factory, _RedactingRecordFactory):
        if factory.covers(name):
            return True
        factory = factory.previous
    return False


def install_redacting_filter(name: str = "authhooks") -> RedactingFilter:
    """Scrub every record of logger ``name`` and of every ``name.*`` logger, existing or created later.

    Wraps the log-record factory (:func:`logging.setLogRecordFactory`) once per ``name``, and adds the shared
    :class:`RedactingFilter` to the loggers that exist now (a second line should an application later replace
    the record factory without chaining it). Idempotent. Returns the filter.
    """
    if not _factory_installed(name):
        logging.setLogRecordFactory(_RedactingRecordFactory(logging.getLogRecordFactory(), name))
    _attach(logging.getLogger(name))
    prefix = name + "."
    for logger_name, logger in list(logging.root.manager.loggerDict.items()):
        if logger_name.startswith(prefix) and isinstance(logger, logging.Logger):
            _attach(logger)
    return _FILTER


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with the :class:`RedactingFilter` attached (idempotent)."""
    logger = logging.getLogger(name)
    _attach(logger)
    return logger


_PROCESS_KEY = secrets.token_bytes(32)

SubjectMode = Literal["off", "clear", "hashed"]


class SubjectRecorder:
    """Decides whether and how a subject id is recorded (telemetry attributes, audit records).

    Args:
        record_subject: ``Settings.record_subject``: record the subject in clear.
        record_subject_hashed: ``Settings.record_subject_hashed``: record a keyed hash instead (wins over
            ``record_subject`` when both are set: "instead of in clear").
        key: the HMAC key; default a random per-process key (see the module docstring).

    Attributes:
        mode: ``"off"``, ``"clear"`` or ``"hashed"``.
    """

    __slots__ = ("_key", "mode")

    def __init__(
        self, record_subject: bool = False, record_subject_hashed: bool = False, *, key: bytes | None = None
    ) -> None:
        self.mode: SubjectMode = "hashed" if record_subject_hashed else "clear" if record_subject else "off"
        self._key = key if key is not None else _PROCESS_KEY

    def __repr__(self) -> str:
        return f"SubjectRecorder(mode={self.mode!r})"

    def hash(self, subject: str) -> str:
        """HMAC-SHA256 of ``subject`` under the key, as 32 hex digits (128 bits)."""
        return hmac.new(self._key, subject.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def value(self, subject: str | None) -> str | None:
        """What to record for ``subject`` under the policy, or ``None`` for nothing."""
        if subject is None or self.mode == "off":
            return None
        return self.hash(subject) if self.mode == "hashed" else subject
