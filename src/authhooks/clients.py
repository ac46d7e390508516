"""Registered clients of the issuer's introspection and revocation endpoints, and their authentication.

HTTP-agnostic: the drivers hand over the ``Authorization`` header values and the body parameters; this module
parses the client's credentials, checks them against the registry and answers with the :class:`Client` or a
rejection.

Client authentication (RFC 6749 §2.3.1, the only kinds accepted by RFC 7662 §2.1 and RFC 7009 §2.1 here):

- ``client_secret_basic``: ``Authorization: Basic base64(id ":" secret)`` where the id and the secret are each
  **form-urlencoded first** (RFC 6749 Appendix B): a ``:`` or ``%`` in a secret is sent as ``%3A`` / ``%25``
  and a space as ``+``, so both halves are decoded with :func:`urllib.parse.unquote_plus` after splitting on
  the first ``:`` (RFC 7617 §2). Many clients (Authlib's, ``requests``' ``HTTPBasicAuth``) skip that encoding,
  so when decoding changes the pair, the verbatim pair is tried too (:attr:`ClientCredentials.verbatim`); a
  secret made by ``authhooks client-secret`` (base64url) reads the same both ways.
- ``client_secret_post``: ``client_id`` and ``client_secret`` body parameters.

A request uses at most one method (RFC 6749 §2.3): Basic credentials together with ``client_secret`` in the
body, or a Bearer token together with client parameters, is 400 ``invalid_request``. A failed authentication
(unknown client, wrong secret, malformed Basic credentials, a ``client_id`` without a secret) is 401
``invalid_client`` (RFC 6749 §5.2, RFC 7662 §2.3), the same answer whatever the cause; a known client that
authenticated but may not use the endpoint is 400 ``unauthorized_client`` (RFC 6749 §5.2).

Secrets are stored hashed, as ``pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`` (PBKDF2-HMAC-SHA256,
RFC 8018 §5.2, in the layout of Django's ``PBKDF2PasswordHasher``); ``authhooks client-secret`` prints a new
random secret and its hash (:func:`new_client_secret`). A hash with fewer than :data:`MIN_ITERATIONS` is
refused. Digests are compared in constant time (:func:`hmac.compare_digest`); an unknown client id costs the
same PBKDF2 work as a known one, so timing does not tell which ids exist. A secret that verified once is
remembered per client as an HMAC-SHA256 under a random per-process key, so a resource server calling the
introspection endpoint on every request pays the PBKDF2 work once, not every time.

Clients come from ``AUTHHOOKS_CLIENTS_FILE`` (TOML or JSON, see :func:`load_clients_file`) and
``AUTHHOOKS_CLIENTS`` (``client_id:hash`` entries, every use allowed): :func:`clients_from_settings`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import importlib
import json
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import unquote_plus

from authhooks.config import Secret, Settings
from authhooks.errors import AuthError, ConfigurationError, InvalidRequest

__all__ = [
    "CLIENT_USES",
    "DEFAULT_ITERATIONS",
    "HASH_SCHEME",
    "MIN_ITERATIONS",
    "Client",
    "ClientCredentials",
    "ClientRegistry",
    "InvalidClient",
    "UnauthorizedClient",
    "client_credentials",
    "clients_from_settings",
    "hash_client_secret",
    "is_basic",
    "load_clients_file",
    "new_client_secret",
]

HASH_SCHEME = "pbkdf2_sha256"
"""The one secret-hash scheme: PBKDF2-HMAC-SHA256 (RFC 8018 §5.2)."""
DEFAULT_ITERATIONS = 600_000
"""PBKDF2 iterations of a new hash (OWASP Password Storage Cheat Sheet, 2023, for PBKDF2-HMAC-SHA256)."""
MIN_ITERATIONS = 100_000
"""The fewest iterations a configured hash may have."""
CLIENT_USES = frozenset({"introspect", "revoke"})
"""What a client may be allowed to do: call the introspection and/or the revocation endpoint."""

AuthMethod = Literal["client_secret_basic", "client_secret_post"]

_MAX_ID = 255
_MAX_SECRET = 1024
_SALT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


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


# -- hashes --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class _Hash:
    iterations: int
    salt: str
    digest: bytes

    def compute(self, secret: bytes) -> bytes:
        return hashlib.pbkdf2_hmac("sha256", secret, self.salt.encode("ascii"), self.iterations)


def _parse_hash(text: str) -> _Hash:
    """Parse ``pbkdf2_sha256$<iterations>$<salt>$<base64 hash>``; ``ValueError`` saying what is wrong (never the
    value)."""
    parts = text.strip().split("$")
    if len(parts) != 4 or parts[0] != HASH_SCHEME:
        raise ValueError(f"expected {HASH_SCHEME}$<iterations>$<salt>$<hash> (make one with `authhooks client-secret`)")
    _, iterations, salt, encoded = parts
    if not iterations.isdigit() or len(iterations) > 9:
        raise ValueError("the iteration count is not a number")
    if int(iterations) < MIN_ITERATIONS:
        raise ValueError(f"the iteration count is below {MIN_ITERATIONS}")
    if not 8 <= len(salt) <= 128 or not set(salt) <= _SALT_CHARS:
        raise ValueError("the salt must be 8-128 characters of A-Z, a-z, 0-9, '-' and '_'")
    try:
        digest = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the hash is not base64") from None
    if len(digest) != 32:
        raise ValueError("the hash is not 32 bytes (SHA-256)")
    return _Hash(int(iterations), salt, digest)


def hash_client_secret(secret: str, *, iterations: int = DEFAULT_ITERATIONS) -> str:
    """The stored form of ``secret``: ``pbkdf2_sha256$<iterations>$<random salt>$<base64 hash>``.

    Raises:
        ValueError: fewer than :data:`MIN_ITERATIONS` iterations, or an empty secret.
    """
    if not secret:
        raise ValueError("a client secret may not be empty")
    if iterations < MIN_ITERATIONS:
        raise ValueError(f"at least {MIN_ITERATIONS} iterations")
    salt = secrets.token_urlsafe(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), salt.encode("ascii"), iterations)
    return f"{HASH_SCHEME}${iterations}${salt}${base64.b64encode(digest).decode('ascii')}"


def new_client_secret(*, iterations: int = DEFAULT_ITERATIONS) -> tuple[str, str]:
    """A new random client secret (256 bits, base64url: nothing to escape in Basic or a form) and its hash."""
    secret = secrets.token_urlsafe(32)
    return secret, hash_client_secret(secret, iterations=iterations)


# -- clients -------------------------------------------------------------------------------------------------


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
    _hash: _Hash

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
        return cls(_check_client_id(client_id), allowed, _parse_hash(secret_hash))

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

    Raises:
        ConfigurationError: a repeated client id.
    """

    __slots__ = ("_by_id", "_dummy", "_key", "_lock", "_verified")

    def __init__(self, clients: Iterable[Client] = ()) -> None:
        by_id: dict[str, Client] = {}
        for client in clients:
            if client.client_id in by_id:
                raise ConfigurationError(f"client {client.client_id!r} is registered twice")
            by_id[client.client_id] = client
        self._by_id = by_id
        # What an unknown id is checked against: the same work as a real client, never a match.
        self._dummy = _Hash(max((c._hash.iterations for c in by_id.values()), default=MIN_ITERATIONS), "x" * 22, b"")
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Client]:
        return iter(self._by_id.values())

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._by_id

    def __repr__(self) -> str:
        return f"ClientRegistry({sorted(self._by_id)!r})"

    def authenticate(self, credentials: ClientCredentials, use: str) -> Client:
        """Check ``credentials`` and that the client may ``use`` the endpoint; blocking (PBKDF2 on the first
        success of a secret and on every failure, ~0.1 s at the default iterations): call it off the event loop.

        Raises:
            InvalidClient: unknown client or wrong secret (one answer for both).
            UnauthorizedClient: the client authenticated but ``use`` is not among its uses.
        """
        try:
            client = self._check(credentials)
        except InvalidClient:
            if credentials.verbatim is None:
                raise
            client = self._check(credentials.verbatim)
        if use not in client.uses:
            raise UnauthorizedClient()
        return client

    def _check(self, credentials: ClientCredentials) -> Client:
        secret = bytes(credentials.secret)
        client = self._by_id.get(credentials.client_id)
        if client is None or len(secret) > _MAX_SECRET:
            self._dummy.compute(secret[:_MAX_SECRET])
            raise InvalidClient()
        tag = hmac.new(self._key, secret, hashlib.sha256).digest()
        remembered = self._verified.get(client.client_id)
        if remembered is None or not hmac.compare_digest(remembered, tag):
            if not hmac.compare_digest(client._hash.compute(secret), client._hash.digest):
                raise InvalidClient()
            with self._lock:
                self._verified[client.client_id] = tag
        return client


