"""Smart Turn v3: an end-of-turn model that listens to the voice itself.

Smart Turn (pipecat-ai/smart-turn, BSD-2-Clause) is a Whisper-encoder classifier that
judges from intonation and the trailing words whether a speaker has finished, in 23
languages. Its input is the last 8 s of the turn (16 kHz, the pause included) as Whisper
log-mel features (80 × 800); its output is the probability that the turn is complete.

The int8 ONNX file ships inside the ``pipecat-ai`` wheel
(``pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx``); it is located there
without importing pipecat. Another export can be given as ``model_path``. Why the file comes
from that package, and what it costs, is in docs/models.md.
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from xtalk.models.interfaces import INPUT_SAMPLE_RATE, TurnDetector, TurnVerdict
from xtalk.models.onnx_sessions import model_file, shared_session
from xtalk.models.turn.turn_rules import PATIENCE, RULE_FIELDS
from xtalk.resource_paths import bundle_dir

WINDOW_S = 8
WINDOW_SAMPLES = WINDOW_S * INPUT_SAMPLE_RATE
MODEL_FILENAME = "smart-turn-v3.2-cpu.onnx"
_PACKAGE_DATA = ("audio", "turn", "smart_turn", "data")
_NORMALISE_EPS = 1e-7


def default_model_path() -> Path:
    """The Smart Turn model bundled with ``pipecat-ai`` (located, not imported).

    Raises:
        RuntimeError: the package or its model file is missing.
    """
    spec = importlib.util.find_spec("pipecat")
    locations = [Path(p) for p in (spec.submodule_search_locations or [])] \
        if spec is not None else []
    bundle = bundle_dir()  # a PyInstaller build carries the file, not pipecat's code
    if bundle is not None:
        locations.append(bundle / "pipecat")
    for location in locations:
        data = location.joinpath(*_PACKAGE_DATA)
        exact = data / MODEL_FILENAME
        if exact.is_file():
            return exact
        newer = sorted(data.glob("smart-turn-v3*-cpu.onnx"))
        if newer:
            return newer[-1]
    where = "is not installed" if not locations else "has no Smart Turn v3 model"
    raise RuntimeError(
        f"Smart Turn model not found: the pipecat-ai package {where}. It ships "
        f"{MODEL_FILENAME} (pip install 'pipecat-ai>=1.14'); alternatively pass model_path= "
        "a Smart Turn v3 ONNX file, or choose the TextEndpointPolicy turn detector.")


_extractor: Any = None


def log_mel_features(audio: np.ndarray) -> np.ndarray:
    """Whisper log-mel features (80 × 800, float32) of the last 8 s of ``audio``.

    ``audio`` is 16 kHz mono (PCM16 or float in -1..1). Shorter audio is padded with
    silence in front; the waveform is normalised to zero mean and unit variance first, as
    the model was trained.
    """
    global _extractor
    if _extractor is None:
        from faster_whisper.feature_extractor import FeatureExtractor

        _extractor = FeatureExtractor(feature_size=80, chunk_length=WINDOW_S)
    x = np.asarray(audio)
    x = x.astype(np.float32) / 32768.0 if x.dtype.kind in "iu" else x.astype(np.float32)
    x = x[-WINDOW_SAMPLES:]
    if x.size < WINDOW_SAMPLES:
        x = np.concatenate([np.zeros(WINDOW_SAMPLES - x.size, dtype=np.float32), x])
    x = (x - x.mean()) / np.sqrt(x.var() + _NORMALISE_EPS)
    return np.asarray(_extractor(x, padding=0), dtype=np.float32)


class SmartTurnDetector(TurnDetector):
    """Ends the turn when the voice sounds finished; otherwise waits for more speech.

    Smart Turn's probability is judged with the pause's transcript by
    :class:`~xtalk.models.turn.turn_rules.TurnRules`: ``patience`` picks a named set of
    rules ("quick", the default, or "patient": fewer hesitations taken for the end, more
    finished requests answered only after ``max_silence_s``; see
    :data:`~xtalk.models.turn.turn_rules.PATIENCE`), and each rule parameter given
    overrides the set's value. Why: docs/models.md, "Turn detection".

    Args:
        model_path: A Smart Turn v3 ONNX file; default: the one pipecat-ai ships.
        patience: "quick" or "patient".
        threads: onnxruntime intra-op threads.
        **rules: Any field of :class:`~xtalk.models.turn.turn_rules.TurnRules`
            (``threshold``, ``max_silence_s``, ``use_transcript``, ...).

    Raises:
        RuntimeError: the model file is missing or is not a Smart Turn model.
        ValueError: an unknown patience or rule, or a value out of range.
    """

    uses_audio = True

    def __init__(self, model_path: str | None = None, patience: str = "quick",
                 threads: int = 1, **rules: float | bool) -> None:
        if patience not in PATIENCE:
            raise ValueError(f"patience must be one of {', '.join(PATIENCE)}, got {patience!r}")
        unknown = sorted(set(rules) - set(RULE_FIELDS))
        if unknown:
            raise ValueError(f"unknown parameter {', '.join(unknown)}; the rules are "
                             f"{', '.join(RULE_FIELDS)}")
        self.rules = replace(PATIENCE[patience], **rules)
        self.patience = patience
        if int(threads) < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        path = model_file(model_path, default_model_path, "Smart Turn",
                          f"the {MODEL_FILENAME} that the pipecat-ai package ships")
        self.model_path = str(path)
        self.threads = int(threads)
        self._session = shared_session(path, self.threads)
        inputs = [i.name for i in self._session.get_inputs()]
        if inputs != ["input_features"]:
            raise RuntimeError(f"{path} is not a Smart Turn v3 model (inputs: {inputs})")

    def probability(self, audio: np.ndarray) -> float:
        """Probability that the speaker of ``audio`` (the turn so far) has finished."""
        features = log_mel_features(audio)[np.newaxis]
        out = self._session.run(None, {"input_features": features})
        return float(np.asarray(out[0]).reshape(-1)[0])

    def voice_probability(self, audio: np.ndarray) -> float | None:
        return self.probability(audio) if np.asarray(audio).size else None

    def decide(self, text: str, silence_s: float, audio: np.ndarray | None = None, *,
               last_word_probability: float | None = None,
               voice_probability: float | None = None) -> TurnVerdict:
        """See the class docstring; ``voice_probability``, when given, is
        :meth:`probability` of ``audio`` computed beforehand."""
        p = voice_probability
        if p is None and audio is not None and np.asarray(audio).size \
                and self.rules.needs_voice(text, silence_s):
            p = self.probability(audio)
        return self.rules.decide(text, silence_s, p, last_word_probability)


__all__ = ["SmartTurnDetector", "default_model_path", "log_mel_features"]
