"""Start and stop real uvicorn processes on 127.0.0.1 for the end-to-end tests."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Instance:
    """One uvicorn process serving ``tests.e2e.instance_app:app``."""

    def __init__(self, name: str, env: Mapping[str, str]) -> None:
        self.name = name
        self.env = dict(env)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> Instance:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHHOOKS_", "OTEL_"))}
        env.update(self.env, INSTANCE_NAME=self.name, PYTHONPATH=str(ROOT))
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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"instance {self.name} exited: {err[-2000:]}")
            try:
                httpx.get(f"{self.url}/auth/jwks.json", timeout=0.5)
                return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"instance {self.name} did not start in {timeout}s")

    def kill(self) -> None:
        """``kill -9``: no shutdown, no flush."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._close()

    def _close(self) -> None:
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()


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
