"""A real OpenID Provider for the end-to-end tests: npm's certified ``oidc-provider`` under Node.js on 127.0.0.1.

``tests/e2e/oidc/server.js`` (installed by ``scripts/check`` with ``npm ci``) is started on a free port with a JWK
Set this module writes, so a test chooses every key, ``kid`` and JWK ``alg``. What a test can do:

- :meth:`OidcProvider.access_token` — a JWT access token (RFC 9068, ``typ: at+jwt``) from the client_credentials
  grant (RFC 6749 §4.4) with ``client_secret_basic``; the resource indicator (RFC 8707)
  ``urn:authhooks:alg:<ALG>[:kid:<KID>][:typ:<TYP>]`` picks the signing algorithm and, optionally, the key and
  the header ``typ``;
- :meth:`OidcProvider.login` — the authorization code grant with PKCE (RFC 7636, S256) through the provider's own
  interactive login and consent pages (``devInteractions``: any login name and password), driven by httpx as a
  browser would; returns the token response (``id_token``, ``access_token``). :meth:`OidcProvider.authorization_url`
  is the first step alone, for a real browser;
- :meth:`OidcProvider.rotate` — replace the provider's keys at once (the test-only ``PUT /__admin/jwks``);
- :meth:`OidcProvider.stop` / :meth:`OidcProvider.start` — the IdP down and back, on the same port and keys.

:func:`require_node` skips a test when Node.js or the installed package is missing, except under ``CI=true``,
where that is a failure.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from ._servers import ROOT, free_port, stop_process, wait_until_answering

OIDC_DIR = ROOT / "tests" / "e2e" / "oidc"
SERVER = OIDC_DIR / "server.js"
CLIENT_ID = "authhooks-test"
CLIENT_SECRET = "authhooks-test-client-secret-for-loopback-tests-only"
AUDIENCE = "urn:authhooks:test-api"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def require_node() -> str:
    """The path of ``node``, with ``oidc-provider`` installed in ``tests/e2e/oidc/node_modules``.

    Skips the calling test when either is missing, unless ``CI=true``: there a missing provider fails the test
    (``.ci/run`` installs it through ``scripts/check``).
    """
    node = shutil.which("node")
    installed = (OIDC_DIR / "node_modules" / "oidc-provider" / "package.json").is_file()
    if node is not None and installed:
        return node
    reason = "node is not on PATH" if node is None else "oidc-provider is not installed (run scripts/check)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; under CI the real OpenID provider test must run")
    pytest.skip(reason)


@dataclass(frozen=True)
class SigningKey:
    """A private signing key of the provider, as the JWKS file names it.

    Attributes:
        kid: the JWK ``kid``.
        key: the private key (``cryptography``).
        alg: the JWK ``alg`` member, or ``None`` to leave it out (the provider then signs with any algorithm of
            the key type, and a relying party must infer the family).
    """

    kid: str
    key: PrivateKey
    alg: str | None = None

    def private_jwk(self) -> dict[str, Any]:
        if isinstance(self.key, rsa.RSAPrivateKey):
            jwk = RSAAlgorithm.to_jwk(self.key, as_dict=True)
        elif isinstance(self.key, ec.EllipticCurvePrivateKey):
            jwk = ECAlgorithm.to_jwk(self.key, as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(self.key, as_dict=True)
        jwk = {k: v for k, v in jwk.items() if k not in ("alg", "key_ops")}
        jwk["kid"] = self.kid
        jwk["use"] = "sig"
        if self.alg is not None:
            jwk["alg"] = self.alg
        return jwk

    def sign(self, payload: Mapping[str, Any], header: Mapping[str, Any], alg: str) -> str:
        """A JWS (compact) of ``payload`` under this key: what an attacker holding the provider's key could make."""
        pyjwt_alg = "EdDSA" if alg == "Ed25519" else alg
        token = jwt.encode(dict(payload), self.key, algorithm=pyjwt_alg, headers={**header, "kid": self.kid})
        if alg == "Ed25519":  # PyJWT only writes EdDSA: re-sign the same input with the RFC 9864 name
            return _resign(token, {**header, "alg": "Ed25519", "kid": self.kid}, self)
        return token


