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
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from app.audio.comfort_noise import ComfortNoise
from app.audio.double_talk import DoubleTalkDetector, shift_in
from xtalk.audio.pcm import LowDelayResampler, float_to_int16, int16_to_float
from xtalk.models.interfaces import SpeechEnhancer

RATE = 16000
WEBRTC_BLOCK = RATE // 100  # AEC3 works on 10 ms blocks
# The capture path of the WebRTC audio processing module (band split filters) delays its
# output by 8 ms more (measured with pywebrtc-audio 0.2 at 16 kHz).
WEBRTC_INTERNAL_DELAY = 128
# AEC3 residual gate: an output block with less than this share of its input's energy
# is echo residue (AEC3 removed > 12 dB); it is attenuated by RESIDUE_ATTENUATION (20 dB),
# with the next RESIDUE_HOLD - 1. Attenuated, not zeroed: after digital silence the
# Silero VAD needs ~100 ms more to accept speech, and AEC3 suppresses the onset of a
# user talking over the reply like residue, so zeros delayed barge-in (p90 576 -> 349 ms
# offline, docs/echo.md). The price: a user more than ~12 dB quieter than the echo is
# attenuated too.
RESIDUE_RATIO = 10 ** (-12 / 10)
RESIDUE_ATTENUATION = 0.1
# While the double-talk detector does not trust its echo path yet (a fresh or moved
# path), AEC3 is also still converging: a block it took more than 6 dB out of is residue.
STRICT_RESIDUE_RATIO = 10 ** (-6 / 10)
RESIDUE_HOLD = 3
SIGNAL_FLOOR = 100.0  # mean square in int16 units (about -70 dBFS): silence below
BACKENDS = ("auto", "webrtc", "correlation")
AUDIBLE = 10 ** (-80 / 20)  # a reference sample above -80 dBFS: something is playing
# The gate is transparent (no processing, no delay) unless audible reference audio was
# played less than this long ago (the speaker's buffer, the air and the room's tail).
IDLE_S = 0.6
# A played block is laid after the one before it while that one is still queued up to
# this far ahead (16 kHz samples); beyond, the reports outran real time: start afresh.
MAX_QUEUED = RATE // 2
# A timed played block (the device said when it sounds) that starts within this of the
# previous block's end continues it: a device plays back to back, its reported times
# jitter (host APIs estimate them) and its clock drifts against ours. Beyond, the block
# starts a stretch of its own (an underrun, or the drift caught up with).
TIMED_TOLERANCE_S = 0.005
# Leaving the canceller drops the input it has not output yet (its latency): only when
# that stretch is quiet (below QUIET_DBFS or QUIET_RELATIVE of the loudest recent 10 ms),
# so no speech is lost; after FORCE_IDLE_S of continuous sound it leaves anyway.
QUIET_DBFS = -60.0
QUIET_RELATIVE = 10 ** (-30 / 10)
FORCE_IDLE_S = 3.0
# Correlation gate: a microphone window this correlated with the reply is the reply.
ECHO_DOMINATES = 0.6


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


