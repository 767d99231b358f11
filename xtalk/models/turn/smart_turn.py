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
import re
from pathlib import Path
from typing import Any

import numpy as np

from xtalk.models.interfaces import INPUT_SAMPLE_RATE, TurnDetector, TurnVerdict
from xtalk.models.onnx_sessions import model_file, shared_session
from xtalk.models.turn.text_policy import sounds_unfinished
from xtalk.resource_paths import bundle_dir

WINDOW_S = 8
WINDOW_SAMPLES = WINDOW_S * INPUT_SAMPLE_RATE
MODEL_FILENAME = "smart-turn-v3.2-cpu.onnx"
_PACKAGE_DATA = ("audio", "turn", "smart_turn", "data")
_NORMALISE_EPS = 1e-7
#: A transcript this long can be a cut phrase that Whisper completed ("Stop." cannot).
UNSURE_MIN_WORDS = 3
_PUNCTUATED = re.compile(r"[.!?。！？][\"')\]]*$")
_QUESTION = re.compile(r"[?？][\"')\]]*$")


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

    With ``use_transcript`` the transcript is heard too: one that promises more (it ends
    in "to", "and", "the", a comma or Whisper's "..." — :func:`~xtalk.models.turn.
    text_policy.sounds_unfinished`) keeps the turn open whatever the voice says, and one
    that Whisper left without a full stop or question mark (it punctuates from the
    intonation) needs the voice to sound surely finished (``unpunctuated_threshold``), and
    so does a phrase (three words or more) whose last word the recogniser was unsure of
    (probability below ``unsure_word_probability``: at a pause Whisper often "completes" a
    cut phrase, "tell me the" → "tell me that?"), which needs ``unsure_word_threshold``.
    A question the recogniser was sure had ended (a phrase ending in "?" whose last word,
    with the mark, scored at least ``sure_question_probability``) needs only
    ``sure_question_threshold``: Smart Turn often hears a finished question in a
    synthetic or flat voice as unfinished. Why: docs/models.md, "Turn detection".

    Args:
        model_path: A Smart Turn v3 ONNX file; default: the one pipecat-ai ships.
        threshold: Probability of "finished" at or above which the pause ends the turn.
        max_silence_s: Silence after which the turn ends whatever the model says.
        use_transcript: Also judge the transcript (see above).
        unpunctuated_threshold: The threshold for a transcript without final punctuation.
        unsure_word_probability: Below this certainty of the last word (when the
            recogniser gives it) the transcript counts as unsure; 0 switches this off.
        unsure_word_threshold: The threshold for an unsure transcript.
        sure_question_probability: At or above this certainty of the last word a phrase
            ending in "?" counts as a finished question; 0 switches this off.
        sure_question_threshold: The threshold for a finished question.
        threads: onnxruntime intra-op threads.

    Raises:
        RuntimeError: the model file is missing or is not a Smart Turn model.
        ValueError: a parameter is out of range.
    """

    uses_audio = True

    def __init__(self, model_path: str | None = None, threshold: float = 0.8,
                 max_silence_s: float = 1.6, use_transcript: bool = True,
                 unpunctuated_threshold: float = 0.8, unsure_word_probability: float = 0.4,
                 unsure_word_threshold: float = 0.99, sure_question_probability: float = 0.8,
                 sure_question_threshold: float = 0.1, threads: int = 1) -> None:
        for name, value in (("threshold", threshold),
                            ("unpunctuated_threshold", unpunctuated_threshold),
                            ("unsure_word_threshold", unsure_word_threshold),
                            ("sure_question_threshold", sure_question_threshold)):
            if not 0.0 < float(value) < 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        for name, value in (("unsure_word_probability", unsure_word_probability),
                            ("sure_question_probability", sure_question_probability)):
            if not 0.0 <= float(value) < 1.0:
                raise ValueError(f"{name} must be at least 0 and below 1, got {value}")
        if float(max_silence_s) <= 0:
            raise ValueError(f"max_silence_s must be positive, got {max_silence_s}")
        if int(threads) < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        path = model_file(model_path, default_model_path, "Smart Turn",
                          f"the {MODEL_FILENAME} that the pipecat-ai package ships")
        self.model_path = str(path)
        self.threshold = float(threshold)
        self.max_silence_s = float(max_silence_s)
        self.use_transcript = bool(use_transcript)
        self.unpunctuated_threshold = float(unpunctuated_threshold)
        self.unsure_word_probability = float(unsure_word_probability)
        self.unsure_word_threshold = float(unsure_word_threshold)
        self.sure_question_probability = float(sure_question_probability)
        self.sure_question_threshold = float(sure_question_threshold)
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

    def _threshold(self, text: str, last_word_probability: float | None) -> float:
        """The probability of "finished" that ``text`` (not empty) needs."""
        threshold = self.threshold
        if not _PUNCTUATED.search(text):
            threshold = max(threshold, self.unpunctuated_threshold)
        if last_word_probability is None or len(text.split()) < UNSURE_MIN_WORDS:
            return threshold
        if last_word_probability < self.unsure_word_probability:
            return max(threshold, self.unsure_word_threshold)
        if self.sure_question_probability and _QUESTION.search(text) \
                and last_word_probability >= self.sure_question_probability:
            return min(threshold, self.sure_question_threshold)
        return threshold

    def decide(self, text: str, silence_s: float, audio: np.ndarray | None = None, *,
               last_word_probability: float | None = None,
               voice_probability: float | None = None) -> TurnVerdict:
        """See the class docstring; ``voice_probability``, when given, is
        :meth:`probability` of ``audio`` computed beforehand."""
        if silence_s >= self.max_silence_s:
            return TurnVerdict(is_end=True)
        wait = self.max_silence_s - silence_s
        if self.use_transcript and sounds_unfinished(text):
            return TurnVerdict(is_end=False, wait_s=wait)
        if audio is None or np.asarray(audio).size == 0:
            return TurnVerdict(is_end=True)
        p = self.probability(audio) if voice_probability is None else voice_probability
        threshold = self._threshold(text.strip(), last_word_probability) \
            if self.use_transcript and text.strip() else self.threshold
        if p >= threshold:
            return TurnVerdict(is_end=True, probability=p)
        return TurnVerdict(is_end=False, wait_s=wait, probability=p)


__all__ = ["SmartTurnDetector", "default_model_path", "log_mel_features"]
