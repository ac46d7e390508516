"""Provider tokens kept with ``keep_tokens``: encrypted at rest (AES-GCM), refreshed through ``oauth_refresh``;
the client authentications ``client_secret_post`` and ``none``; the providers file."""

from __future__ import annotations

from pathlib import Path

import pytest

from authhooks import AuthHooks, ConfigurationError
from authhooks.config import Settings
from authhooks.flows.oauth_refresh import tokens_key
from authhooks.oauth import ExternalLoginFailed, OAuthProvider, OAuthService, load_providers
from authhooks.oauth.tokenbox import TokenBox
from oauth._fake_provider import ISSUER, FakeProvider
from oauth.conftest import Api, Clock, make_engine


async def _sign_in(auth: AuthHooks, fake: FakeProvider) -> str:
    started = await auth.oauth_authorize("fake", redirect_uri="https://app.test/cb")
    done = await auth.oauth_callback("fake", fake.consent(started.url), binding=started.binding)
    return done.login.principal.subject


async def test_kept_tokens_are_encrypted_and_refreshed(tmp_path: Path, fake: FakeProvider, clock: Clock) -> None:
    auth = make_engine(tmp_path, fake, clock, keep_tokens=True)
    refreshed: list[str] = []
    failed: list[str] = []
    auth.add_hook("oauth2_token_refreshed", lambda subject: refreshed.append(subject))
    auth.add_hook("oauth2_token_refresh_failed", lambda reason: failed.append(reason))
    subject = await _sign_in(auth, fake)
    kept = await auth.provider_tokens("fake", subject)
    assert kept is not None and kept.refresh_token in fake.refresh_tokens
    sealed = await auth.store.get(tokens_key("fake", subject))
    assert sealed is not None and kept.access_token.encode() not in sealed and kept.refresh_token.encode() not in sealed
    assert "refresh_token='" not in repr(kept) and kept.access_token not in repr(kept)
    new = await auth.oauth_refresh("fake", subject)
    assert new.access_token != kept.access_token and refreshed == [subject]
    assert fake.token_requests[-1]["grant_type"] == "refresh_token"
    new_sync = auth.sync.oauth_refresh("fake", subject)  # the rotated refresh token was stored
    assert new_sync.access_token != new.access_token
    fake.refresh_tokens.clear()  # the provider revoked it
    with pytest.raises(ExternalLoginFailed) as caught:
        await auth.oauth_refresh("fake", subject)
    assert caught.value.reason == "refresh_refused" and failed == ["refresh_refused"]
    with pytest.raises(ExternalLoginFailed) as caught:
        await auth.oauth_refresh("fake", "nobody")
    assert caught.value.reason == "tokens_unknown"
    await auth.aclose()


async def test_tokens_are_not_kept_unless_asked(auth: AuthHooks, fake: FakeProvider) -> None:
    subject = await _sign_in(auth, fake)
    assert await auth.provider_tokens("fake", subject) is None


def test_a_sealed_record_opens_only_under_its_key_and_context(tmp_path: Path) -> None:
    box = TokenBox(Settings(state_dir=tmp_path))
    sealed = box.seal(b"secret", "oauth-tokens:a")
    assert box.open(sealed, "oauth-tokens:a") == b"secret"
    assert box.open(sealed, "oauth-tokens:b") is None  # moved to another subject's key
    assert box.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), "oauth-tokens:a") is None  # altered
    assert (tmp_path / "oauth-token-key").stat().st_mode & 0o777 == 0o600
    other = TokenBox(Settings(state_dir=tmp_path, oauth_token_key="x" * 32))
    assert other.open(sealed, "oauth-tokens:a") is None
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_OAUTH_TOKEN_KEY"):
        TokenBox(Settings(state_dir=tmp_path, oauth_token_key="short"))


