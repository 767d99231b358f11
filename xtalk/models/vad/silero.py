"""Silero VAD (ONNX, run with onnxruntime): the default voice activity detector.

The model file is the one faster-whisper ships (``faster_whisper/assets/silero_vad_v6.onnx``,
MIT); nothing is downloaded, neither torch nor the ``silero-vad`` package is needed. Another
Silero ONNX export can be passed as ``model_path``: faster-whisper's signature (``input``
[frames, 576], ``h``/``c``) and the upstream v5 one (``input`` [1, 576], ``state``, ``sr``)
are both handled.

Each call scores 512 new samples (32 ms at 16 kHz) preceded by the previous frame's last 64
samples; that context and the recurrent state are per instance (per session), while the
``InferenceSession`` is shared by every clone in the process (its ``run`` is thread-safe).
Threshold choices and measurements: docs/models.md, "Voice activity".
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from xtalk.models.interfaces import VAD
from xtalk.models.onnx_sessions import model_file, shared_session

SAMPLE_RATE = 16000
FRAME_SAMPLES = 512
CONTEXT_SAMPLES = 64
STATE_SIZE = 128
# Left running without speech, the recurrent state drifts and later onsets come late
# (docs/models.md, "Voice activity"): it is reset after RESET_AFTER_FRAMES frames in a row
# below QUIET_PROBABILITY (4 s of no speech at all), where a reset costs no onset.
QUIET_PROBABILITY = 0.15
RESET_AFTER_FRAMES = 125
MODEL_FILENAME = "silero_vad_v6.onnx"


def default_model_path() -> Path:
    """Path of the Silero VAD model faster-whisper ships (not imported, only located).

    Raises:
        RuntimeError: faster-whisper is not installed or has no model file.
    """
    spec = importlib.util.find_spec("faster_whisper")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "assets" / MODEL_FILENAME
        if candidate.is_file():
            return candidate
    where = "is not installed" if spec is None else f"has no assets/{MODEL_FILENAME}"
    raise RuntimeError(
        f"Silero VAD model not found: the faster-whisper package {where}. The model file "
        f"({MODEL_FILENAME}) ships with faster-whisper (pip install faster-whisper); "
        "alternatively pass model_path= the path of a Silero VAD ONNX file "
        '(service config: {"vad": {"type": "SileroVAD", "params": {"model_path": ...}}}).')


def get_session(model_path: str | Path, threads: int = 1) -> Any:
    """The process-wide ``InferenceSession`` for (``model_path``, ``threads``)."""
    return shared_session(model_path, threads)


class SileroVAD(VAD):
    """Silero voice activity detector: speech probability of each 32 ms frame.

    Args:
        model_path: A Silero VAD ONNX file; default: the one faster-whisper ships.
        threads: onnxruntime intra-op threads (one is fastest for a 32 ms frame).

    Raises:
        RuntimeError: the model file is missing (names faster-whisper and ``model_path``).
        ValueError: ``threads`` is below 1.
    """

    frame_samples = FRAME_SAMPLES
    sample_rate = SAMPLE_RATE

    def __init__(self, model_path: str | None = None, threads: int = 1) -> None:
        if int(threads) < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        path = model_file(model_path, default_model_path, "Silero VAD",
                          f"the {MODEL_FILENAME} that the faster-whisper package ships "
                          "(pip install faster-whisper)")
        self.model_path = str(path)
        self.threads = int(threads)
        self._session = get_session(path, self.threads)
        names = {i.name for i in self._session.get_inputs()}
        self._split_state = {"h", "c"} <= names
        if not self._split_state and "state" not in names:
            raise RuntimeError(
                f"{path} is not a Silero VAD ONNX model (inputs: {sorted(names)})")
        self._with_sr = "sr" in names
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self._input = np.zeros((1, CONTEXT_SAMPLES + FRAME_SAMPLES), dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        """Zero the recurrent state and the 64-sample context."""
        self._reset_state()
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)

    def _reset_state(self) -> None:
        """Zero the recurrent state only (the context is real audio and stays)."""
        if self._split_state:
            self._h = np.zeros((1, 1, STATE_SIZE), dtype=np.float32)
            self._c = np.zeros((1, 1, STATE_SIZE), dtype=np.float32)
        else:
            self._state = np.zeros((2, 1, STATE_SIZE), dtype=np.float32)
        self._quiet_frames = 0

    def clone(self) -> SileroVAD:
        """A detector with fresh state that shares this one's ``InferenceSession``."""
        return SileroVAD(self.model_path, self.threads)

    def speech_probability(self, frame: np.ndarray) -> float:
        """Probability in [0, 1] that ``frame`` (512 PCM16 samples at 16 kHz) is speech."""
        pcm = np.asarray(frame)
        if pcm.ndim != 1 or pcm.size != FRAME_SAMPLES:
            raise ValueError(
                f"SileroVAD needs frames of exactly {FRAME_SAMPLES} samples (1-D), "
                f"got shape {pcm.shape}")
        if pcm.dtype.kind not in "iu":
            raise TypeError(f"SileroVAD expects PCM16 (int16) samples, got {pcm.dtype}")
        samples = pcm.astype(np.float32) / 32768.0
        x = self._input.copy()
        x[0, :CONTEXT_SAMPLES] = self._context
        x[0, CONTEXT_SAMPLES:] = samples
        if self._split_state:
            out, self._h, self._c = self._session.run(
                None, {"input": x, "h": self._h, "c": self._c})
        else:
            feeds = {"input": x, "state": self._state}
            if self._with_sr:
                feeds["sr"] = self._sr
            out, self._state = self._session.run(None, feeds)
        self._context = samples[-CONTEXT_SAMPLES:].copy()
        probability = float(np.asarray(out).reshape(-1)[0])
        self._quiet_frames = self._quiet_frames + 1 if probability < QUIET_PROBABILITY else 0
        if self._quiet_frames >= RESET_AFTER_FRAMES:
            self._reset_state()  # long without speech: before the state drifts
        return probability


__all__ = ["SileroVAD", "default_model_path", "get_session"]
