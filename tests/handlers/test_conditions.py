"""Each condition, compiled once, true and false; dates against {now}±offset; client_ip behind trusted proxies;
the store-backed conditions (failures, locked, last_auth_older_than) through real logins on every store."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from authhooks import Principal, RequestInfo
from authhooks.config import Settings
from authhooks.errors import AuthError, Deny
from authhooks.handlers.conditions import Condition, compile_conditions
from authhooks.handlers.facts import Proxies, parse_networks
from authhooks.handlers.spec import Env
from authhooks.handlers.values import parse_date, parse_duration
from authhooks.hooks.points import CATALOGUE

from .conftest import make_auth

NOW = 1_800_000_000.0


def _condition(table: dict[str, Any], point: str = "validate_token.post", proxies: tuple[str, ...] = ()) -> Condition:
    env = Env(Settings(), Proxies(parse_networks(proxies, "test")), CATALOGUE)
    condition = compile_conditions(table, CATALOGUE[point], env, lambda: NOW)
    assert condition is not None
    return condition


def _holds(condition: Condition, inputs: dict[str, Any], request: RequestInfo | None = None) -> bool:
    result = condition(inputs, request, None)
    assert isinstance(result, bool)
    return result


def _principal(**claims: Any) -> Principal:
    return Principal("alice", claims=claims, scopes=frozenset({"read", "write"}), token_type="access")


def test_durations_and_dates() -> None:
    assert parse_duration("180d") == 180 * 86400
    assert parse_duration("30m") == 1800 and parse_duration(90) == 90.0
    assert parse_date("{now}+10d")(NOW) == NOW + 10 * 86400
    assert parse_date("{now}-5h")(NOW) == NOW - 5 * 3600
    assert parse_date("{now}+30m")(NOW) == NOW + 1800
    assert parse_date("{now}")(NOW) == NOW
    assert parse_date("2027-01-15T08:00:00Z")(NOW) == dt.datetime(2027, 1, 15, 8, tzinfo=dt.timezone.utc).timestamp()
    assert parse_date(dt.datetime(2027, 1, 15, 8, tzinfo=dt.timezone.utc))(0) == parse_date(
        "2027-01-15T08:00:00+00:00"
    )(0)
    with pytest.raises(ValueError, match="duration"):
        parse_date("{now}+10 days")


@pytest.mark.parametrize(
    ("claims", "op", "value", "expected"),
    [
        ({"exp": NOW + 5 * 86400}, "<", "{now}+10d", True),  # expires within ten days
        ({"exp": NOW + 11 * 86400}, "<", "{now}+10d", False),
        ({"iat": NOW - 6 * 3600}, "<", "{now}-5h", True),  # issued more than five hours ago
        ({"iat": NOW - 4 * 3600}, "<", "{now}-5h", False),
        ({"iat": NOW - 60}, ">=", "{now}-30m", True),
        ({"birth": "2001-02-03T00:00:00Z"}, "<", "2010-01-01T00:00:00Z", True),  # ISO string claim vs ISO date
        ({"level": 3}, ">", 2, True),
        ({"level": 3}, "<=", 2, False),
        ({"level": "3"}, ">", 2, False),  # a string is not a number
        ({"level": "3"}, "!=", 2, True),
        ({"tier": "gold"}, "==", "gold", True),
        ({"tier": "gold"}, "!=", "gold", False),
        ({"tier": "gold"}, "in", ["gold", "platinum"], True),
        ({"groups": ["staff", "ops"]}, "in", ["ops"], True),
        ({"groups": ["staff"]}, "in", ["ops"], False),
        ({"email": "a@corp.example"}, "matches", r"@corp\.example$", True),
        ({"email": "a@else.example"}, "matches", r"@corp\.example$", False),
        ({"amr": ["pwd"]}, "exists", True, True),
        ({}, "exists", True, False),
        ({}, "exists", False, True),
        ({}, "<", "{now}", False),  # absent: false
    ],
)
def test_claim_comparisons(claims: dict[str, Any], op: str, value: Any, expected: bool) -> None:
    condition = _condition({"claims": [{"claim": next(iter(claims), "x"), "op": op, "value": value}]})
    assert _holds(condition, {"principal": _principal(**claims), "claims": claims}) is expected


@pytest.mark.parametrize("huge", [10**400, -(10**400)])
def test_a_date_comparison_with_an_integer_beyond_a_float_is_judged(huge: int) -> None:
    """A claim holding an integer of hundreds of digits compares like +-inf with a date ({now}, ISO); it raised
    OverflowError in the condition before."""
    later = _condition({"claims": [{"claim": "exp", "op": ">", "value": "{now}"}]})
    assert _holds(later, {"claims": {"exp": huge}}) is (huge > 0)


def test_a_nested_claim_is_reached_by_a_dotted_name() -> None:
    condition = _condition({"claims": [{"claim": "org.id", "op": "==", "value": "acme"}]})
    assert _holds(condition, {"claims": {"org": {"id": "acme"}}})
    assert not _holds(condition, {"claims": {"org": {"id": "other"}}})


def test_outcome_reason_error_message() -> None:
    failed = _condition({"outcome": "failure", "reason": "^token_(expired|invalid)$"}, "validate_token.failed")
    assert _holds(failed, {"reason": "token_expired", "error": AuthError("The token expired.")})
    assert not _holds(failed, {"reason": "bad_signature"})
    short = _condition({"outcome": "short_circuit"}, "login.failed")
    assert _holds(short, {"reason": "denied", "error": Deny(403, "denied")})
    assert not _holds(short, {"reason": "bad_signature", "error": AuthError()})
    message = _condition({"error_message": "expired"}, "validate_token.failed")
    assert _holds(message, {"error": AuthError("The token expired.")})
    assert not _holds(message, {"error": ValueError("expired password hunter2")})  # only the class name is public
    assert _holds(_condition({"outcome": ["success", "none"]}, "login.post"), {})
    assert not _holds(_condition({"outcome": "success"}, "request.post"), {"status_code": 500})


def test_path_and_method_use_the_middleware_pattern_syntax() -> None:
    condition = _condition({"path": ["/api/**", "/users/*"], "method": ["post", "PUT"]}, "request.pre")
    request = RequestInfo(method="POST", path="/api/v1/items")
    assert _holds(condition, {}, request)
    assert _holds(condition, {}, RequestInfo(method="PUT", path="/users/42"))
    assert not _holds(condition, {}, RequestInfo(method="POST", path="/users/42/posts"))
    assert not _holds(condition, {}, RequestInfo(method="GET", path="/api"))
    assert not _holds(condition, {}, RequestInfo(method="POST", path="/apix"))
    assert not _holds(condition, {})  # no request, no path: false
    assert _holds(condition, {"method": "POST", "path": "/api"})  # request.* points carry method and path


def test_a_bad_path_pattern_names_the_field() -> None:
    from authhooks.handlers.spec import Problem

    for pattern, message in [("api/**", "must start with '/'"), ("/a/**/b", "may only be the last segment")]:
        with pytest.raises(Problem) as caught:
            _condition({"path": pattern}, "request.pre")
        assert caught.value.field == "conditions.path"
        assert message in caught.value.message


def test_subject_scopes_token() -> None:
    inputs = {
        "principal": _principal(iss="https://issuer.example"),
        "token": "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.e30.sig",
    }
    assert _holds(_condition({"subject": "^ali"}), inputs)
    assert not _holds(_condition({"subject": "^bob"}), inputs)
    assert _holds(_condition({"scopes": {"all": ["read", "write"]}}), inputs)
    assert not _holds(_condition({"scopes": {"all": ["read", "admin"]}}), inputs)
    assert _holds(_condition({"scopes": {"any": ["admin", "write"]}}), inputs)
    assert not _holds(_condition({"scopes": {"any": ["admin"]}}), inputs)
    assert _holds(_condition({"token": {"type": "access", "alg": "HS256", "issuer": "https://issuer.example"}}), inputs)
    assert not _holds(_condition({"token": {"alg": ["RS256", "ES256"]}}), inputs)
    assert not _holds(_condition({"token": {"issuer": "https://other.example"}}), inputs)


def test_token_valid() -> None:
    inside = {"claims": {"nbf": NOW - 10, "exp": NOW + 10}}
    early = {"claims": {"nbf": NOW + 10, "exp": NOW + 20}}
    expired = {"claims": {"exp": NOW - 1}}
    assert _holds(_condition({"token_valid": True}), inside)
    assert not _holds(_condition({"token_valid": True}), early)
    assert _holds(_condition({"token_valid": False}), expired)


def test_client_ip_cidrs_and_trusted_proxies() -> None:
    office = {"client_ip": ["10.1.0.0/16", "2001:db8::/32", "192.0.2.7"]}
    direct = _condition(office, "login.pre")
    assert _holds(direct, {}, RequestInfo(client_ip="10.1.2.3"))
    assert _holds(direct, {}, RequestInfo(client_ip="2001:db8::1"))
    assert _holds(direct, {}, RequestInfo(client_ip="192.0.2.7"))
    assert not _holds(direct, {}, RequestInfo(client_ip="10.2.0.1"))
    spoofed = RequestInfo(client_ip="203.0.113.9", headers={"x-forwarded-for": "10.1.2.3"})
    assert not _holds(direct, {}, spoofed)  # no trusted proxy: the header is ignored
    behind = _condition(office, "login.pre", proxies=("172.16.0.0/12",))
    via_proxy = RequestInfo(client_ip="172.16.0.5", headers={"x-forwarded-for": "198.51.100.1, 10.1.2.3, 172.16.0.9"})
    assert _holds(behind, {}, via_proxy)  # rightmost untrusted hop: 10.1.2.3
    forwarded = RequestInfo(
        client_ip="172.16.0.5", headers={"forwarded": 'for=192.0.2.60;proto=http, for="[2001:db8::7]:4711"'}
    )
    assert _holds(behind, {}, forwarded)
    assert not _holds(behind, {}, RequestInfo(client_ip="203.0.113.9", headers={"x-forwarded-for": "10.1.2.3"}))
    assert not _holds(behind, {}, RequestInfo(client_ip="172.16.0.5", headers={"x-forwarded-for": "10.1.2.3, garbage"}))


def test_trusted_proxies_setting_is_checked(tmp_path: Path) -> None:
    from authhooks.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="AUTHHOOKS_TRUSTED_PROXIES: 'nope' is not an IP address or CIDR"):
        Settings(trusted_proxies=("10.0.0.0/8", "nope"))
    assert Settings.from_env({"AUTHHOOKS_TRUSTED_PROXIES": "10.0.0.0/8, ::1"}).trusted_proxies == ("10.0.0.0/8", "::1")


def passes_when(event: Any) -> bool:
    return event.get("subject") == "alice"


def test_when_calls_a_python_function() -> None:
    condition = _condition({"when": f"{__name__}:passes_when"}, "login.pre")
    assert condition({"subject": "alice"}, None, None) is True
    assert condition({"subject": "bob"}, None, None) is False


# -- the store-backed conditions, through real logins ----------------------------------------------------------------


def _password_auth(tmp_path: Path, handlers: Any, **options: Any) -> Any:
    auth = make_auth(tmp_path, handlers=handlers, **options)

    @auth.hook("login.provide", name="check_password", inline=True)
    def check(subject: str, credentials: Any) -> Any:
        return subject if credentials.get("password") == "right" else False

    return auth


def _login_sync(auth: Any, subject: str, password: str) -> str:
    try:
        auth.sync.login(subject, {"password": password}, scheme="password")
    except AuthError as exc:
        return exc.reason
    return "ok"


async def _login(auth: Any, subject: str, password: str) -> str:
    try:
        await auth.login(subject, {"password": password}, scheme="password")
    except AuthError as exc:
        return exc.reason
    return "ok"


FAILURES = {
    "handler": [
        {
            "name": "slow-down",
            "event": "login.pre",
            "action": "deny",
            "conditions": {"failures": {"count": 3, "window": "10m", "by": "subject"}},
            "options": {"status": 429, "reason": "too_many_failures"},
        }
    ]
}


async def test_failures_counts_in_the_store(tmp_path: Path, store_options: dict[str, Any]) -> None:
    auth = _password_auth(tmp_path, FAILURES, **store_options)
    assert [await _login(auth, "alice", "wrong") for _ in range(3)] == ["provider_refused"] * 3
    assert await _login(auth, "alice", "right") == "too_many_failures"
    assert await _login(auth, "bob", "right") == "ok"  # another subject is not affected
    # the sync API (from a thread without an event loop, as under WSGI) reads the same counter
    assert await asyncio.to_thread(_login_sync, auth, "alice", "right") == "too_many_failures"
    await auth.aclose()


def test_failures_under_the_sync_api(tmp_path: Path, store_options: dict[str, Any]) -> None:
    auth = _password_auth(tmp_path, FAILURES, **store_options)
    assert [_login_sync(auth, "carol", "wrong") for _ in range(2)] == ["provider_refused"] * 2
    assert _login_sync(auth, "carol", "right") == "ok"
    _login_sync(auth, "carol", "wrong")
    assert _login_sync(auth, "carol", "right") == "too_many_failures"
    auth.close()


async def test_last_auth_older_than(tmp_path: Path, store_options: dict[str, Any]) -> None:
    clock = [NOW]
    handlers = {
        "handler": [
            {
                "name": "stale",
                "event": "login.verified",
                "action": "deny",
                "conditions": {"last_auth_older_than": "180d", "subject": "^alice$"},
                "options": {"reason": "stale_account", "status": 403},
            }
        ]
    }
    auth = _password_auth(tmp_path, handlers, clock=lambda: clock[0], **store_options)
    assert await _login(auth, "alice", "right") == "stale_account"  # never seen: unknown counts as older
    assert await _login(auth, "bob", "right") == "ok"
    auth.remove_hook("login.verified", name="handler:stale")
    assert await _login(auth, "alice", "right") == "ok"  # recorded now
    auth.load_handlers(handlers)
    clock[0] += 179 * 86400
    assert await _login(auth, "alice", "right") == "ok"
    clock[0] += 179 * 86400 + 1  # recorded at the previous login: 179 days ago
    assert await asyncio.to_thread(_login_sync, auth, "alice", "right") == "ok"
    clock[0] += 181 * 86400
    assert await _login(auth, "alice", "right") == "stale_account"
    await auth.aclose()
