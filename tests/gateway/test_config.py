"""Configuration: every problem is reported as ``file:line: message``; env substitution; secrets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest
import yaml

from common.settings import ConfigError, ConfigProblem
from frontdesk.config import Settings, load_settings, parse_settings

REPO = Path(__file__).resolve().parents[2]
COMMITTED_CONFIG = REPO / "config.yml"

SECRET_KEYS = {
    "token",
    "secret",
    "secret_token",
    "auth_token",
    "access_token",
    "app_secret",
    "signing_secret",
    "bot_token",
    "verify_token",
    "account_sid",
}


def problems_of(text: str, env: dict[str, str] | None = None, file: str = "c.yml") -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_settings(text, file, env if env is not None else {})
    return [str(p) for p in info.value.problems]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- single problems


def test_invalid_yaml_names_the_offending_line() -> None:
    text = "server:\n  host: example.org\n  port: : 80\n"
    assert problems_of(text) == ["c.yml:3: invalid YAML: mapping values are not allowed here"]


def test_invalid_yaml_from_a_file_names_the_file_path(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yml", "log:\n  level: info\n\tformat: json\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    [problem] = info.value.problems
    assert problem.file == str(path)
    assert problem.line == 3
    assert str(problem).startswith(f"{path}:3: invalid YAML: ")


def test_unknown_top_level_key() -> None:
    text = "server:\n  port: 8080\nservre:\n  port: 9090\n"
    assert problems_of(text) == ["c.yml:3: servre: unknown key"]


def test_unknown_nested_key() -> None:
    text = "channels:\n  telegram:\n    mode: polling\n    tokne: abc\n"
    assert problems_of(text) == ["c.yml:4: channels.telegram.tokne: unknown key"]


def test_port_that_is_not_a_number() -> None:
    text = "server:\n  host: 0.0.0.0\n  port: abc\n"
    assert problems_of(text) == [
        "c.yml:3: server.port: input should be a valid integer, "
        "unable to parse string as an integer (got 'abc')"
    ]


def test_port_out_of_range() -> None:
    text = "server:\n  port: 70000\n"
    assert problems_of(text) == [
        "c.yml:2: server.port: input should be less than or equal to 65535 (got 70000)"
    ]


def test_value_outside_a_choice() -> None:
    text = "log:\n  level: verbose\n"
    assert problems_of(text) == [
        "c.yml:2: log.level: input should be 'debug', 'info', 'warning' or 'error' (got 'verbose')"
    ]


def test_section_that_is_not_a_mapping() -> None:
    assert problems_of("store: memory://\n") == ["c.yml:1: store: expected a mapping of settings"]


def test_unset_variable_without_default() -> None:
    text = "server:\n  port: 8080\n  public_url: ${PUBLIC_URL}\n"
    assert problems_of(text, env={}) == [
        "c.yml:3: server.public_url: environment variable PUBLIC_URL is not set "
        "(write ${PUBLIC_URL:-default} to give a default)"
    ]


def test_duplicate_key() -> None:
    text = "server:\n  port: 8080\n  host: a\n  port: 9090\n"
    assert problems_of(text) == ["c.yml:4: server.port: duplicate key"]


def test_duplicate_top_level_section() -> None:
    text = "log:\n  level: info\nserver:\n  port: 1\nlog:\n  format: json\n"
    assert problems_of(text) == ["c.yml:5: log: duplicate key"]


# --------------------------------------------------------------------------- missing secrets


def test_api_secret_without_callback_url() -> None:
    text = "channels:\n  api:\n    secret: s3cret\n    callback_url: ''\n"
    assert problems_of(text) == [
        "c.yml:4: channels.api.callback_url: required when channels.api.secret is set"
    ]


def test_api_callback_url_empty_from_environment_default() -> None:
    text = "channels:\n  api:\n    secret: ${API_SECRET}\n    callback_url: ${CB:-}\n"
    assert problems_of(text, env={"API_SECRET": "s3cret"}) == [
        "c.yml:4: channels.api.callback_url: required when channels.api.secret is set"
    ]


def test_telegram_webhook_mode_needs_secret_token() -> None:
    text = "channels:\n  telegram:\n    token: ${TG_TOKEN}\n    mode: webhook\n"
    problems = problems_of(text, env={"TG_TOKEN": "123456789:" + "A" * 35})
    assert len(problems) == 1
    line, message = problems[0].split(": ", 1)
    # secret_token is absent, so the problem points at the telegram section.
    assert line == "c.yml:2"
    assert message == (
        "channels.telegram.secret_token: required in webhook mode when channels.telegram.token "
        "is set"
    )


def test_telegram_polling_mode_needs_no_secret_token() -> None:
    text = "channels:\n  telegram:\n    token: abc\n    mode: polling\n"
    settings = parse_settings(text, "c.yml", {})
    assert settings.channels.telegram.token == "abc"
    assert settings.channels.telegram.mode == "polling"


def test_whatsapp_access_token_needs_app_secret_and_friends() -> None:
    text = (
        "channels:\n"
        "  whatsapp:\n"
        "    access_token: EAAtoken\n"
        "    app_secret: ''\n"
        "    verify_token: v\n"
        "    phone_number_id: ''\n"
    )
    assert problems_of(text) == [
        "c.yml:4: channels.whatsapp.app_secret: required when channels.whatsapp.access_token "
        "is set",
        "c.yml:6: channels.whatsapp.phone_number_id: required when "
        "channels.whatsapp.access_token is set",
    ]


def test_slack_bot_token_needs_signing_secret() -> None:
    text = "channels:\n  slack:\n    bot_token: xoxb-1\n    signing_secret: ''\n"
    assert problems_of(text) == [
        "c.yml:4: channels.slack.signing_secret: required when channels.slack.bot_token is set"
    ]


def test_twilio_account_sid_needs_auth_token() -> None:
    text = "channels:\n  twilio:\n    account_sid: AC1\n    auth_token: ''\n"
    assert problems_of(text) == [
        "c.yml:4: channels.twilio.auth_token: required when channels.twilio.account_sid is set"
    ]


def test_channel_without_any_credentials_is_simply_off() -> None:
    text = "channels:\n  telegram:\n    token: ''\n  whatsapp:\n    access_token: ''\n"
    settings = parse_settings(text, "c.yml", {})
    assert settings.channels.telegram.token == ""
    assert settings.channels.whatsapp.access_token == ""


# --------------------------------------------------------------------------- many problems


def test_several_problems_are_reported_together_sorted_by_line() -> None:
    text = (
        "server:\n"  # 1
        "  host: ${HOST}\n"  # 2
        "  port: abc\n"  # 3
        "nonsense: 1\n"  # 4
        "log:\n"  # 5
        "  level: info\n"  # 6
        "  level: loud\n"  # 7
    )
    problems = problems_of(text, env={})
    assert problems == [
        "c.yml:2: server.host: environment variable HOST is not set "
        "(write ${HOST:-default} to give a default)",
        "c.yml:3: server.port: input should be a valid integer, "
        "unable to parse string as an integer (got 'abc')",
        "c.yml:4: nonsense: unknown key",
        "c.yml:7: log.level: duplicate key",
        "c.yml:7: log.level: input should be 'debug', 'info', 'warning' or 'error' (got 'loud')",
    ]


def test_missing_secret_is_reported_alongside_other_problems() -> None:
    # `validate` promises every problem in one run, not one per run.
    text = (
        "server:\n"  # 1
        "  port: abc\n"  # 2
        "channels:\n"  # 3
        "  slack:\n"  # 4
        "    bot_token: xoxb-1\n"  # 5
        "    signing_secret: ''\n"  # 6
    )
    assert problems_of(text) == [
        "c.yml:2: server.port: input should be a valid integer, "
        "unable to parse string as an integer (got 'abc')",
        "c.yml:6: channels.slack.signing_secret: required when channels.slack.bot_token is set",
    ]


def test_problems_are_config_problem_values() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings("a: 1\nb: 2\n", "x/y.yml", {})
    assert info.value.problems == [
        ConfigProblem("x/y.yml", 1, "a: unknown key"),
        ConfigProblem("x/y.yml", 2, "b: unknown key"),
    ]
    assert str(info.value) == "x/y.yml:1: a: unknown key\nx/y.yml:2: b: unknown key"


# --------------------------------------------------------------------------- substitution


def test_variable_is_read_from_the_environment() -> None:
    text = "server:\n  public_url: ${PUBLIC_URL}\n"
    settings = parse_settings(text, "c.yml", {"PUBLIC_URL": "https://bot.example.com"})
    assert settings.server.public_url == "https://bot.example.com"


def test_default_is_used_when_variable_is_unset() -> None:
    text = "server:\n  public_url: ${PUBLIC_URL:-https://fallback.example.com}\n"
    settings = parse_settings(text, "c.yml", {})
    assert settings.server.public_url == "https://fallback.example.com"


def test_environment_wins_over_default() -> None:
    text = "store:\n  url: ${STORE_URL:-memory://}\n"
    settings = parse_settings(text, "c.yml", {"STORE_URL": "redis://cache:6379/2"})
    assert settings.store.url == "redis://cache:6379/2"


def test_variable_set_to_empty_string_is_not_replaced_by_default() -> None:
    text = "handoff:\n  slack_channel: ${CHANNEL:-C123}\n"
    settings = parse_settings(text, "c.yml", {"CHANNEL": ""})
    assert settings.handoff.slack_channel == ""


def test_variable_embedded_in_a_longer_string() -> None:
    text = "server:\n  public_url: https://${HOST}:${PORT:-8443}/hooks\n"
    settings = parse_settings(text, "c.yml", {"HOST": "bot.example.com"})
    assert settings.server.public_url == "https://bot.example.com:8443/hooks"


def test_numbers_from_the_environment_are_coerced() -> None:
    text = "server:\n  port: ${PORT}\nworkers:\n  lease: ${LEASE:-2.5}\n"
    settings = parse_settings(text, "c.yml", {"PORT": "9000"})
    assert settings.server.port == 9000
    assert isinstance(settings.server.port, int)
    assert settings.workers.lease == 2.5


def test_non_numeric_port_from_the_environment_is_reported_on_its_line() -> None:
    text = "server:\n  host: h\n  port: ${PORT}\n"
    assert problems_of(text, env={"PORT": "eighty"}) == [
        "c.yml:3: server.port: input should be a valid integer, "
        "unable to parse string as an integer (got 'eighty')"
    ]


def test_os_environment_is_used_when_no_env_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_TEST_PORT", "8123")
    settings = parse_settings("server:\n  port: ${FRONTDESK_TEST_PORT}\n", "c.yml")
    assert settings.server.port == 8123


# --------------------------------------------------------------------------- settings values


def test_settings_are_frozen() -> None:
    settings = parse_settings("server:\n  port: 8080\n", "c.yml", {})
    with pytest.raises(pydantic.ValidationError):
        settings.server.port = 1
    with pytest.raises(pydantic.ValidationError):
        settings.log = settings.log
    assert settings.server.port == 8080


def test_empty_file_gives_the_defaults() -> None:
    assert parse_settings("", "c.yml", {}) == Settings()
    assert parse_settings("# only a comment\n", "c.yml", {}) == Settings()


# --------------------------------------------------------------------------- committed config


def test_committed_config_loads_with_an_empty_environment() -> None:
    settings = load_settings(COMMITTED_CONFIG, env={})
    assert settings.server.port == 8080
    assert settings.store.url == "memory://"
    # No credentials in the file: every channel is off.
    channels = settings.channels
    assert channels.api.secret == ""
    assert channels.telegram.token == ""
    assert channels.slack.bot_token == ""
    assert channels.twilio.account_sid == ""
    assert channels.whatsapp.access_token == ""


def test_committed_config_reads_secrets_from_the_environment() -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": "123456789:" + "A" * 35,
        "TELEGRAM_SECRET_TOKEN": "tg-secret",
        "FRONTDESK_PORT": "9001",
    }
    settings = load_settings(COMMITTED_CONFIG, env=env)
    assert settings.channels.telegram.token == env["TELEGRAM_BOT_TOKEN"]
    assert settings.channels.telegram.secret_token == "tg-secret"
    assert settings.server.port == 9001


def _secret_entries(node: object, path: tuple[str, ...] = ()) -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = (*path, str(key))
            if str(key) in SECRET_KEYS:
                found.append((".".join(here), value))
            found.extend(_secret_entries(value, here))
    return found


def test_committed_config_contains_no_secret_literal() -> None:
    # Read the raw text (no substitution) so a literal cannot hide behind an env reference.
    raw = yaml.safe_load(COMMITTED_CONFIG.read_text(encoding="utf-8"))
    entries = _secret_entries(raw["channels"], ("channels",))
    keys = {path.rsplit(".", 1)[1] for path, _ in entries}
    # Guard against the check passing vacuously.
    assert {"token", "bot_token", "auth_token", "access_token", "app_secret"} <= keys
    assert len(entries) >= 10
    for path, value in entries:
        assert isinstance(value, str), path
        assert re.fullmatch(r"\$\{[A-Z][A-Z0-9_]*:-\}", value), f"{path} = {value!r}"


# --------------------------------------------------------------------------- frontdesk validate


def _validate(config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "SYSTEMROOT", "LANG"}}
    return subprocess.run(
        [sys.executable, "-m", "frontdesk", "validate", "--config", str(config)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_validate_prints_every_problem_and_exits_1(tmp_path: Path) -> None:
    bad = write(
        tmp_path / "bad.yml",
        "server:\n"  # 1
        "  port: abc\n"  # 2
        "  hots: x\n"  # 3
        "channels:\n"  # 4
        "  api:\n"  # 5
        "    secret: ${FRONTDESK_TEST_UNSET_SECRET}\n",  # 6
    )
    result = _validate(bad, tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        f"{bad}:2: server.port: input should be a valid integer, "
        "unable to parse string as an integer (got 'abc')",
        f"{bad}:3: server.hots: unknown key",
        f"{bad}:6: channels.api.secret: environment variable FRONTDESK_TEST_UNSET_SECRET is not "
        "set (write ${FRONTDESK_TEST_UNSET_SECRET:-default} to give a default)",
    ]


def test_validate_reports_invalid_yaml(tmp_path: Path) -> None:
    bad = write(tmp_path / "broken.yml", "server:\n  port: 8080\n host: x\n")
    result = _validate(bad, tmp_path)
    assert result.returncode == 1
    [line] = result.stdout.splitlines()
    assert line.startswith(f"{bad}:3: invalid YAML: ")


def test_validate_accepts_the_committed_config(tmp_path: Path) -> None:
    result = _validate(COMMITTED_CONFIG, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{COMMITTED_CONFIG}:" not in result.stdout


def test_validate_accepts_a_good_config(tmp_path: Path) -> None:
    good = write(
        tmp_path / "good.yml",
        "server:\n  port: 9000\nchannels:\n  api:\n    secret: s\n    callback_url: http://cb\n",
    )
    result = _validate(good, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "good.yml:" not in result.stdout
