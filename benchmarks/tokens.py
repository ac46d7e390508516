"""Token validation against PyJWT, in one run: ``python benchmarks/tokens.py`` (``--quick`` for a smoke run).

For HS256, RS256, ES256 and EdDSA it measures, per operation:

- ``pyjwt``: ``jwt.decode(token, key, algorithms=[alg], audience=..., issuer=..., options={"require": ["exp"]})``
  with the key object loaded once (the peer);
- ``first``: ``TokenValidator.validate`` on tokens it has **never seen** (every call validates a distinct,
  pre-generated token; only the header, which every token of one key shares, is recognised);
- ``hit``: a validated-token cache hit in front of the validator (the same token again: ``cache.get`` then, on a
  miss, ``validate_keyed`` + ``put`` under the verifying key's thumbprint, as the ``validate_token`` flow does).

Measured as every benchmark here is (``_timing``): a full garbage collection before each timed block, the three
variants alternated within a round in an order rotated from round to round, the figures the medians of
same-round ratios against ``pyjwt``, and the load average at the start and the end. The peer decodes the same
tokens as ``first`` in the same round. No targets: these are the validator's own figures (the request-level
targets are ``middleware.py``'s).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jwt

sys.path.insert(0, str(Path(__file__).parent))
from _timing import collected, median_ratio, print_footer, print_header, rotated
from authhooks.tokens import ClaimsPolicy, Key, TokenIssuer, TokenValidator, ValidatedTokenCache

ISSUER = "https://issuer.example"
AUDIENCE = "api://orders"
PER_ROUND = {"HS256": 2000, "RS256": 600, "ES256": 300, "EdDSA": 250}


def _time(fn: Callable[[str], object], tokens: list[str]) -> float:
    """µs per call of ``fn`` over ``tokens``, after a full garbage collection."""
    with collected():
        start = time.perf_counter_ns()
        for token in tokens:
            fn(token)
        return (time.perf_counter_ns() - start) / len(tokens) / 1000.0


def bench(alg: str, n: int, rounds: int) -> dict[str, list[float]]:
    """µs per call of each variant, one figure per round."""
    key = Key.generate(alg)
    issuer = TokenIssuer([key], issuer=ISSUER, audience=[AUDIENCE], access_ttl=3600)
    tokens = [issuer.issue(f"user-{i}", {"scope": "orders:read orders:write"}).token for i in range(n * rounds)]
    validator = TokenValidator(issuer.keyset, ClaimsPolicy(issuer=ISSUER, audience=(AUDIENCE,)))
    cache = ValidatedTokenCache(10000)
    verify_key = key.verify_key

    def pyjwt(token: str) -> object:
        return jwt.decode(
            token, verify_key, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER, options={"require": ["exp"]}
        )

    def cached(token: str) -> object:
        principal = cache.get(token)
        if principal is None:
            principal, key = validator.validate_keyed(token)
            cache.put(token, principal, None, key.thumbprint)
        return principal

    validate = validator.validate
    # Warm-up on tokens outside the measured sets (imports, the header cache, branch caches).
    warm = [issuer.issue(f"warm-{i}").token for i in range(50)]
    for token in warm:
        pyjwt(token)
        validate(token)
        cached(warm[0])

    out: dict[str, list[float]] = {"pyjwt": [], "first": [], "hit": []}
    for r in range(rounds):
        batch = tokens[r * n : (r + 1) * n]  # each token seen by the validator for the first time
        repeated = [batch[0]] * n
        cases: dict[str, tuple[Callable[[str], object], list[str]]] = {
            "pyjwt": (pyjwt, batch),
            "first": (validate, batch),
            "hit": (cached, repeated),
        }
        cached(batch[0])  # the hit case's token is in the cache before its block
        for name in rotated(list(cases), r):
            fn, block = cases[name]
            out[name].append(_time(fn, block))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="few tokens and rounds (a smoke run)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 9)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 9)

    print_header("token validation: TokenValidator vs PyJWT jwt.decode, same tokens, same rounds")
    results = {alg: bench(alg, 50 if args.quick else n, rounds) for alg, n in PER_ROUND.items()}
    print(f"\nmedian µs per call ({rounds} rounds); ratio = median of same-round ratios against jwt.decode")
    print(f"  {'alg':6} {'jwt.decode':>10} {'first-seen':>10} {'ratio':>6} {'cache hit':>10} {'ratio':>6}")
    ratios: dict[str, tuple[float, float]] = {}
    for alg, r in results.items():
        ratio_first = median_ratio(r["first"], r["pyjwt"])
        ratio_hit = median_ratio(r["hit"], r["pyjwt"])
        ratios[alg] = (ratio_first, ratio_hit)
        print(
            f"  {alg:6} {statistics.median(r['pyjwt']):10.2f} {statistics.median(r['first']):10.2f}"
            f" {ratio_first:6.2f} {statistics.median(r['hit']):10.2f} {ratio_hit:6.3f}"
        )
    print()
    for alg, (ratio_first, ratio_hit) in ratios.items():
        print(f"ratio_first_{alg}={ratio_first:.2f}")
        print(f"ratio_hit_{alg}={ratio_hit:.3f}")
    print_footer()
    return 0


if __name__ == "__main__":
    sys.exit(main())
