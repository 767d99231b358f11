"""openWakeWord through ``pyopen-wakeword`` (models and a TFLite runtime in the wheel).

Built-in phrases: ``alexa``, ``hey_jarvis``, ``hey_mycroft``, ``hey_rhasspy``,
``okay_nabu``; or ``model_path`` to another openWakeWord ``.tflite`` classifier. The code
is Apache-2.0, but openWakeWord's pretrained models are published for non-commercial use
only (CC BY-NC-SA 4.0): see the README's licence section. Each session gets its own
interpreters (``clone``); inference is a few ms per 80 ms of audio.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xtalk.models.interfaces import WakeWordDetector
from xtalk.models.wake.packaged import check_model, require

PHRASES = {"alexa": "Alexa", "hey_jarvis": "Hey Jarvis", "hey_mycroft": "Hey Mycroft",
           "hey_rhasspy": "Hey Rhasspy", "okay_nabu": "Okay Nabu"}


class OpenWakeWord(WakeWordDetector):
    """An openWakeWord classifier over the shared melspectrogram and embedding models.

    Args:
        model: A built-in phrase (``"hey_jarvis"``, ...).
        model_path: Another openWakeWord classifier (``.tflite``); overrides ``model``.
        threshold: Score that counts as the phrase (openWakeWord's default: 0.5).
        phrase: What users say, shown in the UI (default: from the model's name).
    """

    def __init__(self, model: str = "hey_jarvis", model_path: str | None = None,
                 threshold: float = 0.5, phrase: str | None = None) -> None:
        oww = require("pyopen_wakeword", "OpenWakeWord", "pyopen-wakeword")
        path = check_model("openWakeWord", model, model_path, PHRASES)
        self.model, self.model_path = model, model_path
        self.threshold = float(threshold)
        stem = Path(model_path).stem if model_path else model
        self.phrase = phrase or PHRASES.get(stem, stem.replace("_", " ").title())
        if path is not None:
            self._classifier = oww.OpenWakeWord.from_model(path)
        else:
            self._classifier = oww.OpenWakeWord.from_builtin(oww.Model(model))
        self._features = oww.OpenWakeWordFeatures.from_builtin()

    def clone(self) -> OpenWakeWord:
        return OpenWakeWord(self.model, self.model_path, self.threshold, self.phrase)

    def process(self, frame: np.ndarray) -> float:
        pcm = np.ascontiguousarray(frame, dtype=np.int16).tobytes()
        best = 0.0
        for features in self._features.process_streaming(pcm):
            for score in self._classifier.process_streaming(features):
                best = max(best, float(score))
        return best

    def reset(self) -> None:
        self._classifier.reset()
        self._features.reset()


__all__ = ["OpenWakeWord"]
