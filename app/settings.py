"""The desktop app's user settings: one JSON file in the user config folder.

``load_settings()`` always returns a complete dict (defaults filled in, unknown keys kept,
a missing or damaged file gives the defaults); ``save_settings()`` writes atomically (a
temporary file in the same folder, then ``os.replace``), so a crash never leaves half a
file. The folder is ``platformdirs.user_config_dir("xtalk")``; the ``XTALK_CONFIG_DIR``
environment variable overrides it (tests, portable installs).

``merge_into_config(config, settings)`` maps the settings onto an ``Xtalk.from_config``
configuration (see ``resources/default_config.json``) and returns a new dict.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs

logger = logging.getLogger(__name__)

CONFIG_DIR_ENV = "XTALK_CONFIG_DIR"
SETTINGS_FILE = "settings.json"

MIN_SPEED = 0.5
MAX_SPEED = 1.5

DEFAULT_SETTINGS: dict[str, Any] = {
    "input_device": None,          # device name; None: the system default
    "output_device": None,
    "voice": None,                 # TTS voice name or path; None: the config's voice
    "speed": 1.0,                  # speaking rate 0.5..1.5
    "asr_model": None,             # e.g. "tiny.en"; None: the config's model
    "llm": {"base_url": "", "model": "", "api_key": ""},   # empty: auto-detect
    "system_prompt": "",           # empty: the engine's default prompt
    "lan_enabled": False,
    "hands_free": True,
    "wake_word": None,             # a built-in openWakeWord model (WAKE_WORDS); None: none
    "noise_suppression": False,    # RNNoise after the echo canceller
    "thinking_cue": True,          # "Hmm." when the language model is slow to begin
    "patient": False,              # wait longer at pauses (fewer interruptions, slower)
    "push_to_talk_shortcut": "Space",
    "global_push_to_talk": "",     # a key held in any window (X11), e.g. "F9"; "": off
}

#: The wake phrases the app offers (openWakeWord's built-in models, by model name).
WAKE_WORDS: dict[str, str] = {"hey_jarvis": "Hey Jarvis", "alexa": "Alexa",
                              "hey_mycroft": "Hey Mycroft", "hey_rhasspy": "Hey Rhasspy",
                              "okay_nabu": "Okay Nabu"}
WAKE_WORD_MODEL = "OpenWakeWord"
LISTENING_MODES = ("always", "wake_word", "push_to_talk")

_WHISPER_ASR = {"FasterWhisperASR"}
_LLM_AGENTS = {"DefaultAgent"}
_PATIENT_DETECTORS = {"SmartTurnDetector"}


def config_dir() -> Path:
    """The folder of the settings file (``XTALK_CONFIG_DIR`` or the user config dir)."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir("xtalk"))


def settings_path() -> Path:
    return config_dir() / SETTINGS_FILE


def default_settings() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_SETTINGS)


def _clean_speed(value: Any) -> float:
    try:
        speed = float(value)
    except (TypeError, ValueError):
        return 1.0
    if speed != speed:  # NaN
        return 1.0
    return min(MAX_SPEED, max(MIN_SPEED, speed))


