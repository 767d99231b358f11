"""Turn frame-wise speech probabilities into speech start / end decisions (pure logic)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class VADSettings:
    """Thresholds and durations of the speech segmenter.

    Attributes:
        threshold: Probability at or above which a frame counts as speech.
        neg_threshold: Probability below which a frame counts as silence (hysteresis);
            defaults to ``threshold - 0.15``.
        min_speech_s: Speech needed before a start is declared (filters clicks).
        min_silence_s: Silence needed after speech before an end is declared.
        pre_roll_s: Audio kept before the detected start (the start of a word is quiet).
        onset_memory_s: A start this soon after a dismissed onset begins at that onset
            (its pre-roll included): the dismissed frames were the start of the word.
    """

    threshold: float = 0.5
    neg_threshold: float | None = None
    min_speech_s: float = 0.064
    min_silence_s: float = 0.4
    pre_roll_s: float = 0.2
    onset_memory_s: float = 1.0

    @property
    def silence_threshold(self) -> float:
        return self.neg_threshold if self.neg_threshold is not None else \
            max(0.0, self.threshold - 0.15)


@dataclass
class SegmentEvent:
    """``start``/``end`` of a speech segment, ``pause``/``resume`` inside one (silence
    began / speech came back before ``min_silence_s``), or, outside a segment, ``onset``
    (the first speech frame, before ``min_speech_s`` confirmed it) and ``dismissed``
    (that run of speech frames ended too short to start a segment)."""

    kind: str
    sample: int


class SpeechSegmenter:
    """Hysteresis state machine over frames at known sample positions."""

    def __init__(self, settings: VADSettings, sample_rate: int = 16000) -> None:
        self.settings = settings
        self.sample_rate = sample_rate
        self.in_speech = False
        self._speech_run_start: int | None = None
        self._silence_start: int | None = None
        self._dismissed_onset: int | None = None

    @property
    def pause_sample(self) -> int | None:
        """Where the silence began, while a segment is in a pause."""
        return self._silence_start if self.in_speech else None

    def process(self, start_sample: int, n_samples: int, probability: float
                ) -> SegmentEvent | None:
        """Feed one frame; returns a start/end event when one is decided."""
        s = self.settings
        end_sample = start_sample + n_samples
        if not self.in_speech:
            if probability >= s.threshold:
                first = self._speech_run_start is None
                if first:
                    self._speech_run_start = start_sample
                if end_sample - self._speech_run_start >= s.min_speech_s * self.sample_rate:
                    self.in_speech = True
                    self._silence_start = None
                    begin = self._speech_run_start
                    dismissed, self._dismissed_onset = self._dismissed_onset, None
                    if dismissed is not None and \
                            begin - dismissed <= s.onset_memory_s * self.sample_rate:
                        begin = dismissed
                    pre = int(s.pre_roll_s * self.sample_rate)
                    return SegmentEvent("start", max(0, begin - pre))
                return SegmentEvent("onset", start_sample) if first else None
            if self._speech_run_start is not None:
                earlier = self._dismissed_onset
                if earlier is None or self._speech_run_start - earlier > \
                        s.onset_memory_s * self.sample_rate:
                    self._dismissed_onset = self._speech_run_start  # the first of a chain
                self._speech_run_start = None
                return SegmentEvent("dismissed", start_sample)
            return None
        if probability < s.silence_threshold:
            paused = self._silence_start is None
            if paused:
                self._silence_start = start_sample
            if end_sample - self._silence_start >= s.min_silence_s * self.sample_rate:
                self.in_speech = False
                self._speech_run_start = None
                ended_at, self._silence_start = self._silence_start, None
                return SegmentEvent("end", ended_at)
            return SegmentEvent("pause", start_sample) if paused else None
        if self._silence_start is not None:
            self._silence_start = None
            return SegmentEvent("resume", start_sample)
        return None

    def force_end(self, sample: int) -> SegmentEvent | None:
        """End an ongoing speech segment now (e.g. the client muted); a pending onset is
        dismissed."""
        if not self.in_speech:
            if self._speech_run_start is None:
                return None
            self._speech_run_start = None
            return SegmentEvent("dismissed", sample)
        self.in_speech = False
        self._speech_run_start = None
        self._silence_start = None
        return SegmentEvent("end", sample)
