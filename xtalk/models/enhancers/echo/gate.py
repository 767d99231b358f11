"""Barge-in without self-interruption: echo cancellation for the microphone.

On laptop speakers the microphone hears the assistant's own reply. Without care the VAD
takes it for the user speaking, the reply pauses itself (``pause_tts``) and the assistant
talks over itself. :class:`EchoGate` is a :class:`~xtalk.models.interfaces.SpeechEnhancer`
put in the pipeline's ``speech_enhancer`` slot by the app: the engine's EnhancerManager
calls :meth:`EchoGate.enhance` on every 16 kHz input frame (before VAD and ASR) and
:meth:`EchoGate.set_reference` with every reply chunk it sends out.

The reference (what is being played) is laid on the monotonic clock and read back on
the microphone's clock (:class:`ReferenceTimeline`), so report jitter, a busy event loop
and pauses between sentences do not shift it against the echo. Two sources fill it: the
blocks the speaker really played, each with the moment it sounds when the device tells
(:meth:`EchoGate.note_played`, fed by the app's :class:`~app.audio.playback.Speaker`
through ``EngineHost.report_played``; once it reports, the sent chunks are ignored) or
the chunks the engine sends
(:meth:`EchoGate.set_reference`, modelled as a player queue). The app always uses the
played reports: sent chunks only approximate when the sound really comes out (prefill,
device buffers, underruns), see ``docs/echo.md``.

Two cancellers, chosen by ``backend``:

* ``"webrtc"`` (the default when ``pywebrtc-audio`` is installed, which the app depends
  on): WebRTC's AEC3 — delay estimation, adaptive echo path filter and residual echo
  suppression, the canceller of Chrome. It works on 10 ms blocks and its band split
  filters add 8 ms, so the output lags the input by a constant 18 ms (:attr:`latency`).
* ``"correlation"`` (the fallback without that package): the echo delay is found by
  normalised cross-correlation of the microphone with the reference, a short FIR echo
  path is fitted by least squares around it and subtracted; a frame explained by the
  reference is suppressed, otherwise the residual (the user's voice with the echo
  removed) goes on. It handles a clean echo path but is weaker than AEC3 on a coloured
  room with a long tail (``docs/echo.md`` has the figures).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from xtalk.audio.pcm import LowDelayResampler, int16_to_float
from xtalk.models.enhancers.echo.constants import (
    BACKENDS,
    FORCE_IDLE_S,
    IDLE_S,
    MAX_QUEUED,
    QUIET_DBFS,
    QUIET_RELATIVE,
    RATE,
    TIMED_TOLERANCE_S,
    WEBRTC_BLOCK,
)
from xtalk.models.enhancers.echo.correlation import _CorrelationGate
from xtalk.models.enhancers.echo.double_talk import shift_in
from xtalk.models.enhancers.echo.reference import ReferenceTimeline
from xtalk.models.enhancers.echo.webrtc import _WebRtcCanceller
from xtalk.models.interfaces import SpeechEnhancer


def webrtc_available() -> bool:
    """Whether ``pywebrtc-audio`` (WebRTC AEC3) can be imported."""
    try:
        import pywebrtc_audio  # noqa: F401
    except ImportError:
        return False
    return True


class _Canceller(Protocol):
    latency: int
    delay: int | None

    def restart(self) -> None: ...

    def realign(self) -> None: ...

    def process(self, near: np.ndarray, far: np.ndarray, stats: dict[str, int]
                ) -> np.ndarray | None: ...


class EchoGate(SpeechEnhancer):
    """Removes the reply being played from the microphone signal.

    Args:
        backend: ``"webrtc"`` (AEC3 from ``pywebrtc-audio``), ``"correlation"`` (the
            built-in gate) or ``"auto"``: AEC3 when installed, else the built-in gate.
        stream_delay_ms: AEC3's hint for the speaker → microphone delay (0: AEC3
            estimates it itself).
        lead_s, jitter_s: See :class:`ReferenceTimeline`.
        sent_reference: Also use the chunks the engine sends (:meth:`set_reference`) as
            the reference until the first played report. Off by default: when they are
            not played (a client without a speaker) the gate would cancel audio that is
            not there, and their timing only approximates the real playback
            (``docs/echo.md``). Players that cannot report what they play opt in.
        idle_s: The gate is transparent (the frame untouched, no delay) unless audible
            reference audio played less than this long ago.
        max_delay_s, window_s, taps, residual_ratio, min_reference_dbfs,
            min_correlation: Settings of the ``"correlation"`` gate (see
            :class:`_CorrelationGate`).
        clock: Seconds, monotonic (tests pass a simulated clock).

    Raises:
        ValueError: An unknown backend.
        RuntimeError: ``backend="webrtc"`` without ``pywebrtc-audio``.
    """

    def __init__(self, backend: str = "auto", stream_delay_ms: int = 0,
                 lead_s: float = 0.0, jitter_s: float = 0.03, max_delay_s: float = 0.4,
                 window_s: float = 0.4, taps: int = 24, residual_ratio: float = 0.3,
                 min_reference_dbfs: float = -50.0, min_correlation: float = 0.3,
                 sent_reference: bool = False, idle_s: float = IDLE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"EchoGate backend must be one of {', '.join(BACKENDS)}, "
                             f"got {backend!r}")
        if backend == "auto":
            backend = "webrtc" if webrtc_available() else "correlation"
        elif backend == "webrtc" and not webrtc_available():
            raise RuntimeError("EchoGate backend 'webrtc' needs pywebrtc-audio: "
                               "pip install pywebrtc-audio")
        self._params: dict[str, Any] = {
            "backend": backend, "stream_delay_ms": stream_delay_ms, "lead_s": lead_s,
            "jitter_s": jitter_s, "max_delay_s": max_delay_s, "window_s": window_s,
            "taps": taps, "residual_ratio": residual_ratio,
            "min_reference_dbfs": min_reference_dbfs, "min_correlation": min_correlation,
            "sent_reference": sent_reference, "idle_s": idle_s, "clock": clock}
        self.backend = backend
        self._canceller: _Canceller = (
            _WebRtcCanceller(int(stream_delay_ms)) if backend == "webrtc" else
            _CorrelationGate(max_delay_s=max_delay_s, window_s=window_s, taps=taps,
                             residual_ratio=residual_ratio,
                             min_reference_dbfs=min_reference_dbfs,
                             min_correlation=min_correlation))
        self._lock = threading.Lock()
        self._timeline = ReferenceTimeline(clock, lead_s=lead_s, jitter_s=jitter_s)
        self._played_mode = False
        self._clock = clock
        self._jitter_s = float(jitter_s)
        self._played_until: float | None = None  # where the played stretch ends (s)
        self._resamplers: dict[tuple[str, int], LowDelayResampler] = {}
        self._sent_reference = bool(sent_reference)
        self._idle_s = float(idle_s)
        self._engaged = False  # the canceller runs (and delays by its latency)
        self._idle_since: float | None = None
        self._recent = np.zeros(RATE, dtype=np.float64)  # the last second of microphone
        self.stats = {"frames": 0, "suppressed": 0, "cancelled": 0, "passed": 0,
                      "engaged": 0, "double_talk": 0, "uncoupled": 0}

    @property
    def latency(self) -> int:
        """Samples by which the output lags the input while the canceller runs (0, or
        288 = 18 ms with AEC3); while nothing plays the gate adds no delay."""
        return self._canceller.latency

    @property
    def engaged(self) -> bool:
        """Whether the canceller is running (reference audio played recently)."""
        return self._engaged

    @property
    def delay(self) -> int | None:
        """The echo delay (samples, minus ``lead_s``) found by the correlation gate or,
        with AEC3, by the double-talk detector (``None`` until one is found)."""
        return self._canceller.delay

    def clone(self) -> EchoGate:
        """A fresh gate with the same settings (one per session)."""
        return EchoGate(**self._params)

    # ------------------------------------------------------------------ reference
    def _to_rate(self, source: str, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        if isinstance(sample_rate, bool) or int(sample_rate) < 1000:
            raise ValueError(f"EchoGate: invalid sample rate {sample_rate!r}")
        x = int16_to_float(samples) if samples.dtype == np.int16 else \
            np.asarray(samples, dtype=np.float32)
        if x.ndim > 1:
            x = x.mean(axis=1)
        key = (source, int(sample_rate))
        resampler = self._resamplers.get(key)
        if resampler is None:
            resampler = self._resamplers[key] = LowDelayResampler(int(sample_rate), RATE)
        return np.asarray(resampler.process(np.ascontiguousarray(x, dtype=np.float32)),
                          dtype=np.float32)

    def set_reference(self, pcm: np.ndarray, sample_rate: int) -> None:
        """A reply chunk handed to the player (plays after the ones before it). Used
        only with ``sent_reference=True`` and until the first played report."""
        with self._lock:
            if self._played_mode or not self._sent_reference:
                return
            x = self._to_rate("sent", np.asarray(pcm), sample_rate)
            if x.size:
                self._timeline.add_sent(x)

    def note_played(self, samples: np.ndarray, sample_rate: int,
                    start: float | None = None) -> None:
        """A block the speaker plays (float32 or int16) from ``start`` (seconds of the
        gate's clock: when its first sample reaches the speaker, which a sound card's
        callback knows) or, with ``None``, from about now. From the first call on, this
        replaces the chunks given to :meth:`set_reference`.

        Whether a block continues the one before it is decided here, on the speaker's
        side: the resampler to 16 kHz hands out its output in uneven pieces (none for
        one block, one and a half for the next), so only the blocks' own times say
        where a stretch of sound starts. A block that starts later than the previous
        one ended (by more than ``jitter_s`` for untimed reports, or
        ``TIMED_TOLERANCE_S``), or, timed, earlier by more than that, starts a new
        stretch; the rest is laid right after."""
        samples = np.asarray(samples)
        rate = int(sample_rate)
        with self._lock:
            if not self._played_mode:
                self._played_mode = True
                self._timeline.clear()
            at = self._clock() if start is None else float(start)
            tolerance = self._jitter_s if start is None else TIMED_TOLERANCE_S
            until = self._played_until
            continuous = until is not None and at <= until + tolerance and \
                until <= at + (MAX_QUEUED / RATE if start is None else tolerance)
            self._played_until = (until if continuous and until is not None else at) + \
                samples.shape[0] / max(1, rate)
            if not continuous:
                # The speaker was silent: the resampler still holds the end of the last
                # stretch, which belongs before the gap, not in front of the next one.
                resampler = self._resamplers.pop(("played", rate), None)
                if resampler is not None:
                    tail = resampler.process(np.zeros(0, dtype=np.float32), last=True)
                    self._timeline.extend_played(np.asarray(tail, dtype=np.float32))
            x = self._to_rate("played", samples, sample_rate)
            if continuous:
                self._timeline.extend_played(x)
            else:
                self._timeline.add_played(x, round(at * RATE))

    def pause_reference(self, paused: bool) -> None:
        """The reply is paused (what was sent and not played yet waits) or resumed.
        Only for sent chunks: played reports are what really played."""
        with self._lock:
            if self._played_mode or not self._sent_reference:
                return
            if paused:
                self._timeline.pause()
            else:
                self._timeline.resume()

    def clear_reference(self) -> None:
        """The reply was stopped: what was sent and not played yet never will be."""
        with self._lock:
            self._timeline.clear()

    # ------------------------------------------------------------------ enhancement
    def enhance(self, frame: np.ndarray) -> np.ndarray:
        """The frame with the echo of the reply removed (PCM16, same length)."""
        frame = np.asarray(frame)
        n = frame.size
        if n == 0:
            return frame
        with self._lock:
            near = frame.astype(np.int16, copy=False)
            far = self._timeline.read(n)
            if self._timeline.take_moved():
                self._canceller.realign()
            out = self._canceller.process(near, far, self.stats) if self._engage() else None
            shift_in(self._recent, near)
        self.stats["frames"] += 1
        if out is None:
            self.stats["passed"] += 1
            return frame
        return out

    def _engage(self) -> bool:
        """Whether this frame goes through the canceller: only while reference audio
        plays or its echo may still be in the room. Otherwise the frame passes
        untouched, with no delay."""
        if self._timeline.audible_within(self._idle_s):
            self._idle_since = None
            if not self._engaged:
                self._engaged = True
                self.stats["engaged"] += 1
                self._canceller.restart()
            return True
        if not self._engaged:
            return False
        now = self._clock()
        if self._idle_since is None:
            self._idle_since = now
        if self._pending_is_quiet() or now - self._idle_since >= FORCE_IDLE_S:
            self._engaged = False  # drops the canceller's latency, a quiet stretch
            return False
        return True  # someone speaks: stay (and keep the delay) until a pause

    def _pending_is_quiet(self) -> bool:
        """Whether the input the canceller has not output yet is quiet."""
        lag = self._canceller.latency
        if lag == 0:
            return True
        pending = float(np.mean(self._recent[-lag:] ** 2))
        blocks = self._recent.reshape(-1, WEBRTC_BLOCK)
        loudest = float(np.max(np.mean(blocks ** 2, axis=1)))
        floor = (32768 * 10 ** (QUIET_DBFS / 20)) ** 2
        return pending <= max(floor, QUIET_RELATIVE * loudest)


__all__ = ["BACKENDS", "WEBRTC_BLOCK", "EchoGate", "ReferenceTimeline", "webrtc_available"]
