"""Registered clients (authhooks.clients): hashes, the RFC 6749 §2.3.1 credential forms, authentication, loading."""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authhooks import ConfigurationError, InvalidRequest, Settings
from authhooks.clients import (
    MIN_ITERATIONS,
    Client,
    ClientCredentials,
    ClientRegistry,
    InvalidClient,
    UnauthorizedClient,
    client_credentials,
    clients_from_settings,
    hash_client_secret,
    load_clients_file,
    new_client_secret,
)
from authhooks.config import Secret

FAST = MIN_ITERATIONS  # the fewest iterations accepted: keeps the tests quick


def basic(client_id: str, secret: str, *, encode: bool = True) -> bytes:
    """``Basic`` credentials as RFC 6749 §2.3.1 says a client builds them (form-urlencode each half first)."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}" if encode else f"{client_id}:{secret}"
    return b"Basic " + base64.b64encode(pair.encode("utf-8"))


def registry(*entries: tuple[str, str, tuple[str, ...]]) -> ClientRegistry:
    return ClientRegistry(
        Client.from_hash(cid, hash_client_secret(s, iterations=FAST), uses) for cid, s, uses in entries
    )


# -- hashes ---------------------------------------------------------------------------------------------------


def test_hash_layout_is_pbkdf2_sha256_and_verifies_by_hand() -> None:
    stored = hash_client_secret("s3cret", iterations=FAST)
    scheme, iterations, salt, digest = stored.split("$")
    assert (scheme, int(iterations)) == ("pbkdf2_sha256", FAST)
    expected = hashlib.pbkdf2_hmac("sha256", b"s3cret", salt.encode(), FAST)
    assert base64.b64decode(digest) == expected
    assert hash_client_secret("s3cret", iterations=FAST) != stored  # a new salt each time


def test_new_client_secret_is_long_random_and_matches_its_hash() -> None:
    secret, stored = new_client_secret(iterations=FAST)
    assert len(secret) >= 43 and secret.isascii() and quote_plus(secret) == secret  # nothing to escape
    reg = ClientRegistry([Client.from_hash("a", stored)])
    assert reg.authenticate(ClientCredentials("a", Secret(secret), "client_secret_post"), "revoke").client_id == "a"
    assert new_client_secret(iterations=FAST)[0] != secret


@pytest.mark.parametrize(
    ("stored", "says"),
    [
        ("md5$1$x$y", "pbkdf2_sha256"),
        ("pbkdf2_sha256$1000$saltsalt$" + base64.b64encode(b"x" * 32).decode(), "below"),
        ("pbkdf2_sha256$abc$saltsalt$" + base64.b64encode(b"x" * 32).decode(), "not a number"),
        ("pbkdf2_sha256$100000$sa$" + base64.b64encode(b"x" * 32).decode(), "salt"),
        ("pbkdf2_sha256$100000$saltsalt$!!!", "base64"),
        ("pbkdf2_sha256$100000$saltsalt$" + base64.b64encode(b"x" * 16).decode(), "32 bytes"),
    ],
)
def test_malformed_hashes_are_refused_without_echoing_them(stored: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as caught:
        Client.from_hash("a", stored)
    assert stored not in str(caught.value)


def test_client_ids_and_uses_are_checked() -> None:
    stored = hash_client_secret("x", iterations=FAST)
    for bad in ("", "a\nb", "é", "x" * 256):
        with pytest.raises(ValueError, match="client_id"):
            Client.from_hash(bad, stored)
    with pytest.raises(ValueError, match="unknown use"):
        Client.from_hash("a", stored, ["introspect", "admin"])
    client = Client.from_hash("a b:c", stored, ["introspect"])  # any VSCHAR (RFC 6749 Appendix A.1)
    assert "pbkdf2" not in repr(client) and repr(client) == "Client(client_id='a b:c', uses=['introspect'])"


# -- credential forms -------------------------------------------------------------------------------------------


def test_basic_credentials_are_form_decoded_after_splitting_on_the_first_colon() -> None:
    """RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic, so ':' '%' '+' and spaces survive."""
    client_id, secret = "svc:eu west", "p:a%ss+w rd/é"
    creds = client_credentials([basic(client_id, secret)], {})
    assert creds is not None and creds.method == "client_secret_basic"
    assert creds.client_id == client_id and creds.secret.get_secret_value() == secret
    assert "p:a" not in repr(creds)


@pytest.mark.parametrize("secret", ["a+b", "100%25 sure", "p:a%ss+w rd", "caf\u00e9+"])
def test_basic_credentials_sent_without_form_encoding_authenticate_too(secret: str) -> None:
    """Clients that skip RFC 6749's form-encoding (Authlib's, requests' HTTPBasicAuth) send the pair verbatim;
    those that follow it send it encoded: both readings authenticate, and nothing else does."""
    reg = registry(("svc", secret, ("introspect",)))
    for header in (basic("svc", secret), basic("svc", secret, encode=False)):
        creds = client_credentials([header], {})
        assert creds is not None and reg.authenticate(creds, "introspect").client_id == "svc"
    latin1 = b"Basic " + base64.b64encode(f"svc:{secret}".encode("latin-1"))  # RFC 7617's historical charset
    creds = client_credentials([latin1], {})
    assert creds is not None and reg.authenticate(creds, "introspect").client_id == "svc"
    wrong = client_credentials([basic("svc", secret + "x", encode=False)], {})
    assert wrong is not None
    with pytest.raises(InvalidClient):
        reg.authenticate(wrong, "introspect")


def test_basic_scheme_is_case_insensitive() -> None:
    creds = client_credentials([b"bAsIc " + basic("a", "b").split(b" ", 1)[1]], {})
    assert creds is not None and creds.client_id == "a"


@pytest.mark.parametrize(
    "header",
    [
        b"Basic",
        b"Basic !!notbase64",
        b"Basic " + base64.b64encode(b"no-colon"),
    ],
)
def test_malformed_basic_credentials_are_invalid_client(header: bytes) -> None:
    with pytest.raises(InvalidClient) as caught:
        client_credentials([header], {})
    assert caught.value.status == 401 and caught.value.error == "invalid_client"


def test_post_credentials() -> None:
    creds = client_credentials([], {"client_id": "a", "client_secret": "b", "token": "t"})
    assert creds is not None and (creds.client_id, creds.method) == ("a", "client_secret_post")
    assert client_credentials([], {"token": "t"}) is None
    assert client_credentials([b"Bearer abc"], {"token": "t"}) is None
    with pytest.raises(InvalidClient):
        client_credentials([], {"client_id": "a"})  # only confidential clients exist
    with pytest.raises(InvalidClient):
        client_credentials([], {"client_secret": "b"})


def test_two_methods_in_one_request_are_invalid_request() -> None:
    """RFC 6749 §2.3: a client MUST NOT use more than one authentication method in a request."""
    with pytest.raises(InvalidRequest):
        client_credentials([basic("a", "b")], {"client_secret": "b"})
    with pytest.raises(InvalidRequest):
        client_credentials([basic("a", "b")], {"client_id": "other"})
    with pytest.raises(InvalidRequest):
        client_credentials([b"Bearer t"], {"client_id": "a", "client_secret": "b"})
    with pytest.raises(InvalidRequest):
        client_credentials([basic("a", "b"), basic("a", "b")], {})
    same = client_credentials([basic("a", "b")], {"client_id": "a"})  # the id repeated in the body is harmless
    assert same is not None and same.method == "client_secret_basic"


# -- authentication ---------------------------------------------------------------------------------------------


def test_authenticate_checks_secret_and_use() -> None:
    reg = registry(("rs", "right", ("introspect",)), ("ops", "other", ("introspect", "revoke")))
    post = "client_secret_post"
    assert reg.authenticate(ClientCredentials("rs", Secret("right"), post), "introspect").client_id == "rs"
    for cid, secret in (("rs", "wrong"), ("nobody", "right"), ("rs", ""), ("rs", "x" * 5000)):
        with pytest.raises(InvalidClient) as caught:
            reg.authenticate(ClientCredentials(cid, Secret(secret), post), "introspect")
        assert caught.value.reason == "invalid_client"  # one answer whatever the cause
    with pytest.raises(UnauthorizedClient) as denied:
        reg.authenticate(ClientCredentials("rs", Secret("right"), post), "revoke")
    assert (denied.value.status, denied.value.error) == (400, "unauthorized_client")
    assert len(reg) == 2 and "rs" in reg and "pbkdf2" not in repr(reg)


def test_a_verified_secret_is_remembered_and_a_wrong_one_never_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """PBKDF2 runs once per verified secret; a wrong secret after a good one still fails (and costs PBKDF2)."""
    stored = hash_client_secret("right", iterations=MIN_ITERATIONS * 8)
    reg = ClientRegistry([Client.from_hash("rs", stored)])
    good = ClientCredentials("rs", Secret("right"), "client_secret_basic")
    reg.authenticate(good, "introspect")
    calls = 0
    real = hashlib.pbkdf2_hmac

    def counting(*args: object, **kwargs: object) -> bytes:
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counting)
    for _ in range(5):
        reg.authenticate(good, "introspect")
    assert calls == 0
    with pytest.raises(InvalidClient):
        reg.authenticate(ClientCredentials("rs", Secret("wrong"), "client_secret_basic"), "introspect")
    assert calls == 1
    reg.authenticate(good, "introspect")
    assert calls == 1


def test_an_unknown_client_costs_the_same_hash_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Timing does not tell which ids exist: an unknown id runs PBKDF2 with the registry's largest count."""
    reg = ClientRegistry([Client.from_hash("rs", hash_client_secret("right", iterations=MIN_ITERATIONS * 4))])
    seen: list[int] = []
    real = hashlib.pbkdf2_hmac

    def recording(name: str, secret: bytes, salt: bytes, iterations: int) -> bytes:
        seen.append(iterations)
        return real(name, secret, salt, iterations)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", recording)
    with pytest.raises(InvalidClient):
        reg.authenticate(ClientCredentials("ghost", Secret("x"), "client_secret_post"), "introspect")
    assert seen == [MIN_ITERATIONS * 4]


