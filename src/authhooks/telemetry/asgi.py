"""Options for ``opentelemetry-instrumentation-asgi``'s ``OpenTelemetryMiddleware`` that keep credentials out of
the HTTP server span.

The instrumentation records the full request URL (``http.url`` / ``url.full``, and ``http.target`` /
``url.query``), so a client that sends ``?access_token=…`` (RFC 6750 §2.3, which authhooks refuses) would put
its token in the span; and headers named in ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST`` are
recorded as they are unless listed in the sanitize fields. :func:`otel_asgi_options` returns the keyword
arguments that prevent both::

    OpenTelemetryMiddleware(app, **otel_asgi_options())
"""

from __future__ import annotations

from typing import Any

from authhooks._redact import SENSITIVE_HEADERS, scrub

__all__ = ["URL_ATTRIBUTES", "otel_asgi_options", "redact_server_span"]

URL_ATTRIBUTES: tuple[str, ...] = ("http.url", "url.full", "http.target", "url.query")
"""Server-span attributes that may carry the query string."""


def redact_server_span(span: Any, scope: dict[str, Any]) -> None:
    """A ``server_request_hook``: mask credentials in the URL attributes of the server span (see :func:`scrub`).

    Does nothing when the request has no query string or the span does not expose its attributes.
    """
    if not scope.get("query_string") or not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    for key in URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str):
            masked = scrub(value)
            if masked != value:
                span.set_attribute(key, masked)


def otel_asgi_options() -> dict[str, Any]:
    """Keyword arguments for ``OpenTelemetryMiddleware``: the URL redaction hook and the credential headers to
    sanitize when headers are captured."""
    return {
        "server_request_hook": redact_server_span,
        "http_capture_headers_sanitize_fields": sorted(SENSITIVE_HEADERS),
    }