def normalize(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults filled in and values coerced to their types (unknown keys are kept)."""
    result = default_settings()
    if not isinstance(settings, Mapping):
        return result
    for key, value in settings.items():
        if key == "llm":
            if isinstance(value, Mapping):
                for sub in ("base_url", "model", "api_key"):
                    v = value.get(sub)
                    result["llm"][sub] = "" if v is None else str(v)
        else:
            result[key] = copy.deepcopy(value)
    result["speed"] = _clean_speed(result.get("speed"))
    for key in ("lan_enabled", "hands_free", "noise_suppression", "thinking_cue", "patient"):
        result[key] = bool(result.get(key))
    for key in ("input_device", "output_device", "voice", "asr_model"):
        value = result.get(key)
        result[key] = str(value) if value not in (None, "") else None
    result["system_prompt"] = str(result.get("system_prompt") or "")
    result["push_to_talk_shortcut"] = str(result.get("push_to_talk_shortcut") or "Space")
    result["global_push_to_talk"] = str(result.get("global_push_to_talk") or "").strip()
    if result.get("wake_word") not in WAKE_WORDS:
        result["wake_word"] = None
    return result


def noise_suppression_available() -> bool:
    """RNNoise can run here (the optional ``pyrnnoise`` package is installed)."""
    import importlib.util

    return importlib.util.find_spec("pyrnnoise") is not None


def listening_mode(settings: Mapping[str, Any]) -> str:
    """``"push_to_talk"`` (hands-free off), ``"wake_word"`` or ``"always"``."""
    s = normalize(settings)
    if not s["hands_free"]:
        return "push_to_talk"
    return "wake_word" if s["wake_word"] else "always"


def active_wake_word(settings: Mapping[str, Any]) -> str | None:
    """The wake word the engine waits for under ``settings`` (``None``: none)."""
    s = normalize(settings)
    return s["wake_word"] if s["hands_free"] else None


def with_listening_mode(settings: Mapping[str, Any], mode: str,
                        wake_word: str | None = None) -> dict[str, Any]:
    """A copy of ``settings`` in listening ``mode`` (one of :data:`LISTENING_MODES`); the
    wake word is dropped unless the mode is ``"wake_word"`` (default phrase: Hey Jarvis)."""
    if mode not in LISTENING_MODES:
        raise ValueError(f"unknown listening mode {mode!r}")
    s = normalize(settings)
    s["hands_free"] = mode != "push_to_talk"
    if mode == "wake_word":
        s["wake_word"] = wake_word if wake_word in WAKE_WORDS else "hey_jarvis"
    else:
        s["wake_word"] = None
    return s


def load_settings() -> dict[str, Any]:
    """The saved settings with defaults filled in (the defaults when nothing is saved or
    the file cannot be read)."""
    path = settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default_settings()
    except (OSError, ValueError) as exc:
        logger.warning("cannot read settings %s (%s); using defaults", path, exc)
        return default_settings()
    return normalize(data)


def save_settings(settings: Mapping[str, Any]) -> Path:
    """Write the settings atomically; returns the file path."""
    data = normalize(settings)
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o600)  # the file may hold an API key
        path = folder / SETTINGS_FILE
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _slot(config: dict[str, Any], slot: str) -> tuple[str | None, dict[str, Any] | None]:
    """Normalise ``config[slot]`` to ``{"type", "params"}`` in place; returns the type name
    and its params dict (None, None when the slot is absent or not a class entry)."""
    entry = config.get(slot)
    if isinstance(entry, str):
        entry = {"type": entry, "params": {}}
        config[slot] = entry
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
        return None, None
    params = entry.get("params")
    if not isinstance(params, dict):
        params = {}
        entry["params"] = params
    return entry["type"].rsplit(":", 1)[-1].rsplit(".", 1)[-1], params


def merge_into_config(config: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with the user's settings applied.

    * ``voice`` → ``tts.params.voice``; ``speed`` → ``service_config.tts_speed`` (the
      engine gives it to whichever voice the session has);
    * ``asr_model`` → ``asr.params.model`` of a Whisper ASR;
    * ``llm`` (when a base URL or model is given) → ``llm_agent.params.model``;
    * ``system_prompt`` → ``service_config.system_prompt``;
    * listening mode "wake word" → the ``wake_word`` slot (openWakeWord's model);
    * ``noise_suppression`` → ``speech_enhancer``: the echo canceller, then RNNoise (when
      the configuration names no enhancer of its own);
    * ``thinking_cue`` off → ``service_config.thinking_cue`` false (on keeps the config's);
    * ``patient`` → ``turn_detector.params.patience`` "patient" (a Smart Turn detector).

    Empty settings leave the config's values alone.
    """
    result = copy.deepcopy(dict(config))
    s = normalize(settings)
    service_config = result.get("service_config")
    if not isinstance(service_config, dict):
        service_config = {}
        result["service_config"] = service_config

    _tts_type, tts_params = _slot(result, "tts")
    if tts_params is not None and s["voice"]:
        tts_params["voice"] = s["voice"]
    if abs(s["speed"] - 1.0) > 1e-6:
        service_config["tts_speed"] = s["speed"]

    asr_type, asr_params = _slot(result, "asr")
    if asr_params is not None and s["asr_model"] and asr_type in _WHISPER_ASR:
        asr_params["model"] = s["asr_model"]
        asr_params.pop("model_path", None)

    agent_type, agent_params = _slot(result, "llm_agent")
    llm = s["llm"]
    if agent_params is not None and agent_type in _LLM_AGENTS and (
            llm["base_url"] or llm["model"]):
        model = dict(agent_params.get("model") or {})
        for key in ("base_url", "model", "api_key"):
            if llm[key] or key == "api_key":
                model[key] = llm[key]
        agent_params["model"] = model

    if s["system_prompt"].strip():
        service_config["system_prompt"] = s["system_prompt"].strip()
    if not s["thinking_cue"]:
        service_config["thinking_cue"] = False
    turn_type, turn_params = _slot(result, "turn_detector")
    if s["patient"] and turn_params is not None and turn_type in _PATIENT_DETECTORS:
        turn_params["patience"] = "patient"
    if s["noise_suppression"] and result.get("speech_enhancer") is None:
        result["speech_enhancer"] = {"type": "EnhancerChain",
                                     "params": {"stages": ["EchoGate", "RNNoise"]}}
    wake_word = active_wake_word(s)
    if wake_word:
        result["wake_word"] = {"type": WAKE_WORD_MODEL, "params": {"model": wake_word}}
    return result


__all__ = [
    "CONFIG_DIR_ENV", "DEFAULT_SETTINGS", "LISTENING_MODES", "WAKE_WORDS", "active_wake_word",
    "config_dir",
    "default_settings", "listening_mode", "load_settings", "merge_into_config",
    "noise_suppression_available", "normalize",
    "save_settings", "settings_path", "with_listening_mode",
]
