"""One scripted turn with the real default models: the question, the scripted reply the
loopback language model streams, the app's default config pointed at that server, and
a transcription of what was played."""

from __future__ import annotations

import json
import re
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
    audio16 = _voiced(soxr.resample(x, rate, 16000))
    text = FasterWhisperASR().transcribe((audio16 * 32767).astype(np.int16)).text
    # tiny.en's repetition loop ("... country the the the the the") is the recogniser's,
    # not the audio's: one word said three or more times in a row counts once
    return re.sub(r"\b(\w+)(?:\W+\1\b){2,}", r"\1", text, flags=re.IGNORECASE)


def _voiced(x: np.ndarray, rate: int = 16000) -> np.ndarray:
    """``x`` from 0.2 s before its first to 0.3 s after its last 10 ms block above -45 dBFS:
    tiny.en makes words up in a long silent tail ("... the the the")."""
    block = rate // 100
    n = x.size // block
    if n == 0:
        return x
    levels = 20 * np.log10(np.sqrt(np.mean(x[:n * block].reshape(n, block) ** 2, axis=1))
                           + 1e-9)
    loud = np.nonzero(levels > -45)[0]
    if loud.size == 0:
        return x
    start = max(0, loud[0] * block - rate // 5)
    return x[start:min(x.size, (loud[-1] + 1) * block + rate * 3 // 10)]
