"""The ``login`` flow: challenge-response for every scheme, refusals with their reasons, the provider chain and
the hooks around it."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from authhooks import (
    Deny,
    InvalidCredentials,
    InvalidRequest,
    Outcome,
    Principal,
    RequestInfo,
    StopAuthentication,
    TokenPair,
)
from authhooks.flows import challenge as ch
from authhooks.testing import HookRecorder
from authhooks.verifiers import Ed25519Verifier
from authhooks.verifiers import signed_message as sm
from flows._identity import Ed25519Key, EvrmoreKey, b64u, call, make_auth
from flows.conftest import Call, Clock


async def _answer(api: Call, key: Any, **kwargs: Any) -> tuple[ch.Challenge, str]:
    c = await api("generate_challenge", key.subject)
    return c, key.sign(c.message)


async def test_ed25519_login_issues_tokens_for_the_subject(auth: Any, api: Call) -> None:
    key = Ed25519Key()
    c, sig = await _answer(api, key)
    pair = await api("authenticate", key.subject, c.nonce, sig)
    assert isinstance(pair, TokenPair)
    assert pair.refresh_token
    principal = await api("validate_token", pair.access_token)
    assert principal.subject == key.subject
    assert principal.claims["auth_time"] == pytest.approx(c.issued_at, abs=5)


async def test_the_full_message_is_accepted_as_the_challenge(api: Call) -> None:
    key = Ed25519Key()
    c, sig = await _answer(api, key)
    pair = await api("authenticate", key.subject, c.message, sig)
    assert pair.access_token


async def test_did_key_subject(api: Call) -> None:
    key = Ed25519Key()
    c = await api("generate_challenge", key.did)
    pair = await api("authenticate", key.did, c.nonce, key.sign(c.message))
    assert (await api("validate_token", pair.access_token)).subject == key.did


async def test_p256_login_with_webcrypto_raw_signature(api: Call) -> None:
    priv = ec.generate_private_key(ec.SECP256R1())
    point = priv.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    subject = b64u(point)
    c = await api("generate_challenge", subject)
    r, s = decode_dss_signature(priv.sign(c.message.encode(), ec.ECDSA(hashes.SHA256())))
    sig = b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    pair = await api("authenticate", subject, c.nonce, sig, scheme="p256")
    assert (await api("validate_token", pair.access_token)).subject == subject


@pytest.mark.parametrize(
    ("scheme", "version", "magic"), [("evrmore", 33, sm.EVRMORE_MAGIC), ("bitcoin", 0, sm.BITCOIN_MAGIC)]
)
async def test_wallet_signed_message_login(api: Call, scheme: str, version: int, magic: bytes) -> None:
    key = EvrmoreKey(version, magic)
    c, sig = await _answer(api, key)
    pair = await api("authenticate", key.subject, c.nonce, sig, scheme=scheme)
    assert (await api("validate_token", pair.access_token)).subject == key.subject


# -- refusals ----------------------------------------------------------------------------------------------


async def _refusal(api: Call, *args: Any, **kwargs: Any) -> InvalidCredentials:
    with pytest.raises(InvalidCredentials) as info:
        await api("authenticate", *args, **kwargs)
    err = info.value
    assert (err.status, err.error, err.description) == (401, "invalid_token", "The credentials are invalid.")
    return err


async def test_replayed_challenge_is_refused(api: Call) -> None:
    key = Ed25519Key()
    c, sig = await _answer(api, key)
    await api("authenticate", key.subject, c.nonce, sig)
    assert (await _refusal(api, key.subject, c.nonce, sig)).reason == "challenge_unknown"


async def test_unknown_nonce_is_refused(api: Call) -> None:
    key = Ed25519Key()
    assert (await _refusal(api, key.subject, "A" * 32, key.sign("anything"))).reason == "challenge_unknown"
    assert (await _refusal(api, key.subject, "not a challenge", key.sign("x"))).reason == "challenge_unknown"


async def test_expired_challenge_is_refused(api: Call, clock: Clock) -> None:
    key = Ed25519Key()
    c, sig = await _answer(api, key)
    clock.skew = c.expires_at + 1 - time.time()  # the engine's one clock, injected
    assert (await _refusal(api, key.subject, c.nonce, sig)).reason == "challenge_expired"


async def test_challenge_of_another_subject_is_refused(api: Call) -> None:
    victim, attacker = Ed25519Key(), Ed25519Key()
    c = await api("generate_challenge", victim.subject)
    err = await _refusal(api, attacker.subject, c.nonce, attacker.sign(c.message))
    assert err.reason == "challenge_subject_mismatch"


async def test_tampered_message_is_refused(api: Call) -> None:
    key = Ed25519Key()
    c = await api("generate_challenge", key.subject)
    forged = c.message.replace("Expiration Time: ", "Expiration Time: 2099")
    assert (await _refusal(api, key.subject, forged, key.sign(forged))).reason == "challenge_tampered"


async def test_signature_over_another_message_or_by_another_key_is_refused(api: Call) -> None:
    key, other = Ed25519Key(), Ed25519Key()
    c = await api("generate_challenge", key.subject)
    assert (await _refusal(api, key.subject, c.nonce, key.sign(c.message + " "))).reason == "bad_signature"
    c = await api("generate_challenge", key.subject)
    assert (await _refusal(api, key.subject, c.nonce, other.sign(c.message))).reason == "bad_signature"
    c = await api("generate_challenge", key.subject)
    assert (await _refusal(api, key.subject, c.nonce, "bm90IGEgc2lnbmF0dXJl")).reason == "bad_signature"


async def test_every_failure_uses_the_challenge_up(api: Call) -> None:
    key = Ed25519Key()
    c = await api("generate_challenge", key.subject)
    await _refusal(api, key.subject, c.nonce, key.sign("wrong"))
    assert (await _refusal(api, key.subject, c.nonce, key.sign(c.message))).reason == "challenge_unknown"


async def test_missing_challenge_still_verifies_a_signature(auth: Any, api: Call) -> None:
    """Unknown challenges and bad signatures take the same path: the verifier runs either way."""
    calls: list[bytes] = []

    class Counting(Ed25519Verifier):
        def verify(self, subject: str, message: bytes, signature: str) -> bool:
            calls.append(message)
            return super().verify(subject, message, signature)

    auth.verifiers.register(Counting(), replace=True)
    key = Ed25519Key()
    await _refusal(api, key.subject, "B" * 32, key.sign("x"))
    c = await api("generate_challenge", key.subject)
    await _refusal(api, key.subject, c.nonce, key.sign("x"))
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("subject", "credentials", "scheme", "reason"),
    [
        ("not-a-key", {"challenge": "A" * 32, "signature": "AA"}, "ed25519", "invalid_subject"),
        (None, {"challenge": "A" * 32, "signature": "AA"}, "ed25519", "invalid_subject"),
        ("KEY", {"signature": "AA"}, "ed25519", "missing_challenge"),
        ("KEY", {"challenge": "A" * 32}, "ed25519", "missing_challenge"),
        ("KEY", {"challenge": "A" * 32, "signature": "AA"}, "rsa", "unsupported_scheme"),
        ("KEY", "challenge=x", "ed25519", "invalid_credentials_format"),
    ],
)
async def test_malformed_logins_are_invalid_requests(
    api: Call, subject: Any, credentials: Any, scheme: str, reason: str
) -> None:
    key = Ed25519Key()
    subject = key.subject if subject == "KEY" else subject
    with pytest.raises(InvalidRequest) as info:
        await api("login", subject, credentials, scheme=scheme)
    assert info.value.reason == reason


# -- concurrency -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("store", ["memory", "sqlite"])
async def test_concurrent_answers_to_one_challenge_succeed_once_async(tmp_path: Path, store: str) -> None:
    url = "memory://" if store == "memory" else f"sqlite:///{tmp_path}/s.db"
    auth = make_auth(tmp_path, store_url=url)
    key = Ed25519Key()
    c = await auth.generate_challenge(key.subject)
    sig = key.sign(c.message)
    results = await asyncio.gather(
        *(auth.authenticate(key.subject, c.nonce, sig) for _ in range(20)), return_exceptions=True
    )
    assert sum(isinstance(r, TokenPair) for r in results) == 1
    assert all(isinstance(r, (TokenPair, InvalidCredentials)) for r in results)
    await auth.aclose()


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_concurrent_answers_to_one_challenge_succeed_once_threads(tmp_path: Path, store: str) -> None:
    url = "memory://" if store == "memory" else f"sqlite:///{tmp_path}/s.db"
    auth = make_auth(tmp_path, store_url=url)
    key = Ed25519Key()
    c = auth.sync.generate_challenge(key.subject)
    sig = key.sign(c.message)
    barrier = threading.Barrier(8)
    results: list[Any] = []

    def attempt() -> None:
        barrier.wait()
        try:
            results.append(auth.sync.authenticate(key.subject, c.nonce, sig))
        except InvalidCredentials as exc:
            results.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(r, TokenPair) for r in results) == 1
    assert sorted(r.reason for r in results if isinstance(r, InvalidCredentials)) == ["challenge_unknown"] * 7
    auth.close()


# -- hooks -------------------------------------------------------------------------------------------------


async def test_failed_hook_gets_subject_reason_error_and_scheme(auth: Any, api: Call) -> None:
    seen: list[tuple[Any, ...]] = []
    auth.add_hook("login.failed", lambda subject, reason, error, scheme: seen.append((subject, reason, error, scheme)))
    key = Ed25519Key()
    c = await api("generate_challenge", key.subject)
    with pytest.raises(InvalidCredentials) as info:
        await api("authenticate", key.subject, c.nonce, key.sign("nope"))
    assert seen == [(key.subject, "bad_signature", info.value, "ed25519")]


async def test_pre_hook_rewrites_the_subject_and_post_hook_sees_tokens(auth: Any, api: Call) -> None:
    key = Ed25519Key()
    posted: list[tuple[str, str, TokenPair]] = []
    auth.add_hook("login.pre", lambda subject: {"subject": subject.strip()})
    auth.add_hook("login.post", lambda subject, principal, tokens: posted.append((subject, principal.subject, tokens)))
    c, sig = await _answer(api, key)
    pair = await api("authenticate", f"  {key.subject} ", c.nonce, sig)
    assert posted == [(key.subject, key.subject, pair)]


async def test_verified_hook_adds_claims_and_scopes(auth: Any, api: Call) -> None:
    def enrich(principal: Principal, claims: dict[str, Any], scopes: set[str]) -> dict[str, Any]:
        return {"claims": {**claims, "tier": "gold"}, "scopes": scopes | {"read", "write"}}

    auth.add_hook("login.verified", enrich)
    key = Ed25519Key()
    c, sig = await _answer(api, key)
    pair = await api("authenticate", key.subject, c.nonce, sig)
    principal = await api("validate_token", pair.access_token)
    assert principal.claims["tier"] == "gold"
    assert principal.scopes == frozenset({"read", "write"})
    assert pair.scope == "read write"


async def test_verified_hook_denies_a_second_factor(auth: Any, api: Call) -> None:
    issued: list[str] = []
    auth.add_hook("login.verified", lambda: Deny(401, reason="mfa_required"))
    auth.add_hook("issue_token.post", lambda token_type: issued.append(token_type))
    failed: list[str] = []
    auth.add_hook("login.failed", lambda reason: failed.append(reason))
    key = Ed25519Key()
    c, sig = await _answer(api, key)
    with pytest.raises(Deny) as info:
        await api("authenticate", key.subject, c.nonce, sig)
    assert info.value.reason == "mfa_required"
    assert issued == []
    assert failed == ["mfa_required"]


async def test_provider_chain_first_result_wins_before_the_builtin(auth: Any, api: Call) -> None:
    calls: list[str] = []

    def passes(subject: str) -> None:
        calls.append("passes")

    def accepts(subject: str, credentials: dict[str, Any], scheme: str) -> Principal | None:
        calls.append("accepts")
        if scheme == "password" and credentials.get("password") == "s3cret":
            return Principal(subject=subject, claims={"source": "directory"}, scopes=frozenset({"read"}))
        return None

    def never(subject: str) -> None:
        calls.append("never")

    auth.add_hook("login.provide", passes, order=0)
    auth.add_hook("login.provide", accepts, order=1)
    auth.add_hook("login.provide", never, order=2)
    pair = await api("login", "alice", {"password": "s3cret"}, scheme="password")
    assert calls == ["passes", "accepts"]
    principal = await api("validate_token", pair.access_token)
    assert (principal.subject, principal.claims["source"], principal.scopes) == ("alice", "directory", {"read"})
    # a wrong password falls through to the built-in, which does not know the scheme
    with pytest.raises(InvalidRequest):
        await api("login", "alice", {"password": "nope"}, scheme="password")


async def test_provider_may_return_a_subject_or_refuse(auth: Any, api: Call) -> None:
    auth.add_hook("login.provide", lambda credentials: credentials.get("as") or (False if credentials else None))
    pair = await api("login", "ignored", {"as": "bob"}, scheme="x")
    assert (await api("validate_token", pair.access_token)).subject == "bob"
    with pytest.raises(InvalidCredentials) as info:
        await api("login", "ignored", {"other": 1}, scheme="x")
    assert info.value.reason == "provider_refused"


async def test_stop_authentication_ends_the_login(auth: Any, api: Call) -> None:
    reasons: list[str] = []

    def locked(subject: str) -> None:
        if subject == "mallory":
            raise StopAuthentication("account_locked")

    auth.add_hook("login.provide", locked)
    auth.add_hook("login.failed", lambda reason: reasons.append(reason))
    with pytest.raises(StopAuthentication) as info:
        await api("login", "mallory", {"challenge": "A" * 32, "signature": "AA"})
    assert (info.value.status, info.value.reason) == (401, "account_locked")
    assert reasons == ["account_locked"]


async def test_verify_signature_hooks_wrap_the_check(auth: Any, api: Call) -> None:
    seen: list[tuple[str, bool]] = []
    auth.add_hook("verify_signature.post", lambda subject, scheme, valid: seen.append((scheme, valid)))
    key = Ed25519Key()
    c, sig = await _answer(api, key)
    await api("authenticate", key.subject, c.nonce, sig)
    c = await api("generate_challenge", key.subject)
    with pytest.raises(InvalidCredentials):
        await api("authenticate", key.subject, c.nonce, key.sign("other"))
    assert seen == [("ed25519", True), ("ed25519", False)]


async def test_verify_signature_pre_may_deny(auth: Any, api: Call) -> None:
    auth.add_hook("verify_signature.pre", lambda: Deny(403, reason="key_blocked"))
    key = Ed25519Key()
    c, sig = await _answer(api, key)
    with pytest.raises(Deny) as info:
        await api("authenticate", key.subject, c.nonce, sig)
    assert info.value.reason == "key_blocked"


async def test_hooks_see_the_request(auth: Any, mode: str) -> None:
    seen: list[Any] = []
    auth.add_hook("login.failed", lambda request: seen.append(request))
    req = RequestInfo(method="POST", path="/auth/login", client_ip="203.0.113.9")
    key = Ed25519Key()
    with pytest.raises(InvalidCredentials):
        await call(auth, mode, "authenticate", key.subject, "C" * 32, key.sign("x"), request=req)
    assert seen == [req]


async def test_flow_outcomes_and_reasons_are_observed(auth: Any, api: Call) -> None:
    recorder = HookRecorder()
    auth.add_observer(recorder)
    key = Ed25519Key()
    c, sig = await _answer(api, key)
    await api("authenticate", key.subject, c.nonce, sig)
    with pytest.raises(InvalidCredentials):
        await api("authenticate", key.subject, c.nonce, sig)
    logins = recorder.outcomes("login")
    assert logins == [("login", Outcome.SUCCESS, None), ("login", Outcome.FAILURE, "challenge_unknown")]
    assert ("verify_signature", Outcome.SUCCESS, None) in recorder.outcomes()