def test_duplicate_ids_are_refused() -> None:
    stored = hash_client_secret("x", iterations=FAST)
    with pytest.raises(ConfigurationError, match="twice"):
        ClientRegistry([Client.from_hash("a", stored), Client.from_hash("a", stored)])


# -- loading ------------------------------------------------------------------------------------------------------


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib")
def test_clients_file_toml(tmp_path: Path) -> None:
    stored = hash_client_secret("s", iterations=FAST)
    path = tmp_path / "clients.toml"
    path.write_text(
        f'[[clients]]\nclient_id = "orders"\nsecret_hash = "{stored}"\nuses = ["introspect"]\n'
        f'[[clients]]\nclient_id = "ops"\nsecret_hash = "{stored}"\n'
    )
    clients = {c.client_id: c for c in load_clients_file(path)}
    assert clients["orders"].uses == {"introspect"} and clients["ops"].uses == {"introspect", "revoke"}


def test_clients_file_json_and_env_entries(tmp_path: Path) -> None:
    stored = hash_client_secret("s", iterations=FAST)
    path = tmp_path / "clients.json"
    path.write_text(json.dumps({"clients": [{"client_id": "orders", "secret_hash": stored}]}))
    settings = Settings(clients_file=path, clients=(f"urn:svc:billing:{stored}",))
    reg = clients_from_settings(settings)
    assert sorted(c.client_id for c in reg) == ["orders", "urn:svc:billing"]  # split at the last ':'
    env = Settings.from_env({"AUTHHOOKS_CLIENTS": f"a:{stored},b:{stored}"})
    assert len(clients_from_settings(env)) == 2
    assert len(clients_from_settings(Settings())) == 0


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{", "not JSON"),
        ('{"clients": {}}', "one list"),
        ('{"clients": [], "extra": 1}', "one list"),
        ('{"clients": [1]}', r"clients\[0\]: expected a table"),
        ('{"clients": [{"client_id": "a"}]}', "missing secret_hash"),
        ('{"clients": [{"client_id": "a", "secret_hash": "x", "scope": "y"}]}', "unknown key"),
        ('{"clients": [{"client_id": "a", "secret_hash": "nope"}]}', "pbkdf2_sha256"),
        ('{"clients": [{"client_id": "a", "secret_hash": "x", "uses": "introspect"}]}', "list of strings"),
    ],
)
def test_bad_clients_files_name_the_variable_and_the_entry(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "clients.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match=f"AUTHHOOKS_CLIENTS_FILE: .*{says}"):
        clients_from_settings(Settings(clients_file=path))


def test_unreadable_or_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_CLIENTS_FILE: cannot read"):
        load_clients_file(tmp_path / "missing.json")
    other = tmp_path / "clients.yaml"
    other.write_text("clients: []")
    with pytest.raises(ConfigurationError, match=r"\.toml or \.json"):
        load_clients_file(other)


def test_bad_env_entries_name_the_variable_without_the_hash() -> None:
    stored = hash_client_secret("s", iterations=FAST)
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_CLIENTS: entry 0 is not"):
        clients_from_settings(Settings(clients=("no-colon",)))
    with pytest.raises(ConfigurationError, match=r"AUTHHOOKS_CLIENTS: entry 1: .*below") as caught:
        clients_from_settings(Settings(clients=(f"a:{stored}", "b:pbkdf2_sha256$10$saltsalt$" + "A" * 44)))
    assert "A" * 44 not in str(caught.value)
    with pytest.raises(ConfigurationError, match="twice"):
        clients_from_settings(Settings(clients=(f"a:{stored}", f"a:{stored}")))


# -- the CLI ------------------------------------------------------------------------------------------------------


def test_cli_prints_a_secret_and_a_hash_that_authenticates(capsys: pytest.CaptureFixture[str]) -> None:
    from authhooks._cli import main

    assert main(["client-secret", "--iterations", str(FAST)]) == 0
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    reg = ClientRegistry([Client.from_hash("svc", lines["secret_hash"])])
    creds = client_credentials([basic("svc", lines["client_secret"])], {})
    assert creds is not None and reg.authenticate(creds, "introspect").client_id == "svc"


def test_cli_hashes_a_secret_from_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from authhooks._cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO("chosen secret\n"))
    assert main(["client-secret", "--stdin", "--iterations", str(FAST)]) == 0
    out = capsys.readouterr().out
    assert "chosen" not in out
    reg = ClientRegistry([Client.from_hash("svc", out.strip())])
    assert reg.authenticate(ClientCredentials("svc", Secret("chosen secret"), "client_secret_post"), "revoke")
    assert main(["client-secret", "--iterations", "10"]) == 2
    assert "100000" in capsys.readouterr().err


