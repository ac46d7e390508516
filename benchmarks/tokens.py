"""Token validation against PyJWT, in one run: ``python benchmarks/tokens.py``.

For HS256, RS256, ES256 and EdDSA it measures, per operation:

- ``jwt.decode(token, key, algorithms=[alg], audience=..., issuer=..., options={"require": ["exp"]})`` with the
  key object loaded once (the peer);
- ``TokenValidator.validate`` on tokens it has **never seen** (every iteration validates a distinct,
  pre-generated token; only the header, which every token of one key shares, is recognised);
- a validated-token cache hit in front of the validator (the same token again: ``cache.get`` then, on a miss,
  ``validate_keyed`` + ``put`` under the verifying key's thumbprint, as the ``validate_token`` flow does).

Each round times every variant on the same tokens; the reported ratio is the median of same-round ratios.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import jwt

from authhooks.tokens import ClaimsPolicy, Key, TokenIssuer, TokenValidator, ValidatedTokenCache

ISSUER = "https://issuer.example"
AUDIENCE = "api://orders"
ROUNDS = 9
PER_ROUND = {"HS256": 2000, "RS256": 600, "ES256": 300, "EdDSA": 250}


def _time(fn: Callable[[str], object], tokens: list[str]) -> float:
    start = time.perf_counter_ns()
    for token in tokens:
        fn(token)
    return (time.perf_counter_ns() - start) / len(tokens) / 1000.0


def bench(alg: str) -> dict[str, float]:
    key = Key.generate(alg)
    issuer = TokenIssuer([key], issuer=ISSUER, audience=[AUDIENCE], access_ttl=3600)
    n = PER_ROUND[alg]
    tokens = [issuer.issue(f"user-{i}", {"scope": "orders:read orders:write"}).token for i in range(n * ROUNDS)]
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
    warm = issuer.issue("warm").token
    for _ in range(50):
        pyjwt(warm)
        cached(warm)
    validate(issuer.issue("warm-2").token)

    peer, first, hit, r_first, r_hit = [], [], [], [], []
    for r in range(ROUNDS):
        batch = tokens[r * n : (r + 1) * n]
        t_peer = _time(pyjwt, batch)
        t_first = _time(validate, batch)  # each token seen for the first time
        repeated = [batch[0]] * n
        cached(batch[0])
        t_hit = _time(cached, repeated)
        peer.append(t_peer)
        first.append(t_first)
        hit.append(t_hit)
        r_first.append(t_first / t_peer)
        r_hit.append(t_hit / t_peer)
    return {
        "pyjwt": statistics.median(peer),
        "first": statistics.median(first),
        "hit": statistics.median(hit),
        "ratio_first": statistics.median(r_first),
        "ratio_hit": statistics.median(r_hit),
    }


def main() -> None:
    results = {alg: bench(alg) for alg in PER_ROUND}
    print(f"{'alg':6} {'jwt.decode µs':>14} {'first-seen µs':>14} {'ratio':>7} {'cache hit µs':>13} {'ratio':>7}")
    for alg, r in results.items():
        print(
            f"{alg:6} {r['pyjwt']:14.2f} {r['first']:14.2f} {r['ratio_first']:7.3f} {r['hit']:13.2f}"
            f" {r['ratio_hit']:7.3f}"
        )
    print()
    for alg, r in results.items():
        print(f"ratio_first_{alg}={r['ratio_first']:.2f}")
        print(f"ratio_hit_{alg}={r['ratio_hit']:.3f}")


if __name__ == "__main__":
    main()
