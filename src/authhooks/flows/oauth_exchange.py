"""The ``oauth_exchange`` flow (sans-IO): the authorization code for the provider's tokens, and the ID token
validated (lback's token fetched / fetch failed).

1. the token request (RFC 6749 §4.1.3) repeats the ``redirect_uri`` and sends the PKCE ``code_verifier``
   (RFC 7636 §4.5), with the client's authentication (a :class:`~authhooks.flows.effects.Call`);
2. the provider's keys for the ID token's ``kid`` (a ``Call``; the token layer's key-set cache);
3. the ID token checked by :func:`~authhooks.oauth.id_token.validate_id_token` (issuer, audience, expiry,
   ``nonce``, ``at_hash``);
4. ``oauth_exchange.post`` with the :class:`~authhooks.oauth.records.ProviderTokens` and the claims; any failure
   fires ``oauth_exchange.failed`` with a low-cardinality ``reason`` and re-raises.
"""

from __future__ import annotations

from typing import Any

from authhooks.events import Flow
from authhooks.flows.deps import FlowDeps
from authhooks.flows.effects import Call, FlowGen, Note, RunHooks, flow
from authhooks.flows.login import failure_reason
from authhooks.hooks.points import CATALOGUE
from authhooks.oauth.client import ProviderMetadata
from authhooks.oauth.errors import ExternalLoginFailed
from authhooks.oauth.id_token import id_token_kid, validate_id_token
from authhooks.oauth.records import ExternalIdentity, PendingLogin, ProviderTokens
from authhooks.oauth.service import OAuthService
from authhooks.tokens.keyset import KeySet

__all__ = ["oauth_exchange"]

_POST, _FAILED = CATALOGUE["oauth_exchange.post"], CATALOGUE["oauth_exchange.failed"]


@flow(Flow.OAUTH_EXCHANGE)
def oauth_exchange(
    deps: FlowDeps, oauth: OAuthService, code: str, pending: PendingLogin
) -> FlowGen[tuple[ExternalIdentity, ProviderTokens]]:
    """Exchange ``code`` for the login ``pending`` started; return who signed in and the provider's tokens.

    Raises:
        ExternalLoginFailed: the provider refused the code (``exchange_refused``: replayed, expired, PKCE
            mismatch), sent no valid answer (``exchange_invalid``) or an ID token that failed a check.
        ProviderUnavailable: the provider could not be reached.
    """
    provider = pending.provider
    try:
        client = oauth.client(provider)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
            "code_verifier": pending.verifier,
        }
        answer: dict[str, Any] = yield Call(client.token_sync, client.token, (form, "exchange_refused"))
        try:
            tokens = ProviderTokens.from_answer(answer, deps.now())
        except ValueError:
            raise ExternalLoginFailed(reason="exchange_invalid") from None
        kid = id_token_kid(tokens.id_token)
        keys: KeySet = yield Call(client.keys_sync, client.keys, (kid,))
        metadata: ProviderMetadata = yield Call(client.metadata_sync, client.metadata)
        assert tokens.id_token is not None  # id_token_kid refused a missing one
        claims = validate_id_token(
            tokens.id_token,
            keys,
            issuer=metadata.issuer,
            client_id=client.provider.client_id,
            nonce=pending.nonce,
            now=deps.now(),
            leeway=deps.settings.leeway_seconds,
            access_token=tokens.access_token,
            algorithms=metadata.id_token_algs,
        )
    except Exception as exc:
        reason = failure_reason(exc)
        yield Note(reason=reason)
        yield RunHooks(_FAILED, {"provider": provider, "reason": reason, "error": exc})
        raise
    identity = ExternalIdentity(provider, claims["sub"], claims)
    yield RunHooks(_POST, {"provider": provider, "tokens": tokens, "claims": identity.claims})
    return identity, tokens
