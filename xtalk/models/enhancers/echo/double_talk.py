"""Double talk: is the user speaking while the reply plays?

WebRTC's AEC3 (the echo gate's canceller, :mod:`xtalk.models.enhancers.echo`) removes the
reply's echo well, but in double talk it also suppresses the first ~100 – 300 ms of a user who talks
over the reply, and ``pywebrtc-audio`` exposes neither its linear (pre-suppression)
output nor its echo estimate. That delay is most of the barge-in time through the gate.
:class:`DoubleTalkDetector` is our own, simpler canceller next to AEC3 whose insides we
can read:

1. :func:`echo_delay` finds the speaker → microphone delay by generalised
   cross-correlation of the microphone with the reference (the played reply).
2. :class:`LinearEchoFilter`, a partitioned-block frequency-domain adaptive filter
   (80 ms from just before that delay), learns the echo path and predicts the echo.
   Its residual (microphone minus predicted echo) keeps the user's voice untouched.
3. The test, per 10 ms block: the residual's spectral energy that the predicted echo
   cannot account for (more than 6 dB above the echo estimate of the last 30 ms, one bin
   either side, with a 1 dB per 10 ms reverberation decay) must be above -40 dBFS (and
   12 dB above its own recent floor) and within 15 dB of the echo estimate's energy.
   A user's voice has its own pitch and formants where the reply has none; echo residue
   (a filter still adapting, a reverberant tail, a clipping speaker) stays under the
   estimate. The test is only trusted once the filter removes 6 dB of echo on average.

During double talk the filter stops adapting (the user's voice would pull it off the
echo path) and the gate outputs the linear residual instead of AEC3's suppressed output,
so the VAD hears the user as soon as the user starts. While the detector hears only the
reply (:attr:`DoubleTalkDetector.echo_only`: trusted and no one talking, or, for at most
1.5 s while a fresh or moved echo path is learnt, the microphone clearly correlated with
the reply) the gate outputs the room's background instead of whatever AEC3 let through.

Measured barge-in times and the echo-only checks: docs/echo.md.
"""

from __future__ import annotations

from collections import deque

import numpy as np

RATE = 16000
BLOCK = RATE // 100  # the detector's (and AEC3's) 10 ms block
PARTITION = 80  # the filter adapts every 5 ms
FILTER_S = 0.08  # the echo path it models, from PRE_DELAY before the direct sound
PRE_DELAY = 128  # 8 ms: the path's rise before its peak (band-pass, speaker)
STEP = 0.5  # normalised step size: 10 dB of echo removed within ~0.3 s of speech
MAX_DELAY_S = 0.5  # speaker → microphone delays looked for (device buffers, Bluetooth)
DELAY_WINDOW_S = 0.5  # microphone audio correlated per delay estimate
DELAY_EVERY = 10  # blocks between delay estimates (100 ms) ...
DELAY_EVERY_LEARNING = 5  # ... and while the path is not trusted: its echo leaks then
DELAY_QUALITY = 25.0  # correlation peak / mean: below it the estimate is not trusted
DELAY_AGREE = 16  # two estimates this close (samples) fix the delay
DELAY_MOVED = 32  # a fixed delay that moves more than this restarts the filter
MIN_REFERENCE = 1e-6  # reference mean square (-60 dBFS) below which no delay is sought
# The spectral test.
WINDOW = 512  # 32 ms analysis window (hop: one block)
ESTIMATE_BLOCKS = 3  # the echo estimate: the loudest of the last 30 ms per bin
EXCESS = 4.0  # residual energy more than 6 dB above the echo estimate is the user's
REVERB_DECAY = 0.79  # per block: the estimate decays 1 dB per 10 ms (a room's tail)
# The band tested: where a voice is loud and a resampled reference is exact (the
# anti-aliasing filters of the 48 kHz <-> 16 kHz resamplers cut above ~7 kHz, so echo
# there has no reference).
TEST_BAND_HZ = (100.0, 6000.0)
LEVEL_DBFS = -40.0  # unexplained energy that counts as speech
ABOVE_FLOOR_DB = 12.0  # ... and above the unexplained floor (room noise) by this much
FLOOR_RISE_DB = 0.02  # per block: the floor follows a noisier room at 2 dB/s
RELATIVE_DB = -15.0  # unexplained energy at least this close to the echo estimate
TRUSTED_ERLE_DB = 6.0  # the echo removed (mean, dB) before the test is trusted
# A filter that adds more than it removes (mean, dB) is worse than none: it has learnt
# something else (a user's voice while it was not trusted yet, an older alignment of
# the reference) and starts again from zero.
DIVERGED_ERLE_DB = -3.0
ERLE_SMOOTHING = 0.05
LEARNING_BLOCKS = 150  # 1.5 s: how long an echo path being learnt may hold the user out
HANGOVER = 30  # blocks (300 ms) of double talk after the last positive block
SILENT = 1e-6  # mean square below which a block is not used to learn the echo removed


