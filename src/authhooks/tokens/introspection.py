"""The RFC 7662 §2.2 introspection body of a validated access token."""

from __future__ import annotations

from typing import Any

from authhooks.records import Principal

__all__ = ["introspection"]

_CLAIMS = ("scope", "client_id", "exp", "iat", "nbf", "jti", "iss", "aud")


def introspection(principal: Principal) -> dict[str, Any]:
    """The RFC 7662 §2.2 body of an active access token: ``active``, ``token_type``, ``sub`` and the claims a
    resource server asks about. ``token_type`` is the RFC 6749 §7.1 type the token is used with (``Bearer``),
    as §2.2 asks, not the kind of token (``token_type_hint``'s ``access_token``)."""
    body: dict[str, Any] = {"active": True, "token_type": "Bearer", "sub": principal.subject}
    for claim in _CLAIMS:
        if claim in principal.claims:
            body[claim] = principal.claims[claim]
    return body
