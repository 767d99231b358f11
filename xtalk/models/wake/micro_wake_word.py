"""microWakeWord through ``pymicro-wakeword`` (models and a TFLite runtime in the wheel).

Built-in phrases: ``alexa``, ``hey_jarvis``, ``hey_mycroft``, ``okay_nabu`` (Apache-2.0,
trained by Kevin Ahrendt for ESPHome), or ``model_path`` to another model's JSON manifest.
The score is the mean of the model's sliding window, compared with the manifest's
``probability_cutoff`` unless ``threshold`` is given. Each session gets its own
interpreter (``clone``).
"""

from __future__ import annotations

import numpy as np

from xtalk.models.interfaces import WakeWordDetector
from xtalk.models.wake.packaged import check_model, require

MODELS = ("alexa", "hey_jarvis", "hey_mycroft", "okay_nabu")


class MicroWakeWord(WakeWordDetector):
    """A microWakeWord streaming model.

    Args:
        model: A built-in phrase (``"hey_jarvis"``, ...).
        model_path: Another model's JSON manifest; overrides ``model``.
        threshold: Score that counts as the phrase (default: the manifest's cut-off).
        phrase: What users say, shown in the UI (default: the manifest's ``wake_word``).
    """

    def __init__(self, model: str = "hey_jarvis", model_path: str | None = None,
                 threshold: float | None = None, phrase: str | None = None) -> None:
        mww = require("pymicro_wakeword", "MicroWakeWord", "pymicro-wakeword")
        path = check_model("microWakeWord", model, model_path, MODELS, what="manifest")
        self.model, self.model_path = model, model_path
        if path is not None:
            self._detector = mww.MicroWakeWord.from_config(path)
        else:
            self._detector = mww.MicroWakeWord.from_builtin(mww.Model(model))
        self._features = mww.MicroWakeWordFeatures()
        self.threshold = float(threshold if threshold is not None
                               else self._detector.probability_cutoff)
        self._threshold_given = threshold
        self.phrase = phrase or self._detector.wake_word

    def clone(self) -> MicroWakeWord:
        return MicroWakeWord(self.model, self.model_path, self._threshold_given, self.phrase)

    def process(self, frame: np.ndarray) -> float:
        pcm = np.ascontiguousarray(frame, dtype=np.int16).tobytes()
        best = 0.0
        for features in self._features.process_streaming(pcm):
            score = self._detector.process_streaming_prob(features)
            if score is not None:
                best = max(best, float(score))
        return best

    def reset(self) -> None:
        self._detector.reset()
        self._features.reset()


__all__ = ["MicroWakeWord"]
