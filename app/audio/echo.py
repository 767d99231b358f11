"""Barge-in without self-interruption: a reference-based echo gate for the microphone.

On laptop speakers the microphone hears the assistant's own reply. Without care the VAD
takes it for the user speaking, the reply pauses itself (``pause_tts``) and the assistant
talks over itself. :class:`EchoGate` is a :class:`~xtalk.models.interfaces.SpeechEnhancer`
put in the pipeline's ``speech_enhancer`` slot by the app: the engine's EnhancerManager
calls :meth:`EchoGate.enhance` on every 16 kHz input frame (before VAD and ASR) and
:meth:`EchoGate.set_reference` with every reply chunk it sends out.

How it works, per input frame:

1. The reference (what is being played) is kept on the same sample clock as the
   microphone: each input frame of ``n`` samples moves ``n`` samples of queued reference
   into the history. Two sources fill the queue: the chunks the engine sends
   (:meth:`set_reference`, the default) or, more precisely, the blocks the speaker really
   played (:meth:`note_played`, used by the app's :class:`~app.audio.playback.Speaker`;
   once it reports, the sent chunks are ignored).
2. While the reference has energy, the echo delay is found by normalised
   cross-correlation of the last ``window_s`` of microphone audio with the reference,
   over delays of 0 to ``max_delay_s`` (300 ms).
3. A short FIR echo path (``taps`` coefficients around that delay: fractional delays,
   the speaker's and room's first reflections) is fitted by least squares over the
   window and the predicted echo is subtracted from the frame.
4. Gate: when the residual is small next to the predicted echo, the frame is echo only
   and is suppressed (silence for VAD and ASR). Otherwise the user is speaking too
   (double talk) and the residual, the user's voice with the echo removed, goes on — so
   the user's own voice still barges in.

Suppression is exactly what the product needs (no self-interruption), cancellation keeps
double talk intelligible for the ASR. A full AEC (adaptive filter over the whole room
response, nonlinear processing) would remove more echo on loud speakers; see
``docs``/the report on the PyPI packages that were evaluated for that.
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

from xtalk.audio.pcm import StreamResampler, float_to_int16, int16_to_float
from xtalk.models.interfaces import SpeechEnhancer

RATE = 16000


class EchoGate(SpeechEnhancer):
    """Suppresses microphone audio explained by the reply being played.

    Args:
        max_delay_s: Longest echo delay searched (speaker → microphone, buffers included).
        window_s: Microphone history used to estimate the delay and the echo path.
        taps: Length of the least-squares echo path filter (samples at 16 kHz).
        residual_ratio: A frame whose residual energy is below this share of the
            predicted echo's energy is echo only (suppressed).
        min_reference_dbfs: Reference level below which nothing is playing.
        min_correlation: Normalised correlation below which the microphone is not
            explained by the reference at any delay (nothing is subtracted).
        max_queue_s: With played-audio reports, reference queued beyond this is dropped
            (the speaker and the microphone run in real time; a longer queue means they
            drifted apart).
    """

    def __init__(self, max_delay_s: float = 0.3, window_s: float = 0.4, taps: int = 24,
                 residual_ratio: float = 0.3, min_reference_dbfs: float = -50.0,
                 min_correlation: float = 0.3, max_queue_s: float = 0.25) -> None:
        self._params = {"max_delay_s": max_delay_s, "window_s": window_s, "taps": taps,
                        "residual_ratio": residual_ratio,
                        "min_reference_dbfs": min_reference_dbfs,
                        "min_correlation": min_correlation, "max_queue_s": max_queue_s}
        self.max_delay = int(max_delay_s * RATE)
        self.window = int(window_s * RATE)
        self.taps = max(1, int(taps))
        self.residual_ratio = float(residual_ratio)
        self.min_reference = (10 ** (min_reference_dbfs / 20.0)) ** 2
        self.min_correlation = float(min_correlation)
        self.max_queue = int(max_queue_s * RATE)
        self._lock = threading.Lock()
        history = self.window + self.max_delay + self.taps + RATE
        self._ref = np.zeros(history, dtype=np.float32)
        self._mic = np.zeros(history, dtype=np.float32)
        self._queue: deque[np.ndarray] = deque()
        self._queued = 0
        self._played_mode = False
        self._paused = False
        self._resamplers: dict[tuple[str, int], StreamResampler] = {}
        self.delay: int | None = None  # the last echo delay found (samples)
        self.stats = {"frames": 0, "suppressed": 0, "cancelled": 0, "passed": 0}

    def clone(self) -> EchoGate:
        """A fresh gate with the same settings (one per session)."""
        return EchoGate(**self._params)

    # ------------------------------------------------------------------ reference
    def _to_rate(self, source: str, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        x = int16_to_float(samples) if samples.dtype == np.int16 else \
            np.asarray(samples, dtype=np.float32)
        if x.ndim > 1:
            x = x.mean(axis=1)
        key = (source, int(sample_rate))
        resampler = self._resamplers.get(key)
        if resampler is None:
            resampler = self._resamplers[key] = StreamResampler(int(sample_rate), RATE)
        return np.asarray(resampler.process(np.ascontiguousarray(x, dtype=np.float32)),
                          dtype=np.float32)

    def set_reference(self, pcm: np.ndarray, sample_rate: int) -> None:
        """A reply chunk handed to the player (queued behind the ones before it)."""
        with self._lock:
            if self._played_mode:
                return
            self._enqueue(self._to_rate("sent", np.asarray(pcm), sample_rate))

    def note_played(self, samples: np.ndarray, sample_rate: int) -> None:
        """A block the speaker is playing now (float32 or int16). From the first call
        on, this replaces the chunks given to :meth:`set_reference`."""
        with self._lock:
            if not self._played_mode:
                self._played_mode = True
                self._queue.clear()
                self._queued = 0
            self._enqueue(self._to_rate("played", np.asarray(samples), sample_rate))
            while self._queued > self.max_queue and self._queue:
                head = self._queue[0]
                extra = self._queued - self.max_queue
                if head.size <= extra:
                    self._queue.popleft()
                    self._queued -= head.size
                else:
                    self._queue[0] = head[extra:]
                    self._queued -= extra

    def _enqueue(self, x: np.ndarray) -> None:
        if x.size:
            self._queue.append(x)
            self._queued += x.size

    def pause_reference(self, paused: bool) -> None:
        """The reply is paused (nothing of the queue plays) or resumed."""
        with self._lock:
            self._paused = bool(paused)

    def clear_reference(self) -> None:
        """The reply was stopped: what is queued will never play."""
        with self._lock:
            self._queue.clear()
            self._queued = 0
            self._paused = False

    def _take_reference(self, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.float32)
        if self._paused and not self._played_mode:
            return out
        filled = 0
        while filled < n and self._queue:
            head = self._queue[0]
            take = min(head.size, n - filled)
            out[filled:filled + take] = head[:take]
            filled += take
            if take == head.size:
                self._queue.popleft()
            else:
                self._queue[0] = head[take:]
            self._queued -= take
        return out

    @staticmethod
    def _push(history: np.ndarray, x: np.ndarray) -> None:
        n = x.size
        if n >= history.size:
            history[:] = x[-history.size:]
            return
        history[:-n] = history[n:]
        history[-n:] = x

    # ------------------------------------------------------------------ enhancement
    def enhance(self, frame: np.ndarray) -> np.ndarray:
        """The frame with the echo of the reply removed (PCM16, same length)."""
        frame = np.asarray(frame)
        n = frame.size
        if n == 0:
            return frame
        with self._lock:
            x = int16_to_float(frame.astype(np.int16, copy=False))
            self._push(self._ref, self._take_reference(n))
            self._push(self._mic, x)
            out = self._process(x)
        self.stats["frames"] += 1
        if out is None:
            self.stats["passed"] += 1
            return frame
        return float_to_int16(out)

    def _process(self, x: np.ndarray) -> np.ndarray | None:
        n = x.size
        window = max(self.window, n)
        span = window + self.max_delay + self.taps
        ref = self._ref[-span:].astype(np.float64)
        if float(np.mean(np.square(ref))) < self.min_reference:
            self.delay = None
            return None  # nothing is playing
        mic = self._mic[-window:].astype(np.float64)
        delay = self._find_delay(mic, ref, window)
        if delay is None:
            return None  # the microphone does not follow the reference
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
        if float(np.mean(np.square(residual))) < self.residual_ratio * echo_energy:
            self.stats["suppressed"] += 1
            return np.zeros(n, dtype=np.float32)
        self.stats["cancelled"] += 1
        return residual.astype(np.float32)

    def _find_delay(self, mic: np.ndarray, ref: np.ndarray, window: int) -> int | None:
        """The delay (0..max_delay) at which the reference best explains the mic."""
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
        return self.max_delay - best


__all__ = ["EchoGate"]
