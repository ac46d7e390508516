"""Files holding secrets that authhooks creates for itself (the default signing key, the audit key, the OAuth
token key)."""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path

from authhooks.errors import ConfigurationError

__all__ = ["create_secret_file", "key_file"]


def create_secret_file(path: Path, data: bytes) -> bool:
    """Create ``path`` holding ``data``, once: atomically, with mode 0600 (its directory 0700 when missing), and
    never over an existing file, so processes starting together keep one secret.

    Returns:
        True when this call created the file; False when another process created it first (read that one).

    Raises:
        ConfigurationError: the file cannot be written (naming ``AUTHHOOKS_STATE_DIR``, where such files live).
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)  # atomic and never overwrites: a concurrent first start keeps one secret
            except FileExistsError:
                return False
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    except OSError as exc:
        raise ConfigurationError(f"AUTHHOOKS_STATE_DIR: cannot write {path} ({exc.strerror})") from None
    return True


def key_file(path: Path, read: Callable[[Path], bytes]) -> tuple[bytes, bool]:
    """The symmetric key in ``path``, read (and checked) by ``read``; when the file is missing, a fresh random key
    of 32 bytes, written as 64 hex characters, is created there by :func:`create_secret_file` (a process that
    loses the race to create it reads the winner's).

    Returns:
        The key, and whether this call created the file (the caller then warns, naming the path).

    Raises:
        ConfigurationError: from ``read``, or the file cannot be written.
    """
    if path.exists():
        return read(path), False
    text = secrets.token_hex(32).encode("ascii") + b"\n"
    if not create_secret_file(path, text):
        return read(path), False
    return text.strip(), True
