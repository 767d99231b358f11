"""One scripted turn with the real default models: the question, the scripted reply the
loopback language model streams, the app's default config pointed at that server, and
a transcription of what was played."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import soxr
from paths import ROOT

from xtalk.models.asr.faster_whisper import FasterWhisperASR

QUESTION = "Who said ask not what your country can do for you?"
REPLY = "That was President Kennedy. He asked people to serve their country."


def default_config(base_url: str) -> dict[str, Any]:
    """resources/default_config.json with DefaultAgent on the scripted server."""
    config = json.loads((ROOT / "resources" / "default_config.json").read_text())
    config["llm_agent"] = {"type": "DefaultAgent", "params": {"model": {
        "base_url": base_url, "api_key": "sk-test-secret", "model": "scripted-model"}}}
    return config


def transcribe(audio: np.ndarray, rate: int) -> str:
    """What our faster-whisper adapter hears in ``audio`` (PCM16 or float) at ``rate``."""
    x = audio.astype(np.float32) / 32768.0 if audio.dtype == np.int16 else \
        audio.astype(np.float32)
    audio16 = soxr.resample(x, rate, 16000)
    return FasterWhisperASR().transcribe((audio16 * 32767).astype(np.int16)).text
