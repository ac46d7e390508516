"""The ``oauth_authorize`` flow (sans-IO): start a sign-in with an OpenID provider (lback's authorize URL).

Stages (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1):

1. ``oauth_authorize.pre`` (decision): may change ``scopes``, ``params`` (extra request parameters:
   ``prompt``, ``login_hint``…; the protocol's own cannot be overridden) and ``return_to``, or deny;
2. the provider's endpoints are discovered (a :class:`~authhooks.flows.effects.Call`);
3. a :class:`~authhooks.oauth.records.PendingLogin` (fresh ``nonce`` and PKCE verifier, 256 bits each) is stored
   under the hash of a fresh ``state`` for ``oauth_pending_ttl_seconds``; the callback takes it once;
4. the authorization URL is built (``response_type=code``, ``code_challenge_method=S256``) and
   ``oauth_authorize.post`` fires with it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from authhooks.errors import HookError
from authhooks.events import Flow
from authhooks.flows.deps import FlowDeps
from authhooks.flows.effects import Call, FlowGen, RunHooks, StoreCall, flow
from authhooks.hooks.points import CATALOGUE
from authhooks.oauth.client import ProviderMetadata
from authhooks.oauth.records import PendingLogin, pkce_challenge, state_key
from authhooks.oauth.service import OAuthService

__all__ = ["Authorization", "PROTOCOL_PARAMS", "oauth_authorize", "safe_return_to"]

_PRE, _POST = CATALOGUE["oauth_authorize.pre"], CATALOGUE["oauth_authorize.post"]

PROTOCOL_PARAMS = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "response_mode",
        "request",
        "request_uri",
    }
)
"""Parameters the flow sets itself; ``params`` may not name them."""


_BINDING = re.compile(r"[A-Za-z0-9_-]{43}")
"""A browser binding as this flow makes them (``secrets.token_urlsafe(32)``): anything else is replaced."""


@dataclass(frozen=True, slots=True, repr=False)
class Authorization:
    """A started sign-in.

    Attributes:
        url: where to send the browser.
        state: the ``state`` value (the callback names the pending login by it).
        binding: the browser binding to set as a cookie for the callback (never log it).
        expires_at: when the pending login expires (Unix time).
    """

    url: str
    state: str
    binding: str
    expires_at: float

    def __repr__(self) -> str:
        return f"Authorization(expires_at={self.expires_at})"


def safe_return_to(value: object) -> str:
    """``value`` if it is a local absolute path (``/…``, not ``//…`` nor with a backslash or control character),
    else ``/``: the callback never redirects off the site (an open redirect, RFC 9700 §4.11)."""
    if (
        isinstance(value, str)
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and len(value) <= 2048
        and all(" " < c < "\x7f" for c in value)
    ):
        return value
    return "/"


def _params(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise HookError("oauth_authorize.pre: 'params' must map strings to strings")
    taken = PROTOCOL_PARAMS & set(value)
    if taken:
        raise HookError(f"oauth_authorize.pre: 'params' may not set {', '.join(sorted(taken))}")
    return dict(value)


def _scopes(value: object) -> tuple[str, ...]:
    items = (
        tuple(value.split())
        if isinstance(value, str)
        else tuple(value)
        if isinstance(value, (list, tuple, set, frozenset))
        else None
    )
    if items is None or not all(isinstance(s, str) and s and " " not in s for s in items):
        raise HookError("oauth_authorize.pre: 'scopes' must be strings without spaces")
    return items if "openid" in items else ("openid", *items)


@flow(Flow.OAUTH_AUTHORIZE)
def oauth_authorize(
    deps: FlowDeps,
    oauth: OAuthService,
    provider: str,
    redirect_uri: str,
    return_to: str = "/",
    binding: str | None = None,
) -> FlowGen[Authorization]:
    """Start a sign-in with ``provider``; see the module docstring.

    Args:
        deps: the flows' dependencies.
        oauth: the providers.
        provider: the provider's name.
        redirect_uri: the callback URL derived from the request (the provider's configured one wins).
        return_to: where to land after the login (anything but a local path becomes ``/``).
        binding: the browser binding the browser already holds (its cookie), reused when well-formed so that two
            sign-ins started in two tabs of one browser both stay bound to it; otherwise a new one is made.

    Raises:
        ExternalLoginFailed: (``provider_unknown``) no such provider.
        ProviderUnavailable: discovery failed.
        Deny: a hook denied.
    """
    client = oauth.client(provider)
    config = client.provider
    values: dict[str, Any] = {
        "provider": provider,
        "scopes": list(config.scopes),
        "params": dict(config.params),
        "return_to": safe_return_to(return_to),
    }
    yield RunHooks(_PRE, values)
    scopes, params = _scopes(values["scopes"]), _params(values["params"])
    metadata: ProviderMetadata = yield Call(client.metadata_sync, client.metadata)
    now = deps.now()
    if binding is None or not _BINDING.fullmatch(binding):
        binding = secrets.token_urlsafe(32)
    pending = PendingLogin.new(
        provider, config.redirect_uri or redirect_uri, safe_return_to(values["return_to"]), now, binding
    )
    state = secrets.token_urlsafe(32)
    ttl = deps.settings.oauth_pending_ttl_seconds
    yield StoreCall("set", (state_key(state), pending.to_bytes(), float(ttl)))
    query = {
        **params,
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": pending.redirect_uri,
        "scope": " ".join(scopes),
        "state": state,
        "nonce": pending.nonce,
        "code_challenge": pkce_challenge(pending.verifier),
        "code_challenge_method": "S256",
    }
    endpoint = metadata.authorization_endpoint
    url = endpoint + ("&" if "?" in endpoint else "?") + urlencode(query)
    expires_at = now + ttl
    yield RunHooks(_POST, {"provider": provider, "url": url, "expires_at": expires_at})
    return Authorization(url, state, binding, expires_at)
