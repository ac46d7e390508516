"""What a handler knows about one hook run, drawn from the point's inputs and the request: the subject, principal,
claims, scopes, outcome, client address and token header. Each fact is read on demand, so a condition pays only
for what it looks at.

The **client address** is the peer of the connection, unless that peer is a trusted reverse proxy
(``AUTHHOOKS_TRUSTED_PROXIES``: addresses and CIDRs): then it is the nearest address, walking the
``X-Forwarded-For`` list (or the ``for=`` elements of RFC 7239 ``Forwarded``) from the right, that is not itself a
trusted proxy. Forwarded headers from anyone else are ignored: a client cannot choose its own address.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import Iterable, Mapping
from typing import Any

from authhooks.errors import AuthError, Deny
from authhooks.hooks.points import HookPoint
from authhooks.records import Principal, RequestInfo

__all__ = [
    "IPAddress",
    "Proxies",
    "claims_of",
    "error_message_of",
    "outcome_of",
    "parse_networks",
    "principal_of",
    "scopes_of",
    "subject_of",
    "token_header_of",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_EMPTY: Mapping[str, Any] = {}


def parse_networks(values: Iterable[str], where: str) -> tuple[Network, ...]:
    """Addresses and CIDRs as networks (an address is a /32 or /128).

    Raises:
        ValueError: naming ``where`` and the value that is not an address or a CIDR.
    """
    out: list[Network] = []
    for value in values:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected an IP address or CIDR string, got {value!r}")
        try:
            out.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{where}: {value!r} is not an IP address or CIDR") from None
    return tuple(out)


def _address(text: str) -> IPAddress | None:
    text = text.strip().strip('"')
    if text.startswith("["):  # RFC 7239: "[2001:db8::1]:4711"
        text = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:  # "192.0.2.1:4711"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class Proxies:
    """The trusted reverse proxies, and the client address they vouch for."""

    __slots__ = ("_networks",)

    def __init__(self, networks: tuple[Network, ...] = ()) -> None:
        self._networks = networks

    def _trusted(self, address: IPAddress) -> bool:
        return any(address in net for net in self._networks)

    def client_ip(self, request: RequestInfo | None) -> IPAddress | None:
        """The client address of ``request`` (see the module docstring), or ``None`` when unknown."""
        if request is None or request.client_ip is None:
            return None
        peer = _address(request.client_ip)
        if peer is None or not self._networks or not self._trusted(peer):
            return peer
        chain = self._forwarded(request.headers)
        for hop in reversed(chain):
            if hop is None:
                return peer  # a malformed entry: believe nothing left of it
            if not self._trusted(hop):
                return hop
        return chain[0] if chain and chain[0] is not None else peer

    @staticmethod
    def _forwarded(headers: Mapping[str, str]) -> list[IPAddress | None]:
        xff = headers.get("x-forwarded-for")
        if xff:
            return [_address(part) for part in xff.split(",")]
        forwarded = headers.get("forwarded")
        if not forwarded:
            return []
        hops: list[IPAddress | None] = []
        for element in forwarded.split(","):
            for pair in element.split(";"):
                key, _, value = pair.strip().partition("=")
                if key.lower() == "for":
                    hops.append(_address(value))
        return hops


def principal_of(inputs: Mapping[str, Any]) -> Principal | None:
    """The principal among the inputs, when there is one."""
    principal = inputs.get("principal")
    return principal if isinstance(principal, Principal) else None


def subject_of(inputs: Mapping[str, Any]) -> str | None:
    """The subject: the ``subject`` input, else the principal's, else (observed routes, ``request.*``) the
    ``identifier`` the route's body named."""
    subject = inputs.get("subject")
    if isinstance(subject, str) and subject:
        return subject
    principal = principal_of(inputs)
    if principal is not None:
        return principal.subject
    identifier = inputs.get("identifier")
    return identifier if isinstance(identifier, str) and identifier else None


def claims_of(inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The claims: the ``claims`` input, else the principal's (empty when neither)."""
    claims = inputs.get("claims")
    if isinstance(claims, Mapping):
        return claims
    principal = principal_of(inputs)
    return principal.claims if principal is not None else _EMPTY


def scopes_of(inputs: Mapping[str, Any]) -> frozenset[str]:
    """The granted scopes: the ``scopes`` input, else the principal's."""
    scopes = inputs.get("scopes")
    if isinstance(scopes, (set, frozenset, list, tuple)):
        return frozenset(str(s) for s in scopes)
    if isinstance(scopes, str):
        return frozenset(scopes.split())
    principal = principal_of(inputs)
    return principal.scopes if principal is not None else frozenset()


def outcome_of(point: HookPoint, inputs: Mapping[str, Any]) -> str:
    """How the flow stands at ``point``: ``failure`` at a ``failed`` point (``short_circuit`` when a hook's denial
    caused it), ``success`` at a ``post`` point (``failure`` for ``request.post`` with a 4xx/5xx status, or a
    ``verify_signature.post`` whose signature was not valid), ``none`` before the flow has decided."""
    stage = point.stage
    if stage == "failed":
        return "short_circuit" if isinstance(inputs.get("error"), Deny) else "failure"
    if stage == "post":
        status = inputs.get("status_code")
        if isinstance(status, int) and status >= 400:
            return "failure"
        if inputs.get("valid") is False:
            return "failure"
        return "success"
    return "none"


def error_message_of(inputs: Mapping[str, Any]) -> str | None:
    """The public message of the ``error`` input: an :class:`~authhooks.errors.AuthError`'s description, or the
    class name of any other exception (its text may quote what it was given)."""
    error = inputs.get("error")
    if error is None:
        return None
    if isinstance(error, AuthError):
        return error.description
    if isinstance(error, BaseException):
        return type(error).__name__
    return str(error)


def token_header_of(inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The protected header of the ``token`` input (a compact JWS), decoded but **not verified**; empty when there
    is no such token. Only used to read ``alg`` and ``typ`` at points where the token was (or is about to be)
    validated."""
    token = inputs.get("token")
    if not isinstance(token, str) or token.count(".") != 2:
        return _EMPTY
    head = token.split(".", 1)[0]
    if len(head) > 2048:
        return _EMPTY
    try:
        decoded = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, UnicodeDecodeError):
        return _EMPTY
    return decoded if isinstance(decoded, dict) else _EMPTY
