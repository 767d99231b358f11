"""WSOLA speech speed controller: tempo change without pitch change, in plain numpy.

WSOLA (waveform-similarity overlap-add, Verhelst & Roelands 1993) cuts the input into
overlapping frames and lays them down again at a fixed *synthesis* hop, while reading them
from the input at an *analysis* hop ``speed`` times larger. Read naively, the frames would
not line up and the overlap-add would smear or cancel the waveform; WSOLA therefore shifts
each frame's read position by up to ``±search`` samples, picking the shift whose overlap
region correlates best with the *natural continuation* of the previous frame (what would
have followed it in the input). Frames are cross-faded with Hann tapers, so the joins are
smooth (no clicks) and, because whole periods of the waveform are copied, the pitch stays
the same while the duration becomes ``len / speed``.

The controller is stateless: every :meth:`WSOLASpeedController.apply` call processes its
chunk on its own. That is fine for the engine's use: the TTS manager synthesises reply text
clause by clause, so chunk borders fall where a sentence or clause ends (or where the TTS
itself cut its output), not in the middle of a steady sound that would need continuity.
"""

from __future__ import annotations

import math

import numpy as np

from xtalk.models.interfaces import SpeechSpeedController

MIN_SPEED = 0.25
MAX_SPEED = 4.0


def _crossfade_window(frame: int, overlap: int) -> np.ndarray:
    """A frame window: Hann rise over ``overlap`` samples, flat top, Hann fall.

    The fall of one frame and the rise of the next (``frame - overlap`` samples later) sum
    to exactly one, so the overlap-add is a constant-gain cross-fade. With
    ``overlap == frame / 2`` this is a plain (periodic) Hann window.
    """
    window = np.ones(frame, dtype=np.float64)
    rise = np.sin(0.5 * np.pi * (np.arange(overlap) + 0.5) / overlap) ** 2
    window[:overlap] = rise
    window[frame - overlap:] = rise[::-1]
    return window


