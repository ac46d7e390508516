"""Registered clients and their authentication (see :mod:`authhooks.clients`): the errors, the credential forms of
RFC 6749 §2.3.1 and the registry that checks them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal
from urllib.parse import unquote_plus

from authhooks.clients.guard import FailureMemo, HashGate
from authhooks.clients.hashes import MIN_ITERATIONS, SecretHash, parse_secret_hash
from authhooks.config import Secret
from authhooks.errors import AuthError, ConfigurationError, InvalidRequest

__all__ = [
    "CLIENT_USES",
    "Client",
    "ClientCredentials",
    "ClientRegistry",
    "InvalidClient",
    "UnauthorizedClient",
    "client_credentials",
    "is_basic",
]

CLIENT_USES = frozenset({"introspect", "revoke"})
"""What a client may be allowed to do: call the introspection and/or the revocation endpoint."""

AuthMethod = Literal["client_secret_basic", "client_secret_post"]

_MAX_ID = 255
_MAX_SECRET = 1024


class InvalidClient(AuthError):
    """Client authentication failed (RFC 6749 §5.2 ``invalid_client``, 401; RFC 7662 §2.3).

    Attributes:
        basic: the client tried HTTP Basic; the answer then carries ``WWW-Authenticate: Basic realm="…"``
            (RFC 6749 §5.2: the scheme the client used). Also set for ``client_secret_post`` failures, where
            the header tells which HTTP scheme is supported (ibid., MAY).
    """

    error: ClassVar[str | None] = "invalid_client"
    status: ClassVar[int] = 401
    default_reason = "invalid_client"
    default_description = "Client authentication failed."


class UnauthorizedClient(AuthError):
    """An authenticated client that may not use this endpoint (RFC 6749 §5.2 ``unauthorized_client``, 400)."""

    error: ClassVar[str | None] = "unauthorized_client"
    status: ClassVar[int] = 400
    default_reason = "unauthorized_client"
    default_description = "The client is not allowed to use this endpoint."


def _check_client_id(client_id: object) -> str:
    # RFC 6749 Appendix A.1: client-id = *VSCHAR (%x20-7E); an empty id identifies nothing.
    if not isinstance(client_id, str) or not client_id or len(client_id) > _MAX_ID:
        raise ValueError(f"client_id must be a string of 1-{_MAX_ID} characters")
    if not all("\x20" <= ch <= "\x7e" for ch in client_id):
        raise ValueError("client_id may hold only printable ASCII characters (RFC 6749 Appendix A.1)")
    return client_id


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class Client:
    """A registered client.

    Attributes:
        client_id: its id (printable ASCII, RFC 6749 Appendix A.1).
        uses: what it may call: a subset of :data:`CLIENT_USES` (``introspect``, ``revoke``).

    ``repr`` shows the id and uses only, never the hash.
    """

    client_id: str
    uses: frozenset[str]
    _hash: SecretHash

    @classmethod
    def from_hash(cls, client_id: str, secret_hash: str, uses: Iterable[str] = CLIENT_USES) -> Client:
        """A client whose secret hashes to ``secret_hash`` (see :func:`hash_client_secret`).

        Raises:
            ValueError: a malformed id, hash or use (the message never holds the hash).
        """
        allowed = frozenset(uses)
        unknown = allowed - CLIENT_USES
        if unknown:
            raise ValueError(f"unknown use(s) {', '.join(sorted(unknown))}; expected {', '.join(sorted(CLIENT_USES))}")
        if not isinstance(secret_hash, str):
            raise ValueError("secret_hash must be a string")
        return cls(_check_client_id(client_id), allowed, parse_secret_hash(secret_hash))

    def __repr__(self) -> str:
        return f"Client(client_id={self.client_id!r}, uses={sorted(self.uses)!r})"


@dataclass(frozen=True, slots=True, repr=False)
class ClientCredentials:
    """What a client presented: its id, its secret (masked) and how it sent them.

    Attributes:
        verbatim: for Basic credentials that form-decoding changed (a ``+`` or ``%`` in them), the pair as read
            without it (RFC 7617 alone): clients that skip RFC 6749's form-encoding, Authlib's among them, send
            that. It is tried when the decoded pair fails, so either reading authenticates.
    """

    client_id: str
    secret: Secret
    method: AuthMethod
    verbatim: ClientCredentials | None = None

    def __repr__(self) -> str:
        return f"ClientCredentials(client_id={self.client_id!r}, method={self.method!r})"


def _basic(value: bytes) -> ClientCredentials:
    """Decode ``Basic <base64(urlencoded id ":" urlencoded secret)>`` (RFC 7617 §2, RFC 6749 §2.3.1); the
    verbatim reading rides along when it differs (UTF-8, else ISO-8859-1, RFC 7617's historical charset)."""
    _, _, encoded = value.strip().partition(b" ")
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidClient("The Basic credentials are malformed.", reason="malformed_credentials") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    raw_id, colon, raw_secret = text.partition(":")
    if not colon:
        raise InvalidClient("The Basic credentials are malformed.", reason="malformed_credentials")
    verbatim = ClientCredentials(raw_id, Secret(raw_secret), "client_secret_basic")
    try:
        client_id, secret = unquote_plus(raw_id, errors="strict"), unquote_plus(raw_secret, errors="strict")
    except UnicodeDecodeError:  # not form-encoded UTF-8: only the verbatim reading stands
        return verbatim
    if (client_id, secret) == (raw_id, raw_secret):
        return verbatim
    return ClientCredentials(client_id, Secret(secret), "client_secret_basic", verbatim)


def is_basic(authorization: Sequence[bytes]) -> bool:
    """Whether the (first) ``Authorization`` header value uses the ``Basic`` scheme (case-insensitive, RFC 9110
    §11.1)."""
    return bool(authorization) and authorization[0].strip().partition(b" ")[0].lower() == b"basic"


def client_credentials(authorization: Sequence[bytes], fields: Mapping[str, str]) -> ClientCredentials | None:
    """The client credentials of a request, or ``None`` when it presents none (it may carry a Bearer token).

    Args:
        authorization: the values of the ``Authorization`` header (all of them, as received).
        fields: the parsed body parameters (``client_id``, ``client_secret`` are read).

    Raises:
        InvalidRequest: more than one ``Authorization`` header, or more than one authentication method
            (RFC 6749 §2.3).
        InvalidClient: malformed Basic credentials, or a ``client_id`` without ``client_secret`` (only
            confidential clients are registered) or the reverse.
    """
    if len(authorization) > 1:
        raise InvalidRequest("The request repeats the Authorization header.", reason="duplicate_header")
    has_id, has_secret = "client_id" in fields, "client_secret" in fields
    if is_basic(authorization):
        credentials = _basic(authorization[0])
        ids = {credentials.client_id} | ({credentials.verbatim.client_id} if credentials.verbatim else set())
        if has_secret or (has_id and fields["client_id"] not in ids):
            raise InvalidRequest("The request uses more than one client authentication method.", reason="two_methods")
        return credentials
    if not (has_id or has_secret):
        return None
    if authorization:  # a Bearer token (or another scheme) and client parameters
        raise InvalidRequest("The request uses more than one authentication method.", reason="two_methods")
    if not (has_id and has_secret):
        raise InvalidClient("Both client_id and client_secret are required.", reason="incomplete_credentials")
    return ClientCredentials(fields["client_id"], Secret(fields["client_secret"]), "client_secret_post")


class ClientRegistry:
    """The registered clients, by id; authenticates them.

    Args:
        clients: the clients; ids must be unique.
        hash_workers: secret derivations (PBKDF2) run at once, on threads of the registry's own
            (:class:`~authhooks.clients.guard.HashGate`).
        hash_queue: derivations that may wait for those threads; beyond them a request is answered 429 at once.

    Raises:
        ConfigurationError: a repeated client id.
    """

    __slots__ = ("_by_id", "_dummy", "_failures", "_gate", "_key", "_lock", "_verified")

    def __init__(self, clients: Iterable[Client] = (), *, hash_workers: int = 1, hash_queue: int = 4) -> None:
        by_id: dict[str, Client] = {}
        for client in clients:
            if client.client_id in by_id:
                raise ConfigurationError(f"client {client.client_id!r} is registered twice")
            by_id[client.client_id] = client
        self._by_id = by_id
        # What an unknown id is checked against: the same work as a real client, never a match.
        self._dummy = SecretHash(
            max((c._hash.iterations for c in by_id.values()), default=MIN_ITERATIONS), "x" * 22, b""
        )
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._gate = HashGate(hash_workers, hash_queue)
        self._failures = FailureMemo()

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Client]:
        return iter(self._by_id.values())

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._by_id

    def __repr__(self) -> str:
        return f"ClientRegistry({sorted(self._by_id)!r})"

    def authenticate(self, credentials: ClientCredentials, use: str) -> Client:
        """Check ``credentials`` and that the client may ``use`` the endpoint; blocking (a secret not verified
        before, and every new failure, costs one PBKDF2 derivation, ~0.1 s at the default iterations, run on the
        registry's :class:`~authhooks.clients.guard.HashGate`; a secret that verified before, and a pair that
        failed recently, are answered without one).

        Raises:
            InvalidClient: unknown client or wrong secret (one answer for both).
            UnauthorizedClient: the client authenticated but ``use`` is not among its uses.
            ClientAuthBusy: (429) too many derivations running and waiting already.
        """
        try:
            client = self._check(credentials, self._gate.run)
        except InvalidClient:
            if credentials.verbatim is None:
                raise
            client = self._check(credentials.verbatim, self._gate.run)
        if use not in client.uses:
            raise UnauthorizedClient()
        return client

    async def authenticate_async(self, credentials: ClientCredentials, use: str) -> Client:
        """:meth:`authenticate` for the event loop: the quick answers inline, a derivation awaited on the gate's
        own threads (no thread of the default pool waits for it).

        Raises:
            InvalidClient / UnauthorizedClient / ClientAuthBusy: as :meth:`authenticate`.
        """
        try:
            client = await self._check_async(credentials)
        except InvalidClient:
            if credentials.verbatim is None:
                raise
            client = await self._check_async(credentials.verbatim)
        if use not in client.uses:
            raise UnauthorizedClient()
        return client

    def close(self) -> None:
        """Stop the derivation threads."""
        self._gate.close()

    def _quick(self, credentials: ClientCredentials) -> tuple[Client | None, bytes, bytes | None]:
        """The answer without a derivation when there is one: ``(client, secret, None)`` for a secret that verified
        before; :class:`InvalidClient` for a pair that failed recently; else ``(client or None, secret, tag)``."""
        if not self._by_id:  # no client registered: no id to hide, nothing to derive
            raise InvalidClient()
        secret = bytes(credentials.secret)
        client = self._by_id.get(credentials.client_id)
        if self._failures.failed_before(credentials.client_id, secret[: _MAX_SECRET + 1]):
            raise InvalidClient()
        if client is None or len(secret) > _MAX_SECRET:
            return None, secret, None
        tag = hmac.new(self._key, secret, hashlib.sha256).digest()
        remembered = self._verified.get(client.client_id)
        if remembered is not None and hmac.compare_digest(remembered, tag):
            return client, secret, None
        return client, secret, tag

    def _derive(self, client: Client | None, secret: bytes) -> Callable[[], bool]:
        def work() -> bool:
            if client is None:
                self._dummy.compute(secret[:_MAX_SECRET])
                return False
            return hmac.compare_digest(client._hash.compute(secret), client._hash.digest)

        return work

    def _settle(self, credentials: ClientCredentials, client: Client | None, secret: bytes, tag: bytes | None,
                matched: bool) -> Client:  # fmt: skip
        if client is None or not matched or tag is None:
            self._failures.remember(credentials.client_id, secret[: _MAX_SECRET + 1])
            raise InvalidClient()
        with self._lock:
            self._verified[client.client_id] = tag
        return client

    def _check(self, credentials: ClientCredentials, run: Callable[[Callable[[], bool]], bool]) -> Client:
        client, secret, tag = self._quick(credentials)
        if client is not None and tag is None:
            return client
        return self._settle(credentials, client, secret, tag, run(self._derive(client, secret)))

    async def _check_async(self, credentials: ClientCredentials) -> Client:
        client, secret, tag = self._quick(credentials)
        if client is not None and tag is None:
            return client
        matched = await self._gate.run_async(self._derive(client, secret))
        return self._settle(credentials, client, secret, tag, matched)
