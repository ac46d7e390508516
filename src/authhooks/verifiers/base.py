"""The :class:`Verifier` protocol and the :class:`VerifierRegistry` that selects a verifier by scheme.

A verifier proves that ``signature`` over ``message`` was made by the key that ``subject`` names. Key-based
identities carry their key (or a hash of it) in the subject itself, so no user database is needed: an Ed25519
``did:key``, a P-256 public key, an Evrmore or Bitcoin address.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

from authhooks.errors import ConfigurationError, InvalidRequest

__all__ = ["MAX_SIGNATURE_CHARS", "Verifier", "VerifierRegistry", "bad_subject"]

MAX_SIGNATURE_CHARS = 1024
"""Longest signature text any built-in verifier looks at; longer ones are refused without decoding."""


def bad_subject(scheme: str) -> InvalidRequest:
    """The error for a subject that is not a well-formed identity of ``scheme`` (no subject in the message)."""
    return InvalidRequest(f"The subject is not a valid {scheme} identity.", reason="invalid_subject")


@runtime_checkable
class Verifier(Protocol):
    """What a signature scheme implements (register your own with ``auth.verifiers.register``).

    Attributes:
        scheme: the name logins select it by (``"ed25519"``), lower case.
    """

    scheme: str

    def normalize_subject(self, subject: str) -> str:
        """Check that ``subject`` is a well-formed identity of this scheme and return its canonical form.

        Raises:
            InvalidRequest: (reason ``invalid_subject``) the subject is malformed.
        """
        ...

    def verify(self, subject: str, message: bytes, signature: str) -> bool:
        """True when ``signature`` (text, as the client sent it) is a valid signature of ``message`` by the key
        ``subject`` names. A malformed subject or signature gives ``False``; this method never raises for bad
        input (only :class:`~authhooks.errors.ConfigurationError` when the scheme cannot run here)."""
        ...


class VerifierRegistry:
    """The verifiers of one :class:`~authhooks.AuthHooks`, by scheme.

    Args:
        verifiers: the initial verifiers; by default the built-ins (``ed25519``, ``p256``, ``evrmore``,
            ``bitcoin``).
    """

    def __init__(self, verifiers: Iterable[Verifier] | None = None) -> None:
        self._by_scheme: dict[str, Verifier] = {}
        if verifiers is None:
            from authhooks.verifiers import builtin_verifiers

            verifiers = builtin_verifiers()
        for verifier in verifiers:
            self.register(verifier)

    def register(self, verifier: Verifier, *, replace: bool = False) -> None:
        """Add ``verifier`` under its ``scheme``.

        Raises:
            ConfigurationError: it does not implement :class:`Verifier`, or the scheme is taken and ``replace``
                is false.
        """
        if not isinstance(verifier, Verifier) or not isinstance(verifier.scheme, str) or not verifier.scheme:
            raise ConfigurationError(f"{verifier!r} is not a Verifier (scheme, normalize_subject, verify)")
        scheme = verifier.scheme.lower()
        if scheme in self._by_scheme and not replace:
            raise ConfigurationError(f"a verifier for scheme {scheme!r} is already registered (pass replace=True)")
        self._by_scheme[scheme] = verifier

    def get(self, scheme: str) -> Verifier:
        """The verifier of ``scheme`` (case-insensitive).

        Raises:
            InvalidRequest: (reason ``unsupported_scheme``) no verifier has that scheme.
        """
        verifier = self._by_scheme.get(scheme.lower()) if isinstance(scheme, str) else None
        if verifier is None:
            raise InvalidRequest("The signature scheme is not supported.", reason="unsupported_scheme")
        return verifier

    def detect(self, subject: str) -> str | None:
        """The one scheme whose verifier accepts ``subject``, or ``None`` when none or several do."""
        found: list[str] = []
        for scheme, verifier in self._by_scheme.items():
            try:
                verifier.normalize_subject(subject)
            except InvalidRequest:
                continue
            found.append(scheme)
        return found[0] if len(found) == 1 else None

    @property
    def schemes(self) -> tuple[str, ...]:
        """The registered schemes, in registration order."""
        return tuple(self._by_scheme)

    def __contains__(self, scheme: object) -> bool:
        return isinstance(scheme, str) and scheme.lower() in self._by_scheme

    def __iter__(self) -> Iterator[Verifier]:
        return iter(tuple(self._by_scheme.values()))