class ReferenceTimeline:
    """The reply audio on the monotonic clock, read back on the microphone's clock.

    Time is counted in 16 kHz samples of ``clock()``. A played block (``add_played``) is
    laid where the device says it sounds (``start``; :meth:`EchoGate.note_played`
    decides which blocks continue a stretch) or, untimed, it is taken to be reported
    when it is handed to the speaker and to play from then on, after the blocks
    still playing (a block reported within ``jitter_s`` of the previous one's end is
    laid right after it: report jitter does not tear the signal); a later one starts a
    new stretch (the speaker was silent in between). Laying it from its report on, not
    up to it, is what keeps the reference complete: a microphone frame is read when it
    arrives, and the block playing at its end has been reported by then. (Until November
    25 blocks ended at their report, so the stretch between the last report and a
    frame's end was read as silence: about half of the reference, in real time.)

    A sent chunk (``add_sent``) plays from now or from the end of the chunks before it,
    like a player's queue; a pause moves what has not played yet aside until the resume.

    The microphone's sample ``k`` was captured at ``anchor + k / 16000``: the anchor is
    the earliest ``arrival - k / 16000`` of the last ``ANCHOR_WINDOW_S`` (a frame cannot
    arrive before it was captured). It must hold still: every move shifts the reference
    against the echo, which an adaptive filter then has to learn again. So after the
    first window it moves only when that earliest arrival is more than
    ``ANCHOR_TOLERANCE_S`` away: earlier by at most ``CREEP`` (a frame did arrive that
    early), later by at most ``LATER_CREEP`` (clock drift, tens of ppm): a busy event
    loop delays every frame of a few seconds, which says nothing about when they were
    captured. Until November 25 it crept up with every late frame and fell back on the
    next early one, a sawtooth of ~1.5 ms (25 samples) that kept the linear echo filter
    from converging; then, moving both ways at ``CREEP``, it still wandered by ~1 ms with
    the load (the echo delay measured 1099 - 1118 samples from reply to reply), enough to
    untrain the filter for the first second of each reply. The reference of
    a frame is read ``lead_s`` before its capture time (default 0): the echo canceller
    then sees a delay ``lead_s`` shorter. A played report is stamped when the block is
    handed to the device, so the real echo comes later (device latency + air): the
    reference leads the echo, as a canceller needs.
    """

    CREEP = 2e-4  # s per s: how fast the microphone's anchor may move earlier ...
    LATER_CREEP = 2e-5  # ... and later (20 ppm)
    ANCHOR_WINDOW_S = 4.0
    ANCHOR_TOLERANCE_S = 1e-3

    def __init__(self, clock: Callable[[], float], lead_s: float = 0.0,
                 jitter_s: float = 0.03) -> None:
        self.clock = clock
        self.lead = round(lead_s * RATE)
        self.jitter = round(jitter_s * RATE)
        self._segments: deque[tuple[int, np.ndarray]] = deque()
        self._played_end: int | None = None
        self._sent_end: int | None = None
        self._pending: list[np.ndarray] = []
        self._paused = False
        self._mic_samples = 0
        self._anchor: float | None = None
        self._moved = False  # the anchor jumped (see take_moved)
        self._arrivals: deque[tuple[int, float]] = deque()  # (end sample, arrival - end)
        self._audible_end: int | None = None  # where the last audible reference ends

    def _now(self) -> int:
        return round(self.clock() * RATE)

    def _mark(self, start: int, x: np.ndarray) -> None:
        if x.size and float(np.max(np.abs(x))) > AUDIBLE:
            end = start + x.size
            self._audible_end = end if self._audible_end is None else \
                max(self._audible_end, end)

    def audible_within(self, seconds: float) -> bool:
        """Whether audible reference audio plays now, or ended less than ``seconds``
        ago (the echo of the last block is still in the room)."""
        return self._audible_end is not None and \
            self._now() < self._audible_end + round(seconds * RATE)

    def add_played(self, x: np.ndarray, start: int | None = None) -> None:
        """A block that starts to sound at sample ``start`` (of ``clock() * RATE``; a
        device that tells when its output reaches the speaker), or, with ``None``,
        handed to the speaker now: it plays from now on, or right after the block
        before it when that one is still playing or ended less than ``jitter_s`` ago (a
        device plays blocks back to back; reports come late or in bursts)."""
        if start is None:
            now = self._now()
            start = now
            if self._played_end is not None and \
                    now - self.jitter <= self._played_end <= now + MAX_QUEUED:
                start = self._played_end
        self._played_end = start
        self.extend_played(x)

    def extend_played(self, x: np.ndarray) -> None:
        """More of the last played stretch (right after it, whatever the time)."""
        if x.size and self._played_end is not None:
            self._segments.append((self._played_end, x))
            self._mark(self._played_end, x)
            self._played_end += x.size

    def add_sent(self, x: np.ndarray) -> None:
        if self._paused:
            self._pending.append(x)
            return
        now = self._now()
        start = now if self._sent_end is None else max(now, self._sent_end)
        self._segments.append((start, x))
        self._sent_end = start + x.size
        self._mark(start, x)

    def _cut(self) -> list[np.ndarray]:
        """Remove what plays after now; returns it (oldest first)."""
        now = self._now()
        kept: deque[tuple[int, np.ndarray]] = deque()
        later: list[np.ndarray] = []
        for start, x in self._segments:
            if start + x.size <= now:
                kept.append((start, x))
            elif start >= now:
                later.append(x)
            else:
                kept.append((start, x[:now - start]))
                later.append(x[now - start:])
        self._segments = kept
        self._sent_end = None
        if self._audible_end is not None:
            self._audible_end = min(self._audible_end, now)
        return later

    def pause(self) -> None:
        if not self._paused:
            self._pending = self._cut() + self._pending
            self._paused = True

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            pending, self._pending = self._pending, []
            for x in pending:
                self.add_sent(x)

    def clear(self) -> None:
        self._cut()
        self._pending = []
        self._paused = False

    def take_moved(self) -> bool:
        """Whether the microphone's anchor jumped by more than a sample since the last
        call (while it settles, in the first ``ANCHOR_WINDOW_S`` of the stream): the
        reference then moved against the echo, a new echo path for a canceller."""
        moved, self._moved = self._moved, False
        return moved

    def read(self, n: int) -> np.ndarray:
        """The reference for the next ``n`` microphone samples (just received)."""
        arrival = self.clock()
        end = self._mic_samples + n
        candidate = arrival - end / RATE
        window = round(self.ANCHOR_WINDOW_S * RATE)
        self._arrivals.append((end, candidate))
        while self._arrivals[0][0] < end - window:
            self._arrivals.popleft()
        earliest = min(c for _, c in self._arrivals)
        previous = self._anchor
        if self._anchor is None or end < window:
            self._anchor = earliest  # settling: the earliest arrival so far
        elif abs(earliest - self._anchor) > self.ANCHOR_TOLERANCE_S:
            seconds = n / RATE
            self._anchor += float(np.clip(earliest - self._anchor, -self.CREEP * seconds,
                                          self.LATER_CREEP * seconds))
        if previous is not None and abs(self._anchor - previous) * RATE > 1.0:
            self._moved = True
        a = round(self._anchor * RATE) + self._mic_samples - self.lead
        b = a + n
        self._mic_samples = end
        out = np.zeros(n, dtype=np.float32)
        for start, x in self._segments:
            lo, hi = max(a, start), min(b, start + x.size)
            if lo < hi:
                out[lo - a:hi - a] = x[lo - start:hi - start]
        while self._segments and self._segments[0][0] + self._segments[0][1].size <= a:
            self._segments.popleft()
        return out


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
                      "engaged": 0, "double_talk": 0}

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


