"""Registered clients of the issuer's introspection and revocation endpoints, and their authentication.

HTTP-agnostic: the drivers hand over the ``Authorization`` header values and the body parameters; this module
parses the client's credentials, checks them against the registry and answers with the :class:`Client` or a
rejection.

Client authentication (RFC 6749 §2.3.1, the only kinds accepted by RFC 7662 §2.1 and RFC 7009 §2.1 here):

- ``client_secret_basic``: ``Authorization: Basic base64(id ":" secret)`` where the id and the secret are each
  **form-urlencoded first** (RFC 6749 Appendix B): a ``:`` or ``%`` in a secret is sent as ``%3A`` / ``%25``
  and a space as ``+``, so both halves are decoded with :func:`urllib.parse.unquote_plus` after splitting on
  the first ``:`` (RFC 7617 §2). Many clients (Authlib's, ``requests``' ``HTTPBasicAuth``) skip that encoding,
  so when decoding changes the pair, the verbatim pair is tried too (:attr:`ClientCredentials.verbatim`); a
  secret made by ``authhooks client-secret`` (base64url) reads the same both ways.
- ``client_secret_post``: ``client_id`` and ``client_secret`` body parameters.

A request uses at most one method (RFC 6749 §2.3): Basic credentials together with ``client_secret`` in the
body, or a Bearer token together with client parameters, is 400 ``invalid_request``. A failed authentication
(unknown client, wrong secret, malformed Basic credentials, a ``client_id`` without a secret) is 401
``invalid_client`` (RFC 6749 §5.2, RFC 7662 §2.3), the same answer whatever the cause; a known client that
authenticated but may not use the endpoint is 400 ``unauthorized_client`` (RFC 6749 §5.2).

Secrets are stored hashed, as ``pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`` (PBKDF2-HMAC-SHA256,
RFC 8018 §5.2, in the layout of Django's ``PBKDF2PasswordHasher``); ``authhooks client-secret`` prints a new
random secret and its hash (:func:`new_client_secret`). A hash with fewer than :data:`MIN_ITERATIONS` is
refused. Digests are compared in constant time (:func:`hmac.compare_digest`); an unknown client id costs the
same PBKDF2 work as a known one, so timing does not tell which ids exist. A secret that verified once is
remembered per client as an HMAC-SHA256 under a random per-process key, so a resource server calling the
introspection endpoint on every request pays the PBKDF2 work once, not every time.

Failed authentications cannot be turned into a cheap denial of service (:mod:`authhooks.clients.guard`): the
PBKDF2 work runs on one thread of the registry's own with at most four more derivations waiting, anything beyond
is 429 ``client_auth_busy`` with ``Retry-After: 1`` at once (:class:`ClientAuthBusy`), and a (client id, secret)
pair that failed recently is refused again without a derivation.

Clients come from ``AUTHHOOKS_CLIENTS_FILE`` (TOML or JSON, see :func:`load_clients_file`) and
``AUTHHOOKS_CLIENTS`` (``client_id:hash`` entries, every use allowed): :func:`clients_from_settings`.
"""

from __future__ import annotations

from authhooks.clients.guard import ClientAuthBusy
from authhooks.clients.hashes import (
    DEFAULT_ITERATIONS,
    HASH_SCHEME,
    MIN_ITERATIONS,
    hash_client_secret,
    new_client_secret,
)
from authhooks.clients.loading import clients_from_settings, load_clients_file
from authhooks.clients.registry import (
    CLIENT_USES,
    Client,
    ClientCredentials,
    ClientRegistry,
    InvalidClient,
    UnauthorizedClient,
    client_credentials,
    is_basic,
)

__all__ = [
    "CLIENT_USES",
    "DEFAULT_ITERATIONS",
    "HASH_SCHEME",
    "MIN_ITERATIONS",
    "Client",
    "ClientAuthBusy",
    "ClientCredentials",
    "ClientRegistry",
    "InvalidClient",
    "UnauthorizedClient",
    "client_credentials",
    "clients_from_settings",
    "hash_client_secret",
    "is_basic",
    "load_clients_file",
    "new_client_secret",
]