@pytest.mark.parametrize("secret", ["s3cret", None])
async def test_client_secret_post_and_public_clients(tmp_path: Path, clock: Clock, secret: str | None) -> None:
    fake = FakeProvider(client_secret=secret)
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False, clock=clock)
    provider = OAuthProvider(
        name="fake",
        issuer=ISSUER,
        client_id="shop",
        client_secret=secret,
        token_auth="client_secret_post" if secret else None,
    )
    auth.oauth = OAuthService(auth.settings, [provider], transport=fake.transport)
    assert await _sign_in(auth, fake) == "fake:user-42"
    form = fake.token_requests[-1]
    assert form["client_id"] == "shop" and form.get("client_secret") == secret
    await auth.aclose()


def test_the_providers_file_and_the_keyword(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    file = tmp_path / "providers.toml"
    file.write_text(
        f"""
[provider.corp]
issuer = "https://sso.example.com/realms/main"
client_id = "shop"
client_secret_file = "{secret}"
scopes = ["email"]
keep_tokens = true
"""
    )
    providers = load_providers(file, [{"name": "public", "issuer": "http://127.0.0.1:9000", "client_id": "spa"}])
    corp, public = providers["corp"], providers["public"]
    assert corp.scopes == ("openid", "email") and corp.token_auth == "client_secret_basic" and corp.keep_tokens
    assert corp.client_secret is not None and bytes(corp.client_secret) == b"from-a-file"
    assert "from-a-file" not in repr(corp)
    assert public.token_auth == "none" and public.client_secret is None
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False, oauth_providers_file=file)
    assert sorted(auth.oauth.providers) == ["corp"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[provider.x]\nclient_id = "a"\n', "issuer is required"),
        ('[provider.x]\nissuer = "http://idp.example.com"\nclient_id = "a"\n', "https"),
        ('[provider.x]\nissuer = "https://idp.test"\nclient_id = "a"\ncolour = 1\n', "unknown key"),
        (
            '[provider.x]\nissuer = "https://idp.test"\nclient_id = "a"\ntoken_auth = "client_secret_post"\n',
            "needs a client_secret",
        ),
        ('[provider."Bad Name"]\nissuer = "https://idp.test"\nclient_id = "a"\n', "name"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_a_malformed_providers_file_names_the_variable(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "providers.toml"
    file.write_text(text)
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_OAUTH_PROVIDERS_FILE") as caught:
        AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False, oauth_providers_file=file)
    assert message in str(caught.value)


def test_the_providers_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "providers.toml"
    file.write_text('[provider.x]\nissuer = "https://idp.test"\nclient_id = "a"\n')
    monkeypatch.setenv("AUTHHOOKS_OAUTH_PROVIDERS_FILE", str(file))
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False)
    assert list(auth.oauth.providers) == ["x"]


async def test_api_twins_exist(api: Api) -> None:
    assert await api("sessions", "nobody") == []


async def test_start_up_checks_name_a_provider_that_is_down(auth: AuthHooks, fake: FakeProvider) -> None:
    from authhooks._checks import startup_problems

    assert await startup_problems(auth) == []
    fresh = OAuthService(auth.settings, [auth.oauth.providers["fake"]], transport=fake.transport)
    auth.oauth = fresh
    fake.down = True
    assert await startup_problems(auth) == ["oauth provider 'fake': discovery or keys failed (provider_unavailable)"]


async def test_the_doctor_checks_the_providers_file_and_reaches_each_provider(tmp_path: Path) -> None:
    from authhooks._checks import doctor
    from e2e._servers import free_port

    file = tmp_path / "providers.toml"
    file.write_text(f'[provider.corp]\nissuer = "http://127.0.0.1:{free_port()}"\nclient_id = "shop"\n')
    env = {
        "AUTHHOOKS_OAUTH_PROVIDERS_FILE": str(file),
        "AUTHHOOKS_STORE_URL": "memory://",
        "AUTHHOOKS_SECRET": "s" * 32,
    }
    line = next(c.line() for c in await doctor(env) if c.name == "oauth providers")
    assert line == "oauth providers: FAILED: oauth provider 'corp': discovery or keys failed (provider_unavailable)"
    file.write_text('[provider.corp]\nclient_id = "shop"\n')
    line = next(c.line() for c in await doctor(env) if c.name == "oauth providers")
    assert line.startswith(
        "oauth providers: FAILED: AUTHHOOKS_OAUTH_PROVIDERS_FILE: provider 'corp': issuer is required"
    )
