"""Registering hooks: points, aliases, signature binding, context parameters, names, removal."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from authhooks import AuthHooks, Event, FireResult, Flow, HookError, PointKind, RequestInfo, Stage

Fire = Callable[..., Awaitable[FireResult]]

# product.md §4: every row of the catalogue, with the kind its stage implies.
DECISION, PROVIDE, NOTIFICATION = PointKind.DECISION, PointKind.PROVIDE, PointKind.NOTIFICATION
EXPECTED_POINTS = {
    "challenge.pre": DECISION,
    "challenge.post": NOTIFICATION,
    "login.pre": DECISION,
    "login.provide": PROVIDE,
    "login.verified": DECISION,
    "login.post": NOTIFICATION,
    "login.failed": NOTIFICATION,
    "verify_signature.pre": DECISION,
    "verify_signature.post": NOTIFICATION,
    "issue_token.pre": DECISION,
    "issue_token.post": NOTIFICATION,
    "validate_token.pre": DECISION,
    "validate_token.post": DECISION,
    "validate_token.failed": NOTIFICATION,
    "refresh_token.pre": DECISION,
    "refresh_token.post": NOTIFICATION,
    "refresh_token.failed": NOTIFICATION,
    "invalidate_token.pre": DECISION,
    "invalidate_token.post": NOTIFICATION,
    "reauthenticate.pre": DECISION,
    "reauthenticate.provide": PROVIDE,
    "reauthenticate.post": NOTIFICATION,
    "reauthenticate.failed": NOTIFICATION,
    "authorize.pre": DECISION,
    "authorize.post": NOTIFICATION,
    "authorize.failed": NOTIFICATION,
    "register.pre": DECISION,
    "register.post": NOTIFICATION,
    "register.failed": NOTIFICATION,
    "request.pre": DECISION,
    "request.post": NOTIFICATION,
}

# The seed systems' names (Evrmore, Joken, FlaskBB) and the catalogue point each must mean.
SEED_ALIASES = [
    ("pre_challenge", "challenge.pre"),
    ("post_challenge", "challenge.post"),
    ("pre_auth", "login.pre"),
    ("post_auth", "login.post"),
    ("pre_verify", "verify_signature.pre"),
    ("post_verify", "verify_signature.post"),
    ("pre_token_validate", "validate_token.pre"),
    ("post_token_validate", "validate_token.post"),
    ("pre_token_invalidate", "invalidate_token.pre"),
    ("post_token_invalidate", "invalidate_token.post"),
    ("before_generate", "issue_token.pre"),
    ("after_generate", "issue_token.post"),
    ("before_sign", "issue_token.pre"),
    ("after_sign", "issue_token.post"),
    ("before_verify", "verify_signature.pre"),
    ("after_verify", "verify_signature.post"),
    ("before_validate", "validate_token.pre"),
    ("after_validate", "validate_token.post"),
    ("authenticate", "login.provide"),
    ("post_authenticate", "login.verified"),
    ("authentication_failed", "login.failed"),
    ("reauth_attempt", "reauthenticate.provide"),
    ("post_reauth", "reauthenticate.post"),
    ("reauth_failed", "reauthenticate.failed"),
    ("user_registered", "register.post"),
]


@pytest.fixture
def plain() -> AuthHooks:
    return AuthHooks(store_url="memory://")


@pytest.mark.parametrize(("name", "kind"), sorted(EXPECTED_POINTS.items()))
async def test_every_catalogue_point_accepts_a_hook_and_runs_it(plain: AuthHooks, name: str, kind: PointKind) -> None:
    seen: list[str] = []

    def record(point: str) -> None:
        seen.append(point)

    plain.add_hook(name, record)
    assert plain.point(name).kind is kind
    assert [h.fn for h in plain.hooks(name)] == [record]
    plain.sync.fire(name)
    await plain.fire(name)
    assert seen == [name, name]


@pytest.mark.parametrize(("alias", "point"), SEED_ALIASES)
def test_seed_alias_registers_at_its_catalogue_point(plain: AuthHooks, alias: str, point: str) -> None:
    def seed_hook() -> None:
        return None

    impl = plain.add_hook(alias, seed_hook)
    assert impl.point.name == point
    assert [h.fn for h in plain.hooks(point)] == [seed_hook]
    assert plain.hooks(alias) == plain.hooks(point)


async def test_alias_hook_runs_when_the_catalogue_point_fires(plain: AuthHooks, fire: Fire) -> None:
    plain.add_hook("pre_auth", lambda subject: {"subject": subject.lower()})
    result = await fire(plain, "login.pre", subject="ALICE")
    assert result.values["subject"] == "alice"


def test_flow_stage_tuple_names_a_point(plain: AuthHooks) -> None:
    impl = plain.add_hook((Flow.LOGIN, Stage.PRE), lambda: None)
    assert impl.point.name == "login.pre"
    assert plain.point(("login", "verified")).name == "login.verified"
    assert len(plain.hooks((Flow.LOGIN, Stage.PRE))) == 1


@pytest.mark.parametrize(
    ("spec", "suggestion"),
    [("login.pree", "login.pre"), ("pre_atuh", "pre_auth"), ("validate_tokn.post", "validate_token.post")],
)
def test_unknown_point_is_refused_with_a_suggestion(plain: AuthHooks, spec: str, suggestion: str) -> None:
    with pytest.raises(HookError, match=re.escape(f"did you mean '{suggestion}'")):
        plain.add_hook(spec, lambda: None)
    assert plain.hooks("login.pre") == ()


def test_unknown_tuple_point_is_refused(plain: AuthHooks) -> None:
    with pytest.raises(HookError, match=r"unknown hook point 'login\.after'"):
        plain.add_hook((Flow.LOGIN, "after"), lambda: None)
    with pytest.raises(HookError):
        plain.add_hook(("login", "pre", "x"), lambda: None)  # type: ignore[arg-type]


def test_unknown_parameter_is_a_registration_error(plain: AuthHooks) -> None:
    def wants_password(subject: str, password: str) -> None:
        return None

    with pytest.raises(HookError, match="unknown parameter 'password'") as info:
        plain.add_hook("login.pre", wants_password)
    assert "credentials" in str(info.value)  # the message lists what the point offers
    assert plain.hooks("login.pre") == ()


def test_unknown_parameter_in_a_condition_is_a_registration_error(plain: AuthHooks) -> None:
    with pytest.raises(HookError, match="unknown parameter 'username'"):
        plain.add_hook("login.pre", lambda: None, when=lambda username: True)


def test_non_callable_hook_is_refused(plain: AuthHooks) -> None:
    with pytest.raises(HookError, match="callable"):
        plain.add_hook("login.pre", "not a function")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [
        {"tryfirst": True, "trylast": True},
        {"order": 1.5},
        {"timeout": 0},
        {"timeout": -1},
        {"on_error": "explode"},
        {"when": "subject == 'x'"},
        {"after": ["ok", 3]},
    ],
)
def test_conflicting_or_malformed_options_are_refused(plain: AuthHooks, options: dict[str, Any]) -> None:
    with pytest.raises(HookError):
        plain.add_hook("login.pre", lambda: None, **options)
    assert plain.hooks("login.pre") == ()


async def test_hook_receives_only_the_inputs_it_names(plain: AuthHooks, fire: Fire) -> None:
    calls: list[tuple[Any, ...]] = []

    def only_subject(subject: str) -> None:
        calls.append((subject,))

    def keyword_only(*, scheme: str, credentials: str = "unset") -> None:
        calls.append((scheme, credentials))

    plain.add_hook("login.pre", only_subject)
    plain.add_hook("login.pre", keyword_only)
    await fire(plain, "login.pre", subject="alice", credentials="pw", scheme="password")
    assert calls == [("alice",), ("password", "pw")]


async def test_inputs_not_fired_arrive_as_none(plain: AuthHooks, fire: Fire) -> None:
    got: list[Any] = []
    plain.add_hook("login.pre", lambda subject, scheme: got.append((subject, scheme)))
    await fire(plain, "login.pre", subject="alice")
    assert got == [("alice", None)]


async def test_context_parameters(plain: AuthHooks, fire: Fire) -> None:
    got: dict[str, Any] = {}

    def everything(event: Event, request: RequestInfo, store: Any, auth: AuthHooks, point: str) -> None:
        got.update(event=event, request=request, store=store, auth=auth, point=point)

    plain.add_hook("pre_auth", everything)
    req = RequestInfo(method="POST", path="/auth/login", client_ip="203.0.113.7")
    await fire(plain, "login.pre", request=req, subject="alice", scheme="password")
    assert got["auth"] is plain
    assert got["store"] is plain.store
    assert got["request"] is req
    assert got["point"] == "login.pre"
    event = got["event"]
    assert (event.point, event.flow, event.stage) == ("login.pre", "login", "pre")
    assert event["subject"] == "alice"
    assert event.get("scheme") == "password"
    assert event.request is req
    with pytest.raises(TypeError):
        event.data["subject"] = "mallory"  # type: ignore[index]


async def test_request_is_none_without_one(plain: AuthHooks, fire: Fire) -> None:
    got: list[Any] = []
    plain.add_hook("login.post", lambda request: got.append(request))
    await fire(plain, "login.post")
    assert got == [None]


async def test_event_is_a_snapshot_of_inputs_as_modified_so_far(plain: AuthHooks, fire: Fire) -> None:
    snapshots: list[Any] = []
    plain.add_hook("login.pre", lambda: {"subject": "bob"}, name="rename")
    plain.add_hook("login.pre", lambda event: snapshots.append(event["subject"]), name="watch")
    await fire(plain, "login.pre", subject="alice")
    assert snapshots == ["bob"]


async def test_var_keyword_receives_every_input(plain: AuthHooks, fire: Fire) -> None:
    got: list[dict[str, Any]] = []

    def everything(**inputs: Any) -> None:
        got.append(inputs)

    def the_rest(subject: str, **rest: Any) -> None:
        got.append({"subject": subject, "rest": sorted(rest)})

    plain.add_hook("login.pre", everything)
    plain.add_hook("login.pre", the_rest)
    await fire(plain, "login.pre", subject="alice", credentials="pw", scheme="password")
    assert got == [
        {"subject": "alice", "credentials": "pw", "scheme": "password"},
        {"subject": "alice", "rest": ["credentials", "scheme"]},
    ]


async def test_callable_object_and_bound_method_hooks(plain: AuthHooks, fire: Fire) -> None:
    class Lower:
        def __call__(self, subject: str) -> dict[str, str]:
            return {"subject": subject.lower()}

    class Audit:
        def __init__(self) -> None:
            self.seen: list[str] = []

        def on_login(self, subject: str) -> None:
            self.seen.append(subject)

    audit = Audit()
    plain.add_hook("login.pre", Lower())
    plain.add_hook("login.pre", audit.on_login)
    result = await fire(plain, "login.pre", subject="ALICE")
    assert result.values["subject"] == "alice"
    assert audit.seen == ["alice"]


async def test_decorator_registers_and_returns_the_function(plain: AuthHooks, fire: Fire) -> None:
    @plain.hook("login.pre", order=-1, name="lowercase")
    def lowercase(subject: str) -> dict[str, str]:
        return {"subject": subject.lower()}

    assert callable(lowercase)
    assert lowercase("X") == {"subject": "x"}  # still the plain function
    assert [h.name for h in plain.hooks("login.pre")] == ["lowercase"]
    assert (await fire(plain, "login.pre", subject="ALICE")).values["subject"] == "alice"


async def test_remove_hook_by_point_and_fn(plain: AuthHooks, fire: Fire) -> None:
    ran: list[str] = []

    def audit(point: str) -> None:
        ran.append(point)

    plain.add_hook("login.post", audit)
    plain.add_hook("login.failed", audit)
    assert plain.remove_hook("login.post", audit) == 1
    await fire(plain, "login.post")
    await fire(plain, "login.failed")
    assert ran == ["login.failed"]
    assert plain.remove_hook("login.post", audit) == 0


async def test_remove_hook_by_fn_everywhere(plain: AuthHooks, fire: Fire) -> None:
    ran: list[str] = []

    def audit(point: str) -> None:
        ran.append(point)

    def keep(point: str) -> None:
        ran.append("keep")

    plain.add_hook("login.post", audit)
    plain.add_hook("post_challenge", audit)
    plain.add_hook("login.post", keep)
    assert plain.remove_hook(audit) == 2
    await fire(plain, "login.post")
    await fire(plain, "challenge.post")
    assert ran == ["keep"]


async def test_remove_hook_by_name(plain: AuthHooks, fire: Fire) -> None:
    plain.add_hook("login.pre", lambda: {"subject": "x"}, name="rewrite")
    plain.add_hook("login.pre", lambda: None, name="noop")
    assert plain.remove_hook(name="rewrite") == 1
    assert [h.name for h in plain.hooks("login.pre")] == ["noop"]
    assert (await fire(plain, "login.pre", subject="alice")).values["subject"] == "alice"
    assert plain.remove_hook("login.pre", name="missing") == 0


def test_duplicate_explicit_name_is_refused(plain: AuthHooks) -> None:
    plain.add_hook("login.pre", lambda: None, name="rate_limit")
    with pytest.raises(HookError, match="rate_limit"):
        plain.add_hook("login.pre", lambda: None, name="rate_limit")
    assert [h.name for h in plain.hooks("login.pre")] == ["rate_limit"]
    # the same name at another point is fine
    plain.add_hook("challenge.pre", lambda: None, name="rate_limit")


async def test_default_names_are_unique(plain: AuthHooks, fire: Fire) -> None:
    ran: list[int] = []

    def count() -> None:
        ran.append(1)

    first = plain.add_hook("login.post", count)
    second = plain.add_hook("login.post", count)
    assert first.name == count.__qualname__
    assert second.name != first.name
    assert len({h.name for h in plain.hooks("login.post")}) == 2
    await fire(plain, "login.post")
    assert ran == [1, 1]
