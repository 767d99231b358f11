"""xtalk-server settings: file < environment < flags, validation, and no secret in logs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from paths import TONE_CONFIG

from xtalk.server_cli import build_parser
from xtalk.server_settings import SettingsError, apply_settings, describe, mask

SECRET = "s3cret-Pa55word"


def resolve(argv: list[str], env: dict[str, str] | None = None):
    parser = build_parser()
    args = parser.parse_args(argv)
    resolved = apply_settings(parser, args, argv, environ=env or {})
    return args, resolved


def test_file_then_environment_then_flags(tmp_path: Path):
    settings = tmp_path / "conf" / "server.toml"
    settings.parent.mkdir()
    settings.write_text(
        'config = "pipeline.json"\n'
        'host = "0.0.0.0"\nport = 9001\nlan = true\nmetrics = true\n'
        f'database_url = "postgresql+psycopg://xtalk:{SECRET}@db.internal/xtalk"\n'
        'allowed-origins = ["https://a.example", "https://b.example"]\n'
        'max_upload_bytes = 1000\n')
    args, resolved = resolve(["--settings", str(settings)])
    assert args.host == "0.0.0.0" and args.port == 9001 and args.lan and args.metrics
    assert args.config == str(settings.parent.resolve() / "pipeline.json")  # file-relative
    assert args.database.endswith("@db.internal/xtalk")
    assert args.allowed_origin == ["https://a.example", "https://b.example"]
    assert args.max_upload_bytes == 1000
    assert resolved.sources["port"] == f"file {settings}"

    env = {"XTALK_PORT": "9002", "XTALK_METRICS": "off",
           "XTALK_DATABASE_URL": "sqlite:////tmp/x.db",
           "XTALK_ALLOWED_ORIGINS": "https://c.example, https://d.example"}
    args, resolved = resolve(["--settings", str(settings)], env)
    assert args.port == 9002 and not args.metrics and args.database == "sqlite:////tmp/x.db"
    assert args.allowed_origin == ["https://c.example", "https://d.example"]
    assert args.host == "0.0.0.0"  # still from the file
    assert resolved.sources["port"] == "env XTALK_PORT"

    args, resolved = resolve(["--settings", str(settings), "--port", "9003",
                              "--host", "127.0.0.1"], env)
    assert args.port == 9003 and args.host == "127.0.0.1"
    assert "port" not in resolved.sources and "host" not in resolved.sources


def test_environment_alone_and_settings_file_from_environment(tmp_path: Path):
    settings = tmp_path / "server.json"
    settings.write_text(json.dumps({"port": 9100, "log_level": "warning"}))
    args, _ = resolve([], {"XTALK_SETTINGS": str(settings), "XTALK_HOST": "::1"})
    assert (args.port, args.log_level, args.host) == (9100, "warning", "::1")
    args, _ = resolve([], {})
    assert (args.port, args.host, args.metrics) == (8765, "127.0.0.1", False)  # defaults


def test_subcommands_take_the_database_from_the_settings(tmp_path: Path):
    settings = tmp_path / "server.toml"
    settings.write_text('database = "sqlite:////srv/xtalk.db"\n')
    args, _ = resolve(["--settings", str(settings), "user", "list"])
    assert args.database == "sqlite:////srv/xtalk.db"
    args, _ = resolve(["--settings", str(settings), "user", "list", "--database",
                       "sqlite:////other.db"])
    assert args.database == "sqlite:////other.db"


@pytest.mark.parametrize(("content", "suffix", "message"), [
    ('colour = "blue"\n', ".toml", "unknown setting 'colour'"),
    ('port = "eighty"\n', ".toml", "setting 'port'"),
    ("lan = 3\n", ".toml", "true or false"),
    ("port = [1, 2]\n", ".toml", "single value"),
    ("port = \n", ".toml", "not valid TOML"),
    ("[1, 2]", ".json", "one table"),
    ("port: 1", ".yaml", "must end in .toml or .json"),
])
def test_bad_settings_files_are_clear_errors(tmp_path: Path, content, suffix, message):
    settings = tmp_path / f"server{suffix}"
    settings.write_text(content)
    with pytest.raises(SettingsError, match=message):
        resolve(["--settings", str(settings)])


def test_bad_environment_values_name_the_variable(tmp_path: Path):
    with pytest.raises(SettingsError, match="XTALK_PORT"):
        resolve([], {"XTALK_PORT": "http"})
    with pytest.raises(SettingsError, match="XTALK_LAN"):
        resolve([], {"XTALK_LAN": "maybe"})
    with pytest.raises(SettingsError, match="cannot read the settings file"):
        resolve(["--settings", str(tmp_path / "missing.toml")])


def test_secrets_are_masked(tmp_path: Path):
    url = f"postgresql+psycopg://xtalk:{SECRET}@db/xtalk"
    args, resolved = resolve([], {"XTALK_DATABASE_URL": url, "XTALK_PORT": "9000"})
    line = describe(args, resolved)
    assert SECRET not in line and "xtalk:***@db/xtalk" in line and "port=9000" in line
    assert mask("api_key", "sk-123") == "***" and mask("port", 1) == "1"
    with pytest.raises(SettingsError) as info:
        resolve([], {"XTALK_DATABASE_URL": f"postgres ql://xtalk:{SECRET}@db"})
    assert SECRET not in str(info.value) and "XTALK_DATABASE_URL" in str(info.value)


def test_server_process_never_logs_the_database_password(tmp_path: Path):
    """A real start with an unreachable PostgreSQL: a clear error, no password, no
    traceback, and the settings line masks the password."""
    settings = tmp_path / "server.toml"
    settings.write_text(f'database = "postgresql+psycopg://xtalk:{SECRET}@127.0.0.1:1/xtalk"\n'
                        'config = "../../tests/fixtures/tone_config.json"\n')
    fixture = TONE_CONFIG
    result = subprocess.run(
        [sys.executable, "-m", "xtalk.server_cli", "--settings", str(settings),
         "--config", str(fixture)],
        capture_output=True, text=True, timeout=90,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XTALK_PORT": "1"})
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "cannot open the database" in output
    assert "settings: " in output and "xtalk:***@127.0.0.1:1/xtalk" in output
    assert "port=1 (env XTALK_PORT)" in output
    assert SECRET not in output and "Traceback" not in output


@pytest.mark.parametrize("command", [["user", "add", "ann", "--password", "pw-123456"],
                                     ["user", "list"], ["pairing-code", "ann"]])
def test_user_commands_report_an_unreachable_database(command: list[str], tmp_path: Path):
    """`xtalk-server user …` against a PostgreSQL that is down: the driver's reason in
    one line, exit 1, no traceback and no password."""
    url = f"postgresql+psycopg://xtalk:{SECRET}@127.0.0.1:1/xtalk"
    result = subprocess.run(
        [sys.executable, "-m", "xtalk.server_cli", "--database", url, *command],
        capture_output=True, text=True, timeout=90, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "xtalk-server: database error: " in output and "127.0.0.1" in output
    assert SECRET not in output and "Traceback" not in output
    assert list(tmp_path.iterdir()) == []  # nothing created where it ran
