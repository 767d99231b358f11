"""TurnDetectorManager: asks the turn-detector model whether a pause ends the turn.

Consumes: AudioFrameReceived (the input timeline; the audio too when the detector judges the
voice), UserTurnStarted, TurnEndCheckRequested, TranscriptSpeculated, TranscriptPartial,
SpeechOnsetDetected / SpeechOnsetDismissed, SpeechStarted.
Emits: TurnEndDecided.

A check is judged once the transcript of its pause is known: the ASR's speculative final
of that pause (TranscriptSpeculated). The reply needs that decode anyway, so waiting for
it costs no latency; without it (no ASR, speculation off, or after ``transcript_wait_s``,
service config key ``"turn"``) the freshest partial is judged. Detectors that judge the
voice also get the turn's audio with the first 0.2 s of the pause, and those that take it
the recogniser's certainty of the last word; a detector with a ``voice_probability`` of its
own (Smart Turn) has it computed as soon as the pause's audio is in, while the transcript
is still being decoded, and once per pause. The model runs in a worker thread. When the
verdict was "wait", a fresher transcript of the same turn is judged again, and an "end
now" verdict cuts the wait short. A wait ends on the audio's own clock: once the input
timeline has passed the pause plus the verdict's silence (and no onset of
speech is pending or was dismissed in the last 0.5 s), "end now" follows, however late the
frames are processed; a verdict of "end now" that comes while such speech may be starting
(a slow transcript, past the detector's maximum silence) is held the same way. Speech in
the turn drops a pending check. Switched off when the pipeline has no turn detector
(turn-taking then ends the turn on the VAD's silence alone).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import time
from dataclasses import dataclass, field

import numpy as np

from xtalk.audio.history import AudioHistory
from xtalk.models.interfaces import TurnDetector, TurnVerdict
from xtalk.serving.events import (
    AudioFrameReceived,
    SpeechOnsetDetected,
    SpeechOnsetDismissed,
    SpeechStarted,
    TranscriptPartial,
    TranscriptSpeculated,
    TurnEndCheckRequested,
    TurnEndDecided,
    UserTurnStarted,
)
from xtalk.serving.interfaces import Manager
from xtalk.serving.session_settings import ASRSettings, TurnSettings, VADSettings

SAMPLE_RATE = 16000
AUDIO_WINDOW_S = 8.0
#: Silence after the pause's start that a voice detector hears (however late the decision
#: comes): models like Smart Turn are trained on the turn plus ~0.2 s of silence, and
#: rate a turn "finished" more readily the more silence follows it.
VOICE_PAUSE_S = 0.2
#: After an onset of speech that came to nothing, a wait ends no sooner than this: a soft
#: word start (noise suppression, a quiet voice) often scores speech for a frame, less for
#: a few, then clearly.
ONSET_GRACE_S = 0.5


def _has_detector(manager: Manager) -> bool:
    return manager.pipeline.get_turn_detector_model() is not None


def _judges_voice(manager: Manager) -> bool:
    detector = manager.pipeline.get_turn_detector_model()
    return detector is not None and bool(getattr(detector, "uses_audio", False))


def _takes_keyword(func: object, name: str) -> bool:
    """Whether ``func`` accepts the keyword argument ``name``."""
    try:
        parameters = inspect.signature(func).parameters  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return name in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


@dataclass
class _Check:
    """One pause being judged."""

    turn_id: int
    end_sample: int
    text: str
    requested: float
    transcript: asyncio.Event = field(default_factory=asyncio.Event)
    judged_text: str | None = None
    last_word_probability: float | None = None  # of ``text``, when the recogniser said
    waiting: bool = False  # the last verdict was "wait"
    deadline: int | None = None  # the input sample where that wait ends
    voice: asyncio.Task[float | None] | None = None  # the detector's voice_probability


class TurnDetectorManager(Manager):
    """Answers end-of-turn checks with the detector's verdict."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.silence_s = float(VADSettings(**self.setting("vad", {})).min_silence_s)
        self.transcript_wait_s = float(
            TurnSettings(**self.setting("turn", {})).transcript_wait_s)
        self._speculated_finals = self.pipeline_has_asr() and \
            bool(ASRSettings(**self.setting("asr", {})).speculative_final)
        self.history = AudioHistory(max_seconds=AUDIO_WINDOW_S + 2.0)
        self._turn_start: tuple[int, int] | None = None
        self._check: _Check | None = None
        self._spoken: TranscriptSpeculated | None = None  # the last pause's transcript
        self._task: asyncio.Task[None] | None = None
        self._last_sample = 0
        self._onset = False  # a speech onset not yet confirmed or dismissed
        self._grace_until = 0  # the sample before which a wait does not end (a recent onset)

    def pipeline_has_asr(self) -> bool:
        get_asr = getattr(self.pipeline, "get_asr_model", None)
        return get_asr is not None and get_asr() is not None

    @property
    def detector(self) -> TurnDetector:
        detector = self.pipeline.get_turn_detector_model()
        assert detector is not None
        return detector

    @functools.cached_property
    def _hears_word_probability(self) -> bool:
        """Whether the detector's ``decide`` takes ``last_word_probability``."""
        return _takes_keyword(self.detector.decide, "last_word_probability")

    @functools.cached_property
    def _scores_voice_apart(self) -> bool:
        """Whether the detector's voice probability can be computed ahead of ``decide``."""
        detector = self.detector
        return _judges_voice(self) \
            and type(detector).voice_probability is not TurnDetector.voice_probability \
            and _takes_keyword(detector.decide, "voice_probability")

    # ------------------------------------------------------------------ inputs
    @Manager.event_handler(AudioFrameReceived, priority=10, enabled_if=_has_detector)
    async def on_frame(self, event: AudioFrameReceived) -> None:
        if _judges_voice(self):
            self.history.append(event.start_sample, event.pcm)
        self._last_sample = event.start_sample + event.pcm.size
        if self._check is not None and self._check.voice is None:
            self._score_voice(self._check)
        await self._end_wait_if_due()

    @Manager.event_handler(SpeechOnsetDetected, enabled_if=_has_detector)
    def on_onset(self, event: SpeechOnsetDetected) -> None:
        self._onset = True

    @Manager.event_handler(SpeechOnsetDismissed, enabled_if=_has_detector)
    def on_onset_dismissed(self, event: SpeechOnsetDismissed) -> None:
        self._onset = False
        self._grace_until = self._last_sample + int(ONSET_GRACE_S * SAMPLE_RATE)

    def _speech_may_start(self) -> bool:
        """An onset of speech is pending, or one came to nothing under 0.5 s ago."""
        return self._onset or self._last_sample < self._grace_until

    async def _end_wait_if_due(self) -> None:
        check = self._check
        if check is None or not check.waiting or check.deadline is None \
                or self._speech_may_start() or self._last_sample < check.deadline:
            return
        self._drop_check()
        await self.publish(TurnEndDecided(session_id=self.session_id, turn_id=check.turn_id,
                                          is_end=True, at_sample=self._last_sample))

    @Manager.event_handler(UserTurnStarted, enabled_if=_has_detector)
    def on_turn_started(self, event: UserTurnStarted) -> None:
        # a turn that may continue the one before is heard from that one's start
        start = event.start_sample if event.continues_from is None else event.continues_from
        self._turn_start = (event.turn_id, start)

    @Manager.event_handler(TurnEndCheckRequested, enabled_if=_has_detector)
    def on_check(self, event: TurnEndCheckRequested) -> None:
        self._drop_check()
        check = _Check(event.turn_id, event.end_sample, event.text, time.monotonic())
        spoken = self._spoken
        if spoken is not None and (spoken.turn_id, spoken.end_sample) == \
                (event.turn_id, event.end_sample):
            check.text, check.last_word_probability = spoken.text, spoken.last_word_probability
            check.transcript.set()
        elif not self._speculated_finals:
            check.transcript.set()
        self._check = check
        self._score_voice(check)
        self._judge(check, wait_for_transcript=True)

    @Manager.event_handler(TranscriptSpeculated, enabled_if=_has_detector)
    def on_speculated(self, event: TranscriptSpeculated) -> None:
        self._spoken = event
        check = self._check
        if check is None or check.turn_id != event.turn_id:
            return
        if not check.transcript.is_set():
            if check.end_sample == event.end_sample:
                check.text, check.last_word_probability = event.text, \
                    event.last_word_probability
                check.transcript.set()
            return
        self._rejudge(check, event.text, event.last_word_probability)

    @Manager.event_handler(TranscriptPartial, enabled_if=_has_detector)
    def on_partial(self, event: TranscriptPartial) -> None:
        check = self._check
        if check is not None and check.turn_id == event.turn_id:
            self._rejudge(check, event.text)

    @Manager.event_handler(SpeechStarted, enabled_if=_has_detector)
    def on_speech(self, event: SpeechStarted) -> None:
        self._onset = False
        self._drop_check()  # the user went on: the pending verdict no longer applies

    # ------------------------------------------------------------------ judging
    def _score_voice(self, check: _Check) -> None:
        """Start the detector's voice probability for ``check`` once its audio (the pause's
        first :data:`VOICE_PAUSE_S` included) is in: it overlaps the pause's decode."""
        if not self._scores_voice_apart or check.voice is not None \
                or self.history.end_sample < check.end_sample + int(VOICE_PAUSE_S * SAMPLE_RATE):
            return
        check.voice = asyncio.get_running_loop().create_task(
            asyncio.to_thread(self._voice_probability, self._audio(check)),
            name=f"xtalk-turn-voice-{check.turn_id}")

    def _voice_probability(self, audio: np.ndarray) -> float | None:
        try:
            return self.detector.voice_probability(audio)
        except Exception:
            self.log.exception("turn detector failed on the voice; deciding without it")
            return None

    def _rejudge(self, check: _Check, text: str,
                 last_word_probability: float | None = None) -> None:
        """A fresher transcript of a pause judged "wait" may end the turn now."""
        if check.waiting and text.strip() and text != check.judged_text:
            check.text, check.last_word_probability = text, last_word_probability
            self._judge(check, wait_for_transcript=False)

    def _judge(self, check: _Check, wait_for_transcript: bool) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = asyncio.get_running_loop().create_task(
            self._run(check, wait_for_transcript), name=f"xtalk-turn-check-{check.turn_id}")

    async def _run(self, check: _Check, wait_for_transcript: bool) -> None:
        if wait_for_transcript and not check.transcript.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.transcript_wait_s):
                    await check.transcript.wait()
        text = check.text
        audio = self._audio(check) if _judges_voice(self) else None
        voice = await asyncio.shield(check.voice) if check.voice is not None else None
        silence = self._silence(check)
        verdict = await asyncio.to_thread(self._decide, text, silence, audio,
                                          check.last_word_probability, voice)
        if self._check is not check:
            return
        self.log.debug("turn %d: %d words after %.2f s of silence -> %s (p=%s, wait %.2f s)",
                       check.turn_id, len(text.split()), silence,
                       "end" if verdict.is_end else "wait", verdict.probability,
                       verdict.wait_s)
        due_s = silence + verdict.wait_s  # into the pause
        if verdict.is_end and self._speech_may_start():
            # the end waits until that speech has come to nothing, as a wait does
            verdict = TurnVerdict(is_end=False, wait_s=ONSET_GRACE_S,
                                  probability=verdict.probability)
            due_s = max(silence, ONSET_GRACE_S)
        check.judged_text = text
        if check.waiting and not verdict.is_end:
            return  # still unfinished: the wait already running stands
        check.waiting = not verdict.is_end
        if verdict.is_end:
            self._check = None
        else:
            check.deadline = check.end_sample + int(due_s * SAMPLE_RATE)
        await self.publish(TurnEndDecided(session_id=self.session_id, turn_id=check.turn_id,
                                          is_end=verdict.is_end, wait_s=verdict.wait_s,
                                          at_sample=self._last_sample))

    def _decide(self, text: str, silence_s: float, audio: np.ndarray | None,
                last_word_probability: float | None, voice: float | None) -> TurnVerdict:
        extra: dict[str, float] = {}
        if last_word_probability is not None and self._hears_word_probability:
            extra["last_word_probability"] = last_word_probability
        if voice is not None:
            extra["voice_probability"] = voice
        try:
            return self.detector.decide(text, silence_s, audio, **extra)
        except Exception:
            self.log.exception("turn detector failed; ending the turn")
            return TurnVerdict(is_end=True)

    def _audio(self, check: _Check) -> np.ndarray:
        """The turn's audio from its start (at most 8 s) to :data:`VOICE_PAUSE_S` into the
        pause (or as far as it has arrived)."""
        end = min(self.history.end_sample,
                  check.end_sample + int(VOICE_PAUSE_S * SAMPLE_RATE))
        start = end - int(AUDIO_WINDOW_S * SAMPLE_RATE)
        if self._turn_start is not None and self._turn_start[0] == check.turn_id:
            start = max(start, self._turn_start[1])
        return self.history.slice(max(0, start), end)

    def _silence(self, check: _Check) -> float:
        """Silence since the pause began, as far as the audio has arrived."""
        if self._last_sample > check.end_sample:
            return (self._last_sample - check.end_sample) / SAMPLE_RATE
        return self.silence_s + time.monotonic() - check.requested

    def _drop_check(self) -> None:
        if self._check is not None and self._check.voice is not None:
            self._check.voice.cancel()  # (its thread finishes; the result is not used)
        self._check = None
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    async def shutdown(self) -> None:
        self._drop_check()
