"""The models of the OpenAPI document :func:`authhooks.integrations.fastapi.install` extends
(:mod:`authhooks.integrations._openapi`): the bodies and answers of the built-in auth routes.

They document the routes; they validate nothing (the middleware serves the routes and parses their bodies itself,
:mod:`authhooks.middleware.routes`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class AuthHooksChallengeRequest(BaseModel):
    subject: str = Field(description="Who will sign: a key identity (base64url Ed25519 key, `did:key:…`).")
    scheme: str | None = Field(None, description="The signature scheme the subject must be a key of.")


class AuthHooksChallenge(BaseModel):
    subject: str
    nonce: str
    message: str = Field(description="The exact text to sign.")
    issued_at: str
    expires_at: str
    expires_in: int


class AuthHooksPasswordGrant(BaseModel):
    """RFC 6749 §4.3.2: what Swagger UI's "Authorize" sends. The password is checked by `login.provide` hooks."""

    grant_type: Literal["password"]
    username: str
    password: str
    scope: str | None = Field(None, description="Read, not a filter: the response's `scope` is what was granted.")
    scheme: str | None = Field(None, description="The login scheme the providers see (default `password`).")


class AuthHooksChallengeLogin(BaseModel):
    """A signed challenge (from the challenge route)."""

    subject: str
    challenge: str = Field(description="The challenge's `nonce`, or its exact `message`.")
    signature: str = Field(description="The signature of the challenge message (base64/base64url).")
    scheme: str | None = Field(None, description="The signature scheme (default `ed25519`).")


class AuthHooksTokenResponse(BaseModel):
    """RFC 6749 §5.1."""

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    refresh_token: str
    scope: str | None = Field(None, description="The granted scopes, space-separated; absent when none.")


class AuthHooksRefreshRequest(BaseModel):
    refresh_token: str
    grant_type: Literal["refresh_token"] | None = None


class AuthHooksLogoutRequest(BaseModel):
    refresh_token: str | None = Field(None, description="Optional: the login's refresh token (ended anyway).")


class AuthHooksTokenRequest(BaseModel):
    token: str
    token_type_hint: str | None = None


class AuthHooksClientTokenRequest(BaseModel):
    """The token, and a registered client's credentials when it authenticates with `client_secret_post` (RFC 6749
    §2.3.1; with `client_secret_basic` they go in the `Authorization: Basic` header instead, never both)."""

    token: str
    token_type_hint: str | None = None
    client_id: str | None = None
    client_secret: str | None = None


class AuthHooksIntrospection(BaseModel):
    """RFC 7662 §2.2: the token's claims when active, else only `{"active": false}`."""

    model_config = ConfigDict(extra="allow")

    active: bool
    sub: str | None = None
    scope: str | None = None
    exp: int | None = None


class AuthHooksJWKS(BaseModel):
    keys: list[dict[str, Any]]


class AuthHooksServerMetadata(BaseModel):
    """RFC 8414 §2 authorization server metadata (OIDC Discovery §3 adds `subject_types_supported`)."""

    model_config = ConfigDict(extra="allow")

    issuer: str
    jwks_uri: str
    token_endpoint: str
    revocation_endpoint: str
    introspection_endpoint: str
    grant_types_supported: list[str]
    response_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    revocation_endpoint_auth_methods_supported: list[str]
    introspection_endpoint_auth_methods_supported: list[str]
    id_token_signing_alg_values_supported: list[str] | None = None
    subject_types_supported: list[str] | None = None


class AuthHooksError(BaseModel):
    """RFC 6749 §5.2 / RFC 6750 §3 error body (`AUTHHOOKS_ERROR_FORMAT=bearer`)."""

    error: str = Field(description="`invalid_request`, `invalid_grant`, `invalid_token`, `insufficient_scope`…")
    error_description: str


class AuthHooksProblem(BaseModel):
    """RFC 9457 problem document (`AUTHHOOKS_ERROR_FORMAT=problem+json`)."""

    type: str
    title: str
    status: int
    detail: str
    error: str | None = None
    reason: str | None = None


_MODELS: tuple[type[BaseModel], ...] = (
    AuthHooksChallengeRequest,
    AuthHooksChallenge,
    AuthHooksPasswordGrant,
    AuthHooksChallengeLogin,
    AuthHooksTokenResponse,
    AuthHooksRefreshRequest,
    AuthHooksLogoutRequest,
    AuthHooksTokenRequest,
    AuthHooksClientTokenRequest,
    AuthHooksIntrospection,
    AuthHooksJWKS,
    AuthHooksServerMetadata,
    AuthHooksError,
    AuthHooksProblem,
)
