"""The fallback canceller without ``pywebrtc-audio``: cross-correlation delay, a short
least-squares echo path, a gate on frames the reply explains."""

from __future__ import annotations

import numpy as np

from xtalk.audio.pcm import float_to_int16, int16_to_float
from xtalk.models.enhancers.echo.constants import ECHO_DOMINATES, RATE
from xtalk.models.enhancers.echo.double_talk import shift_in


class _CorrelationGate:
    """The built-in fallback, per input frame:

    1. While the reference has energy, the echo delay is found by normalised
       cross-correlation of the last ``window_s`` of microphone audio with the
       reference, over delays of 0 to ``max_delay_s``.
    2. A short FIR echo path (``taps`` coefficients around that delay) is fitted by least
       squares over the window and the predicted echo is subtracted from the frame.
    3. When the residual is small next to the predicted echo (below ``residual_ratio``
       of its energy) the frame is echo only and is suppressed; otherwise the user is
       speaking too and the residual goes on.
    """

    def __init__(self, *, max_delay_s: float, window_s: float, taps: int,
                 residual_ratio: float, min_reference_dbfs: float,
                 min_correlation: float) -> None:
        self.latency = 0
        self.delay: int | None = None
        self.max_delay = int(max_delay_s * RATE)
        self.window = int(window_s * RATE)
        self.taps = max(1, int(taps))
        self.residual_ratio = float(residual_ratio)
        self.min_reference = (10 ** (min_reference_dbfs / 20.0)) ** 2
        self.min_correlation = float(min_correlation)
        self._history = self.window + self.max_delay + self.taps + RATE
        self.restart()

    def restart(self) -> None:
        self._ref = np.zeros(self._history, dtype=np.float32)
        self._mic = np.zeros(self._history, dtype=np.float32)

    def realign(self) -> None:
        """Nothing to forget: the delay and the path are fitted afresh on every window."""

    def process(self, near: np.ndarray, far: np.ndarray, stats: dict[str, int]
                ) -> np.ndarray | None:
        x = int16_to_float(near)
        shift_in(self._ref, far)
        shift_in(self._mic, x)
        out = self._cancel(x, stats)
        return None if out is None else float_to_int16(out)

    def _cancel(self, x: np.ndarray, stats: dict[str, int]) -> np.ndarray | None:
        n = x.size
        window = max(self.window, n)
        span = window + self.max_delay + self.taps
        ref = self._ref[-span:].astype(np.float64)
        if float(np.mean(np.square(ref))) < self.min_reference:
            self.delay = None
            return None  # nothing is playing
        mic = self._mic[-window:].astype(np.float64)
        found = self._find_delay(mic, ref, window)
        if found is None:
            return None  # the microphone does not follow the reference
        delay, correlation = found
        self.delay = delay
        # Echo path: taps around the delay. Column k holds the reference delayed by
        # delay - half + k samples, aligned with the microphone window.
        half = self.taps // 2
        end = ref.size
        cols = []
        for k in range(self.taps):
            d = min(max(delay - half + k, 0), self.max_delay + self.taps - 1)
            cols.append(ref[end - d - window:end - d])
        basis = np.stack(cols, axis=1)
        coef, *_ = np.linalg.lstsq(basis, mic, rcond=None)
        echo = basis[-n:] @ coef
        residual = x.astype(np.float64) - echo
        echo_energy = float(np.mean(np.square(echo)))
        if echo_energy < self.min_reference * 0.01:
            return None
        residual_energy = float(np.mean(np.square(residual)))
        if residual_energy < self.residual_ratio * echo_energy:
            stats["suppressed"] += 1
            return np.zeros(n, dtype=np.float32)
        if residual_energy >= float(np.mean(np.square(x))):
            # The fitted path does not explain this frame (the delay is moving, or the
            # path is longer than the filter): cancelling would add echo, not remove it.
            if correlation >= ECHO_DOMINATES:
                stats["suppressed"] += 1  # the window is clearly the reply
                return np.zeros(n, dtype=np.float32)
            return None
        stats["cancelled"] += 1
        return residual.astype(np.float32)

    def _find_delay(self, mic: np.ndarray, ref: np.ndarray, window: int
                    ) -> tuple[int, float] | None:
        """The delay (0..max_delay) at which the reference best explains the mic, with
        the normalised correlation there."""
        mic_energy = float(np.dot(mic, mic))
        if mic_energy <= 1e-12:
            return None
        span = window + self.max_delay
        segment = ref[-span:]
        size = 1 << int(np.ceil(np.log2(span + window)))
        corr = np.fft.irfft(np.fft.rfft(segment, size) * np.conj(np.fft.rfft(mic, size)),
                            size)[:self.max_delay + 1]
        # corr[k]: the mic against the reference starting at k, i.e. delayed by
        # max_delay - k.
        cumulative = np.concatenate([[0.0], np.cumsum(np.square(segment))])
        energies = cumulative[window:window + self.max_delay + 1] - \
            cumulative[:self.max_delay + 1]
        ncc = np.abs(corr) / np.sqrt(np.maximum(energies, 1e-12) * mic_energy)
        best = int(np.argmax(ncc))
        if ncc[best] < self.min_correlation:
            return None
        return self.max_delay - best, float(ncc[best])