class _WebRtcCanceller:
    """WebRTC AEC3 on 10 ms blocks (the output lags the input by :attr:`latency`), with
    our :class:`~app.audio.double_talk.DoubleTalkDetector` beside it: while the user
    talks over the reply, the detector's linear residual (the microphone minus the
    predicted echo) goes out instead of AEC3's output, which suppresses the onset of a
    user's voice in double talk."""

    def __init__(self, stream_delay_ms: int) -> None:
        from pywebrtc_audio import AudioProcessor

        self._apm = AudioProcessor(sample_rate=RATE, echo_cancellation=True,
                                   stream_delay_ms=max(0, stream_delay_ms))
        self.latency = WEBRTC_BLOCK + WEBRTC_INTERNAL_DELAY
        self.delay: int | None = None
        self._detector = DoubleTalkDetector()
        self._comfort = ComfortNoise()
        self.restart()
        self._discard = 0  # a fresh module holds nothing from before

    def restart(self) -> None:
        """The canceller takes the stream up again after a pause (the gate was
        transparent): the output starts with its latency of silence, and what the
        module still held from before the pause (dropped then) is not replayed."""
        self._near = np.zeros(0, dtype=np.int16)
        self._far = np.zeros(0, dtype=np.float32)
        self._out = np.zeros(WEBRTC_BLOCK, dtype=np.int16)
        # What AEC3 has taken in but not output yet (its own delay), per sample: the
        # microphone, the detector's residual and its three decisions (see _delayed).
        self._pending = np.zeros((5, WEBRTC_INTERNAL_DELAY))
        self._hold = 0
        self._discard = WEBRTC_INTERNAL_DELAY
        self._detector.restart()
        self._comfort.clear()

    def realign(self) -> None:
        """The reference moved against the microphone: what the detector learnt is off
        by the move (AEC3 finds its delay itself)."""
        self._detector.realign()

    def process(self, near: np.ndarray, far: np.ndarray, stats: dict[str, int]
                ) -> np.ndarray:
        self._near = np.concatenate([self._near, near])
        self._far = np.concatenate([self._far, far])
        usable = self._near.size - self._near.size % WEBRTC_BLOCK
        if usable:
            near_blocks = self._near[:usable]
            far_blocks = self._far[:usable]
            done = np.asarray(self._apm.process(near_blocks, float_to_int16(far_blocks)),
                              dtype=np.int16)
            if self._discard:
                k = min(self._discard, done.size)
                done = done.copy()
                done[:k] = 0
                self._discard -= k
            mic, residual, talk, echo_only, learning = self._delayed(np.vstack([
                near_blocks, *self._detect(near_blocks, far_blocks, stats)]))
            out = self._residual_gate(mic, done, strict=learning > 0)
            self._out = np.concatenate([self._out,
                                        self._mix(out, residual, talk > 0, echo_only > 0)])
            self._near, self._far = self._near[usable:], self._far[usable:]
        out, self._out = self._out[:near.size], self._out[near.size:]
        stats["cancelled"] += 1
        return out

    def _delayed(self, rows: np.ndarray) -> np.ndarray:
        """``rows`` (one per signal, a column per input sample) delayed like AEC3's
        output, by its internal delay: the columns that line up with ``done``."""
        joined = np.concatenate([self._pending, rows], axis=1)
        self._pending = joined[:, rows.shape[1]:]
        return joined[:, :rows.shape[1]]

    def _detect(self, near: np.ndarray, far: np.ndarray, stats: dict[str, int]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The double-talk detector on these blocks, per input sample: its linear
        residual (the microphone before a delay is found), whether the user talks,
        whether it vouches for the reply's echo alone (``DoubleTalkDetector.echo_only``)
        and whether it learns a new path."""
        mic = near.astype(np.float64) / 32768
        residuals, flags = [], []
        for i in range(0, near.size, WEBRTC_BLOCK):
            residual, talking = self._detector.process(mic[i:i + WEBRTC_BLOCK],
                                                       far[i:i + WEBRTC_BLOCK])
            if residual is not None and not talking and self._detector.trusted:
                self._comfort.observe(residual)
            residuals.append(mic[i:i + WEBRTC_BLOCK] if residual is None else residual)
            flags.append((talking, self._detector.echo_only, self._detector.learning))
            stats["double_talk"] += int(talking)
        self.delay = self._detector.delay
        talk, echo_only, learning = np.repeat(np.array(flags, dtype=np.float64).T,
                                              WEBRTC_BLOCK, axis=1)
        return np.concatenate(residuals), talk, echo_only, learning

    def _mix(self, done: np.ndarray, residual: np.ndarray, talk: np.ndarray,
             echo_only: np.ndarray) -> np.ndarray:
        """The output per 10 ms block: the linear residual while the user talks; while
        the detector vouches for the reply's echo alone, the room's background (comfort
        noise, whatever AEC3 let through); otherwise AEC3's output topped up with it."""
        out = np.where(talk, float_to_int16(residual), done)
        for i in range(0, out.size, WEBRTC_BLOCK):
            if talk[i:i + WEBRTC_BLOCK].any():
                continue
            block = out[i:i + WEBRTC_BLOCK]
            if echo_only[i:i + WEBRTC_BLOCK].all():
                block = np.zeros_like(block)
            out[i:i + WEBRTC_BLOCK] = self._comfort.fill(block)
        return out

    def _residual_gate(self, mic: np.ndarray, done: np.ndarray, strict: np.ndarray
                       ) -> np.ndarray:
        """Attenuates 10 ms blocks from which AEC3 removed nearly everything (more than
        12 dB; 6 dB where ``strict``: while the double-talk detector learns a fresh or
        moved echo path, which AEC3 is converging to as well): what is left there is
        echo residue (a converging or mis-aligned filter lets some through, which the
        VAD may take for speech). The user's own voice is not removed by the canceller,
        so a block with the user in it keeps most of its energy and passes. ``mic``:
        the input of each output sample (int16 units)."""
        out = done.copy()
        for i in range(0, done.size, WEBRTC_BLOCK):
            block = done[i:i + WEBRTC_BLOCK].astype(np.float64)
            mic_energy = float(np.mean(mic[i:i + WEBRTC_BLOCK] ** 2))
            ratio = STRICT_RESIDUE_RATIO if strict[i:i + WEBRTC_BLOCK].any() else \
                RESIDUE_RATIO
            removed = mic_energy > SIGNAL_FLOOR and \
                float(np.mean(block ** 2)) < ratio * mic_energy
            self._hold = RESIDUE_HOLD if removed else max(0, self._hold - 1)
            if self._hold:
                out[i:i + WEBRTC_BLOCK] = np.round(
                    block * RESIDUE_ATTENUATION).astype(np.int16)
        return out


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


__all__ = ["BACKENDS", "WEBRTC_BLOCK", "EchoGate", "ReferenceTimeline", "webrtc_available"]
