"""The cost of a protected request under WSGI: authhooks' WSGI middleware against Flask + PyJWT in a
``before_request``, in the same run.

Run: ``python benchmarks/wsgi.py`` (``--quick`` for a short smoke run; ``--alg`` to pick algorithms, HS256 by
default). Every case serves ``GET /protected`` (a Flask view answering ``ok``) through Werkzeug's WSGI test client
(``werkzeug.test.Client``), in process, one request after another; the ``environ`` of every request is built
before the timed block (the same cost for every case):

- ``bare``: the Flask app alone (no authentication);
- ``peer``: the same app with a ``before_request`` that decodes the Bearer token with PyJWT
  (``jwt.decode(token, key, algorithms=[alg], audience=..., issuer=..., options={"require": ["exp"]})``), the
  usual hand-written check, 401 on failure;
- ``authhooks``: the bare app behind ``AuthHooksWSGIMiddleware`` (``init_app``), no hooks, telemetry off, memory
  store, the same key, issuer and audience.

Two token regimes, as in ``benchmarks/middleware.py``: ``first`` (a distinct token per request: parse, signature,
claims and the revocation lookup every time) and ``cached`` (one token: authhooks answers from its validated-token
cache; the peer decodes it every time).

Garbage is collected before each timed block; the cases alternate within a round (the order rotated per round);
ratios are medians of same-round ratios; the load average is printed at the start and the end (``_timing``).
Two ratios per regime:

- ``overhead``: what authentication adds to the bare app, authhooks' over the peer's,
  ``(authhooks - bare) / (peer - bare)``; the targets (issue 17: first ≤ 0.5 for HS256, cached ≤ 0.25) apply to it;
- ``request``: the whole request, ``authhooks / peer`` (Flask's dispatch and the test client included, the same
  in both, so this ratio cannot go far below 1 whatever the check costs).
"""

from __future__ import annotations

import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
from flask import Flask, Response, g, request
from werkzeug.test import Client, EnvironBuilder

sys.path.insert(0, str(Path(__file__).parent))
import _timing
from _timing import Targets, median_ratio, print_footer, print_header, print_table, repeat, rotated
from authhooks import AuthHooks
from authhooks.integrations.flask import init_app
from middleware import ALGORITHMS, AUDIENCE, ISSUER, KeyMaterial

TARGET_FIRST = {"HS256": 0.5}
TARGET_CACHED = 0.25


def bare_app() -> Flask:
    app = Flask("bench")

    @app.get("/protected")
    def protected() -> str:
        return "ok"

    return app


def peer_app(key: Any, alg: str) -> Flask:
    app = bare_app()

    @app.before_request
    def check() -> Response | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return Response("missing", status=401)
        try:
            claims = jwt.decode(
                token, key, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER, options={"require": ["exp"]}
            )
        except jwt.InvalidTokenError:
            return Response("invalid", status=401)
        g.user = claims["sub"]
        return None

    return app


def authhooks_app(material: KeyMaterial) -> tuple[Flask, AuthHooks]:
    auth = AuthHooks(telemetry=False, store_url="memory://", issuer=ISSUER, audience=(AUDIENCE,), **material.settings)
    app = bare_app()
    init_app(app, auth, protect=["/protected"])
    return app, auth


def run_requests(client: Client, tokens: Iterator[str], n: int) -> float:
    """Serve ``n`` requests through the test client (tokens from ``tokens``); ns per request. Raises unless every
    answer is 200."""
    environs = []
    for _ in range(n):
        builder = EnvironBuilder(path="/protected", headers={"Authorization": f"Bearer {next(tokens)}"})
        environs.append(builder.get_environ())
        builder.close()
    gc.collect()  # no case pays for another's garbage (see _timing)
    failed = 0
    start = time.perf_counter_ns()
    for environ in environs:
        response = client.open(environ)
        failed += response.status_code != 200
    elapsed = time.perf_counter_ns() - start
    if failed:
        raise RuntimeError(f"{failed} requests did not answer 200")
    return elapsed / n


