"""Checks of a ``service_config`` at build time: a misspelt or mistyped key of a section
that the managers read only when a session starts fails the build with a ConfigError that
names it, instead of failing every session."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from xtalk.registry import ConfigError
from xtalk.serving.managers.audio_in.vad_segmenter import VADSettings
from xtalk.serving.managers.recognition.asr import ASRSettings
from xtalk.serving.managers.speech_out.thinking_cue import cue_settings

#: Sections read as plain mappings: their known keys.
KNOWN_KEYS: dict[str, frozenset[str]] = {
    "turn": frozenset({"speculative_replies", "continuation_s", "transcript_wait_s"}),
    "wake_word": frozenset({"follow_up_s"}),
}
SETTINGS_CLASSES: dict[str, type] = {"vad": VADSettings, "asr": ASRSettings}
#: Keys that are true or false; every other key is a number (``OPTIONAL`` ones may be null).
FLAGS = frozenset({"speculative_replies", "speculative_final"})
OPTIONAL = frozenset({"neg_threshold"})


def check_service_config(config: dict[str, Any]) -> None:
    """Raise ConfigError for a malformed section of ``config`` (absent ones are fine)."""
    cue_settings(config.get("thinking_cue"))
    for key in (*SETTINGS_CLASSES, *KNOWN_KEYS):
        section = config.get(key)
        if section is None:
            continue
        if not isinstance(section, dict):
            raise ConfigError(f"service_config.{key} must be an object")
        known = (frozenset(f.name for f in fields(SETTINGS_CLASSES[key]))
                 if key in SETTINGS_CLASSES else KNOWN_KEYS[key])
        unknown = sorted(set(section) - known)
        if unknown:
            raise ConfigError(f"service_config.{key}: unknown {', '.join(unknown)}; "
                              f"known: {', '.join(sorted(known))}")
        for name, value in section.items():
            if name in FLAGS:
                if not isinstance(value, bool):
                    raise ConfigError(f"service_config.{key}.{name} must be true or false")
            elif isinstance(value, bool) or not (
                    isinstance(value, int | float) or (value is None and name in OPTIONAL)):
                raise ConfigError(f"service_config.{key}.{name} must be a number")


__all__ = ["check_service_config"]
