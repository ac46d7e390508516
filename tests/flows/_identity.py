"""Helpers shared by the identity-flow and parity tests: an ``AuthHooks`` with the identity flows, real keys,
and one way to call a method through the async API or its ``*_sync`` twin."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import base58
import coincurve
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from authhooks import AuthHooks
from authhooks.verifiers import signed_message as sm

Auth: type[AuthHooks] = AuthHooks


def make_auth(tmp_path: Path, store_url: str = "memory://", **overrides: Any) -> Any:
    """An ``AuthHooks`` (with the identity flows) on its own state directory."""
    return Auth(store_url=store_url, state_dir=tmp_path, **overrides)


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Ed25519Key:
    """A fresh Ed25519 key; ``subject`` is its base64url public key (or ``did`` its did:key)."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.subject = b64u(raw)
        self.did = "did:key:z" + base58.b58encode(b"\xed\x01" + raw).decode()

    def sign(self, message: str) -> str:
        return b64u(self.key.sign(message.encode()))


class EvrmoreKey:
    """A fresh secp256k1 key; ``subject`` is its Evrmore (or Bitcoin) P2PKH address."""

    def __init__(self, version: int = 33, magic: bytes = sm.EVRMORE_MAGIC) -> None:
        self.key = coincurve.PrivateKey()
        self.magic = magic
        self.subject = sm.p2pkh_address(self.key.public_key.format(compressed=True), version)

    def sign(self, message: str) -> str:
        rec = self.key.sign_recoverable(sm.message_hash(message.encode(), self.magic), hasher=None)
        return base64.b64encode(bytes([27 + rec[64] + 4]) + rec[:64]).decode()


async def call(auth: Any, mode: str, method: str, *args: Any, **kwargs: Any) -> Any:
    """``auth.<method>`` awaited, or ``auth.<method>_sync`` run in a worker thread (mode ``"sync"``)."""
    if mode == "sync":
        return await asyncio.to_thread(getattr(auth.sync, method), *args, **kwargs)
    return await getattr(auth, method)(*args, **kwargs)
