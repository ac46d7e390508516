"""The validation path with each store backend: memory, SQLite, Redis, in one run.

Run: ``python benchmarks/stores.py`` (Redis at ``REDIS_URL``, default ``redis://127.0.0.1:6379/15``).

For each backend it times ``auth.sync.validate_token`` (HS256, no hooks, telemetry off) on:

- a **repeated** token: the validated-token cache answers; the store is not consulted (revocations reach the
  cache through the store's publish/subscribe, not by a lookup per request);
- a **first-seen** token: a full check plus the revocation lookup (one ``get`` on the store).

It prints µs per validation and the ratio of each backend to memory (median of same-round ratios), ending with
``ratio_redis_vs_memory_repeated=…`` (the product target: at most 1.10) and the first-seen ratios.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_ratio, print_footer, print_header, print_table, rounds
from authhooks import AuthHooks, Secret

NUMBER, REPEAT = 2000, 9
SECRET = Secret("b" * 64)


def build(url: str, state_dir: str) -> AuthHooks:
    return AuthHooks(store_url=url, secret=SECRET, state_dir=state_dir, telemetry=False, store_key_prefix="bench:")


def main() -> None:
    print_header("the validation path per store backend")
    tmp = tempfile.mkdtemp()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    backends = {"memory": "memory://", "sqlite": f"sqlite:///{tmp}/bench.sqlite3", "redis": redis_url}
    auths = {name: build(url, tmp) for name, url in backends.items()}
    try:
        auths["redis"].store.sync.ping()
    except Exception as exc:
        print(f"Redis at {redis_url} is not reachable ({type(exc).__name__}); measuring memory and SQLite only")
        del auths["redis"]
    cases = {}
    for name, auth in auths.items():
        repeated = auth.sync.issue_token("alice").token
        auth.sync.validate_token(repeated)
        fresh = [auth.sync.issue_token(f"user{i}").token for i in range(NUMBER * (REPEAT + 2))]
        it = iter(fresh)
        cases[f"{name} repeated"] = lambda a=auth, t=repeated: a.sync.validate_token(t)
        cases[f"{name} first-seen"] = lambda a=auth, i=it: a.sync.validate_token(next(i))
    started = time.perf_counter()
    results = rounds(cases, NUMBER, REPEAT)
    print_table(f"validate_token_sync per store, HS256 ({time.perf_counter() - started:.1f}s)", results, unit="us")
    print()
    for name in auths:
        if name == "memory":
            continue
        for kind in ("repeated", "first-seen"):
            ratio = median_ratio(results[f"{name} {kind}"], results[f"memory {kind}"])
            print(f"ratio_{name}_vs_memory_{kind.replace('-', '_')}={ratio:.3f}")
    for auth in auths.values():
        auth.close()
    print_footer()


if __name__ == "__main__":
    main()
