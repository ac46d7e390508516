"""Handler conditions: the ``[handler.conditions]`` table compiled once, at load, into one predicate.

Conditions combine with AND; a handler without conditions always runs. Regular expressions are compiled, path
patterns translated, addresses parsed and dates turned into functions of the clock at load: evaluating a
condition does no parsing. Regular expressions use :func:`re.search` (anchor them with ``^…$`` to match the whole
value). A fact that is absent at the point (no ``reason`` at ``login.pre``, no request behind a plain API call)
makes its condition false.

========================= =====================================================================================
condition                 true when
========================= =====================================================================================
``outcome``               the flow's outcome at the point is one of these (``success`` / ``failure`` /
                          ``short_circuit`` / ``none``; see :func:`~authhooks.handlers.facts.outcome_of`)
``reason``                the ``reason`` input matches the regex
``error_message``         the ``error`` input's public message matches the regex
``path`` / ``method``     the request path matches one of the middleware's patterns / the method is listed
``client_ip``             the client address (see :mod:`~authhooks.handlers.facts`) is in one of the
                          addresses or CIDRs
``subject``               the subject matches the regex
``scopes``                ``{all = [...]}`` every listed scope is granted; ``{any = [...]}`` at least one
``claims``                every ``{claim, op, value}`` holds; ``op`` is ``== != < <= > >= in matches exists``;
                          values are numbers, strings or dates (ISO-8601, ``{now}``, ``{now}+10d``, ``{now}-5h``)
``token``                 ``{type, alg, issuer}``: the token's type (``access``…), header ``alg`` and ``iss``
``failures``              ``{count, window, by}``: at least ``count`` failures of this ``subject`` (or ``ip``)
                          within ``window``, counted in the store at ``login.failed``
``locked``                the subject is (``true``) / is not (``false``) locked out by a ``lockout`` handler
``last_auth_older_than``  the subject's last successful login is older than the duration (or unknown)
``token_valid``           ``true``: now is within the token's ``nbf``..``exp``; ``false``: outside
``when``                  ``"module:function"``: the function, given the frozen event, returns true
========================= =====================================================================================

The last four that need the store (``failures``, ``locked``, ``last_auth_older_than``) and ``when`` are checked
after the others, so a false cheap condition spares the store round trip.
"""

from __future__ import annotations

import importlib
import re
from asyncio import _get_running_loop
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from authhooks._patterns import compile_patterns
from authhooks.errors import ConfigurationError
from authhooks.handlers.claims import Test, claim_test, regex
from authhooks.handlers.facts import (
    claims_of,
    error_message_of,
    outcome_of,
    parse_networks,
    principal_of,
    scopes_of,
    subject_of,
    token_header_of,
)
from authhooks.handlers.spec import Env, Problem, check_keys, duration, flag, integer, string, strings
from authhooks.handlers.stored import Failures, LastAuth, Locked, StoreTest, When
from authhooks.hooks.dispatch import under_sync_driver
from authhooks.hooks.points import HookPoint
from authhooks.records import RequestInfo

__all__ = ["CONDITIONS", "Condition", "compile_conditions", "import_function", "on_loop"]

CONDITIONS = (
    "outcome",
    "reason",
    "error_message",
    "path",
    "method",
    "client_ip",
    "subject",
    "scopes",
    "claims",
    "token",
    "failures",
    "locked",
    "last_auth_older_than",
    "token_valid",
    "when",
)
OUTCOMES = ("success", "failure", "short_circuit", "none")


def on_loop() -> bool:
    """Whether the async driver called: an event loop runs in this thread and the sync driver is not the caller
    (``auth.sync.*`` called from a coroutine runs hooks in a thread whose loop runs, and they must block there,
    as under WSGI: :func:`~authhooks.hooks.dispatch.under_sync_driver`)."""
    return _get_running_loop() is not None and not under_sync_driver()


def import_function(spec: str, where: str) -> Callable[..., Any]:
    """Import ``"module:function"`` (``module:Class.method`` too).

    Raises:
        Problem: a malformed reference, a module that does not import, a missing or non-callable attribute.
    """
    module_name, sep, qualname = spec.partition(":")
    if not sep or not module_name or not qualname:
        raise Problem(where, f'expected "module:function", got {spec!r}')
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:  # an import error of any kind is the file's problem
        raise Problem(where, f"cannot import module {module_name!r} ({type(exc).__name__}: {exc})") from None
    for part in qualname.split("."):
        if not hasattr(target, part):
            raise Problem(where, f"module {module_name!r} has no attribute {qualname!r}")
        target = getattr(target, part)
    if not callable(target):
        raise Problem(where, f"{spec!r} is not callable")
    return target  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True, eq=False)
