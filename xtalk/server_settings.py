"""Settings of ``xtalk-server`` from a file and the environment, command-line flags winning.

Every top-level option of ``xtalk-server`` is a setting, under its flag's name
(``--max-upload-bytes`` is ``max_upload_bytes``; dashes or underscores). Sources, the
later winning:

1. the built-in defaults;
2. the settings file: ``--settings FILE`` (or ``$XTALK_SETTINGS``), TOML (``.toml``) or
   JSON (``.json``), one flat table of settings; relative paths in it (``config``,
   ``tls_cert``, ``tls_key``, ``tls_dir``) are relative to the file;
3. the environment: ``XTALK_<NAME>`` in capitals (``XTALK_PORT=9000``,
   ``XTALK_LAN=true``), except ``XTALK_DATABASE_URL`` for ``database`` and
   ``XTALK_ALLOWED_ORIGINS`` (comma-separated) for ``allowed_origin``;
4. the command-line flags.

Example ``server.toml``::

    config = "pipeline.json"
    host = "0.0.0.0"
    port = 8765
    lan = true
    database = "postgresql+psycopg://xtalk:secret@db.internal/xtalk"
    metrics = true

Secrets never reach logs: :func:`describe` masks the database URL's password and any
setting whose name says it is a secret (``password``, ``token``, ``secret``, ``api_key``),
and an unparseable database URL is reported without its text.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xtalk.store.database import DATABASE_URL_ENV

SETTINGS_ENV = "XTALK_SETTINGS"
ENV_PREFIX = "XTALK_"
#: Environment variables that do not follow ``XTALK_<NAME>``.
ENV_NAMES = {"database": DATABASE_URL_ENV, "allowed_origin": "XTALK_ALLOWED_ORIGINS"}
#: Other names a setting is known by in a settings file.
ALIASES = {"database_url": "database", "allowed_origins": "allowed_origin"}
#: Settings that are paths (relative ones in a file are relative to the file).
PATH_SETTINGS = frozenset({"config", "tls_cert", "tls_key", "tls_dir"})
#: Settings that are not settings (the command line only).
IGNORED_DESTS = frozenset({"help", "settings", "command"})
SECRET_NAME = re.compile(r"password|secret|token|api_?key", re.IGNORECASE)
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})


class SettingsError(ValueError):
    """A settings file or environment variable is unusable (the message says which)."""


@dataclass
class ResolvedSettings:
    """Where each setting that did not come from its default came from."""

    sources: dict[str, str] = field(default_factory=dict)  # dest → "file X" / "env VAR"


def _actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The top-level options by destination."""
    return {a.dest: a for a in parser._actions  # argparse has no public accessor
            if a.option_strings and a.dest not in IGNORED_DESTS}


def _names(action: argparse.Action) -> set[str]:
    names = {action.dest}
    names.update(o.lstrip("-").replace("-", "_") for o in action.option_strings
                 if o.startswith("--"))
    return names


def _explicit(parser: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """The destinations set on the command line (re-parsed with suppressed defaults)."""
    saved = {id(a): a.default for a in parser._actions}
    try:
        for action in parser._actions:
            action.default = argparse.SUPPRESS
        namespace, _ = parser.parse_known_args(list(argv))
    finally:
        for action in parser._actions:
            action.default = saved[id(action)]
    return set(vars(namespace))


def _is_flag(action: argparse.Action) -> bool:
    return isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction)


def _is_list(action: argparse.Action) -> bool:
    return isinstance(action, argparse._AppendAction)


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    raise SettingsError(f"{where} must be true or false")


def _scalar(action: argparse.Action, value: Any, where: str) -> Any:
    if isinstance(value, bool | list | dict):
        raise SettingsError(f"{where} must be a single value")
    convert = action.type if callable(action.type) else str
    try:
        result = convert(str(value))
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{where} is not valid ({exc.__class__.__name__})") from exc
    if action.choices is not None and result not in action.choices:
        raise SettingsError(f"{where} must be one of {sorted(action.choices)}")
    return result