def test_authhooks_config_refuses_bad_clients_and_public_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`authhooks config` checks what AuthHooks() checks: exit 2 with one line naming the variable."""
    from authhooks._cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTHHOOKS_STORE_URL", "memory://")
    monkeypatch.setenv("AUTHHOOKS_CLIENTS", "svc:pbkdf2_sha256$1$x$y")
    assert main(["config"]) == 2
    assert "AUTHHOOKS_CLIENTS: entry 0" in capsys.readouterr().err
    monkeypatch.delenv("AUTHHOOKS_CLIENTS")
    monkeypatch.setenv("AUTHHOOKS_PUBLIC_URL", "http://public.example")
    assert main(["config"]) == 2
    assert "AUTHHOOKS_PUBLIC_URL: must use https" in capsys.readouterr().err


# -- properties ---------------------------------------------------------------------------------------------------

VSCHAR_IDS = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40)


@given(client_id=VSCHAR_IDS, secret=st.text(min_size=1, max_size=60))
def test_form_encoded_basic_credentials_round_trip(client_id: str, secret: str) -> None:
    """RFC 6749 §2.3.1 encoding, then Basic, then parsing gives back exactly the pair."""
    creds = client_credentials([basic(client_id, secret)], {})
    assert creds is not None
    assert (creds.client_id, creds.secret.get_secret_value()) == (client_id, secret)


@given(payload=st.binary(max_size=200), scheme=st.sampled_from([b"Basic ", b"basic ", b"BASIC  "]))
def test_any_basic_header_is_parsed_or_refused_precisely(payload: bytes, scheme: bytes) -> None:
    """Hostile input: a Basic header of any bytes yields credentials or InvalidClient, nothing else."""
    try:
        creds = client_credentials([scheme + base64.b64encode(payload)], {})
    except InvalidClient:
        assert b":" not in payload
        return
    assert creds is not None and b":" in payload and creds.method == "client_secret_basic"


# -- failed authentications are not a cheap denial of service ---------------------------------------------------


class _HeldDerivations:
    """``hashlib.pbkdf2_hmac`` replaced by one that counts its concurrent runs and waits for ``release``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import threading

        self.release = threading.Event()
        self.active = self.most = self.calls = 0
        self._lock = threading.Lock()
        self._real = hashlib.pbkdf2_hmac
        monkeypatch.setattr(hashlib, "pbkdf2_hmac", self)

    def __call__(self, name: str, secret: bytes, salt: bytes, iterations: int) -> bytes:
        with self._lock:
            self.calls += 1
            self.active += 1
            self.most = max(self.most, self.active)
        try:
            self.release.wait(10)
            return self._real(name, secret, salt, iterations)
        finally:
            with self._lock:
                self.active -= 1


