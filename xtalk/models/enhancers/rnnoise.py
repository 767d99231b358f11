"""RNNoise noise suppression: librnnoise with its built-in model, from the ``pyrnnoise``
wheel (BSD-3-Clause; loaded with ctypes, the wheel's Python modules are not imported).

RNNoise works on 10 ms frames at 48 kHz: each 16 kHz input frame is resampled up with a
low-delay polyphase filter, denoised, and resampled down again. The output has exactly the
input's length and lags it by a constant ``delay_samples`` (primed with silence once).
One state per session (``clone``).
"""

from __future__ import annotations

import ctypes
import importlib.util
import threading
from collections import deque
from functools import lru_cache
from pathlib import Path

import numpy as np

from xtalk.audio.pcm import LowDelayResampler
from xtalk.models.interfaces import SpeechEnhancer

RATE = 16000
RNNOISE_RATE = 48000
RNNOISE_FRAME = 480  # 10 ms at 48 kHz
#: Silence the output starts with, in 16 kHz samples: enough to cover what is not yet
#: denoised at any moment (a part-filled RNNoise frame and both resamplers' tails).
PRIME_SAMPLES = 240
#: RNNoise's own delay (its 20 ms analysis window), in 16 kHz samples.
RNNOISE_DELAY = 320
#: The output lags the input by this much (measured on speech: tests/models/enhancers).
DELAY_SAMPLES = PRIME_SAMPLES + RNNOISE_DELAY


@lru_cache(maxsize=1)
def _library() -> ctypes.CDLL:
    spec = importlib.util.find_spec("pyrnnoise")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for name in ("librnnoise.so", "librnnoise.dylib", "rnnoise.dll"):
            path = Path(folder) / name
            if path.is_file():
                lib = ctypes.CDLL(str(path))
                lib.rnnoise_create.argtypes = [ctypes.c_void_p]
                lib.rnnoise_create.restype = ctypes.c_void_p
                lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
                lib.rnnoise_destroy.restype = None
                lib.rnnoise_process_frame.argtypes = [
                    ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
                    ctypes.POINTER(ctypes.c_float)]
                lib.rnnoise_process_frame.restype = ctypes.c_float
                return lib
    raise RuntimeError("RNNoise needs the pyrnnoise package, which ships librnnoise "
                       "(pip install 'xtalk[noise]' or pip install pyrnnoise)")


class _State:
    """One librnnoise denoiser, destroyed with this object."""

    def __init__(self) -> None:
        self.lib = _library()
        self.handle = self.lib.rnnoise_create(None)
        if not self.handle:
            raise RuntimeError("rnnoise_create failed")

    def process(self, frame: np.ndarray) -> float:
        """Denoise 480 float32 samples (int16 scale) in place; the speech probability."""
        pointer = frame.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        return float(self.lib.rnnoise_process_frame(self.handle, pointer, pointer))

    def __del__(self) -> None:
        handle, self.handle = getattr(self, "handle", None), None
        if handle:
            self.lib.rnnoise_destroy(handle)


class RNNoise(SpeechEnhancer):
    """Suppresses stationary and babble noise in the microphone signal.

    Args:
        mix: How much of the original signal is kept (0: fully denoised, 1: untouched);
            a little of it (e.g. 0.1) keeps a room's ambience natural.
    """

    def __init__(self, mix: float = 0.0) -> None:
        if not 0.0 <= float(mix) <= 1.0:
            raise ValueError(f"mix must be between 0 and 1, got {mix!r}")
        self.mix = float(mix)
        self.delay_samples = DELAY_SAMPLES
        self.speech_probability = 0.0  # of the last RNNoise frame
        self._state = _State()
        self._up = LowDelayResampler(RATE, RNNOISE_RATE)
        self._down = LowDelayResampler(RNNOISE_RATE, RATE)
        self._pending = np.zeros(0, dtype=np.float32)  # 48 kHz, not yet a whole frame
        self._out: deque[np.ndarray] = deque([np.zeros(PRIME_SAMPLES, dtype=np.float32)])
        self._out_size = PRIME_SAMPLES
        self._dry: deque[np.ndarray] = deque([np.zeros(DELAY_SAMPLES, dtype=np.float32)])
        self._lock = threading.Lock()

    def clone(self) -> RNNoise:
        return RNNoise(self.mix)

    def enhance(self, frame: np.ndarray) -> np.ndarray:
        with self._lock:
            x = np.asarray(frame, dtype=np.int16).reshape(-1).astype(np.float32)
            self._dry.append(x)
            self._pending = np.concatenate([self._pending, self._up.process(x)])
            whole = self._pending.size // RNNOISE_FRAME * RNNOISE_FRAME
            if whole:
                block = np.ascontiguousarray(self._pending[:whole], dtype=np.float32)
                self._pending = self._pending[whole:]
                for start in range(0, whole, RNNOISE_FRAME):
                    self.speech_probability = self._state.process(
                        block[start:start + RNNOISE_FRAME])
                down = self._down.process(block)
                self._out.append(down)
                self._out_size += down.size
            wet = self._take(self._out, x.size, wet=True)
            dry = self._take(self._dry, x.size, wet=False)
            y = wet if self.mix == 0.0 else (1 - self.mix) * wet + self.mix * dry
            return np.clip(np.round(y), -32768, 32767).astype(np.int16)

    def _take(self, queue: deque[np.ndarray], n: int, *, wet: bool) -> np.ndarray:
        """The next ``n`` samples of ``queue`` (silence if it ran short)."""
        parts, need = [], n
        while need and queue:
            head = queue[0]
            if head.size <= need:
                parts.append(queue.popleft())
                need -= head.size
            else:
                parts.append(head[:need])
                queue[0] = head[need:]
                need = 0
        if wet:
            self._out_size -= n - need
        if need:
            parts.append(np.zeros(need, dtype=np.float32))
        return np.concatenate(parts) if parts else np.zeros(n, dtype=np.float32)


__all__ = ["DELAY_SAMPLES", "RNNoise"]
