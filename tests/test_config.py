"""Settings: defaults, parsing of every ``AUTHHOOKS_*`` type, overrides, refusals, secrets."""

from __future__ import annotations

import dataclasses
import pickle
import re
from pathlib import Path
from typing import Any

import pytest

from authhooks import AuthHooks, ConfigurationError, Secret, Settings
from authhooks._cli import main as cli_main

README = Path(__file__).resolve().parents[1] / "README.md"


def env(**values: str) -> dict[str, str]:
    return {f"AUTHHOOKS_{k.upper()}": v for k, v in values.items()}


# -- defaults -------------------------------------------------------------------------------------------------


def test_defaults() -> None:
    s = Settings()
    assert s.service_name == "authhooks"
    assert s.realm is None
    assert s.effective_realm == "authhooks"
    assert s.state_dir == Path(".authhooks")
    assert s.propagate_hook_errors is False
    assert s.hook_timeout_seconds == 5.0
    assert s.background_queue_size == 1000
    assert s.store_url is None
    assert s.store_failure == "closed"  # fail closed by default
    assert s.secret is None
    assert s.algorithms == ()
    assert s.audience == ()
    assert s.leeway_seconds == 30
    assert s.access_ttl_seconds == 900
    assert s.protect == ("/*",)
    assert s.optional_auth is False
    assert s.routes is True
    assert s.error_format == "bearer"
    assert s.telemetry is True
    assert s.hook_telemetry == "event"
    assert s.record_subject is False  # no subject ids in telemetry unless asked


def test_empty_environment_gives_the_defaults() -> None:
    assert Settings.from_env({}) == Settings()


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHHOOKS_SERVICE_NAME", "billing")
    monkeypatch.setenv("OTHER_LEEWAY_SECONDS", "nonsense")  # other prefixes are not ours
    assert Settings.from_env().service_name == "billing"
    assert AuthHooks(store_url="memory://").settings.service_name == "billing"


def test_custom_prefix() -> None:
    environ = {"MYAPP_LEEWAY_SECONDS": "5", "AUTHHOOKS_LEEWAY_SECONDS": "nonsense"}
    assert Settings.from_env(environ, prefix="MYAPP_").leeway_seconds == 5


# -- parsing each type ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("TRUE", True), ("True", True), ("false", False)])
def test_bool(raw: str, expected: bool) -> None:
    assert Settings.from_env(env(optional_auth=raw)).optional_auth is expected
    assert Settings.from_env(env(routes=raw)).routes is expected


@pytest.mark.parametrize("raw", ["yes", "no", "1", "0", "on", "t", "truee"])
def test_bool_refuses_anything_but_true_or_false(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_OPTIONAL_AUTH") as info:
        Settings.from_env(env(optional_auth=raw))
    assert "`true` or `false`" in str(info.value)


@pytest.mark.parametrize(("raw", "expected"), [("10", 10), (" 42 ", 42), ("0", 0)])
def test_int(raw: str, expected: int) -> None:
    assert Settings.from_env(env(leeway_seconds=raw)).leeway_seconds == expected


@pytest.mark.parametrize("raw", ["ten", "1.5", "1e3", "0x10", "--1"])
def test_int_refuses_non_integers(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_LEEWAY_SECONDS: expected an integer"):
        Settings.from_env(env(leeway_seconds=raw))


@pytest.mark.parametrize(("raw", "expected"), [("2.5", 2.5), ("10", 10.0), ("1e2", 100.0)])
def test_float(raw: str, expected: float) -> None:
    s = Settings.from_env(env(jwks_ttl_seconds=raw))
    assert s.jwks_ttl_seconds == expected
    assert isinstance(s.jwks_ttl_seconds, float)


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf", "Infinity", "fast"])
def test_float_refuses_nan_infinity_and_words(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_JWKS_TTL_SECONDS: expected a number"):
        Settings.from_env(env(jwks_ttl_seconds=raw))


@pytest.mark.parametrize("name", ["jwks_ttl_seconds", "store_timeout_seconds", "hook_timeout_seconds"])
def test_nan_refused_as_keyword_too(name: str) -> None:
    """NaN compares false with every bound, so a range check alone lets it through; the keyword path must
    refuse it like the environment path does."""
    with pytest.raises(ConfigurationError, match=name):
        Settings(**{name: float("nan")})


def test_optional_float() -> None:
    assert Settings.from_env(env(hook_timeout_seconds="1.5")).hook_timeout_seconds == 1.5


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("RS256", ("RS256",)),
        ("RS256,ES256", ("RS256", "ES256")),
        (" RS256 , ES256 ,", ("RS256", "ES256")),
        ('["RS256", "ES256"]', ("RS256", "ES256")),
        ("[]", ()),
    ],
)
def test_lists(raw: str, expected: tuple[str, ...]) -> None:
    assert Settings.from_env(env(algorithms=raw)).algorithms == expected


def test_json_list_keeps_commas_inside_items() -> None:
    s = Settings.from_env(env(audience='["https://api.example/a,b", "svc"]'))
    assert s.audience == ("https://api.example/a,b", "svc")


@pytest.mark.parametrize("raw", ['["RS256"', '["RS256",]', "[1, 2]", '[["a"]]', "[RS256]"])
def test_malformed_json_list_is_refused(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_AUDIENCE") as info:
        Settings.from_env(env(audience=raw))
    assert "list" in str(info.value)


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("error_format", "problem+json", "problem+json"),
        ("error_format", "BEARER", "bearer"),
        ("hook_telemetry", "span", "span"),
        ("hook_telemetry", "off", "off"),
        ("store_failure", "open", "open"),
    ],
)
def test_literal_choices(name: str, raw: str, expected: str) -> None:
    assert getattr(Settings.from_env(env(**{name: raw})), name) == expected


