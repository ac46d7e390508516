"""An OpenID provider in an ``httpx.MockTransport`` for the flow tests: discovery, a JWKS with a real RSA key, an
authorization step done by hand (:meth:`FakeProvider.consent`) and a token endpoint that checks the client's
authentication, the redirect URI, PKCE S256 and one use of each code, as a real provider does. Knobs let a test
make it misbehave (another audience, a wrong nonce, a bad ``at_hash``, down)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from authhooks.tokens.keys import Key

ISSUER = "https://idp.test"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class FakeProvider:
    client_id: str = "shop"
    client_secret: str | None = "s3cret"
    subject: str = "user-42"
    key: Key = field(default_factory=lambda: Key.generate("RS256", kid="k1"))
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    down: bool = False
    audience: str | None = None
    nonce: str | None = None
    at_hash: str | None = None
    token_requests: list[dict[str, str]] = field(default_factory=list)
    iss_in_response: bool = True

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def id_token(self, claims: dict[str, Any]) -> str:
        header = b64u(json.dumps({"alg": "RS256", "kid": self.key.kid, "typ": "JWT"}).encode())
        payload = b64u(json.dumps(claims).encode())
        signing_input = f"{header}.{payload}".encode()
        return f"{header}.{payload}.{b64u(self.key.sign(signing_input, 'RS256'))}"

    def consent(self, url: str, subject: str | None = None) -> dict[str, str]:
        """The user signs in at the authorization URL: return the callback's query parameters."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
        assert query["client_id"] == self.client_id
        code = secrets.token_urlsafe(16)
        self.codes[code] = {**query, "sub": subject or self.subject}
        return {"code": code, "state": query["state"], "iss": ISSUER}

    def _client_ok(self, request: httpx.Request, form: dict[str, str]) -> bool:
        if self.client_secret is None:
            return form.get("client_id") == self.client_id
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            pair = base64.b64decode(header[6:]).decode()
            return pair == f"{self.client_id}:{self.client_secret}"
        return form.get("client_id") == self.client_id and form.get("client_secret") == self.client_secret

    def _tokens(self, sub: str, nonce: str | None) -> dict[str, Any]:
        access = secrets.token_urlsafe(24)
        refresh = secrets.token_urlsafe(24)
        self.refresh_tokens.add(refresh)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": sub,
            "aud": self.audience or self.client_id,
            "iat": now,
            "exp": now + 300,
            "email": f"{sub}@example.com",
            "at_hash": self.at_hash or b64u(hashlib.sha256(access.encode()).digest()[:16]),
        }
        if nonce is not None:
            claims["nonce"] = self.nonce or nonce
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 300,
            "refresh_token": refresh,
            "id_token": self.id_token(claims),
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/jwks",
                    "authorization_response_iss_parameter_supported": self.iss_in_response,
                },
            )
        if path == "/jwks":
            return httpx.Response(200, json={"keys": [dict(self.key.public_jwk or {})]})
        if path == "/token" and request.method == "POST":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            self.token_requests.append(form)
            if not self._client_ok(request, form):
                return httpx.Response(401, json={"error": "invalid_client"})
            if form.get("grant_type") == "refresh_token":
                token = form.get("refresh_token", "")
                if token not in self.refresh_tokens:
                    return httpx.Response(400, json={"error": "invalid_grant"})
                self.refresh_tokens.discard(token)
                return httpx.Response(200, json=self._tokens(self.subject, None))
            grant = self.codes.pop(form.get("code", ""), None)
            if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
                return httpx.Response(400, json={"error": "invalid_grant"})
            challenge = b64u(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
            if challenge != grant["code_challenge"]:
                return httpx.Response(400, json={"error": "invalid_grant"})
            return httpx.Response(200, json=self._tokens(grant["sub"], grant["nonce"]))
        return httpx.Response(404)
