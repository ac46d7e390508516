"""A client for an authhooks server: Ed25519 challenge-response login, a protected call, refresh, logout.

Run it against a running example app (or ``authhooks demo``)::

    python examples/client.py http://127.0.0.1:8000

The identity is a fresh Ed25519 key; its subject is the raw public key in base64url (no padding). The client
signs the UTF-8 bytes of the challenge ``message`` and sends the signature in base64url with the challenge's
``nonce``. Tokens are never
printed, only their SHA-256 fingerprints. The exit status is 0 when every step answered as expected.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import sys
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def b64url(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def fp(secret: str) -> str:
    """A short fingerprint of a credential, safe to print."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:8]


class Failed(Exception):
    """A step answered with an unexpected status."""


def check(response: httpx.Response, *expected: int) -> httpx.Response:
    """Print the step and raise :class:`Failed` unless the status is one of ``expected``."""
    request = response.request
    print(f"{request.method:<5} {request.url.path:<16} {response.status_code}")
    if response.status_code not in expected:
        raise Failed(f"{request.method} {request.url.path}: expected {expected}, got {response.status_code}")
    return response


def login(client: httpx.Client, key: Ed25519PrivateKey) -> dict[str, Any]:
    """Get a challenge for the key's subject, sign its message, log in; return the token response."""
    subject = b64url(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    challenge = check(client.post("/auth/challenge", json={"subject": subject}), 200).json()
    signature = b64url(key.sign(challenge["message"].encode("utf-8")))
    # Send back the nonce (or the exact message) with the signature of the message.
    body = {"subject": subject, "challenge": challenge["nonce"], "signature": signature, "scheme": "ed25519"}
    tokens: dict[str, Any] = check(client.post("/auth/login", json=body), 200).json()
    print(
        f"      logged in as {subject[:8]}…: access {fp(tokens['access_token'])}, expires in {tokens['expires_in']} s"
    )
    return tokens


def run(url: str) -> None:
    """Challenge → sign → login → call /me → refresh → call /me → logout → the token is refused."""
    with httpx.Client(base_url=url, timeout=10.0) as client:
        tokens = login(client, Ed25519PrivateKey.generate())
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = check(client.get("/me", headers=bearer), 200).json()
        print(
            f"      /me: subject {me['subject'][:8]}…, {', '.join(f'{k}={v}' for k, v in me.items() if k != 'subject')}"
        )

        refreshed = check(client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 200).json()
        print(f"      refreshed: access {fp(refreshed['access_token'])}, refresh {fp(refreshed['refresh_token'])}")
        bearer = {"Authorization": f"Bearer {refreshed['access_token']}"}
        check(client.get("/me", headers=bearer), 200)

        check(client.post("/auth/logout", headers=bearer), 200, 204)
        refused = check(client.get("/me", headers=bearer), 401)
        print(f"      after logout: WWW-Authenticate: {refused.headers.get('www-authenticate')}")


def main(argv: list[str] | None = None) -> int:
    """Parse the server URL and run the client; 0 on success, 1 on an unexpected answer or no server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the server's base URL, e.g. http://127.0.0.1:8000")
    args = parser.parse_args(argv)
    try:
        run(args.url)
    except Failed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"FAILED: cannot talk to {args.url}: {type(exc).__name__}", file=sys.stderr)
        return 1
    print("all steps answered as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
