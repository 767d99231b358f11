"""Checks of a ``service_config`` at build time: a misspelt or mistyped key of a section
that the managers read only when a session starts fails the build with a ConfigError that
names it, instead of failing every session. The sections' keys and types are those of the
settings dataclasses the managers read them into (``session_settings``)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from xtalk.registry import ConfigError
from xtalk.serving.managers.speech_out.thinking_cue import cue_settings
from xtalk.serving.session_settings import SECTIONS


def _check_value(where: str, annotation: str, value: Any) -> None:
    """``value`` against a field annotated ``bool``, ``float`` or ``float | None``."""
    if annotation == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false")
    elif isinstance(value, bool) or not (isinstance(value, int | float)
                                         or (value is None and "None" in annotation)):
        raise ConfigError(f"{where} must be a number")


def check_service_config(config: dict[str, Any]) -> None:
    """Raise ConfigError for a malformed section of ``config`` (absent ones are fine)."""
    cue_settings(config.get("thinking_cue"))
    for key, settings in SECTIONS.items():
        section = config.get(key)
        if section is None:
            continue
        if not isinstance(section, dict):
            raise ConfigError(f"service_config.{key} must be an object")
        known = {f.name: str(f.type) for f in fields(settings)}
        unknown = sorted(set(section) - set(known))
        if unknown:
            raise ConfigError(f"service_config.{key}: unknown {', '.join(unknown)}; "
                              f"known: {', '.join(sorted(known))}")
        for name, value in section.items():
            _check_value(f"service_config.{key}.{name}", known[name], value)


__all__ = ["check_service_config"]