def _convert(action: argparse.Action, value: Any, where: str, *, from_env: bool,
             base: Path | None) -> Any:
    if _is_flag(action):
        flag = _bool(value, where)
        return flag if isinstance(action, argparse._StoreTrueAction) else not flag
    if _is_list(action):
        if from_env:
            items = [v.strip() for v in str(value).split(",") if v.strip()]
        elif isinstance(value, list):
            items = value
        elif isinstance(value, str):
            items = [value]
        else:
            raise SettingsError(f"{where} must be a list of strings")
        return [_scalar(action, item, where) for item in items]
    if action.dest in PATH_SETTINGS and base is not None and isinstance(value, str):
        path = Path(value).expanduser()
        value = str(path if path.is_absolute() else base / path)
    return _scalar(action, value, where)


def load_settings_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML or JSON settings file (a flat table)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"cannot read the settings file {path}: "
                            f"{exc.strerror or exc}") from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(raw.decode("utf-8"))
        elif suffix == ".toml":
            data = tomllib.loads(raw.decode("utf-8"))
        else:
            raise SettingsError(f"the settings file {path} must end in .toml or .json")
    except (UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"the settings file {path} is not valid "
                            f"{suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"the settings file {path} must hold one table of settings")
    return data


def _check_database_url(value: Any, where: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(str(value))
    except ArgumentError:
        # never echo the value: it may hold a password
        raise SettingsError(f"{where} is not a database URL (e.g. "
                            "postgresql+psycopg://user:password@host/xtalk)") from None


def apply_settings(parser: argparse.ArgumentParser, args: argparse.Namespace,
                   argv: Sequence[str] | None,
                   environ: Mapping[str, str] | None = None) -> ResolvedSettings:
    """Fill ``args`` from the settings file and the environment wherever the command line
    did not set an option.

    Raises:
        SettingsError: An unreadable or invalid file, an unknown setting, or a value of
            the wrong kind (the message names the file or variable, never a secret).
    """
    import sys

    environ = os.environ if environ is None else environ
    argv = sys.argv[1:] if argv is None else argv
    actions = _actions(parser)
    explicit = _explicit(parser, argv)
    by_name: dict[str, str] = {}
    for dest, action in actions.items():
        for name in _names(action):
            by_name[name] = dest
    by_name.update({alias: dest for alias, dest in ALIASES.items() if dest in actions})

    resolved = ResolvedSettings()
    # dest → (value, where (for errors), source (for describe), from_env, base dir)
    values: dict[str, tuple[Any, str, str, bool, Path | None]] = {}
    settings_path = getattr(args, "settings", None) or environ.get(SETTINGS_ENV) or None
    if settings_path:
        path = Path(settings_path).expanduser()
        for key, value in load_settings_file(path).items():
            dest = by_name.get(str(key).replace("-", "_"))
            if dest is None:
                known = ", ".join(sorted(d for d in actions))
                raise SettingsError(f"unknown setting {key!r} in {path} (known: {known})")
            values[dest] = (value, f"setting {key!r} in {path}", f"file {path}", False,
                            path.resolve().parent)
    for dest in actions:
        var = ENV_NAMES.get(dest, f"{ENV_PREFIX}{dest.upper()}")
        if var in environ:
            values[dest] = (environ[var], f"environment variable {var}", f"env {var}", True,
                            None)

    for dest, (value, where, source, from_env, base) in values.items():
        if dest in explicit:
            continue
        action = actions[dest]
        if dest == "database":
            _check_database_url(value, where)
        setattr(args, dest, _convert(action, value, where, from_env=from_env, base=base))
        resolved.sources[dest] = source
    return resolved


def mask(name: str, value: Any) -> str:
    """``value`` as it may be logged: secrets replaced by ``***``, a URL's password
    masked."""
    if value is None:
        return "None"
    if SECRET_NAME.search(name):
        return "***"
    if name in ("database", "database_url") or (isinstance(value, str) and "://" in value):
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            return make_url(str(value)).render_as_string(hide_password=True)
        except ArgumentError:
            return "***"
    return str(value)


def describe(args: argparse.Namespace, resolved: ResolvedSettings) -> str:
    """One line naming the settings taken from the file or environment, secrets masked."""
    if not resolved.sources:
        return "settings: command line and defaults only"
    parts = [f"{dest}={mask(dest, getattr(args, dest, None))} ({source})"
             for dest, source in sorted(resolved.sources.items())]
    return "settings: " + ", ".join(parts)


__all__ = ["ResolvedSettings", "SettingsError", "apply_settings", "describe",
           "load_settings_file", "mask"]
