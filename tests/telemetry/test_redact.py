"""The redaction module: fingerprints, header masking, free-text scrubbing, the logging filter."""

from __future__ import annotations

import logging
import sys
import uuid

import pytest

from authhooks._redact import (
    REDACTED,
    RedactingFilter,
    SubjectRecorder,
    fingerprint,
    get_logger,
    install_redacting_filter,
    redact_headers,
    scrub,
)

from ._flows import TOKEN


def test_fingerprint_is_short_stable_and_prefixed() -> None:
    assert fingerprint(TOKEN) == fingerprint(TOKEN.encode())
    assert fingerprint(TOKEN).startswith("sha256:") and len(fingerprint(TOKEN)) == len("sha256:") + 8
    assert fingerprint(TOKEN) != fingerprint(TOKEN + "x")
    assert TOKEN[:8] not in fingerprint(TOKEN)


def test_redact_headers_masks_credentials_and_keeps_the_scheme() -> None:
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Cookie": "session=abc123",
        "X-API-Key": "k-123456",
        "Accept": "application/json",
        "X-Forwarded-Token": TOKEN,
    }
    out = redact_headers(headers)
    assert out["authorization"] == f"Bearer {REDACTED}"
    assert out["cookie"] == REDACTED and out["x-api-key"] == REDACTED
    assert out["accept"] == "application/json"
    assert TOKEN not in repr(out)
    tagged = redact_headers([(b"authorization", f"Bearer {TOKEN}".encode())], with_fingerprint=True)
    assert tagged["authorization"] == f"Bearer [REDACTED {fingerprint(f'Bearer {TOKEN}')}]"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"could not decode {TOKEN} at all", TOKEN),
        (f"header was 'Bearer {TOKEN[:20]}'", TOKEN[:20]),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("refresh with ahr_9f8e7d6c5b4a3210 failed", "ahr_9f8e7d6c5b4a3210"),
        ("POST body password=hunter2&user=bob", "hunter2"),
        ('{"client_secret": "s3cr3t-value"}', "s3cr3t-value"),
        ("GET /cb?access_token=opaque-123&x=1", "opaque-123"),
    ],
)
def test_scrub_masks_credentials_in_free_text(text: str, secret: str) -> None:
    out = scrub(text)
    assert secret not in out
    assert REDACTED in out


def test_scrub_leaves_ordinary_text_alone() -> None:
    text = "hook 'rate_limit' at login.pre failed (KeyError); policy deny"
    assert scrub(text) == text
    assert scrub("") == ""


def test_redacting_filter_scrubs_messages_arguments_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("authhooks.test_redact")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="authhooks.test_redact"):
        logger.info("token %s rejected", TOKEN)
        try:
            raise ValueError(f"bad token {TOKEN}")
        except ValueError:
            logger.exception("validation crashed")
    text = caplog.text
    assert TOKEN not in text
    assert "token [REDACTED] rejected" in text
    assert "ValueError: bad token [REDACTED]" in text


def test_install_reaches_existing_child_loggers_and_get_logger_new_ones() -> None:
    child = logging.getLogger("authhooks.some.child")
    install_redacting_filter()
    install_redacting_filter()  # idempotent
    for logger in (logging.getLogger("authhooks"), child, get_logger("authhooks.later")):
        assert sum(isinstance(f, RedactingFilter) for f in logger.filters) == 1


def test_subject_recorder_modes() -> None:
    assert SubjectRecorder().value("alice") is None
    assert SubjectRecorder(record_subject=True).value("alice") == "alice"
    hashed = SubjectRecorder(record_subject=True, record_subject_hashed=True, key=b"k" * 32)
    assert hashed.mode == "hashed"
    assert hashed.value("alice") == hashed.hash("alice") != "alice"
    assert SubjectRecorder(record_subject_hashed=True).value(None) is None
    assert "alice" not in repr(hashed)


def test_a_logger_created_after_setup_is_redacted_whatever_the_handlers(capsys: pytest.CaptureFixture[str]) -> None:
    """A hook module's own logger, made after import and after setup, with the app's own stream handler."""
    import authhooks  # noqa: F401  (importing the package is enough)

    install_redacting_filter()
    name = f"authhooks.hooks.user{uuid.uuid4().hex}"
    logger = logging.getLogger(name)  # created now: no filter attached to it
    assert not logger.filters
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("hook saw %s and refresh %s", TOKEN, "ahr_" + "x" * 43)
        logger.warning(f"inline Bearer {TOKEN}")
        try:
            raise RuntimeError(TOKEN)
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    out = capsys.readouterr().out
    assert TOKEN not in out and "ahr_xxxx" not in out
    assert out.count(REDACTED) >= 4
    other = logging.getLogger("someapp.module")
    record = other.makeRecord("someapp.module", logging.INFO, __file__, 1, "kept %s", (TOKEN,), None)
    assert record.getMessage() == f"kept {TOKEN}"  # only authhooks' own loggers are touched