def shift_in(history: np.ndarray, x: np.ndarray) -> None:
    """Shift ``x`` into the end of ``history`` in place (the oldest samples fall out)."""
    n = x.size
    if n >= history.size:
        history[:] = x[-history.size:]
        return
    history[:-n] = history[n:]
    history[-n:] = x


def echo_delay(mic: np.ndarray, reference: np.ndarray, max_delay: int
               ) -> tuple[int, float]:
    """The delay of ``mic`` behind ``reference`` (samples) and how clear it is.

    ``mic`` is the last ``W`` samples, ``reference`` the last ``W + max_delay`` samples
    ending at the same moment. Generalised cross-correlation with a partial phase
    transform (magnitudes ^ 0.2, so the reply's loud low formants do not decide alone),
    200 Hz – 6 kHz. The quality is the peak over the mean of the correlation.
    """
    span = reference.size
    size = 1 << int(np.ceil(np.log2(span + mic.size)))
    cross = np.fft.rfft(reference, size) * np.conj(np.fft.rfft(mic, size))
    cross /= np.abs(cross) ** 0.8 + 1e-12
    freqs = np.fft.rfftfreq(size, 1 / RATE)
    cross[(freqs < 200) | (freqs > 6000)] = 0
    correlation = np.abs(np.fft.irfft(cross, size)[:max_delay + 1])
    best = int(np.argmax(correlation))
    # correlation[k]: the mic against the reference starting k samples into it.
    return span - mic.size - best, float(correlation[best] / (np.mean(correlation) + 1e-12))


class LinearEchoFilter:
    """A partitioned-block frequency-domain adaptive filter (overlap-save, gradient
    constrained, step normalised per bin by the reference power of all partitions)."""

    def __init__(self, partition: int = PARTITION, length_s: float = FILTER_S,
                 step: float = STEP) -> None:
        self.n = partition
        self.partitions = int(np.ceil(length_s * RATE / partition))
        self.step = step
        bins = partition + 1
        self.weights = np.zeros((self.partitions, bins), dtype=np.complex128)
        self._spectra = np.zeros((self.partitions, bins), dtype=np.complex128)
        self._previous = np.zeros(partition)
        self._power = np.zeros(bins)
        self._regularisation = 2 * partition * 1e-7  # -70 dBFS of white reference

    def clear_input(self) -> None:
        """Forget the reference (a new stream), keep the learnt echo path."""
        self._spectra[:] = 0
        self._previous[:] = 0
        self._power[:] = 0

    def predict(self, reference: np.ndarray) -> np.ndarray:
        """The echo of the next ``partition`` samples from their reference."""
        n = self.n
        self._spectra[1:] = self._spectra[:-1]
        self._spectra[0] = np.fft.rfft(np.concatenate([self._previous, reference]))
        self._previous = np.array(reference, dtype=np.float64)
        self._power = 0.7 * self._power + 0.3 * np.sum(np.abs(self._spectra) ** 2, axis=0)
        return np.fft.irfft(np.einsum("pk,pk->k", self.weights, self._spectra))[n:]

    def adapt(self, residual: np.ndarray) -> None:
        """Move the echo path towards what the last :meth:`predict` missed."""
        n = self.n
        error = np.fft.rfft(np.concatenate([np.zeros(n), residual]))
        gradient = np.conj(self._spectra) * \
            (self.step * error / (self._power + self._regularisation))[None, :]
        taps = np.fft.irfft(gradient, axis=1)
        taps[:, n:] = 0  # the gradient constraint: linear, not circular, convolution
        self.weights += np.fft.rfft(taps, axis=1)