async def test_a_flood_of_failing_clients_is_bounded_and_answered_429(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many concurrent Basic requests with made-up secrets: at most one PBKDF2 derivation runs at once, at most
    four more wait, every other request is 429 with Retry-After at once (it neither queues nor burns CPU); before,
    each took a thread of the default pool and ran its own derivation."""
    import asyncio

    import httpx
    from starlette.applications import Starlette

    from authhooks import AuthHooks
    from authhooks.middleware import AuthHooksMiddleware

    stored = hash_client_secret("right", iterations=FAST)
    auth = AuthHooks(secret="f" * 64, store_url="memory://", state_dir=tmp_path, telemetry=False,
                     clients=(f"rs:{stored}",))  # fmt: skip
    app = AuthHooksMiddleware(Starlette(), auth=auth)
    held = _HeldDerivations(monkeypatch)
    flood = 12
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://testserver") as c:
        tasks = [
            asyncio.ensure_future(
                c.post("/auth/introspect", data={"token": "t"}, headers={"authorization": basic("rs", f"guess-{i}")})
            )
            for i in range(flood)
        ]

        async def refused_at_once() -> list[httpx.Response]:
            done: list[httpx.Response] = []
            pending = set(tasks)
            while len(done) < flood - 5:
                finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                done += [t.result() for t in finished]
            return done

        busy = await asyncio.wait_for(refused_at_once(), 10)
        held.release.set()
        answers = await asyncio.gather(*tasks)
    await auth.aclose()
    assert all(r.status_code == 429 and r.headers["retry-after"] == "1" for r in busy), [r.status_code for r in busy]
    assert all(r.json()["error"] == "temporarily_unavailable" for r in busy)
    assert sorted(r.status_code for r in answers) == [401] * 5 + [429] * (flood - 5)
    assert held.most == 1 and held.calls == 5


def test_a_repeated_failure_costs_no_derivation_and_locks_nobody_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same wrong (id, secret) pair again is refused from memory; the right secret still authenticates (no
    lockout an attacker could cause); unknown ids are remembered alike (timing tells no id apart)."""
    reg = registry(("rs", "right", ("introspect",)))
    held = _HeldDerivations(monkeypatch)
    held.release.set()
    post = "client_secret_post"
    for cid in ("rs", "nobody"):
        for _ in range(5):
            with pytest.raises(InvalidClient):
                reg.authenticate(ClientCredentials(cid, Secret("wrong"), post), "introspect")
    assert held.calls == 2
    assert reg.authenticate(ClientCredentials("rs", Secret("right"), post), "introspect").client_id == "rs"
    assert held.calls == 3


async def test_the_async_path_waits_on_the_registry_threads_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """``authenticate_async``: a derivation is awaited on the registry's own thread; beyond the queue, 429."""
    import asyncio
    import threading

    from authhooks.clients import ClientAuthBusy

    reg = ClientRegistry(
        [Client.from_hash("rs", hash_client_secret("right", iterations=FAST))], hash_workers=1, hash_queue=1
    )
    held = _HeldDerivations(monkeypatch)
    names: list[str] = []
    real = held.__call__

    def naming(*args: object) -> bytes:
        names.append(threading.current_thread().name)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", naming)
    post = "client_secret_post"
    first = asyncio.ensure_future(reg.authenticate_async(ClientCredentials("rs", Secret("a"), post), "introspect"))
    second = asyncio.ensure_future(reg.authenticate_async(ClientCredentials("rs", Secret("b"), post), "introspect"))
    await asyncio.sleep(0)  # both submitted: one running, one waiting
    with pytest.raises(ClientAuthBusy):
        await reg.authenticate_async(ClientCredentials("rs", Secret("c"), post), "introspect")
    held.release.set()
    for task in (first, second):
        with pytest.raises(InvalidClient):
            await task
    good = await reg.authenticate_async(ClientCredentials("rs", Secret("right"), post), "introspect")
    assert good.client_id == "rs" and all(n.startswith("authhooks-client-secret") for n in names)
    reg.close()


def test_without_registered_clients_basic_credentials_cost_no_derivation(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service with no registered client answers any client credentials 401 at once: there is no id whose
    existence timing could reveal, so no PBKDF2 work for anyone to trigger."""
    held = _HeldDerivations(monkeypatch)
    held.release.set()
    reg = ClientRegistry()
    for secret in ("a", "b" * 2000):
        with pytest.raises(InvalidClient):
            reg.authenticate(ClientCredentials("rs", Secret(secret), "client_secret_basic"), "revoke")
    assert held.calls == 0
