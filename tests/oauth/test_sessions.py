"""Browser sessions: stored hashed, rotated, timed out (idle and absolute, on the injected clock), ended one by
one or per subject, in every instance (two engines on one Redis), tampering refused, the CSRF rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from authhooks import AuthHooks, Deny, Principal
from authhooks.sessions import (
    CsrfRefused,
    InvalidSession,
    check_csrf,
    hash_session_id,
    session_cookie,
    session_key,
)
from oauth.conftest import Api, Clock

ALICE = Principal("alice", claims={"auth_time": 1}, scopes=frozenset({"orders"}))


async def _refused(api: Api, session_id: str, reason: str) -> None:
    with pytest.raises(InvalidSession) as caught:
        await api("validate_session", session_id)
    assert caught.value.reason == reason


async def test_a_session_is_stored_hashed_and_validated(auth: AuthHooks, api: Api) -> None:
    events: list[str] = []
    auth.add_hook("user_logged_in", lambda subject, session: events.append(f"created {subject}"))
    auth.add_hook("session_authentication_check", lambda principal: events.append(f"checked {principal.subject}"))
    grant = await api("create_session", ALICE)
    assert await auth.store.get(session_key(grant.session_id)) is None  # never under the id itself
    raw = await auth.store.get(session_key(hash_session_id(grant.session_id)))
    assert raw is not None and grant.session_id.encode() not in raw
    valid = await api("validate_session", grant.session_id)
    assert valid.principal.subject == "alice" and valid.principal.scopes == {"orders"}
    assert valid.principal.token_type == "session" and valid.csrf == grant.csrf
    assert events == ["created alice", "checked alice"]
    assert grant.session_id not in repr(grant) and grant.csrf not in repr(grant)


async def test_tampered_ids_are_refused(auth: AuthHooks, api: Api) -> None:
    failed: list[str] = []
    auth.add_hook("session_login_failed", lambda reason: failed.append(reason))
    grant = await api("create_session", ALICE)
    sid = grant.session_id
    flipped = sid[:-1] + ("A" if sid[-1] != "A" else "B")
    await _refused(api, flipped, "session_unknown")
    await _refused(api, sid + "x", "session_malformed")
    await _refused(api, "", "session_malformed")
    await _refused(api, hash_session_id(sid), "session_malformed")  # the stored handle is not a cookie
    assert failed == ["session_unknown", "session_malformed", "session_malformed", "session_malformed"]
    assert (await api("validate_session", sid)).principal.subject == "alice"


async def test_rotation_ends_the_old_id(auth: AuthHooks, api: Api) -> None:
    ended: list[str] = []
    auth.add_hook("session.ended", lambda reason: ended.append(reason))
    first = await api("create_session", ALICE)
    second = await api("create_session", ALICE, replaces=first.session_id)
    assert second.session_id != first.session_id
    await _refused(api, first.session_id, "session_unknown")
    assert ended == ["rotated"]
    assert [s.handle for s in await api("sessions", "alice")] == [second.info.handle]


async def test_idle_timeout(auth: AuthHooks, clock: Clock, api: Api) -> None:
    grant = await api("create_session", ALICE)
    idle = auth.settings.session_idle_seconds
    clock.skew = idle - 100
    await api("validate_session", grant.session_id)  # used in time: the idle clock restarts
    clock.skew = 2 * idle - 200
    await api("validate_session", grant.session_id)
    clock.skew = 3 * idle
    await _refused(api, grant.session_id, "idle_timeout")
    await _refused(api, grant.session_id, "session_unknown")  # and it ended


async def test_absolute_timeout_even_when_used(auth: AuthHooks, clock: Clock, api: Api) -> None:
    ended: list[str] = []
    auth.add_hook("user_logged_out", lambda reason: ended.append(reason))
    grant = await api("create_session", ALICE)
    step = auth.settings.session_idle_seconds - 60
    while clock.skew + step < auth.settings.session_absolute_seconds:
        clock.skew += step
        await api("validate_session", grant.session_id)
    clock.skew = auth.settings.session_absolute_seconds
    await _refused(api, grant.session_id, "absolute_timeout")
    assert ended == ["absolute_timeout"]


async def test_logout_and_end_sessions(auth: AuthHooks, api: Api) -> None:
    ended: list[tuple[str, str]] = []
    auth.add_hook("session.ended", lambda subject, reason: ended.append((subject, reason)))
    one, two, three = [await api("create_session", ALICE) for _ in range(3)]
    bob = await api("create_session", Principal("bob"))
    assert await api("end_session", one.session_id) is True
    assert await api("end_session", one.session_id) is False
    assert len(await api("sessions", "alice")) == 2
    assert await api("end_session", handle=two.info.handle) is True
    assert await api("end_sessions", "alice") == 1
    for grant in (one, two, three):
        await _refused(api, grant.session_id, "session_unknown")
    assert (await api("validate_session", bob.session_id)).principal.subject == "bob"
    assert ended == [("alice", "logout"), ("alice", "logout"), ("alice", "revoked")]


async def test_a_validated_hook_may_deny_or_enrich(auth: AuthHooks, api: Api) -> None:
    grant = await api("create_session", ALICE)
    auth.add_hook(
        "session.validated",
        lambda principal: {"principal": Principal(principal.subject, attributes={"plan": "gold"})},
    )
    assert (await api("validate_session", grant.session_id)).principal.attributes["plan"] == "gold"
    auth.add_hook("session.validated", lambda: Deny(403, reason="suspended"), tryfirst=True)
    with pytest.raises(Deny):
        await api("validate_session", grant.session_id)


def _redis_engine(tmp_path: Path, clock: Clock, url: str, prefix: str) -> AuthHooks:
    return AuthHooks(store_url=url, store_key_prefix=prefix, state_dir=tmp_path, telemetry=False, clock=clock)


async def test_logout_in_one_instance_refuses_the_cookie_in_the_other(
    tmp_path: Path, clock: Clock, redis_prefix: tuple[str, str]
) -> None:
    url, prefix = redis_prefix
    one, two = _redis_engine(tmp_path / "a", clock, url, prefix), _redis_engine(tmp_path / "b", clock, url, prefix)
    try:
        grant = await one.create_session(ALICE)
        assert (await two.validate_session(grant.session_id)).principal.subject == "alice"
        assert two.sync.validate_session(grant.session_id).principal.subject == "alice"
        assert await one.end_session(grant.session_id)
        with pytest.raises(InvalidSession):
            await two.validate_session(grant.session_id)
        with pytest.raises(InvalidSession):
            two.sync.validate_session(grant.session_id)
        other = await two.create_session(ALICE)
        assert await one.end_sessions("alice") == 1
        with pytest.raises(InvalidSession):
            await two.validate_session(other.session_id)
    finally:
        await one.aclose(timeout=2.0)
        await two.aclose(timeout=2.0)


@pytest.mark.parametrize(
    ("method", "headers", "token", "refused"),
    [
        ("GET", {"origin": "https://evil.test", "fetch_site": "cross-site"}, None, None),
        ("POST", {"origin": "https://app.test", "fetch_site": "same-origin"}, "T", None),
        ("POST", {"origin": None, "fetch_site": None}, "T", None),
        ("POST", {"origin": "https://evil.test", "fetch_site": None}, "T", "csrf_cross_site"),
        ("POST", {"origin": None, "fetch_site": "cross-site"}, "T", "csrf_cross_site"),
        ("DELETE", {"origin": None, "fetch_site": "same-site"}, "T", "csrf_cross_site"),
        ("POST", {"origin": "https://app.test", "fetch_site": "same-origin"}, None, "csrf_token_mismatch"),
        ("PUT", {"origin": "https://app.test", "fetch_site": "same-origin"}, "t", "csrf_token_mismatch"),
    ],
)
def test_csrf_rule(method: str, headers: dict[str, Any], token: str | None, refused: str | None) -> None:
    def run() -> None:
        check_csrf(method, own_origin="https://app.test", token=token, expected="T", **headers)

    if refused is None:
        run()
    else:
        with pytest.raises(CsrfRefused) as caught:
            run()
        assert caught.value.reason == refused and caught.value.status == 403


def test_the_cookie_attributes() -> None:
    assert session_cookie("__Host-authhooks_session", "v", None) == (
        "__Host-authhooks_session=v; Path=/; SameSite=Lax; Secure; HttpOnly"
    )
    assert session_cookie("authhooks_session", "v", 0, insecure=True) == (
        "authhooks_session=v; Path=/; SameSite=Lax; Max-Age=0; HttpOnly"
    )


async def test_rotation_after_a_reauthentication(auth: AuthHooks, api: Api, clock: Clock) -> None:
    from authhooks.sessions import grant_cookies

    first = await api("create_session", ALICE)
    clock.skew = 100
    second = await api("rotate_session", first.session_id)
    assert second.session_id != first.session_id and second.csrf != first.csrf
    await _refused(api, first.session_id, "session_unknown")
    valid = await api("validate_session", second.session_id)
    assert valid.principal.subject == "alice" and valid.principal.scopes == {"orders"}
    assert valid.info.created_at == pytest.approx(first.info.created_at + 100, abs=5)  # the timeouts start again
    with pytest.raises(InvalidSession):
        await api("rotate_session", first.session_id)
    cookies = grant_cookies(second, auth.settings)
    assert cookies[0].startswith(f"__Host-authhooks_session={second.session_id};") and "HttpOnly" in cookies[0]
    assert cookies[1].startswith(f"__Host-authhooks_csrf={second.csrf};") and "HttpOnly" not in cookies[1]


async def test_a_use_at_the_moment_of_a_logout_elsewhere_does_not_bring_the_session_back(
    tmp_path: Path, clock: Clock
) -> None:
    from authhooks.stores.memory import MemoryStore

    class EndedMeanwhile(MemoryStore):
        """Another instance ends the session just before this one writes the use it is validating."""

        armed: str | None = None  # the digest of the session to end

        async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
            digest = self.armed
            if digest is not None and key.endswith(digest):
                self.armed = None
                await self.delete(f"session:{digest}")
                await self.delete(f"session-seen:{digest}")
            await super().set(key, value, ttl)

    store = EndedMeanwhile()
    auth = AuthHooks(store=store, state_dir=tmp_path, telemetry=False, clock=clock, sessions=True)
    grant = await auth.create_session(ALICE)
    clock.skew = auth.settings.session_idle_seconds / 10  # this use touches the last-use time
    store.armed = grant.info.handle
    assert (await auth.validate_session(grant.session_id)).principal.subject == "alice"  # in flight: answered
    with pytest.raises(InvalidSession):
        await auth.validate_session(grant.session_id)  # and ended for good
    await auth.aclose(timeout=2.0)


async def test_rotation_never_renews_a_session_that_is_no_longer_live(auth: AuthHooks, api: Api, clock: Clock) -> None:
    """``rotate_session`` on an idle-timed-out session ends it and refuses (before, it made a fresh session from
    it, with new timeouts: an abandoned browser's cookie came back to life)."""
    idle = await api("create_session", ALICE)
    clock.skew = auth.settings.session_idle_seconds + 1
    with pytest.raises(InvalidSession) as caught:
        await api("rotate_session", idle.session_id)
    assert caught.value.reason == "idle_timeout"
    assert await api("sessions", "alice") == []
    with pytest.raises(InvalidSession):
        await api("validate_session", idle.session_id)
