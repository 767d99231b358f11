"""The AEC3 canceller (WebRTC, ``pywebrtc-audio``) with the double-talk detector, the
residue gate and the coupling monitor beside it."""

from __future__ import annotations

import numpy as np

from xtalk.audio.pcm import float_to_int16
from xtalk.models.enhancers.echo.comfort_noise import ComfortNoise
from xtalk.models.enhancers.echo.constants import (
    RATE,
    RESIDUE_ATTENUATION,
    RESIDUE_HOLD,
    RESIDUE_RATIO,
    SIGNAL_FLOOR,
    STRICT_RESIDUE_RATIO,
    WEBRTC_BLOCK,
    WEBRTC_INTERNAL_DELAY,
)
from xtalk.models.enhancers.echo.coupling import CouplingMonitor
from xtalk.models.enhancers.echo.double_talk import DoubleTalkDetector


class _WebRtcCanceller:
    """WebRTC AEC3 on 10 ms blocks (the output lags the input by :attr:`latency`), with
    our :class:`~app.audio.double_talk.DoubleTalkDetector` beside it: while the user
    talks over the reply, the detector's linear residual (the microphone minus the
    predicted echo) goes out instead of AEC3's output, which suppresses the onset of a
    user's voice in double talk. While the :class:`CouplingMonitor` knows the microphone
    does not hear the speaker (a headset), the microphone goes out untouched."""

    def __init__(self, stream_delay_ms: int) -> None:
        from pywebrtc_audio import AudioProcessor

        self._apm = AudioProcessor(sample_rate=RATE, echo_cancellation=True,
                                   stream_delay_ms=max(0, stream_delay_ms))
        self.latency = WEBRTC_BLOCK + WEBRTC_INTERNAL_DELAY
        self.delay: int | None = None
        self._detector = DoubleTalkDetector()
        self._coupling = CouplingMonitor()
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
        # microphone, the detector's residual, its three decisions and whether the
        # microphone is known not to hear the speaker (see _delayed).
        self._pending = np.zeros((6, WEBRTC_INTERNAL_DELAY))
        self._hold = 0
        self._discard = WEBRTC_INTERNAL_DELAY
        self._detector.restart()
        self._coupling.restart()
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
            mic, residual, talk, echo_only, learning, uncoupled = self._delayed(np.vstack([
                near_blocks, *self._detect(near_blocks, far_blocks, stats)]))
            out = self._mix(self._residual_gate(mic, done, strict=learning > 0), residual,
                            talk > 0, echo_only > 0)
            self._out = np.concatenate([self._out,
                                        np.where(uncoupled > 0, mic, out).astype(np.int16)])
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
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The double-talk detector on these blocks, per input sample: its linear
        residual (the microphone before a delay is found), whether the user talks,
        whether it vouches for the reply's echo alone (``DoubleTalkDetector.echo_only``),
        whether it learns a new path, and whether the microphone is known not to hear
        the speaker (:class:`CouplingMonitor`)."""
        mic = near.astype(np.float64) / 32768
        residuals, flags = [], []
        for i in range(0, near.size, WEBRTC_BLOCK):
            residual, talking = self._detector.process(mic[i:i + WEBRTC_BLOCK],
                                                       far[i:i + WEBRTC_BLOCK])
            if residual is not None and not talking and self._detector.trusted:
                self._comfort.observe(residual)
            residuals.append(mic[i:i + WEBRTC_BLOCK] if residual is None else residual)
            uncoupled = self._coupling.observe(
                float(np.mean(mic[i:i + WEBRTC_BLOCK] ** 2)),
                float(np.mean(far[i:i + WEBRTC_BLOCK].astype(np.float64) ** 2)),
                self._detector.echo_heard)
            flags.append((talking, self._detector.echo_only, self._detector.learning,
                          uncoupled))
            stats["double_talk"] += int(talking)
            stats["uncoupled"] += int(uncoupled)
        self.delay = self._detector.delay
        talk, echo_only, learning, uncoupled = np.repeat(
            np.array(flags, dtype=np.float64).T, WEBRTC_BLOCK, axis=1)
        return np.concatenate(residuals), talk, echo_only, learning, uncoupled

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
