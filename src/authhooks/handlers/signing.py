"""Standard Webhooks signatures (https://www.standardwebhooks.com, "Signature scheme"), sender side.

A message carries three headers:

- ``webhook-id``: a unique message id (the same across retries of one message, so receivers can deduplicate);
- ``webhook-timestamp``: integer Unix seconds of the attempt (receivers refuse stale ones: replay protection);
- ``webhook-signature``: ``v1,<base64 of HMAC-SHA256(key, "<id>.<timestamp>.<body>")>``, space-separated when
  several keys sign (a rotation).

The secret is ``whsec_`` followed by the base64 of the key (24 to 64 bytes recommended); a secret without the
prefix is taken as base64 too. This module never logs or returns the key; :class:`WebhookSecret` masks its
``repr``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

__all__ = ["PREFIX", "WebhookSecret", "message_id", "sign"]

PREFIX = "whsec_"
_MIN_KEY_BYTES = 16


class WebhookSecret:
    """A Standard Webhooks signing key, decoded once; its ``repr`` is masked.

    Raises:
        ValueError: not base64 (after an optional ``whsec_`` prefix), or a key shorter than 16 bytes. The
            message never quotes the secret.
    """

    __slots__ = ("_key",)

    def __init__(self, secret: str) -> None:
        text = secret.strip()
        if text.startswith(PREFIX):
            text = text[len(PREFIX) :]
        try:
            key = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError('a webhook secret is "whsec_" followed by base64') from None
        if len(key) < _MIN_KEY_BYTES:
            raise ValueError(f"a webhook secret must hold at least {_MIN_KEY_BYTES} bytes of key, got {len(key)}")
        self._key = key

    def __repr__(self) -> str:
        return "WebhookSecret('**********')"

    def sign(self, msg_id: str, timestamp: int, body: bytes) -> str:
        """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``."""
        return sign(self._key, msg_id, timestamp, body)


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,`` and the base64 HMAC-SHA256 under ``key`` of ``f"{msg_id}.{timestamp}."`` followed by ``body``."""
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode(), hashlib.sha256)
    mac.update(body)
    return "v1," + base64.b64encode(mac.digest()).decode("ascii")


def message_id() -> str:
    """A new message id: ``msg_`` and 24 random URL-safe characters."""
    return "msg_" + secrets.token_urlsafe(18)
