"""The OAuth flows against a provider that checks what a real one checks (``_fake_provider``), through the async
API and its ``auth.sync`` twin: the authorization URL, the code exchange, the ID token rules, every failure."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from authhooks import AuthHooks, Deny, Principal
from authhooks.oauth import ExternalLoginFailed, ProviderUnavailable
from authhooks.oauth.records import pkce_challenge, state_key
from oauth._fake_provider import ISSUER, FakeProvider
from oauth.conftest import Api


async def _start(api: Api, **kwargs: Any) -> Any:
    return await api("oauth_authorize", "fake", redirect_uri="https://ignored.test/cb", **kwargs)


async def test_the_authorization_url_carries_state_nonce_and_an_s256_challenge(auth: AuthHooks, api: Api) -> None:
    started = await _start(api, return_to="/account")
    url = urlsplit(started.url)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://idp.test/authorize"
    assert query["response_type"] == "code" and query["client_id"] == "shop"
    assert query["redirect_uri"] == "https://app.test/auth/oauth/fake/callback"  # the configured one wins
    assert query["scope"].split() == ["openid", "profile", "email"]
    assert query["state"] == started.state and len(started.state) >= 43
    assert len(query["nonce"]) >= 43 and query["code_challenge_method"] == "S256"
    raw = await auth.store.get(state_key(started.state))
    assert raw is not None and b"/account" in raw
    assert started.state.encode() not in raw  # the state is stored hashed
    ttl = await auth.store.ttl(state_key(started.state))
    assert ttl is not None and 590 < ttl <= 600


async def test_authorize_hooks_change_scopes_and_params_and_see_the_url(auth: AuthHooks, api: Api) -> None:
    seen: list[str] = []
    auth.add_hook(
        "oauth_authorize.pre", lambda scopes: {"scopes": [*scopes, "offline_access"], "params": {"prompt": "login"}}
    )
    auth.add_hook("oauth2_authorize_url_generated", lambda url: seen.append(url))  # lback's name
    started = await _start(api)
    query = {k: v[0] for k, v in parse_qs(urlsplit(started.url).query).items()}
    assert "offline_access" in query["scope"].split() and query["prompt"] == "login"
    assert seen == [started.url]


async def test_an_authorize_hook_may_not_override_the_protocol(auth: AuthHooks, api: Api) -> None:
    auth.add_hook("oauth_authorize.pre", lambda: {"params": {"state": "mine"}})
    with pytest.raises(Exception, match="may not set state"):
        await _start(api)


async def test_an_open_redirect_in_return_to_is_replaced_by_the_root(
    auth: AuthHooks, fake: FakeProvider, api: Api
) -> None:
    for target in ("https://evil.test/", "//evil.test/", "/\\evil.test", "javascript:alert(1)"):
        started = await _start(api, return_to=target)
        done = await api("oauth_callback", "fake", fake.consent(started.url), binding=started.binding)
        assert done.return_to == "/"


async def test_code_exchange_then_an_ordinary_login_with_tokens(auth: AuthHooks, fake: FakeProvider, api: Api) -> None:
    verified: list[Any] = []
    fetched: list[Any] = []

    def link(external: Any, subject: str) -> dict[str, Any]:
        verified.append((subject, external.provider, external.subject, external.claims["email"]))
        return {"subject": "alice", "scopes": ["orders"]}

    auth.add_hook("login.verified", link)
    auth.add_hook("oauth2_token_fetched", lambda provider, tokens, claims: fetched.append((provider, claims["sub"])))
    started = await _start(api)
    params = fake.consent(started.url)
    done = await api("oauth_callback", "fake", params, binding=started.binding)
    assert verified == [("fake:user-42", "fake", "user-42", "user-42@example.com")]
    assert fetched == [("fake", "user-42")]
    pair = done.login.tokens
    assert pair is not None and done.login.session is None
    principal = await auth.validate_token(pair.access_token)
    assert principal.subject == "alice" and principal.scopes == frozenset({"orders"})
    assert principal.claims["idp"] == "fake"
    form = fake.token_requests[-1]
    assert (
        form["grant_type"] == "authorization_code"
        and pkce_challenge(form["code_verifier"]) == parse_qs(urlsplit(started.url).query)["code_challenge"][0]
    )
    assert "client_secret" not in form  # client_secret_basic: in the Authorization header


async def test_a_session_login_rotates_the_session_the_browser_came_with(
    auth: AuthHooks, fake: FakeProvider, api: Api
) -> None:
    old = await api("create_session", Principal("someone"))
    started = await _start(api)
    done = await api(
        "oauth_callback",
        "fake",
        fake.consent(started.url),
        binding=started.binding,
        session=True,
        replaces=old.session_id,
    )
    grant = done.login.session
    assert grant is not None and done.login.tokens is None and grant.session_id != old.session_id
    valid = await api("validate_session", grant.session_id)
    assert valid.principal.subject == "fake:user-42" and valid.principal.attributes["provider"] == "fake"
    with pytest.raises(Exception, match="session"):
        await api("validate_session", old.session_id)


async def _fails(
    api: Api, params: dict[str, str], binding: str | None, reason: str, kind: type[Exception] = ExternalLoginFailed
) -> None:
    with pytest.raises(kind) as caught:
        await api("oauth_callback", "fake", params, binding=binding)
    assert caught.value.reason == reason  # type: ignore[attr-defined]


async def test_a_replayed_or_unknown_state_is_refused(auth: AuthHooks, fake: FakeProvider, api: Api) -> None:
    failed: list[str] = []
    auth.add_hook("oauth_callback.failed", lambda reason: failed.append(reason))
    started = await _start(api)
    params = fake.consent(started.url)
    await api("oauth_callback", "fake", params, binding=started.binding)
    await _fails(api, params, started.binding, "state_unknown")  # replayed: the pending login was taken
    await _fails(api, {**params, "state": "forged"}, started.binding, "state_unknown")
    await _fails(api, {"code": "x"}, started.binding, "state_unknown")
    assert failed == ["state_unknown"] * 3


async def test_a_callback_from_another_browser_is_refused(auth: AuthHooks, fake: FakeProvider, api: Api) -> None:
    started = await _start(api)
    params = fake.consent(started.url)
    await _fails(api, params, "someone-else's-binding", "state_mismatch")
    await _fails(api, params, started.binding, "state_unknown")  # and the state is spent


async def test_a_replayed_code_is_refused_by_the_provider(auth: AuthHooks, fake: FakeProvider, api: Api) -> None:
    started = await _start(api)
    params = fake.consent(started.url)
    await api("oauth_callback", "fake", params, binding=started.binding)
    again = await _start(api)  # a new sign-in presenting the code already used
    await _fails(api, {**params, "state": again.state}, again.binding, "exchange_refused")


async def test_a_pkce_mismatch_is_refused(auth: AuthHooks, fake: FakeProvider, api: Api) -> None:
    started = await _start(api)
    params = fake.consent(started.url)
    fake.codes[params["code"]]["code_challenge"] = pkce_challenge("another verifier" * 3)
    exchange_failed: list[str] = []
    auth.add_hook("oauth2_token_fetch_failed", lambda reason: exchange_failed.append(reason))
    await _fails(api, params, started.binding, "exchange_refused")
    assert exchange_failed == ["exchange_refused"]


@pytest.mark.parametrize(
    ("knob", "value", "reason"),
    [
        ("nonce", "not-the-nonce", "nonce_mismatch"),
        ("audience", "another-client", "wrong_audience"),
        ("at_hash", "AAAAAAAAAAAAAAAAAAAAAA", "at_hash_mismatch"),
    ],
)
async def test_id_token_rules(
    auth: AuthHooks, fake: FakeProvider, api: Api, knob: str, value: str, reason: str
) -> None:
    setattr(fake, knob, value)
    started = await _start(api)
    await _fails(api, fake.consent(started.url), started.binding, reason)


async def test_an_id_token_signed_by_another_key_is_refused(auth: AuthHooks, fake: FakeProvider, api: Api) -> None:
    from authhooks.tokens.keys import Key

    started = await _start(api)
    params = fake.consent(started.url)
    await auth.oauth.client("fake").keys("k1")  # the real key set is cached
    fake.key = Key.generate("RS256", kid="k1")  # same kid, another key
    await _fails(api, params, started.binding, "id_token_invalid")


async def test_provider_errors_and_issuer_mix_up(auth: AuthHooks, fake: FakeProvider, api: Api) -> None:
    started = await _start(api)
    await _fails(api, {"state": started.state, "error": "access_denied"}, started.binding, "provider_error")
    started = await _start(api)
    params = fake.consent(started.url)
    await _fails(api, {**params, "iss": "https://other.test"}, started.binding, "issuer_mismatch")
    started = await _start(api)
    await _fails(api, {"state": started.state, "iss": ISSUER}, started.binding, "code_missing")
    started = await _start(api)
    without_iss = {k: v for k, v in fake.consent(started.url).items() if k != "iss"}
    await _fails(api, without_iss, started.binding, "issuer_mismatch")  # the provider promised it (RFC 9207)


async def test_a_provider_that_does_not_send_iss(tmp_path: Any, clock: Any) -> None:
    from oauth.conftest import make_engine

    fake = FakeProvider(iss_in_response=False)
    auth = make_engine(tmp_path, fake, clock)
    started = await auth.oauth_authorize("fake", redirect_uri="https://app.test/cb")
    params = {k: v for k, v in fake.consent(started.url).items() if k != "iss"}
    done = await auth.oauth_callback("fake", params, binding=started.binding)
    assert done.login.principal.subject == "fake:user-42"
    await auth.aclose(timeout=2.0)


async def test_provider_down_is_a_502_not_a_fault(auth: AuthHooks, fake: FakeProvider, api: Api) -> None:
    fake.down = True
    with pytest.raises(ProviderUnavailable) as caught:
        await _start(api)
    assert caught.value.status == 502
    fake.down = False
    started = await _start(api)
    params = fake.consent(started.url)
    fake.down = True
    await _fails(api, params, started.binding, "provider_unavailable", ProviderUnavailable)


async def test_login_hooks_deny_an_external_login(auth: AuthHooks, fake: FakeProvider, api: Api) -> None:
    failed: list[str] = []
    auth.add_hook(
        "login.verified",
        lambda external: Deny(403, reason="not_staff") if external.claims["email"].endswith("@example.com") else None,
    )
    auth.add_hook("login.failed", lambda reason, scheme: failed.append(f"{scheme} {reason}"))
    started = await _start(api)
    with pytest.raises(Deny):
        await api("oauth_callback", "fake", fake.consent(started.url), binding=started.binding)
    assert failed == ["oidc not_staff"]


async def test_unknown_provider(auth: AuthHooks, api: Api) -> None:
    with pytest.raises(ExternalLoginFailed) as caught:
        await api("oauth_authorize", "nope", redirect_uri="https://app.test/cb")
    assert caught.value.reason == "provider_unknown"


async def test_a_provider_key_rotation_does_not_fail_the_next_sign_in(
    tmp_path: Any, fake: FakeProvider, mode: str
) -> None:
    from authhooks.tokens.keys import Key
    from oauth.conftest import Clock, make_engine

    auth = make_engine(tmp_path, fake, Clock(), settings={"jwks_refetch_cooldown_seconds": 0})
    call = auth.sync if mode == "sync" else None

    async def sign_in() -> str:
        if call is not None:
            import asyncio

            started = await asyncio.to_thread(call.oauth_authorize, "fake", redirect_uri="https://app.test/cb")
            done = await asyncio.to_thread(
                call.oauth_callback, "fake", fake.consent(started.url), binding=started.binding
            )
        else:
            started = await auth.oauth_authorize("fake", redirect_uri="https://app.test/cb")
            done = await auth.oauth_callback("fake", fake.consent(started.url), binding=started.binding)
        return str(done.login.principal.subject)

    assert await sign_in() == "fake:user-42"
    fake.key = Key.generate("RS256", kid="k2")  # the provider rotated to a new kid
    assert await sign_in() == "fake:user-42"
    await auth.aclose(timeout=2.0)


async def test_a_subject_with_control_characters_is_refused(auth: AuthHooks, fake: FakeProvider, api: Api) -> None:
    started = await _start(api)
    await _fails(api, fake.consent(started.url, subject="bob\nadmin"), started.binding, "id_token_invalid")
