"""The rejections of a sign-in with an external provider (branches of the one tree in :mod:`authhooks.errors`)::

    AuthError
    └── ExternalLoginFailed             400: a sign-in with an OpenID provider did not complete
        └── ProviderUnavailable         502: the provider could not be reached or answered garbage

Their ``reason`` is low-cardinality and their description generic: the callback page may show both.
"""

from __future__ import annotations

from authhooks.errors import AuthError

__all__ = ["ExternalLoginFailed", "ProviderUnavailable"]


class ExternalLoginFailed(AuthError):
    """A sign-in with an OpenID provider failed (OIDC Core §3.1.2.6, §3.1.3.7; RFC 6749 §4.1.2.1, §5.2).

    Reasons: ``state_unknown`` (absent, expired, replayed or forged ``state``), ``provider_error`` (the provider
    redirected with ``error``), ``code_missing``, ``issuer_mismatch`` (RFC 9207 ``iss``), ``exchange_refused``
    (the token endpoint refused the code: replayed, expired, or a PKCE mismatch), ``id_token_missing``,
    ``id_token_invalid`` (signature, algorithm), ``wrong_issuer``, ``wrong_audience``, ``nonce_mismatch``,
    ``at_hash_mismatch``, ``id_token_expired``, ``tokens_unknown``, ``refresh_refused``.
    """

    error = "access_denied"
    status = 400
    default_reason = "external_login_failed"
    default_description = "The sign-in with the identity provider did not complete."


class ProviderUnavailable(ExternalLoginFailed):
    """The provider (discovery, token endpoint or key set) could not be reached in time or answered something
    that is not a valid document; a 502, never a 500."""

    error = "temporarily_unavailable"
    status = 502
    default_reason = "provider_unavailable"
    default_description = "The identity provider cannot be reached; try again later."
