"""The README's Python snippets run (issue 14: "the README's snippets are extracted and run by a test").

README.md is read when the tests are collected, so a block someone adds is run too. Every ```python block runs
unless the line right before its fence (blank lines aside) is a marker:

- ``<!-- not run: why -->``: a fragment that cannot run alone (the reason is required);
- ``<!-- run with: NAME -->``: run with what the context ``NAME`` below prepares (names a reader has from the
  text around the block, such as ``auth`` or a signed challenge) and checked by it afterwards (the app a block
  builds is probed over HTTP; the ``pytest`` context runs the block as a test file under pytest).

A block without a marker runs as is. Every block may use top-level ``await`` (it runs statement by statement in
an event loop, as in ``python -m asyncio``), runs in a temporary working directory with
``AUTHHOOKS_STATE_DIR`` there and ``AUTHHOOKS_STORE_URL=memory://``, and a block that defines an ASGI ``app`` is
probed with one ``GET /`` that must not be a 5xx.
"""

from __future__ import annotations

import ast
import base64
import inspect
import os
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from authhooks import AuthHooks
from authhooks.errors import AuthError, StopAuthentication

README = Path(__file__).resolve().parents[1] / "README.md"
_MARKER = re.compile(r"<!--\s*(not run|run with):\s*(.*?)\s*-->")


@dataclass(frozen=True)
class Block:
    line: int  # of the first code line, 1-based
    code: str
    kind: str  # "run", "not run" or "run with"
    arg: str


def readme_blocks() -> list[Block]:
    """Every ```python block of README.md with its marker."""
    lines = README.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            start = i + 1
            end = start
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            before = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            marker = _MARKER.fullmatch(before)
            kind, arg = (marker.group(1), marker.group(2)) if marker else ("run", "")
            blocks.append(Block(start + 1, "\n".join(lines[start:end]) + "\n", kind, arg))
            i = end
        i += 1
    return blocks


async def run_block(block: Block, ns: dict[str, Any], between: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Run ``block`` in ``ns`` statement by statement, awaiting top-level ``await``s; ``between`` runs before each
    statement (to give the block what a reader would have at that point). Tracebacks name README lines."""
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    tree = compile(block.code, str(README), "exec", flags=ast.PyCF_ONLY_AST | flags)
    assert isinstance(tree, ast.Module)
    ast.increment_lineno(tree, block.line - 1)
    for statement in tree.body:
        if between is not None:
            between(ns)
        code = compile(ast.Module([statement], type_ignores=[]), str(README), "exec", flags=flags)
        result = eval(code, ns)  # the README's own code
        if inspect.iscoroutine(result):
            await result


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://readme")


def _ed25519() -> tuple[Ed25519PrivateKey, str]:
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return key, base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# -- contexts: prepare names, then check what the block did ------------------------------------------------------


async def protect_app(block: Block, tmp_path: Path) -> None:
    """The block "Protect an app": the app answers 401 without a token, 200 with one, 403 without the admin
    scope, and the block's rate-limit hook turns the sixth challenge for a subject into a 429."""
    ns: dict[str, Any] = {"__name__": "readme_protect_app"}
    await run_block(block, ns)
    auth: AuthHooks = ns["auth"]
    try:
        token = (await auth.issue_token("alice", {"scope": "read"})).token
        bearer = {"Authorization": f"Bearer {token}"}
        async with _client(ns["app"]) as client:
            assert (await client.get("/api/me")).status_code == 401
            me = await client.get("/api/me", headers=bearer)
            assert (me.status_code, me.json()) == (200, {"subject": "alice"})
            assert (await client.get("/api/admin/users", headers=bearer)).status_code == 403
            statuses = [(await client.post("/auth/challenge", json={"subject": "bob"})).status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
    finally:
        await auth.aclose()


async def flows_api(block: Block, tmp_path: Path) -> None:
    """The block "The flows as a Python API", with what the surrounding text assumes: ``auth``, a ``subject``
    (an Ed25519 public key) whose client signs the challenge, and logins granted the ``admin`` scope (so
    ``authorize`` passes); afterwards the invalidated login is refused."""
    key, subject = _ed25519()
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path)
    auth.add_hook("issue_token.pre", lambda claims: {"claims": {**claims, "scope": "admin"}}, name="grant_admin")

    def sign(ns: dict[str, Any]) -> None:  # the client signs the challenge as soon as it has it
        if "challenge" in ns and "signature" not in ns:
            ns["signature"] = base64.urlsafe_b64encode(key.sign(ns["challenge"].message.encode())).decode()

    ns: dict[str, Any] = {"__name__": "readme_flows_api", "auth": auth, "subject": subject}
    try:
        await run_block(block, ns, sign)
        assert ns["principal"].subject == subject
        with pytest.raises(AuthError):
            await auth.validate_token(ns["pair"].access_token)
    finally:
        await auth.aclose()


async def hooks(block: Block, tmp_path: Path) -> None:
    """The block "Hooks": its hooks register (``auth`` and ``StopAuthentication`` as the text has them) and the
    claim hook adds its claim to an issued token."""
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path)
    ns: dict[str, Any] = {"__name__": "readme_hooks", "auth": auth, "StopAuthentication": StopAuthentication}
    try:
        await run_block(block, ns)
        principal = await auth.validate_token((await auth.issue_token("alice")).token)
        assert principal.claims["plan"] == "gold"
        assert [h.name for h in auth.hooks("login.verified")] == ["require_mfa"]
    finally:
        await auth.aclose()


async def as_pytest_file(block: Block, tmp_path: Path) -> None:
    """The block "Testing your hooks" is a whole test file; plain pytest (with the authhooks plugin it installs)
    runs it and it passes, as a user who copies it would see."""
    (tmp_path / "test_readme_example.py").write_text(block.code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHHOOKS_", "OTEL_"))}
    result = subprocess.run(  # noqa: ASYNC221 - a test waiting for its pytest run
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_readme_example.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b[1-9]\d* passed\b", result.stdout), result.stdout


CONTEXTS: dict[str, Callable[[Block, Path], Awaitable[None]]] = {
    "protect_app": protect_app,
    "flows_api": flows_api,
    "hooks": hooks,
    "pytest": as_pytest_file,
}


async def as_is(block: Block, tmp_path: Path) -> None:
    ns: dict[str, Any] = {"__name__": "readme_block"}
    await run_block(block, ns)
    app = ns.get("app")
    try:
        if callable(app):
            async with _client(app) as client:
                assert (await client.get("/")).status_code < 500
    finally:
        auth = ns.get("auth")
        if isinstance(auth, AuthHooks):
            await auth.aclose()


# -- the tests ---------------------------------------------------------------------------------------------------


BLOCKS = readme_blocks()


def test_the_readme_has_python_blocks_and_known_markers() -> None:
    assert len(BLOCKS) >= 4
    for block in BLOCKS:
        if block.kind == "run with":
            assert block.arg in CONTEXTS, f"README.md:{block.line}: unknown context {block.arg!r}"
        elif block.kind == "not run":
            assert block.arg, f"README.md:{block.line}: a 'not run' marker says why"
    assert any("hook_recorder" in b.code and b.arg == "pytest" for b in BLOCKS), "the hook_recorder example runs"


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.kind != "not run"], ids=lambda b: f"README.md:{b.line}")
async def test_readme_block_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTHHOOKS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("AUTHHOOKS_STORE_URL", "memory://")
    runner = CONTEXTS[block.arg] if block.kind == "run with" else as_is
    await runner(block, tmp_path)
