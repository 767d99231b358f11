"""PCM conversions and resampling (``soxr``, a real band-limited resampler).

The engine's canonical input is PCM16 mono 16 kHz. Resampling happens once, at an edge:
when audio enters (:class:`StreamResampler` in the direct-audio path) or leaves (the output
gateway / local player).
"""

from __future__ import annotations

import math

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


class LowDelayResampler:
    """Resample a continuous stream block by block with a constant, small delay.

    :class:`StreamResampler` (soxr) hands out its output in batches: for 20 ms blocks of
    48 kHz it returns nothing for one block and 30 ms for the next. Where the output
    must follow the input block by block (an echo canceller's reference, laid on the
    clock where each block plays) that is a hole of up to 30 ms. This one is a
    polyphase windowed-sinc FIR (Kaiser window, cut-off at 92 % of the lower Nyquist
    frequency, ~60 dB stop band): every output sample whose input has arrived is
    computed at once, and the filter's own delay is taken off the front, so the output
    lines up with the input (its last ``lag`` samples come with the next block, or
    with ``last=True``).
    """

    def __init__(self, from_rate: int, to_rate: int, zero_crossings: int = 24,
                 beta: float = 6.0) -> None:
        g = math.gcd(int(from_rate), int(to_rate))
        self.up, self.down = int(to_rate) // g, int(from_rate) // g
        ratio = min(1.0, to_rate / from_rate)  # of the input's Nyquist frequency
        self.taps = 2 * math.ceil(zero_crossings / ratio)  # per phase (input side)
        n = self.taps * self.up
        cutoff = 0.92 * ratio / self.up  # of the upsampled rate's Nyquist frequency
        k = np.arange(n) - (n - 1) / 2
        h = cutoff * np.sinc(cutoff * k) * np.kaiser(n, beta) * self.up
        # phases[p, t]: the taps that meet x[q - (taps - 1 - t)] for output phase p.
        self._phases = h.reshape(self.taps, self.up).T[:, ::-1].copy()
        self._history = np.zeros(self.taps - 1)
        self._consumed = 0  # input samples taken in
        self._made = 0  # output samples computed (before the delay is taken off)
        self.lag = round((n - 1) / 2 / self.down)  # output samples of filter delay
        self._skip = self.lag

    def process(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        """Resample the next float block (``last``: and flush the filter's delay)."""
        x = np.asarray(samples, dtype=np.float64).reshape(-1)
        if self.up == self.down:
            return x.astype(np.float32)
        if last:
            x = np.concatenate([x, np.zeros(math.ceil(
                (self.lag + 1) * self.down / self.up) + 1)])
        buffer = np.concatenate([self._history, x])
        base = self._consumed - (self._history.size)  # input index of buffer[0]
        self._consumed += x.size
        # Output n needs input q = n * down // up (and taps - 1 before it).
        end = ((self._consumed * self.up) - 1) // self.down + 1
        n = np.arange(self._made, max(self._made, end))
        self._made = max(self._made, end)
        self._history = buffer[buffer.size - (self.taps - 1):]
        if n.size == 0:
            return np.zeros(0, dtype=np.float32)
        q, phase = np.divmod(n * self.down, self.up)
        windows = np.lib.stride_tricks.sliding_window_view(buffer, self.taps)
        y = np.einsum("it,it->i", self._phases[phase], windows[q - (self.taps - 1) - base])
        skip = min(self._skip, y.size)
        self._skip -= skip
        return y[skip:].astype(np.float32)


def rms_dbfs(pcm: np.ndarray) -> float:
    """RMS level of int16 audio in dB relative to full scale (-120 for silence)."""
    if pcm.size == 0:
        return -120.0
    x = pcm.astype(np.float32)
    rms = float(np.sqrt(np.dot(x, x) / x.size)) / 32768.0
    return 20.0 * np.log10(rms) if rms > 1e-6 else -120.0


def trim_silence(pcm: np.ndarray, sample_rate: int, floor_dbfs: float = -45.0,
                 lead_s: float = 0.02, tail_s: float = 0.08) -> np.ndarray:
    """``pcm`` (int16) without the silence before its first and after its last 10 ms block
    above ``floor_dbfs``, keeping ``lead_s`` / ``tail_s`` of it; all silence: empty."""
    block = max(1, sample_rate // 100)
    n = pcm.size // block
    if n == 0:
        return pcm[:0]
    x = pcm[:n * block].astype(np.float32).reshape(n, block) / 32768.0
    rms = np.sqrt(np.mean(x * x, axis=1))
    loud = np.nonzero(rms > 10.0 ** (floor_dbfs / 20.0))[0]
    if loud.size == 0:
        return pcm[:0]
    start = max(0, loud[0] * block - int(lead_s * sample_rate))
    end = min(pcm.size, (loud[-1] + 1) * block + int(tail_s * sample_rate))
    return pcm[start:end]
