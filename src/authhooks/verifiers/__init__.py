"""Signature verifiers for key-based logins, selected by scheme.

Built-in schemes:

=========== =================================================================================================
``ed25519`` Ed25519; subject = base64url raw public key or ``did:key:z6Mk…`` (:mod:`~authhooks.verifiers.keys`)
``p256``    ECDSA P-256/SHA-256; subject = base64url SEC1 point or ``did:key:zDn…``; raw ``r||s`` or DER
``evrmore`` Evrmore signed message; subject = Evrmore P2PKH address (needs ``authhooks[evrmore]``)
``bitcoin`` Bitcoin signed message; subject = Bitcoin P2PKH address (needs ``authhooks[evrmore]``)
=========== =================================================================================================

Add your own with ``auth.verifiers.register(MyVerifier())``; it implements :class:`Verifier`.
"""

from __future__ import annotations

from authhooks.verifiers.base import Verifier, VerifierRegistry
from authhooks.verifiers.keys import Ed25519Verifier, P256Verifier
from authhooks.verifiers.signed_message import SignedMessageVerifier, bitcoin_verifier, evrmore_verifier

__all__ = [
    "Ed25519Verifier",
    "P256Verifier",
    "SignedMessageVerifier",
    "Verifier",
    "VerifierRegistry",
    "bitcoin_verifier",
    "builtin_verifiers",
    "evrmore_verifier",
]


def builtin_verifiers() -> tuple[Verifier, ...]:
    """Fresh instances of the built-in verifiers: ``ed25519``, ``p256``, ``evrmore``, ``bitcoin``."""
    return (Ed25519Verifier(), P256Verifier(), evrmore_verifier(), bitcoin_verifier())
