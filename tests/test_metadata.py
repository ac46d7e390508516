"""The issuer's metadata documents (authhooks.metadata): paths, members, URL rules."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from authhooks import ConfigurationError, Settings
from authhooks.metadata import OAUTH_WELL_KNOWN, OPENID_WELL_KNOWN, IssuerMetadata, issuer_url


def test_paths_at_the_host_root_and_with_path_insertion() -> None:
    """RFC 8414 §3.1 inserts the well-known segment before the issuer's path; OIDC Discovery §4 appends it."""
    root = IssuerMetadata.build("https://auth.example", "/auth")
    assert root.paths == {OAUTH_WELL_KNOWN: "oauth", OPENID_WELL_KNOWN: "openid"}
    tenant = IssuerMetadata.build("https://auth.example/tenants/t1/", "/auth")
    assert tenant.paths == {
        "/.well-known/oauth-authorization-server/tenants/t1": "oauth",
        "/tenants/t1/.well-known/openid-configuration": "openid",
    }


def test_document_members() -> None:
    meta = IssuerMetadata.build("https://auth.example", "/auth")
    doc = meta.document("oauth", ["EdDSA"])
    assert doc == {
        "issuer": "https://auth.example",
        "jwks_uri": "https://auth.example/auth/jwks.json",
        "token_endpoint": "https://auth.example/auth/refresh",
        "revocation_endpoint": "https://auth.example/auth/revoke",
        "introspection_endpoint": "https://auth.example/auth/introspect",
        "grant_types_supported": ["refresh_token"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "introspection_endpoint_auth_methods_supported": ["Bearer"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
    }
    openid = meta.document("openid", ["EdDSA"])
    assert openid["subject_types_supported"] == ["public"] and openid["issuer"] == doc["issuer"]
    assert "id_token_signing_alg_values_supported" not in meta.document("oauth", [])


def test_client_methods_are_listed_when_clients_are_registered() -> None:
    doc = IssuerMetadata.build("https://auth.example", "", clients=True).document("oauth", ["RS256"])
    assert doc["introspection_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "Bearer",
    ]
    assert doc["revocation_endpoint_auth_methods_supported"] == ["none", "client_secret_basic", "client_secret_post"]
    assert doc["introspection_endpoint"] == "https://auth.example/introspect"


def test_the_public_url_is_the_base_and_the_issuer_stays_as_configured() -> None:
    meta = IssuerMetadata.build("https://id.example/t1", "/auth", public_url="https://api.example/")
    doc = meta.document("oauth", ["ES256"])
    assert doc["issuer"] == "https://id.example/t1"  # identical to the tokens' iss (RFC 8414 §3.3)
    assert doc["jwks_uri"] == "https://api.example/auth/jwks.json"


def test_authlib_validates_every_member_it_knows_but_the_empty_response_types() -> None:
    """Authlib's RFC 8414 model checks each member; authhooks has no authorization endpoint, so the one
    member it cannot satisfy is a non-empty response_types_supported (an honest empty list)."""
    doc = IssuerMetadata.build("https://auth.example", "/auth", clients=True).document("oauth", ["PS256"])
    metadata = AuthorizationServerMetadata(doc)
    checked = 0
    for name in dir(metadata):
        if name.startswith("validate_") and name not in ("validate_response_types_supported",):
            getattr(metadata, name)()
            checked += 1
    assert checked > 15
    with pytest.raises(ValueError, match="response_types_supported"):
        metadata.validate_response_types_supported()


@pytest.mark.parametrize(
    "url",
    ["http://auth.example", "ftp://x", "https://", "https://a.example?x=1", "https://a.example#f", "https://u:p@a.x"],
)
def test_unacceptable_urls(url: str) -> None:
    with pytest.raises(ValueError):
        issuer_url(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost", "http://[::1]:9/x", "https://a.example"])
def test_acceptable_urls(url: str) -> None:
    assert issuer_url(url).hostname


def test_from_settings(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    assert IssuerMetadata.from_settings(Settings(), "/auth") is None  # no issuer: no documents
    assert IssuerMetadata.from_settings(Settings(issuer="billing-service"), "/auth") is None
    assert IssuerMetadata.from_settings(Settings(issuer="https://a.example", routes=False), "/auth") is None
    with caplog.at_level(logging.WARNING, logger="authhooks"):
        assert IssuerMetadata.from_settings(Settings(issuer="http://auth.internal"), "/auth") is None
    assert "AUTHHOOKS_ISSUER" in caplog.text and "not served" in caplog.text
    meta = IssuerMetadata.from_settings(Settings(issuer="https://a.example", clients_file=tmp_path / "c.json"), "/x")
    assert meta is not None and meta.clients and meta.endpoint("revoke") == "https://a.example/x/revoke"
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_PUBLIC_URL"):
        IssuerMetadata.from_settings(Settings(issuer="https://a.example", public_url="http://a.example"), "/x")