class DoubleTalkDetector:
    """Per 10 ms block of microphone and reference: the linear residual, and whether
    the user speaks in it (see the module docstring)."""

    def __init__(self) -> None:
        self._max_delay = round(MAX_DELAY_S * RATE)
        self._window = round(DELAY_WINDOW_S * RATE)
        self._analysis = np.hanning(WINDOW)
        self._analysis_energy = float(np.sum(self._analysis ** 2))
        freqs = np.fft.rfftfreq(WINDOW, 1 / RATE)
        self._band = (freqs >= TEST_BAND_HZ[0]) & (freqs <= TEST_BAND_HZ[1])
        self.delay: int | None = None  # found speaker → microphone delay (samples)
        self._candidate: int | None = None
        self._filter: LinearEchoFilter | None = None
        self.restart()

    def restart(self) -> None:
        """A new stretch of sound: buffers cleared; the delay and the echo path learnt
        so far are kept (the room may not have changed), but not trusted until they
        remove the echo again (the laptop may have moved, the speaker changed)."""
        self._reference = np.zeros(self._max_delay + self._window + BLOCK)
        self._mic = np.zeros(self._window)
        self._mic_window = np.zeros(WINDOW)
        self._residual_window = np.zeros(WINDOW)
        self._estimates: deque[np.ndarray] = deque(maxlen=ESTIMATE_BLOCKS)
        self._reverb: np.ndarray | None = None
        self._floor_db = -100.0
        self._blocks = 0
        self._echo_seen = False
        self.realign()
        if self._filter is not None:
            self._filter.clear_input()

    def realign(self) -> None:
        """The reference moved against the microphone (its clock was re-estimated): the
        echo path learnt so far is off by the move, so it is not trusted (and no one
        is taken to be talking) until the filter removes the echo again."""
        self.erle_db = 0.0  # echo removed by the linear filter (smoothed, dB)
        self._hangover = 0
        self._learning = 0  # blocks since the restart or since the filter was trusted

    @property
    def talking(self) -> bool:
        return self._hangover > 0

    @property
    def echo_only(self) -> bool:
        """Whether the detector vouches that the microphone holds nothing but the reply:
        trusted and hearing no one, or, not trusted yet, the microphone of the last
        0.5 s clearly correlated with the reference (the echo is there and the path is
        still being learnt: a fresh or moved room, whose echo AEC3 lets through too), for
        at most ``LEARNING_BLOCKS``: a path the filter cannot learn (a strongly nonlinear
        speaker) must not keep the user out; AEC3 alone carries the user then."""
        if self.talking:
            return False
        return self.trusted or (self._echo_seen and self.learning)

    @property
    def learning(self) -> bool:
        """Whether a fresh or moved echo path is being learnt (not trusted yet, for at
        most ``LEARNING_BLOCKS``): AEC3 is converging too, and its leaks look like a
        user to the VAD."""
        return not self.trusted and self._learning < LEARNING_BLOCKS

    @property
    def echo_heard(self) -> bool:
        """Whether the microphone of the last 0.5 s was clearly correlated with the
        reference (checked every 50 – 100 ms while the reply plays)."""
        return self._echo_seen

    @property
    def trusted(self) -> bool:
        """Whether the linear filter removes enough echo for its residual to be the
        room without the reply."""
        return self.erle_db >= TRUSTED_ERLE_DB

    def process(self, mic: np.ndarray, reference: np.ndarray
                ) -> tuple[np.ndarray | None, bool]:
        """One block (``BLOCK`` float samples of each, full scale 1.0, the reference
        laid on the microphone's clock): the microphone minus the predicted echo
        (``None`` before a delay is found) and whether the user is talking."""
        shift_in(self._reference, reference)
        shift_in(self._mic, mic)
        self._blocks += 1
        self._learning = 0 if self.trusted else self._learning + 1
        if self._blocks % (DELAY_EVERY if self.trusted else DELAY_EVERY_LEARNING) == 0:
            self._find_delay()
        if self._filter is None or self.delay is None:
            return None, False
        lag = max(0, self.delay - PRE_DELAY)
        end = self._reference.size - lag
        aligned = self._reference[end - mic.size:end]
        residual = np.empty(mic.size)
        n = self._filter.n
        adapt = not self.talking
        for i in range(0, mic.size, n):
            part = mic[i:i + n] - self._filter.predict(aligned[i:i + n])
            residual[i:i + n] = part
            if adapt:
                self._filter.adapt(part)
        talking = self._test(mic, residual)
        return residual, talking

    def _find_delay(self) -> None:
        self._echo_seen = False
        reference = self._reference[self._reference.size - self._window - self._max_delay:]
        if float(np.mean(reference[-self._window:] ** 2)) < MIN_REFERENCE:
            return
        delay, quality = echo_delay(self._mic, reference, self._max_delay)
        self._echo_seen = quality >= DELAY_QUALITY
        if quality < DELAY_QUALITY:
            return
        agreed = self._candidate is not None and abs(delay - self._candidate) <= DELAY_AGREE
        self._candidate = delay
        if agreed and (self.delay is None or abs(delay - self.delay) > DELAY_MOVED):
            self.delay = delay
            self._filter = LinearEchoFilter()
            self.erle_db = 0.0
            self._hangover = 0

    def _test(self, mic: np.ndarray, residual: np.ndarray) -> bool:
        shift_in(self._mic_window, mic)
        shift_in(self._residual_window, residual)
        w = self._analysis
        echo = np.abs(np.fft.rfft((self._mic_window - self._residual_window) * w)) ** 2
        self._estimates.append(echo)
        estimate = np.max(self._estimates, axis=0)
        estimate = np.maximum(estimate, np.maximum(np.roll(estimate, 1), np.roll(estimate, -1)))
        if self._reverb is not None:
            estimate = np.maximum(estimate, self._reverb * REVERB_DECAY)
        self._reverb = estimate
        spectrum = np.abs(np.fft.rfft(self._residual_window * w)) ** 2
        band = self._band
        unexplained = float(np.sum(np.maximum(0.0, spectrum[band] - EXCESS * estimate[band])))
        level = 10 * np.log10(2 * unexplained / (WINDOW * self._analysis_energy) + 1e-13)
        relative = 10 * np.log10(unexplained / (float(np.sum(estimate[band])) + 1e-13) + 1e-13)
        self._floor_db = level if level < self._floor_db else self._floor_db + FLOOR_RISE_DB
        speech = (self.trusted and relative > RELATIVE_DB
                  and level > max(LEVEL_DBFS, self._floor_db + ABOVE_FLOOR_DB))
        if speech:
            self._hangover = HANGOVER
        elif self._hangover:
            self._hangover -= 1
        else:
            mic_energy = float(np.mean(mic ** 2))
            if mic_energy > SILENT:
                removed = 10 * np.log10(mic_energy / (float(np.mean(residual ** 2)) + 1e-13))
                self.erle_db += ERLE_SMOOTHING * (min(40.0, removed) - self.erle_db)
                if self.erle_db < DIVERGED_ERLE_DB:
                    self._filter = LinearEchoFilter()
                    self.erle_db = 0.0
        return self.talking