class WSOLASpeedController(SpeechSpeedController):
    """Time-scale modification by waveform-similarity overlap-add (stateless, shared).

    Args:
        frame_ms: Frame length in milliseconds (about two to three pitch periods of speech).
        overlap_ms: Cross-fade length between consecutive frames in milliseconds; at most
            half the frame (half the frame gives a full Hann window, the default).
        search_ms: How far (±) a frame's read position may move to match the waveform of
            the previous frame, in milliseconds; it should cover a pitch period.

    Raises:
        ValueError: A length is not positive (``search_ms`` may be 0, which degrades to
            plain overlap-add), or ``overlap_ms`` exceeds half of ``frame_ms``.
    """

    def __init__(self, frame_ms: float = 25.0, overlap_ms: float = 12.5,
                 search_ms: float = 8.0) -> None:
        frame_ms, overlap_ms, search_ms = float(frame_ms), float(overlap_ms), float(search_ms)
        if not (math.isfinite(frame_ms) and frame_ms > 0):
            raise ValueError(f"frame_ms must be positive, got {frame_ms}")
        if not (math.isfinite(overlap_ms) and 0 < overlap_ms <= frame_ms / 2):
            raise ValueError(f"overlap_ms must be positive and at most half of frame_ms "
                             f"({frame_ms / 2}), got {overlap_ms}")
        if not (math.isfinite(search_ms) and search_ms >= 0):
            raise ValueError(f"search_ms must not be negative, got {search_ms}")
        self.frame_ms = frame_ms
        self.overlap_ms = overlap_ms
        self.search_ms = search_ms

    def _sizes(self, sample_rate: int) -> tuple[int, int, int]:
        """(frame, overlap, search) in samples at ``sample_rate``."""
        frame = max(2, round(self.frame_ms * sample_rate / 1000))
        overlap = min(frame // 2, max(1, round(self.overlap_ms * sample_rate / 1000)))
        search = max(0, round(self.search_ms * sample_rate / 1000))
        return frame, overlap, search

    def apply(self, pcm: np.ndarray, sample_rate: int, speed: float) -> np.ndarray:
        """Change the tempo of ``pcm`` by ``speed`` without changing its pitch.

        Args:
            pcm: PCM16 mono samples (one chunk; processed independently of other chunks).
            sample_rate: Sample rate of ``pcm`` in Hz.
            speed: Tempo factor in 0.25..4: above 1 shortens (faster speech), below 1
                lengthens. The output has ``round(len(pcm) / speed)`` samples.

        Returns:
            PCM16 mono at the same rate (other sample types are rounded and clipped to
            int16 first); ``pcm`` itself when ``speed == 1``. A chunk shorter than a
            frame cannot be time-scaled properly: it is mostly cut, or padded with
            silence, to the new length.

        Raises:
            ValueError: ``speed`` is outside 0.25..4, ``sample_rate`` is not positive or
                ``pcm`` is not one-dimensional.
        """
        speed = float(speed)
        if not MIN_SPEED <= speed <= MAX_SPEED:  # also rejects NaN
            raise ValueError(f"speed must be between {MIN_SPEED} and {MAX_SPEED}, got {speed}")
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        samples = np.asarray(pcm)
        if samples.ndim != 1:
            raise ValueError(f"pcm must be one-dimensional, got shape {samples.shape}")
        if samples.dtype != np.int16:
            samples = np.clip(np.rint(samples), -32768, 32767).astype(np.int16)
        if speed == 1.0 or samples.size == 0:
            return samples

        frame, overlap, search = self._sizes(int(sample_rate))
        hop_out = frame - overlap  # synthesis hop
        out_len = max(1, round(samples.size / speed))
        if samples.size > frame and out_len > frame:
            # analysis hop (fractional; rounded per frame), ≈ hop_out * speed, chosen so
            # the first frame starts at the first input sample and the frame ending at the
            # last output sample ends at the last input sample: nothing is cut off at the
            # end and no silence is added
            hop_in = hop_out * (samples.size - frame) / (out_len - frame)
        else:  # shorter than a frame: the ends can't both be anchored
            hop_in = hop_out * speed
        n_frames = 1 + max(0, math.ceil((out_len - frame) / hop_out))

        # Silence after the input, for the last frames (which may be read past the end
        # when the input is shorter than a frame) and their search ranges.
        last_start = round((n_frames - 1) * hop_in) + search
        tail = max(0, last_start + frame - samples.size) + frame
        x = np.concatenate([samples.astype(np.float64), np.zeros(tail)])
        # Running energy, for the candidates' normalised cross-correlation.
        energy = np.concatenate([[0.0], np.cumsum(x * x)])

        window = _crossfade_window(frame, overlap)
        out = np.zeros((n_frames - 1) * hop_out + frame)
        weight = np.zeros_like(out)
        end = samples.size
        prev = 0  # read position of the previous frame (frame 0 reads from sample 0)
        for k in range(n_frames):
            at = k * hop_out
            if k == 0:
                pos = prev
            else:
                nominal = round(k * hop_in)
                # candidates: within ±search; the part of the frame that is output must
                # not run past the input's end (unless the input is shorter than that),
                # so near the end the search range moves back
                keep = min(frame, out_len - at)  # samples of this frame that are output
                lo, hi = max(nominal - search, 0), nominal + search
                if end >= keep:
                    hi = min(hi, end - keep)
                    if hi < lo:
                        lo = max(hi - 2 * search, 0)
                pos = min(max(nominal, lo), hi)
                if hi > lo:
                    # the previous frame's natural continuation over the overlap region
                    template = x[prev + hop_out: prev + hop_out + overlap]
                    region = x[lo: hi + overlap]
                    corr = np.correlate(region, template, mode="valid")  # hi-lo+1 shifts
                    starts = np.arange(lo, hi + 1)
                    norms = np.sqrt(energy[starts + overlap] - energy[starts] + 1e-9)
                    score = corr / norms
                    best = int(np.argmax(score))
                    if score[best] > score[pos - lo]:  # ties keep the nominal position
                        pos = lo + best
            out[at: at + frame] += window * x[pos: pos + frame]
            weight[at: at + frame] += window
            prev = pos

        # The cross-fades sum to one inside; only the first rise and the last fall need it.
        out = out[:out_len] / np.maximum(weight[:out_len], 1e-8)
        return np.clip(np.rint(out), -32768, 32767).astype(np.int16)


__all__ = ["MAX_SPEED", "MIN_SPEED", "WSOLASpeedController"]
