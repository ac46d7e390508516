"""Clients from settings: ``AUTHHOOKS_CLIENTS_FILE`` (TOML or JSON) and ``AUTHHOOKS_CLIENTS``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from authhooks import _toml
from authhooks.clients.registry import CLIENT_USES, Client, ClientRegistry
from authhooks.config import Settings
from authhooks.errors import ConfigurationError

__all__ = ["clients_from_settings", "load_clients_file"]


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
            document = _toml.loads(text)
        except _toml.TOMLDecodeError:
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