class Condition:
    """The compiled conditions of one handler at one point.

    Attributes:
        tests: the conditions that need no I/O, cheapest first.
        stored: the conditions that read the store or call user code.
        failure_windows: ``(by, window)`` pairs whose failures must be counted (``failures`` conditions).
        last_auth: the longest ``last_auth_older_than`` (successful logins must then be recorded), or ``None``.
        source: the table as written (shown by ``handlers list``).
        reads: the inputs the conditions may read, when known (every one of them is a cheap test of a known
            fact); ``None``: any input (a stored condition, a request fact, a token or a user's function).
        direct: for a lone ``subject`` or ``reason`` regex, ``(input, search)``: when that input is a non-empty
            string the condition is ``search(value) is not None`` (else :attr:`tests` decide), so the compiled
            ``when=`` needs no mapping and no further call in the common case.
    """

    tests: tuple[Test, ...]
    stored: tuple[StoreTest, ...]
    failure_windows: frozenset[tuple[str, float]] = frozenset()
    last_auth: float | None = None
    source: Mapping[str, Any] = field(default_factory=dict)
    reads: frozenset[str] | None = None
    direct: tuple[str, Callable[[str], Any]] | None = None

    def __call__(self, inputs: Mapping[str, Any], request: RequestInfo | None, auth: Any) -> bool | Awaitable[bool]:
        """True when every condition holds. On an event loop, when a stored condition remains, an awaitable."""
        for test in self.tests:
            if not test(inputs, request):
                return False
        if not self.stored:
            return True
        if on_loop():
            return self._aio(inputs, request, auth)
        return all(t.sync(inputs, request, auth) for t in self.stored)

    async def _aio(self, inputs: Mapping[str, Any], request: RequestInfo | None, auth: Any) -> bool:
        for t in self.stored:
            if not await t.aio(inputs, request, auth):
                return False
        return True


# -- compiling -------------------------------------------------------------------------------------------------


def _searcher(rx: re.Pattern[str], read: Callable[[Mapping[str, Any], RequestInfo | None], Any]) -> Test:
    search = rx.search

    def test(inputs: Mapping[str, Any], request: RequestInfo | None) -> bool:
        value = read(inputs, request)
        return isinstance(value, str) and search(value) is not None

    return test


def _path_of(inputs: Mapping[str, Any], request: RequestInfo | None) -> str | None:
    if request is not None and request.path:
        return request.path
    path = inputs.get("path")
    return path if isinstance(path, str) else None


def _method_of(inputs: Mapping[str, Any], request: RequestInfo | None) -> str | None:
    if request is not None and request.method:
        return request.method
    method = inputs.get("method")
    return method if isinstance(method, str) else None


def _token_test(spec: Any, where: str) -> Test:
    if not isinstance(spec, Mapping):
        raise Problem(where, f"expected a table {{type, alg, issuer}}, got {spec!r}")
    check_keys(spec, ("type", "alg", "issuer"), where)
    types = strings(spec, "type", where, None)
    algs = strings(spec, "alg", where, None)
    issuers = strings(spec, "issuer", where, None)

    def test(inputs: Mapping[str, Any], request: RequestInfo | None) -> bool:
        header = token_header_of(inputs) if types is not None or algs is not None else {}
        if types is not None:
            principal = principal_of(inputs)
            kind = (principal.token_type if principal is not None else None) or inputs.get("token_type")
            if kind not in types and header.get("typ") not in types:
                return False
        if algs is not None and header.get("alg") not in algs:
            return False
        return issuers is None or claims_of(inputs).get("iss") in issuers

    return test


