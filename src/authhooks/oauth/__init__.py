"""Sign-in with external OpenID providers (authorization code + PKCE S256, OpenID Connect Core 1.0).

The flows live in :mod:`authhooks.flows` (``oauth_authorize``, ``oauth_callback``, ``oauth_exchange``,
``oauth_refresh``); this package holds what they use: the provider configuration, the network client (discovery,
keys, token endpoint), ID token validation, the records and the encryption of kept provider tokens.
"""

from __future__ import annotations

from authhooks.oauth.errors import ExternalLoginFailed, ProviderUnavailable
from authhooks.oauth.providers import OAuthProvider, load_providers
from authhooks.oauth.records import ExternalIdentity, PendingLogin, ProviderTokens
from authhooks.oauth.service import OAuthService

__all__ = [
    "ExternalIdentity",
    "ExternalLoginFailed",
    "OAuthProvider",
    "OAuthService",
    "PendingLogin",
    "ProviderTokens",
    "ProviderUnavailable",
    "load_providers",
]