def test_literal_refuses_other_values() -> None:
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_ERROR_FORMAT") as info:
        Settings.from_env(env(error_format="xml"))
    assert "`bearer`" in str(info.value)
    assert "`problem+json`" in str(info.value)
    with pytest.raises(ConfigurationError, match="error_format"):
        Settings(error_format="xml")  # type: ignore[arg-type]


def test_paths(tmp_path: Path) -> None:
    s = Settings.from_env(env(state_dir=str(tmp_path), audit_log_file=str(tmp_path / "audit.jsonl")))
    assert s.state_dir == tmp_path
    assert s.audit_log_file == tmp_path / "audit.jsonl"
    assert isinstance(Settings(handlers_file="handlers.toml").handlers_file, Path)  # type: ignore[arg-type]


def test_strings() -> None:
    s = Settings.from_env(env(store_url="memory://", issuer="https://issuer.example"))
    assert s.store_url == "memory://"
    assert s.issuer == "https://issuer.example"


# -- secrets --------------------------------------------------------------------------------------------------

SECRET_VALUE = "correct-horse-battery-staple-0123456789abcdef"


def test_secret_from_env_is_masked() -> None:
    s = Settings.from_env(env(secret=SECRET_VALUE))
    assert isinstance(s.secret, Secret)
    assert s.secret.get_secret_value() == SECRET_VALUE
    assert SECRET_VALUE not in repr(s.secret)
    assert SECRET_VALUE not in str(s.secret)
    assert SECRET_VALUE not in f"{s.secret}"
    assert SECRET_VALUE not in repr(s)  # the whole settings object too
    assert "*" in repr(s.secret)


def test_secret_keyword_is_wrapped() -> None:
    s = Settings(secret=SECRET_VALUE)  # type: ignore[arg-type]
    assert isinstance(s.secret, Secret)
    assert SECRET_VALUE not in repr(s)
    assert Settings(secret=Secret(b"bytes-key")).secret == Secret(b"bytes-key")
    assert len(Secret("abc")) == 3
    assert bytes(Secret("abc")) == b"abc"


def test_secret_cannot_be_pickled() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(Secret(SECRET_VALUE))
    with pytest.raises(TypeError):
        pickle.dumps(Settings(secret=SECRET_VALUE))  # type: ignore[arg-type]


def test_secret_masked_in_cli_config_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTHHOOKS_SECRET", SECRET_VALUE)
    monkeypatch.setenv("AUTHHOOKS_LEEWAY_SECONDS", "12")
    assert cli_main(["config"]) == 0
    out = capsys.readouterr().out
    assert SECRET_VALUE not in out
    assert re.search(r"^AUTHHOOKS_SECRET=\S*\*+", out, re.M)
    assert "AUTHHOOKS_LEEWAY_SECONDS=12" in out.splitlines()


# -- empty, overrides, unknown variables ----------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "   "])
def test_empty_value_is_unset(raw: str) -> None:
    s = Settings.from_env(env(leeway_seconds=raw, optional_auth=raw, service_name=raw, secret=raw, protect=raw))
    assert s == Settings()


