"""`POST /auth/login` accepts the challenge as its nonce or as the exact (multi-line) message it was issued as."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.applications import Starlette

from authhooks import AuthHooks
from authhooks.middleware import AuthHooksMiddleware


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("form", ["nonce", "message"])
async def test_login_with_nonce_or_full_message(tmp_path: Path, form: str) -> None:
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False)
    app = AuthHooksMiddleware(Starlette(), auth=auth)
    key = Ed25519PrivateKey.generate()
    subject = _b64(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        challenge = (await client.post("/auth/challenge", json={"subject": subject})).json()
        assert "\n" in challenge["message"]
        signature = _b64(key.sign(challenge["message"].encode()))
        answer = await client.post(
            "/auth/login", json={"subject": subject, "challenge": challenge[form], "signature": signature}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["token_type"] == "Bearer"
        # a control character other than a line break is still refused
        bad = await client.post(
            "/auth/login", json={"subject": subject, "challenge": "abc\x00def", "signature": signature}
        )
        assert bad.status_code == 400