def compile_conditions(
    table: Mapping[str, Any], point: HookPoint, env: Env, clock: Callable[[], float]
) -> Condition | None:
    """Compile a ``[handler.conditions]`` table for ``point``; ``None`` when it is empty.

    Raises:
        Problem: an unknown condition, a wrong type, a bad regex, pattern, address, date or operator.
    """
    check_keys(table, CONDITIONS, "conditions")
    if not table:
        return None
    w = "conditions"
    tests: list[Test] = []
    stored: list[StoreTest] = []
    windows: set[tuple[str, float]] = set()
    last_auth: float | None = None
    if "outcome" in table:
        wanted = strings(table, "outcome", w)
        for o in wanted:
            if o not in OUTCOMES:
                raise Problem(f"{w}.outcome", f"unknown outcome {o!r} (known: {', '.join(OUTCOMES)})")
        wanted_set = frozenset(wanted)
        tests.append(lambda inputs, request: outcome_of(point, inputs) in wanted_set)
    if "method" in table:
        methods = frozenset(m.upper() for m in strings(table, "method", w))
        tests.append(lambda inputs, request: _method_of(inputs, request) in methods)
    if "path" in table:
        try:
            source = compile_patterns(strings(table, "path", w))
        except ConfigurationError as exc:
            raise Problem(f"{w}.path", str(exc)) from None
        fullmatch = re.compile(source or "(?!)", re.DOTALL).fullmatch
        tests.append(lambda inputs, request: (p := _path_of(inputs, request)) is not None and fullmatch(p) is not None)
    if "reason" in table:
        tests.append(_searcher(regex(table["reason"], f"{w}.reason"), lambda i, r: i.get("reason")))
    if "error_message" in table:
        rx = regex(table["error_message"], f"{w}.error_message")
        tests.append(_searcher(rx, lambda i, r: error_message_of(i)))
    if "subject" in table:
        subject_search = regex(table["subject"], f"{w}.subject").search

        def subject_matches(inputs: Mapping[str, Any], request: RequestInfo | None) -> bool:
            value = inputs.get("subject")  # the common case first, without a call
            if value.__class__ is not str or not value:
                value = subject_of(inputs)
            return value is not None and subject_search(value) is not None

        tests.append(subject_matches)
    if "client_ip" in table:
        try:
            networks = parse_networks(strings(table, "client_ip", w), f"{w}.client_ip")
        except ValueError as exc:
            raise Problem(f"{w}.client_ip", str(exc).split(": ", 1)[-1]) from None
        proxies = env.proxies

        def in_networks(inputs: Mapping[str, Any], request: RequestInfo | None) -> bool:
            ip = proxies.client_ip(request)
            return ip is not None and any(ip in net for net in networks)

        tests.append(in_networks)
    if "scopes" in table:
        tests.append(_scopes_test(table["scopes"], f"{w}.scopes"))
    if "token" in table:
        tests.append(_token_test(table["token"], f"{w}.token"))
    if "token_valid" in table:
        want = flag(table, "token_valid", w)

        def valid(inputs: Mapping[str, Any], request: RequestInfo | None) -> bool:
            claims = claims_of(inputs)
            now = clock()
            exp, nbf = claims.get("exp"), claims.get("nbf")
            inside = isinstance(exp, (int, float)) and now < exp and not (isinstance(nbf, (int, float)) and now < nbf)
            return inside is want

        tests.append(valid)
    if "claims" in table:
        claims = table["claims"]
        if isinstance(claims, Mapping):
            claims = [claims]
        if not isinstance(claims, list) or not claims:
            raise Problem(f"{w}.claims", "expected a list of {claim, op, value} tables")
        tests.extend(claim_test(c, f"{w}.claims[{i}]", clock) for i, c in enumerate(claims))
    if "failures" in table:
        spec = table["failures"]
        fw = f"{w}.failures"
        if not isinstance(spec, Mapping):
            raise Problem(fw, "expected a table {count, window, by}")
        check_keys(spec, ("count", "window", "by"), fw)
        by = string(spec, "by", fw, "subject")
        if by not in ("subject", "ip"):
            raise Problem(f"{fw}.by", f'expected "subject" or "ip", got {by!r}')
        window = duration(spec, "window", fw)
        windows.add((by, window))
        stored.append(Failures(integer(spec, "count", fw, low=1), window, by, env.proxies))
    if "locked" in table:
        stored.append(Locked(flag(table, "locked", w)))
    if "last_auth_older_than" in table:
        last_auth = duration(table, "last_auth_older_than", w)
        stored.append(LastAuth(last_auth))
    if "when" in table:
        ref = string(table, "when", w)
        stored.append(When(import_function(ref, f"{w}.when"), point, ref))
    reads: frozenset[str] | None = frozenset()
    for key in table:
        known = _READS.get(key)
        reads = None if known is None or reads is None else reads | known
    direct = None
    if len(table) == 1 and ("subject" in table or "reason" in table):
        key = "subject" if "subject" in table else "reason"
        direct = (key, regex(table[key], f"{w}.{key}").search)
    return Condition(tuple(tests), tuple(stored), frozenset(windows), last_auth, dict(table), reads, direct)


_READS: Mapping[str, frozenset[str]] = {
    "outcome": frozenset({"error", "status_code", "valid"}),
    "reason": frozenset({"reason"}),
    "error_message": frozenset({"error"}),
    "subject": frozenset({"subject", "principal", "identifier"}),
    "scopes": frozenset({"scopes", "principal"}),
    "claims": frozenset({"claims", "principal"}),
    "token_valid": frozenset({"claims", "principal"}),
}
"""The inputs each cheap condition reads (:mod:`~authhooks.handlers.facts`); a condition not listed may read any."""


def _scopes_test(spec: Any, where: str) -> Test:
    if isinstance(spec, (str, list)):
        spec = {"all": spec}
    if not isinstance(spec, Mapping) or not spec:
        raise Problem(where, "expected {all = [...]} or {any = [...]}")
    check_keys(spec, ("all", "any"), where)
    every = frozenset(strings(spec, "all", where, ()))
    some = frozenset(strings(spec, "any", where, ()))

    def test(inputs: Mapping[str, Any], request: RequestInfo | None) -> bool:
        granted = scopes_of(inputs)
        return every <= granted and (not some or not some.isdisjoint(granted))

    return test
