"""PCM conversions and resampling (``soxr``, a real band-limited resampler).

The engine's canonical input is PCM16 mono 16 kHz. Resampling happens once, at an edge:
when audio enters (:class:`StreamResampler` in the direct-audio path) or leaves (the output
gateway / local player).
"""

from __future__ import annotations

import numpy as np
import soxr

INPUT_SAMPLE_RATE = 16000


def to_mono_float32(samples: np.ndarray) -> np.ndarray:
    """Convert int16 / int / float arrays, mono ``(n,)`` or ``(n, channels)``, to float32
    mono in [-1, 1] (channels are averaged after scaling)."""
    array = np.asarray(samples)
    if array.ndim not in (1, 2):
        raise ValueError(f"audio must be 1-D or (frames, channels), got shape {array.shape}")
    if array.dtype.kind == "f":
        scaled = array.astype(np.float32, copy=False)
    elif array.dtype == np.int16:
        scaled = array.astype(np.float32) / 32768.0
    elif array.dtype.kind in "iu":
        info = np.iinfo(array.dtype)
        scaled = (array.astype(np.float64) / max(abs(info.min), info.max)).astype(np.float32)
    else:
        raise ValueError(f"unsupported sample type {array.dtype}")
    return scaled.mean(axis=1, dtype=np.float32) if scaled.ndim == 2 else scaled


def float_to_int16(samples: np.ndarray) -> np.ndarray:
    """Clip float audio to [-1, 1] and convert to int16."""
    return (np.clip(samples, -1.0, 32767 / 32768) * 32768.0).astype(np.int16)


def int16_to_float(samples: np.ndarray) -> np.ndarray:
    return samples.astype(np.float32) / 32768.0


def resample_int16(pcm: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample a whole int16 mono clip (no state carried between calls)."""
    if from_rate == to_rate or pcm.size == 0:
        return pcm.astype(np.int16, copy=False)
    return soxr.resample(pcm.astype(np.int16, copy=False), from_rate, to_rate, quality="HQ")


class StreamResampler:
    """Resample a continuous stream block by block without seams at block borders."""

    def __init__(self, from_rate: int, to_rate: int, channels: int = 1) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._stream = (
            None if from_rate == to_rate
            else soxr.ResampleStream(from_rate, to_rate, channels, dtype="float32", quality="HQ")
        )

    def process(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        """Resample the next float32 block."""
        if self._stream is None:
            return samples
        return self._stream.resample_chunk(samples, last=last)


def rms_dbfs(pcm: np.ndarray) -> float:
    """RMS level of int16 audio in dB relative to full scale (-120 for silence)."""
    if pcm.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(np.square(pcm.astype(np.float64) / 32768.0))))
    return 20.0 * np.log10(rms) if rms > 1e-6 else -120.0
