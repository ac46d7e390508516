"""Start and stop real uvicorn processes on 127.0.0.1 for the end-to-end tests."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_answering(proc: subprocess.Popen[Any], url: str, timeout: float, *, status: int | None = None) -> bool:
    """Poll ``url`` until it answers at all (or with ``status``, if given): True. False as soon as ``proc`` has exited,
    or once ``timeout`` seconds have passed; the caller says which in its error (``proc.poll()``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            answer = httpx.get(url, timeout=1.0)
        except httpx.HTTPError:
            pass
        else:
            if status is None or answer.status_code == status:
                return True
        time.sleep(0.05)
    return False


def child_env(settings: Mapping[str, str]) -> dict[str, str]:
    """The environment of a server process: this one's without any ``AUTHHOOKS_*`` or ``OTEL_*`` (a server gets
    only the settings its test gives), ``PYTHONPATH`` at the repository, then ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHHOOKS_", "OTEL_"))}
    env.update(settings, PYTHONPATH=str(ROOT))
    return env


def serve_oauth_app(port: int, settings: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``examples/oauth_app.py`` under uvicorn on 127.0.0.1:``port`` with ``settings`` (see :func:`child_env`),
    stderr into ``log``; returned once ``/`` answers 200. If it exits or is not up within 20 s it is killed and
    :class:`RuntimeError` carries the log's tail."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "examples.oauth_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=child_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    if wait_until_answering(proc, f"http://127.0.0.1:{port}/", 20, status=200):
        return proc
    proc.kill()
    proc.wait(10)
    raise RuntimeError(log.read_text()[-2000:])


def stop_process(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``grace`` seconds; nothing if it has already exited."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


class Instance:
    """One uvicorn process serving ``tests.e2e.instance_app:app``."""

    def __init__(self, name: str, env: Mapping[str, str]) -> None:
        self.name = name
        self.env = dict(env)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> Instance:
        env = child_env({**self.env, "INSTANCE_NAME": self.name})
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "tests.e2e.instance_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if wait_until_answering(self.proc, f"{self.url}/auth/jwks.json", timeout):
            return self
        if self.proc.poll() is not None:
            err = self.proc.stderr.read().decode() if self.proc.stderr else ""
            raise RuntimeError(f"instance {self.name} exited: {err[-2000:]}")
        self.stop()
        raise RuntimeError(f"instance {self.name} did not start in {timeout}s")

    def kill(self) -> None:
        """``kill -9``: no shutdown, no flush."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._close()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        self._close()

    def _close(self) -> None:
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()


@contextmanager
def two_instances(env: Mapping[str, str]) -> Iterator[tuple[Instance, Instance]]:
    """Instances ``a`` and ``b`` with the same settings ``env``, both started; both stopped on exit."""
    a, b = Instance("a", env), Instance("b", env)
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        a.stop()
        b.stop()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class KeyHolder:
    """A client identity: an Ed25519 key whose public key is the subject."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.subject = b64url(self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def challenge(self, client: httpx.Client, url: str) -> httpx.Response:
        return client.post(f"{url}/auth/challenge", json={"subject": self.subject})

    def login(self, client: httpx.Client, url: str, challenge: dict[str, str]) -> httpx.Response:
        signature = b64url(self.key.sign(challenge["message"].encode()))
        return client.post(
            f"{url}/auth/login",
            json={"subject": self.subject, "challenge": challenge["nonce"], "signature": signature},
        )