# -- loading -------------------------------------------------------------------------------------------------


def _client_from_entry(entry: Any, where: str) -> Client:
    if not isinstance(entry, Mapping):
        raise ConfigurationError(f"{where}: expected a table with client_id and secret_hash")
    unknown = set(entry) - {"client_id", "secret_hash", "uses"}
    if unknown:
        raise ConfigurationError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    for key in ("client_id", "secret_hash"):
        if key not in entry:
            raise ConfigurationError(f"{where}: missing {key}")
    uses = entry.get("uses", sorted(CLIENT_USES))
    if not isinstance(uses, list) or not all(isinstance(u, str) for u in uses):
        raise ConfigurationError(f"{where}: uses must be a list of strings")
    try:
        return Client.from_hash(entry["client_id"], entry["secret_hash"], uses)
    except ValueError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


def load_clients_file(path: Path, variable: str = "AUTHHOOKS_CLIENTS_FILE") -> list[Client]:
    """Read clients from a TOML (``.toml``, Python ≥ 3.11) or JSON (``.json``) file::

        [[clients]]
        client_id = "orders-api"
        secret_hash = "pbkdf2_sha256$600000$…$…"
        uses = ["introspect"]          # optional; default: ["introspect", "revoke"]

    JSON: ``{"clients": [{"client_id": …, "secret_hash": …, "uses": […]}]}``.

    Raises:
        ConfigurationError: unreadable, malformed or unknown-format file, or a bad entry, naming ``variable``
            and the entry (never a hash).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{variable}: cannot read {path} ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{variable}: {path} is not UTF-8 text") from None
    suffix = Path(path).suffix.lower()
    document: Any
    if suffix == ".json":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{variable}: {path} is not JSON (line {exc.lineno})") from None
    elif suffix == ".toml":
        try:
            tomllib: Any = importlib.import_module("tomllib")
        except ModuleNotFoundError:  # pragma: no cover - Python 3.10
            raise ConfigurationError(f"{variable}: reading TOML needs Python 3.11; use a .json file") from None
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            raise ConfigurationError(f"{variable}: {path} is not valid TOML") from None
    else:
        raise ConfigurationError(f"{variable}: {path} must end in .toml or .json")
    entries = document.get("clients") if isinstance(document, dict) else None
    if not isinstance(entries, list) or (isinstance(document, dict) and set(document) != {"clients"}):
        raise ConfigurationError(f"{variable}: {path} must hold one list `clients` of client tables")
    return [_client_from_entry(entry, f"{variable}: clients[{i}]") for i, entry in enumerate(entries)]


def clients_from_settings(settings: Settings) -> ClientRegistry:
    """The registry of ``AUTHHOOKS_CLIENTS_FILE`` and ``AUTHHOOKS_CLIENTS`` (``client_id:hash`` entries, split
    at the last ``:``; every use allowed). Empty when neither is set.

    Raises:
        ConfigurationError: a bad file, entry or a client id given twice, naming the variable.
    """
    clients: list[Client] = []
    if settings.clients_file is not None:
        clients.extend(load_clients_file(settings.clients_file))
    for i, entry in enumerate(settings.clients):
        client_id, colon, secret_hash = entry.rpartition(":")
        if not colon:
            raise ConfigurationError(f"AUTHHOOKS_CLIENTS: entry {i} is not client_id:secret_hash")
        try:
            clients.append(Client.from_hash(client_id, secret_hash))
        except ValueError as exc:
            raise ConfigurationError(f"AUTHHOOKS_CLIENTS: entry {i}: {exc}") from None
    try:
        return ClientRegistry(clients)
    except ConfigurationError as exc:
        raise ConfigurationError(f"AUTHHOOKS_CLIENTS / AUTHHOOKS_CLIENTS_FILE: {exc}") from None
