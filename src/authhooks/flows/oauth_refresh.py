"""The ``oauth_refresh`` flow (sans-IO): refresh the provider's tokens kept for a subject (lback's token
refreshed / refresh failed), for a provider configured with ``keep_tokens``.

The tokens are read from the store and decrypted (:class:`~authhooks.oauth.tokenbox.TokenBox`), the refresh token
is redeemed at the provider (RFC 6749 §6), and the new tokens are stored encrypted (a provider that rotates
refresh tokens sends a new one; one that does not keeps the old). ``oauth_refresh.post`` fires with the new
:class:`~authhooks.oauth.records.ProviderTokens`; any failure fires ``oauth_refresh.failed``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from authhooks.events import Flow
from authhooks.flows.deps import FlowDeps
from authhooks.flows.effects import Call, FlowGen, Note, RunHooks, StoreCall, flow
from authhooks.flows.login import failure_reason
from authhooks.hooks.points import CATALOGUE
from authhooks.oauth.errors import ExternalLoginFailed
from authhooks.oauth.records import ProviderTokens
from authhooks.oauth.service import OAuthService

__all__ = ["oauth_refresh", "provider_tokens", "tokens_key"]

_POST, _FAILED = CATALOGUE["oauth_refresh.post"], CATALOGUE["oauth_refresh.failed"]


def tokens_key(provider: str, subject: str) -> str:
    """The store key of the provider tokens kept for ``subject`` (the subject hashed)."""
    return f"oauth-tokens:{provider}:" + hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()


def _read(oauth: OAuthService, provider: str, subject: str) -> FlowGen[ProviderTokens | None]:
    key = tokens_key(provider, subject)
    sealed = yield StoreCall("get", (key,))
    if sealed is None:
        return None
    plain = oauth.box.open(sealed, key)
    if plain is None:
        return None
    try:
        return ProviderTokens.from_json(plain)
    except (ValueError, KeyError, TypeError):
        return None


@flow(Flow.OAUTH_REFRESH)
def provider_tokens(deps: FlowDeps, oauth: OAuthService, provider: str, subject: str) -> FlowGen[ProviderTokens | None]:
    """The provider's tokens kept for ``subject``, or ``None`` (none kept, or not readable with this key)."""
    oauth.client(provider)
    return (yield from _read(oauth, provider, subject))


@flow(Flow.OAUTH_REFRESH)
def oauth_refresh(deps: FlowDeps, oauth: OAuthService, provider: str, subject: str) -> FlowGen[ProviderTokens]:
    """Refresh the provider's tokens kept for ``subject``; return the new ones.

    Raises:
        ExternalLoginFailed: ``tokens_unknown`` (nothing kept, no refresh token, or not readable with this key),
            ``refresh_refused`` (the provider refused the refresh token), ``exchange_invalid``.
        ProviderUnavailable: the provider could not be reached.
    """
    try:
        yield Note(subject=subject)
        client = oauth.client(provider)
        kept = yield from _read(oauth, provider, subject)
        if kept is None or kept.refresh_token is None:
            raise ExternalLoginFailed(reason="tokens_unknown")
        form = {"grant_type": "refresh_token", "refresh_token": kept.refresh_token}
        answer: dict[str, Any] = yield Call(client.token_sync, client.token, (form, "refresh_refused"))
        try:
            tokens = ProviderTokens.from_answer(answer, deps.now(), kept)
        except ValueError:
            raise ExternalLoginFailed(reason="exchange_invalid") from None
        key = tokens_key(provider, subject)
        yield StoreCall("set", (key, oauth.box.seal(tokens.to_json(), key), float(deps.settings.refresh_ttl_seconds)))
    except Exception as exc:
        reason = failure_reason(exc)
        yield Note(reason=reason)
        yield RunHooks(_FAILED, {"provider": provider, "subject": subject, "reason": reason, "error": exc})
        raise
    yield RunHooks(_POST, {"provider": provider, "subject": subject, "tokens": tokens})
    return tokens