def bench_algorithm(material: KeyMaterial, number: int, rounds: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    now = int(time.time())
    fresh = iter([material.token(now) for _ in range(number * (rounds + 1) + 10)])
    same = material.token(now)
    peer_fresh = [material.token(now) for _ in range(number)]

    def cycle(tokens: list[str]) -> Iterator[str]:
        while True:
            yield from tokens

    authhooks, _ = authhooks_app(material)
    peer_tokens = cycle(peer_fresh)  # the peer has no cache: it may reuse tokens; authhooks sees each once
    cases: dict[str, tuple[Client, Callable[[], Iterator[str]]]] = {
        "bare": (Client(bare_app()), lambda: repeat(same)),
        "peer": (Client(peer_app(material.verifying, material.alg)), lambda: peer_tokens),
        "authhooks first": (Client(authhooks), lambda: fresh),
        "authhooks cached": (Client(authhooks), lambda: repeat(same)),
    }
    for client, tokens in cases.values():  # check and warm up
        run_requests(client, tokens(), max(1, number // 10))
    results: dict[str, list[float]] = {name: [] for name in cases}
    for i in range(rounds):
        for name in rotated(list(cases), i):
            client, tokens = cases[name]
            results[name].append(run_requests(client, tokens(), number))
    authhooks.extensions["authhooks"].close()
    bare, peer = results["bare"], results["peer"]

    def overhead(variant: list[float]) -> float:
        return statistics.median((v - b) / (p - b) for v, b, p in zip(variant, bare, peer, strict=True))

    ratios = {
        "first": overhead(results["authhooks first"]),
        "cached": overhead(results["authhooks cached"]),
        "request_first": median_ratio(results["authhooks first"], peer),
        "request_cached": median_ratio(results["authhooks cached"], peer),
    }
    return results, ratios


def main(argv: list[str] | None = None) -> int:
    parser = _timing.request_options(__doc__)
    parser.add_argument("--alg", action="append", choices=ALGORITHMS, help="algorithms (default: HS256)")
    args = parser.parse_args(argv)
    number, rounds = _timing.sizes(args, 1000)
    algorithms = tuple(args.alg) if args.alg else ("HS256",)

    print_header("protected request: authhooks WSGI middleware vs Flask + PyJWT before_request, WSGI test client")
    summary = []
    with tempfile.TemporaryDirectory() as workdir:
        for alg in algorithms:
            results, ratios = bench_algorithm(KeyMaterial(alg, Path(workdir)), number, rounds)
            print_table(f"{alg}: median µs per request ({number} requests x {rounds} rounds)", results, unit="us")
            summary.append((alg, ratios, results))

    print("\noverhead = (authhooks - bare) / (peer - bare); request = authhooks / peer (medians of same-round ratios)")
    targets = Targets()
    for alg, ratios, results in summary:
        bare_us = statistics.median(results["bare"]) / 1000
        added = statistics.median(results["peer"]) / 1000 - bare_us
        print(f"  {alg}: the peer's check adds {added:.1f} µs to a {bare_us:.1f} µs request")
        print(f"ratio_first_{alg}={ratios['first']:.2f}")
        print(f"ratio_cached_{alg}={ratios['cached']:.2f}")
        print(f"ratio_request_first_{alg}={ratios['request_first']:.2f}")
        print(f"ratio_request_cached_{alg}={ratios['request_cached']:.2f}")
        if alg in TARGET_FIRST:
            targets.at_most(f"ratio_first_{alg}", ratios["first"], TARGET_FIRST[alg])
        targets.at_most(f"ratio_cached_{alg}", ratios["cached"], TARGET_CACHED)
    targets.print()
    print_footer()
    return 0


if __name__ == "__main__":
    sys.exit(main())
