"""The ``oauth_callback`` flow (sans-IO): the provider redirected back; finish the sign-in.

1. ``oauth_callback.pre`` (decision) sees the query ``params`` and may deny;
2. the pending login is **taken** from the store by the hash of ``state`` (atomic and one-use: of two callbacks
   with the same ``state`` exactly one proceeds; an unknown, expired or replayed ``state`` is
   ``state_unknown``); it must belong to this provider and, when the start set one, to this browser
   (``state_mismatch``);
3. an ``error`` from the provider is ``provider_error`` (RFC 6749 §4.1.2.1); an ``iss`` other than the issuer, or
   none from a provider whose metadata promises it, is ``issuer_mismatch`` (RFC 9207 §2.4, a mix-up defence); no
   ``code`` is ``code_missing``;
4. the nested ``oauth_exchange`` flow trades the code and validates the ID token;
5. the nested ``login`` flow (:func:`~authhooks.flows.oauth_login.external_login`) makes a session or tokens;
6. with ``keep_tokens``, the provider's tokens are stored encrypted under the local subject;
7. ``oauth_callback.post``; any failure fires ``oauth_callback.failed`` and re-raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authhooks.events import Flow
from authhooks.flows.deps import FlowDeps
from authhooks.flows.effects import Call, FlowGen, Note, RunHooks, StoreCall, SubFlow, flow
from authhooks.flows.login import failure_reason
from authhooks.flows.oauth_exchange import oauth_exchange
from authhooks.flows.oauth_login import LoginResult, external_login
from authhooks.flows.oauth_refresh import tokens_key
from authhooks.hooks.points import CATALOGUE
from authhooks.oauth.client import ProviderMetadata
from authhooks.oauth.errors import ExternalLoginFailed
from authhooks.oauth.records import ExternalIdentity, PendingLogin, ProviderTokens, state_key
from authhooks.oauth.service import OAuthService

__all__ = ["ExternalLogin", "oauth_callback"]

_PRE, _POST, _FAILED = (CATALOGUE[f"oauth_callback.{s}"] for s in ("pre", "post", "failed"))
MAX_PARAM_CHARS = 4096


@dataclass(frozen=True, slots=True)
class ExternalLogin:
    """A completed sign-in with a provider.

    Attributes:
        login: the principal and the session or tokens made.
        external: who the provider says signed in.
        return_to: the local path to land on.
    """

    login: LoginResult
    external: ExternalIdentity
    return_to: str


@flow(Flow.OAUTH_CALLBACK)
def oauth_callback(
    deps: FlowDeps,
    oauth: OAuthService,
    provider: str,
    params: Mapping[str, str],
    binding: str | None = None,
    session: bool = False,
    replaces: str | None = None,
) -> FlowGen[ExternalLogin]:
    """Finish a sign-in with ``provider`` from the callback's query ``params``; see the module docstring.

    Args:
        deps: the flows' dependencies.
        oauth: the providers.
        provider: the provider's name (from the callback path).
        params: the callback's query parameters.
        binding: the browser binding cookie's value, if any.
        session: make a browser session (else a token pair).
        replaces: the session id the request came with (rotated away).

    Raises:
        ExternalLoginFailed: see the module docstring for the reasons.
        ProviderUnavailable: the provider could not be reached.
        Deny: a hook denied.
    """
    try:
        client = oauth.client(provider)
        values: dict[str, Any] = {"provider": provider, "params": dict(params)}
        yield RunHooks(_PRE, values)
        state = params.get("state")
        if not isinstance(state, str) or not state or len(state) > MAX_PARAM_CHARS:
            raise ExternalLoginFailed(reason="state_unknown")
        raw = yield StoreCall("take", (state_key(state),))
        if raw is None:
            raise ExternalLoginFailed(reason="state_unknown")
        try:
            pending = PendingLogin.from_bytes(raw)
        except (ValueError, TypeError):
            raise ExternalLoginFailed(reason="state_unknown") from None
        if pending.provider != provider:
            raise ExternalLoginFailed(reason="state_unknown")
        if not pending.bound_to(binding):
            raise ExternalLoginFailed(reason="state_mismatch")
        if "error" in params:
            raise ExternalLoginFailed(reason="provider_error")
        metadata: ProviderMetadata = yield Call(client.metadata_sync, client.metadata)
        iss = params.get("iss")
        if (iss is None and metadata.iss_in_response) or (iss is not None and iss != metadata.issuer):
            raise ExternalLoginFailed(reason="issuer_mismatch")
        code = params.get("code")
        if not isinstance(code, str) or not code or len(code) > MAX_PARAM_CHARS:
            raise ExternalLoginFailed(reason="code_missing")
        identity, tokens = yield SubFlow(oauth_exchange(deps, oauth, code, pending))
        login: LoginResult = yield SubFlow(external_login(deps, identity, session, replaces))
        subject = login.principal.subject
        yield Note(subject=subject)
        if client.provider.keep_tokens:
            yield from _keep(deps, oauth, provider, subject, tokens)
        yield RunHooks(_POST, {"provider": provider, "subject": subject, "external": identity})
        return ExternalLogin(login, identity, pending.return_to)
    except Exception as exc:
        reason = failure_reason(exc)
        yield Note(reason=reason)
        yield RunHooks(_FAILED, {"provider": provider, "reason": reason, "error": exc})
        raise


def _keep(deps: FlowDeps, oauth: OAuthService, provider: str, subject: str, tokens: ProviderTokens) -> FlowGen[None]:
    key = tokens_key(provider, subject)
    sealed = oauth.box.seal(tokens.to_json(), key)
    yield StoreCall("set", (key, sealed, float(deps.settings.refresh_ttl_seconds)))
