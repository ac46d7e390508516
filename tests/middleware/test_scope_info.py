"""request_info builds the same RequestInfo as its dataclass constructor (it sets the slots directly)."""

from __future__ import annotations

import dataclasses

from authhooks.middleware.scope import RequestHeaders, request_info
from authhooks.records import RequestInfo


def test_request_info_equals_the_constructed_value() -> None:
    headers = [(b"host", b"api.example"), (b"authorization", b"Bearer secret-token"), (b"x-trace", b"1")]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/a",
        "scheme": "https",
        "client": ("10.0.0.1", 1),
        "headers": headers,
    }
    info = request_info(scope, route="/a")
    expected = RequestInfo("POST", "/a", "10.0.0.1", "https", RequestHeaders(headers), "/a")
    assert info == expected
    assert dataclasses.astuple(info)[:4] == ("POST", "/a", "10.0.0.1", "https")
    assert dict(info.headers) == {"host": "api.example", "x-trace": "1"}  # the credential never appears
    assert info.route == "/a" and repr(info) == repr(expected)
    bare = request_info({"type": "http", "path": "/b"})
    assert (bare.method, bare.path, bare.client_ip, bare.scheme, bare.route) == ("GET", "/b", None, "http", None)
    assert dataclasses.replace(bare, route="/r").route == "/r"