def test_keyword_overrides_win_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    environ = env(leeway_seconds="10", service_name="from-env")
    s = Settings.from_env(environ, leeway_seconds=20)
    assert s.leeway_seconds == 20
    assert s.service_name == "from-env"
    monkeypatch.setenv("AUTHHOOKS_PROPAGATE_HOOK_ERRORS", "true")
    monkeypatch.setenv("AUTHHOOKS_BACKGROUND_QUEUE_SIZE", "7")
    auth = AuthHooks(store_url="memory://", propagate_hook_errors=False)
    assert auth.settings.propagate_hook_errors is False
    assert auth.settings.background_queue_size == 7


def test_keyword_overrides_are_validated() -> None:
    with pytest.raises(ConfigurationError, match="leeway_seconds"):
        Settings.from_env({}, leeway_seconds=301)
    with pytest.raises(ConfigurationError, match="unknown setting"):
        Settings.from_env({}, leway_seconds=10)
    with pytest.raises(ConfigurationError, match="unknown setting"):
        AuthHooks(store_url="memory://", propagate_errors=True)
    with pytest.raises(ConfigurationError, match="optional_auth"):
        Settings(optional_auth="true")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="leeway_seconds"):
        Settings(leeway_seconds=1.5)  # type: ignore[arg-type]


def test_settings_object_with_overrides() -> None:
    base = Settings(service_name="billing")
    auth = AuthHooks(base, store_url="memory://", leeway_seconds=5)
    assert (auth.settings.service_name, auth.settings.leeway_seconds) == ("billing", 5)
    with pytest.raises(ConfigurationError):
        base.replace(leeway_seconds=-1)


def test_unknown_variable_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_SECERT") as info:
        Settings.from_env({"AUTHHOOKS_SECERT": SECRET_VALUE})
    assert "did you mean AUTHHOOKS_SECRET?" in str(info.value)
    assert SECRET_VALUE not in str(info.value)  # the (probably secret) value is not echoed


def test_unknown_variable_without_a_close_match() -> None:
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_ZZZZ: unknown authhooks setting"):
        Settings.from_env({"AUTHHOOKS_ZZZZ": "1"})


def test_unknown_variable_refused_by_auth_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHHOOKS_PROPAGATE_HOOK_ERROR", "true")
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_PROPAGATE_HOOK_ERRORS"):
        AuthHooks(store_url="memory://")


# -- bounds ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("leeway_seconds", 301),
        ("leeway_seconds", -1),
        ("background_queue_size", 0),
        ("access_ttl_seconds", 0),
        ("max_token_bytes", 10),
        ("store_timeout_seconds", 0.0),
        ("hook_timeout_seconds", -1.0),
        ("hook_timeout_seconds", 3601.0),
    ],
)
def test_out_of_bounds_values_are_refused_naming_the_variable(name: str, value: float) -> None:
    variable = f"AUTHHOOKS_{name.upper()}"
    with pytest.raises(ConfigurationError, match=f"^{variable}: expected a value"):
        Settings.from_env({variable: str(value)})
    with pytest.raises(ConfigurationError, match=f"^{name}: expected a value"):
        Settings(**{name: value})


def test_bounds_are_inclusive() -> None:
    assert Settings.from_env(env(leeway_seconds="300")).leeway_seconds == 300
    assert Settings.from_env(env(background_queue_size="1")).background_queue_size == 1


@pytest.mark.parametrize("value", [0, 0.0])
def test_zero_hook_timeout_is_refused_at_configuration(value: float) -> None:
    """A hook timeout of 0 would make every add_hook fail later ('timeout must be a positive number');
    the setting must be refused where it is made, naming the variable."""
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_HOOK_TIMEOUT_SECONDS"):
        Settings.from_env(env(hook_timeout_seconds=str(value)))
    with pytest.raises(ConfigurationError, match="hook_timeout_seconds"):
        Settings(hook_timeout_seconds=value)


# -- the object -----------------------------------------------------------------------------------------------


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.leeway_seconds = 0  # type: ignore[misc]
    assert s.replace(leeway_seconds=0).leeway_seconds == 0
    assert s.leeway_seconds == 30


def test_describe_lists_every_field_once() -> None:
    rows = Settings.describe()
    variables = [v for v, _, _ in rows]
    assert variables == [f"AUTHHOOKS_{f.name.upper()}" for f in dataclasses.fields(Settings)]
    assert all(doc for _, _, doc in rows)


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [v for v, _, _ in Settings.describe() if v not in text]
    assert missing == [], f"README.md does not document: {', '.join(missing)}"


@pytest.mark.parametrize(
    ("name", "value"),
    [("leeway_seconds", True), ("background_queue_size", "10"), ("protect", [1]), ("state_dir", 5)],
)
def test_wrong_python_types_are_refused(name: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings(**{name: value})
