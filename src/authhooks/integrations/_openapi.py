"""The OpenAPI side of :func:`authhooks.integrations.fastapi.install`: the built-in auth routes (with the
well-known metadata documents when an issuer is configured), the OAuth2 password security scheme, HTTP Basic client
authentication at introspection and revocation when clients are registered, and the 401/403 answers of protected
operations, added to the document FastAPI generates. The models are in :mod:`._openapi_models`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from authhooks.integrations._openapi_models import (
    _MODELS,
    AuthHooksChallenge,
    AuthHooksChallengeLogin,
    AuthHooksChallengeRequest,
    AuthHooksClientTokenRequest,
    AuthHooksError,
    AuthHooksIntrospection,
    AuthHooksJWKS,
    AuthHooksLogoutRequest,
    AuthHooksPasswordGrant,
    AuthHooksProblem,
    AuthHooksRefreshRequest,
    AuthHooksServerMetadata,
    AuthHooksTokenRequest,
    AuthHooksTokenResponse,
)
from authhooks.metadata import IssuerMetadata
from authhooks.middleware.paths import PathRules, ScopeRules

__all__ = ["AuthDocs", "CLIENT_SCHEME", "OAUTH2_SCHEME"]

OAUTH2_SCHEME = "OAuth2Password"
"""The name of the OAuth2 password security scheme in ``components.securitySchemes``."""
CLIENT_SCHEME = "AuthHooksClientBasic"
"""The name of the HTTP Basic scheme of registered clients (``client_secret_basic``, RFC 6749 §2.3.1)."""

_PREFIX = "AuthHooks"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _body(*models: type[BaseModel], required: bool = True) -> dict[str, Any]:
    schema = _ref(models[0]) if len(models) == 1 else {"oneOf": [_ref(m) for m in models]}
    media = {"schema": schema}
    return {
        "required": required,
        "content": {"application/x-www-form-urlencoded": media, "application/json": media},
    }


def _json(description: str, model: type[BaseModel] | None = None) -> dict[str, Any]:
    if model is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


@dataclass(frozen=True)
class AuthDocs:
    """What :func:`~authhooks.integrations.fastapi.install` documents.

    Args:
        protect / public_paths: the middleware's path patterns (which operations answer 401).
        required_scopes: the middleware's per-route scopes (which operations answer 403, and with which scopes).
        routes_prefix: the prefix of the built-in routes, or ``None`` when they are not served.
        root_path: the app's ``root_path`` (the token URL is absolute from the site root).
        problem_json: errors are RFC 9457 documents.
        introspect_scope: the scope a Bearer caller of the introspection route needs (``""``: any valid token).
        metadata: the issuer metadata the middleware serves (:meth:`IssuerMetadata.from_settings`; ``None``: no
            well-known document is served): its well-known paths are documented.
        clients: registered clients authenticate at introspection and revocation (``AUTHHOOKS_CLIENTS[_FILE]``):
            the HTTP Basic scheme :data:`CLIENT_SCHEME` (and ``client_secret_post``'s body fields) are documented.
    """

    protect: Sequence[str]
    public_paths: Sequence[str]
    required_scopes: Mapping[str, Sequence[str] | str]
    routes_prefix: str | None
    root_path: str = ""
    problem_json: bool = False
    introspect_scope: str = "introspect"
    metadata: IssuerMetadata | None = None
    clients: bool = False

    @property
    def token_url(self) -> str:
        """The password grant's token URL: the login route."""
        return f"{self.root_path}{self.routes_prefix or ''}/login"

    def apply(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Add the routes, the security scheme and the 401/403 answers to ``schema`` (in place; returned)."""
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        _, top = models_json_schema([(m, "validation") for m in _MODELS], ref_template="#/components/schemas/{model}")
        schemas.update(top.get("$defs", {}))
        error = AuthHooksProblem if self.problem_json else AuthHooksError
        scopes = self._protect_operations(schema, error)
        if self.routes_prefix is not None and self.introspect_scope:
            scopes.add(self.introspect_scope)
        flow: dict[str, Any] = {"tokenUrl": self.token_url, "scopes": {s: f"the `{s}` scope" for s in sorted(scopes)}}
        if self.routes_prefix is not None:
            flow["refreshUrl"] = f"{self.root_path}{self.routes_prefix}/refresh"
        components.setdefault("securitySchemes", {})[OAUTH2_SCHEME] = {
            "type": "oauth2",
            "description": "The OAuth2 password grant at the login route, checked by `login.provide` hooks.",
            "flows": {"password": flow},
        }
        if self.routes_prefix is not None and self.clients:
            components["securitySchemes"][CLIENT_SCHEME] = {
                "type": "http",
                "scheme": "basic",
                "description": "A registered client at introspection and revocation: `client_secret_basic`, the id "
                "and secret form-urlencoded before the Basic encoding (RFC 6749 §2.3.1); `client_secret_post` sends "
                "`client_id` and `client_secret` in the body instead. A failed authentication is 401 "
                "`invalid_client` (RFC 6749 §5.2).",
            }
        if self.routes_prefix is not None:
            paths = schema.setdefault("paths", {})
            paths.update(self._route_paths(self.routes_prefix, error))
            if self.metadata is not None:
                paths.update(self._metadata_paths(self.metadata))
        return schema

    def _protect_operations(self, schema: dict[str, Any], error: type[BaseModel]) -> set[str]:
        """Mark every operation that can answer 401/403; returns every scope named anywhere."""
        paths = PathRules(self.protect, self.public_paths)
        scope_rules = ScopeRules(self.required_scopes)
        named: set[str] = set()
        for path, item in schema.get("paths", {}).items():
            protected = paths.is_protected(path)
            required = list(scope_rules.required(path))
            for method in _METHODS:
                op = item.get(method)
                if not isinstance(op, dict):
                    continue
                security: list[dict[str, list[str]]] = list(op.get("security", []))
                declared = sorted({s for requirement in security for scopes in requirement.values() for s in scopes})
                if not (protected or security):
                    continue
                wanted = sorted({*required, *declared})
                named.update(wanted)
                if not any(OAUTH2_SCHEME in requirement for requirement in security):
                    security.append({OAUTH2_SCHEME: wanted})
                op["security"] = security
                responses = op.setdefault("responses", {})
                responses.setdefault(
                    "401",
                    {
                        **_json("No access token, or an invalid or expired one (RFC 6750 §3.1).", error),
                        "headers": {
                            "WWW-Authenticate": {
                                "description": 'The Bearer challenge: `Bearer realm="…"`, with `error` when one '
                                "was sent.",
                                "schema": {"type": "string"},
                            }
                        },
                    },
                )
                if wanted:
                    responses.setdefault(
                        "403", _json("The access token lacks a required scope (`insufficient_scope`).", error)
                    )
        return named

    def _route_paths(self, prefix: str, error: type[BaseModel]) -> dict[str, Any]:
        tags = ["auth"]
        bad = _json("A malformed request (`invalid_request`, naming the parameter).", error)
        too_large = _json("The body is larger than `AUTHHOOKS_MAX_BODY_BYTES`.", error)
        unsupported = _json("The body is neither JSON nor a form.", error)
        common = {"400": bad, "413": too_large, "415": unsupported}
        bearer_401 = _json("No access token, or an invalid one.", error)
        token_request: type[BaseModel] = AuthHooksTokenRequest
        client: list[dict[str, list[str]]] = []
        client_answers: dict[str, Any] = {}
        if self.clients:
            token_request = AuthHooksClientTokenRequest
            client = [{CLIENT_SCHEME: []}]
            client_answers = {
                "401": {
                    **_json("`invalid_client`: an unknown client or a wrong secret (RFC 6749 §5.2).", error),
                    "headers": {"WWW-Authenticate": {"description": '`Basic realm="…"`', "schema": {"type": "string"}}},
                },
                "400": _json(
                    "`unauthorized_client` (the client may not use this endpoint), or `invalid_request` (a "
                    "malformed body, or two client authentication methods).",
                    error,
                ),
            }
        return {
            f"{prefix}/challenge": {
                "post": {
                    "tags": tags,
                    "summary": "Issue a challenge to sign",
                    "operationId": "authhooks_challenge",
                    "requestBody": _body(AuthHooksChallengeRequest),
                    "responses": {"200": _json("The challenge.", AuthHooksChallenge), **common},
                }
            },
            f"{prefix}/login": {
                "post": {
                    "tags": tags,
                    "summary": "Log in: the OAuth2 password grant, or a signed challenge",
                    "description": "The password grant goes to the `login.provide` hooks as "
                    '`auth.login(username, {"password": password}, scheme="password")`; a signed challenge to '
                    "the built-in challenge-response provider. A failed login is 400 `invalid_grant` "
                    "(RFC 6749 §5.2).",
                    "operationId": "authhooks_login",
                    "requestBody": _body(AuthHooksPasswordGrant, AuthHooksChallengeLogin),
                    "responses": {
                        "200": _json("The token pair (RFC 6749 §5.1).", AuthHooksTokenResponse),
                        **common,
                        "400": _json(
                            "`invalid_grant` (the credentials did not prove the identity), "
                            "`unsupported_grant_type` or `invalid_request`.",
                            error,
                        ),
                    },
                }
            },
            f"{prefix}/refresh": {
                "post": {
                    "tags": tags,
                    "summary": "Rotate a refresh token into a new pair",
                    "operationId": "authhooks_refresh",
                    "requestBody": _body(AuthHooksRefreshRequest),
                    "responses": {
                        "200": _json("The new token pair.", AuthHooksTokenResponse),
                        **common,
                        "400": _json("`invalid_grant`: unknown, expired, revoked or reused.", error),
                    },
                }
            },
            f"{prefix}/logout": {
                "post": {
                    "tags": tags,
                    "summary": "End the whole login of the presented access token",
                    "operationId": "authhooks_logout",
                    "security": [{OAUTH2_SCHEME: []}],
                    "requestBody": _body(AuthHooksLogoutRequest, required=False),
                    "responses": {"204": {"description": "Logged out."}, **common, "401": bearer_401},
                }
            },
            f"{prefix}/revoke": {
                "post": {
                    "tags": tags,
                    "summary": "Revoke a token (RFC 7009)",
                    "operationId": "authhooks_revoke",
                    **({"security": [{}, *client]} if client else {}),  # anonymous, or a client that must succeed
                    "requestBody": _body(token_request),
                    "responses": {
                        "200": {"description": "Revoked, or was never valid (RFC 7009 §2.2)."},
                        **common,
                        **client_answers,
                    },
                }
            },
            f"{prefix}/introspect": {
                "post": {
                    "tags": tags,
                    "summary": "Introspect a token (RFC 7662)",
                    "operationId": "authhooks_introspect",
                    "security": [
                        {OAUTH2_SCHEME: [self.introspect_scope] if self.introspect_scope else []},
                        *client,
                    ],
                    "requestBody": _body(token_request),
                    "responses": {
                        "200": _json("The introspection answer.", AuthHooksIntrospection),
                        **common,
                        **client_answers,
                        "401": _json(
                            "No access token and no client credentials (`invalid_token` for a bad token, "
                            "`invalid_client` for a failed client authentication, RFC 6749 §5.2).",
                            error,
                        )
                        if client
                        else bearer_401,
                        "403": _json("The caller lacks the introspection scope.", error),
                    },
                }
            },
            f"{prefix}/jwks.json": {
                "get": {
                    "tags": tags,
                    "summary": "The public JWK Set (RFC 7517 §5)",
                    "operationId": "authhooks_jwks",
                    "responses": {"200": _json("The key set.", AuthHooksJWKS)},
                }
            },
        }

    def _metadata_paths(self, metadata: IssuerMetadata) -> dict[str, Any]:
        """The well-known metadata documents, at the host root (RFC 8414 §3, OIDC Discovery §4)."""
        summaries = {
            "oauth": ("Authorization server metadata (RFC 8414 §3)", "authhooks_oauth_metadata"),
            "openid": ("OpenID Provider configuration (OIDC Discovery §4)", "authhooks_openid_configuration"),
        }
        documented: dict[str, Any] = {}
        for path, kind in metadata.paths.items():
            summary, operation = summaries[kind]
            documented[path] = {
                "get": {
                    "tags": ["auth"],
                    "summary": summary,
                    "operationId": operation,
                    "responses": {"200": _json("The metadata document.", AuthHooksServerMetadata)},
                }
            }
        return documented