def generate_key(kind: str, kid: str | None = None, alg: str | None = None) -> SigningKey:
    """A fresh key: ``kind`` is ``rsa`` (2048 bits), ``ec`` (P-256) or ``ed25519``."""
    key: PrivateKey
    if kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif kind == "ec":
        key = ec.generate_private_key(ec.SECP256R1())
    elif kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ValueError(kind)
    return SigningKey(kid or f"{kind}-{secrets.token_hex(4)}", key, alg)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _resign(token: str, header: Mapping[str, Any], key: SigningKey) -> str:
    payload = token.split(".")[1]
    head = b64url(json.dumps(dict(header), separators=(",", ":")).encode())
    data = f"{head}.{payload}".encode()
    assert isinstance(key.key, ed25519.Ed25519PrivateKey)
    return f"{head}.{payload}.{b64url(key.key.sign(data))}"


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWS, unverified (to forge variants of a real token)."""
    head, payload, _ = token.split(".")
    return json.loads(base64.urlsafe_b64decode(head + "==")), json.loads(base64.urlsafe_b64decode(payload + "=="))


@dataclass
class OidcProvider:
    """One ``node server.js`` process on 127.0.0.1; see the module docstring.

    Args:
        directory: where the JWKS file and the server's log are written.
        keys: the provider's signing keys; the first usable one for an algorithm signs unless a ``kid`` is named.
        issuer: the issuer identifier (default ``http://127.0.0.1:<port>``).
        redirect_uri: the client's registered redirect URI (default ``http://127.0.0.1:<free port>/callback``).
        extra_clients: more clients' metadata (RFC 7591 §2 names), e.g. a public one: ``{"client_id": "spa",
            "token_endpoint_auth_method": "none", "response_types": ["code"], "grant_types":
            ["authorization_code"]}``; ``redirect_uris`` defaults to ``[redirect_uri]``.
    """

    directory: Path
    keys: list[SigningKey]
    issuer: str | None = None
    redirect_uri: str | None = None
    extra_clients: list[dict[str, Any]] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = self.issuer or self.url
        self.redirect_uri = self.redirect_uri or f"http://127.0.0.1:{free_port()}/callback"
        self.jwks_file = self.directory / f"oidc-jwks-{self.port}.json"
        self.log_file = self.directory / f"oidc-{self.port}.log"

    # -- process ------------------------------------------------------------------------------------------------

    def start(self, timeout: float = 20.0) -> OidcProvider:
        """Start the server (if it is not running) and return once its discovery document answers."""
        node = require_node()
        if self.proc is not None and self.proc.poll() is None:
            return self
        self._write_keys(self.keys)
        env = {
            **os.environ,
            "OIDC_JWKS_FILE": str(self.jwks_file),
            "OIDC_ISSUER": str(self.issuer),
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_REDIRECT_URI": str(self.redirect_uri),
            "OIDC_AUDIENCE": AUDIENCE,
            "OIDC_ADMIN_TOKEN": self.admin_token,
            "OIDC_EXTRA_CLIENTS": json.dumps([{"redirect_uris": [self.redirect_uri], **c} for c in self.extra_clients]),
        }
        with self.log_file.open("ab") as log:
            self.proc = subprocess.Popen(
                [node, str(SERVER), str(self.port)], cwd=OIDC_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        if wait_until_answering(self.proc, self.discovery_url, timeout, status=200):
            return self
        if self.proc.poll() is not None:
            raise RuntimeError(f"oidc-provider exited ({self.proc.returncode}): {self.log()[-2000:]}")
        self.stop()
        raise RuntimeError(f"oidc-provider did not answer in {timeout}s: {self.log()[-2000:]}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL): the IdP is down, its port closed."""
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process(proc)

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    # -- keys ---------------------------------------------------------------------------------------------------

    def _write_keys(self, keys: Iterable[SigningKey]) -> None:
        self.jwks_file.write_text(json.dumps({"keys": [k.private_jwk() for k in keys]}))
        self.jwks_file.chmod(0o600)

    def rotate(self, keys: Iterable[SigningKey]) -> None:
        """Replace the provider's keys at once; its JWKS endpoint serves the new set when this returns."""
        self.keys = list(keys)
        self._write_keys(self.keys)
        response = httpx.put(
            f"{self.url}/__admin/jwks",
            content=self.jwks_file.read_bytes(),
            headers={"Authorization": f"Bearer {self.admin_token}", "Content-Type": "application/json"},
        )
        if response.status_code != 204:
            raise RuntimeError(f"key rotation refused: {response.status_code} {response.text}")

    def key(self, kid: str) -> SigningKey:
        return next(k for k in self.keys if k.kid == kid)

    def public_jwks(self) -> dict[str, Any]:
        """The JWK Set the provider serves (its ``jwks_uri``)."""
        document = httpx.get(self.discovery_url).json()
        jwks: dict[str, Any] = httpx.get(document["jwks_uri"]).json()
        return jwks

    # -- tokens -------------------------------------------------------------------------------------------------

    def access_token(self, alg: str, kid: str | None = None, scope: str = "read", typ: str | None = None) -> str:
        """A JWT access token from the client_credentials grant, signed with ``alg`` (by key ``kid`` if named).

        ``typ`` replaces the header's ``at+jwt`` (``"none"``: no ``typ``), as Auth0, Keycloak and others type theirs.
        """
        resource = f"urn:authhooks:alg:{alg}" + (f":kid:{kid}" if kid is not None else "")
        resource += f":typ:{typ}" if typ is not None else ""
        response = httpx.post(
            f"{self.url}/token",
            data={"grant_type": "client_credentials", "resource": resource, "scope": scope},
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
        if response.status_code != 200:
            raise RuntimeError(f"token request failed: {response.status_code} {response.text}")
        token: str = response.json()["access_token"]
        return token

    def authorization_url(
        self,
        *,
        state: str,
        code_challenge: str,
        nonce: str,
        scope: str = "openid",
        resource: str | None = None,
        client_id: str = CLIENT_ID,
        redirect_uri: str | None = None,
    ) -> str:
        """Where a browser starts the authorization code grant (PKCE S256) of a registered client."""
        params = {
            "client_id": client_id,
            "response_type": "code",
            "scope": scope,
            "redirect_uri": redirect_uri or str(self.redirect_uri),
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        if resource is not None:
            params["resource"] = resource
        return f"{self.url}/auth?{urlencode(params)}"

    def login(
        self,
        username: str = "alice",
        *,
        resource: str | None = None,
        scope: str = "openid",
        client_id: str = CLIENT_ID,
        client_secret: str | None = CLIENT_SECRET,
    ) -> dict[str, Any]:
        """Sign in through the provider's own pages as a browser would, then redeem the code (with
        ``client_secret_basic``, or as a public client when ``client_secret`` is ``None``).

        Returns:
            the token response: ``id_token``, ``access_token`` (a JWT for ``resource`` when given), ...
        """
        verifier = b64url(secrets.token_bytes(32))
        challenge = b64url(hashlib.sha256(verifier.encode()).digest())
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        url = self.authorization_url(
            state=state, code_challenge=challenge, nonce=nonce, scope=scope, resource=resource, client_id=client_id
        )
        with httpx.Client(timeout=10.0) as browser:
            callback = self.browse_login(browser, url, username)
        query = parse_qs(urlsplit(callback).query)
        if query.get("state") != [state] or "code" not in query:
            raise RuntimeError(f"bad authorization response: {sorted(query)}")
        data = {
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": str(self.redirect_uri),
            "code_verifier": verifier,
        }
        if resource is not None:
            data["resource"] = resource
        if client_secret is None:
            data["client_id"] = client_id
            response = httpx.post(f"{self.url}/token", data=data)
        else:
            response = httpx.post(f"{self.url}/token", data=data, auth=(client_id, client_secret))
        if response.status_code != 200:
            raise RuntimeError(f"code redemption failed: {response.status_code} {response.text}")
        tokens: dict[str, Any] = response.json()
        tokens["nonce"] = nonce
        return tokens

    def browse_login(self, browser: httpx.Client, url: str, username: str = "alice") -> str:
        """Act as the user's browser from ``url`` (an authorization request to this provider, or a redirect to
        it): follow redirects, sign in as ``username`` on the login page (devInteractions takes any password),
        consent, and stop at the client's redirect URI without requesting it.

        Args:
            browser: keeps the provider's cookies (its session) across calls; redirects are followed here, so it
                must not follow them itself (httpx's default).

        Returns:
            the redirect URI with the authorization response (``code``, ``state``, ``iss``; RFC 6749 §4.1.2,
            RFC 9207), or with ``error`` when the provider refused.
        """
        page = self._until_page_or_callback(browser, browser.get(url))
        if isinstance(page, httpx.Response) and 'name="login"' in page.text:
            form = {"prompt": "login", "login": username, "password": "any"}
            page = self._until_page_or_callback(browser, self._submit(browser, page, form))
        if isinstance(page, httpx.Response):  # the consent page
            page = self._until_page_or_callback(browser, self._submit(browser, page, {"prompt": "consent"}))
        if not isinstance(page, str):
            raise RuntimeError(f"login did not reach the redirect URI: {page.status_code} {page.text[:500]}")
        return page

    def _until_page_or_callback(self, browser: httpx.Client, response: httpx.Response) -> httpx.Response | str:
        """Follow redirects inside the provider; stop at an HTML page or at the client's redirect URI."""
        for _ in range(10):
            if not response.is_redirect:
                return response
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(str(self.redirect_uri)):
                return location
            response = browser.get(location)
        raise RuntimeError("too many redirects")

    @staticmethod
    def _submit(browser: httpx.Client, page: httpx.Response | str, form: Mapping[str, str]) -> httpx.Response:
        if not isinstance(page, httpx.Response) or page.status_code != 200:
            raise RuntimeError(f"expected an interaction page, got {page!r}")
        match = re.search(r'<form[^>]*action="([^"]+)"[^>]*method="post"', page.text)
        if match is None:
            raise RuntimeError(f"no form on the interaction page: {page.text[:500]}")
        return browser.post(urljoin(str(page.url), unescape(match.group(1))), data=dict(form))
