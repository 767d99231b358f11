"""ASRManager: recognises each user turn, with interim results while the user speaks.

Consumes: AudioFrameReceived (kept in an :class:`AudioHistory`), UserTurnStarted (with
``continues_from``: the final also decodes from there, ``whole_text``),
SpeechPaused, SpeechResumed / SpeechStarted (speech came back), UserTurnEnded,
SessionStopping.
Emits: TranscriptPartial, TranscriptSpeculated, TranscriptFinalized, UtteranceRejected.

An utterance is the exact input slice ``[turn start, turn end + padding)``, so audio of
a rejected utterance can never leak into the next one. Partials run at most one at a
time, every ``partial_interval_s``; when the turn ends a running partial is abandoned
(its result dropped) so it never delays the final. When silence begins inside the turn
(SpeechPaused) the final decode starts *speculatively* and its result is published
(TranscriptSpeculated, for the turn detector and a speculative reply); if the turn then
ends at that point it is the final, so the decode overlaps the endpoint silence. If the
turn continues the one before, the decode from that one's start (for ``whole_text``)
starts speculatively at the pause too, right after the turn's own (when both turns
together are longer than ``max_utterance_s``, the earlier turn's text and this one's are
joined instead). If the user keeps talking (SpeechResumed, or SpeechStarted after the
segment ended) it is dropped — unless the audio it covers is already longer than
``commit_after_s``: then it is kept as a committed segment of the turn and the following
decodes start at that pause, so a long dictation is never cut to Whisper's 30 s window
and the final decode stays short. Recognition runs in worker threads, one decode per
session at a time; a speculation or partial that is no longer wanted when its turn comes
is skipped, so abandoned speculations never pile up in front of the final.
Service config key ``"asr"``: ``partial_interval_s`` (0.5), ``min_partial_audio_s``
(0.3), ``end_padding_s`` (0.15), ``max_utterance_s`` (30), ``min_confidence`` (0),
``commit_after_s`` (10).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

from xtalk.audio.history import AudioHistory
from xtalk.models.interfaces import ASR, Transcription
from xtalk.serving.events import (
    AudioFrameReceived,
    SessionStopping,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    TranscriptFinalized,
    TranscriptPartial,
    TranscriptSpeculated,
    UserTurnEnded,
    UserTurnStarted,
    UtteranceRejected,
)
from xtalk.serving.interfaces import Manager
from xtalk.serving.managers.recognition.utterance_validation import validate_utterance
from xtalk.serving.model_calls import ModelCaller
from xtalk.serving.session_settings import ASRSettings

SAMPLE_RATE = 16000
#: Audio kept between turns: a turn starts up to this far back (pre-roll, client VAD).
IDLE_KEEP_SAMPLES = 3 * 16000
#: Final texts remembered for a turn that continues an earlier one.
KEPT_FINALS = 4


class _Superseded(Exception):
    """A queued decode that nobody wants any more (skipped, never run)."""


@dataclass
class _Speculation:
    turn_id: int
    start_sample: int
    end_sample: int
    audio_seconds: float
    task: asyncio.Task[Transcription] | None = None
    wanted: bool = True
    #: a turn that continues the previous one: its decode from that one's start
    whole_task: asyncio.Task[Transcription] | None = None
    whole_wanted: bool = True


@dataclass
class _Utterance:
    turn_id: int
    start_sample: int
    last_partial_at: float = 0.0
    last_partial_text: str = ""
    #: decodes of the committed segments, in order; later decodes start at ``decoded_from``
    segments: list[asyncio.Task[Transcription]] = field(default_factory=list)
    decoded_from: int = 0
    #: a turn that continues the previous one: where that one's audio starts
    whole_from: int | None = None
    continues_turn: int | None = None


def _done_texts(segments: list[asyncio.Task[Transcription]]) -> list[str]:
    """Texts of the committed segments already decoded (for interim results)."""
    return [t.result().text.strip() for t in segments
            if t.done() and not t.cancelled() and t.exception() is None
            and t.result().text.strip()]


def _retrieve(task: asyncio.Task[Transcription]) -> None:
    """Done callback: mark a task's exception as seen (a superseded decode's)."""
    if not task.cancelled():
        task.exception()


def _has_asr(manager: Manager) -> bool:
    return manager.pipeline.get_asr_model() is not None


class ASRManager(Manager):
    """Streams partial transcripts and produces one final transcript per turn."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.settings = ASRSettings(**dict(self.setting("asr", {})))
        self.history = AudioHistory(max_seconds=self.settings.max_utterance_s + 5.0)
        self._caller = ModelCaller()
        self._current: _Utterance | None = None
        #: (start, end) samples of the last turn: a turn that continues it starts there
        self._last_turn: tuple[int, int] | None = None
        #: the final text of the last few turns, once known ("" for none)
        self._finals: dict[int, asyncio.Future[str]] = {}
        self.speculative_hits = 0
        self._partial_task: asyncio.Task[None] | None = None
        self._speculation: _Speculation | None = None
        self._tasks: set[asyncio.Task] = set()
        self._decoding = asyncio.Lock()  # one decode of this session at a time

    @property
    def model(self) -> ASR:
        model = self.pipeline.get_asr_model()
        assert model is not None
        return model

    @Manager.event_handler(AudioFrameReceived, priority=10, enabled_if=_has_asr)
    def on_frame(self, event: AudioFrameReceived) -> None:
        self.history.append(event.start_sample, event.pcm)
        utt = self._current
        if utt is None:  # between turns only the lead-in of the next one is needed,
            keep_from = self.history.end_sample - IDLE_KEEP_SAMPLES
            last = self._last_turn  # and the last turn while the user may still go on
            if last is not None and self.history.end_sample - last[1] <= IDLE_KEEP_SAMPLES:
                keep_from = min(keep_from, last[0])
            self.history.forget_before(keep_from)
            return
        if self._speculation is not None or (
                self._partial_task is not None and not self._partial_task.done()):
            return
        now = time.monotonic()
        heard = (self.history.end_sample - utt.start_sample) / SAMPLE_RATE
        if heard >= self.settings.min_partial_audio_s and \
                now - utt.last_partial_at >= self.settings.partial_interval_s:
            utt.last_partial_at = now
            self._partial_task = self._spawn(self._run_partial(utt))

    @Manager.event_handler(UserTurnStarted, priority=10, enabled_if=_has_asr)
    def on_turn_started(self, event: UserTurnStarted) -> None:
        self._current = _Utterance(event.turn_id, event.start_sample,
                                   last_partial_at=time.monotonic(),
                                   decoded_from=event.start_sample,
                                   whole_from=event.continues_from,
                                   continues_turn=event.continues_turn)

    @Manager.event_handler(SpeechPaused, priority=10, enabled_if=_has_asr)
    def on_paused(self, event: SpeechPaused) -> None:
        utt = self._current
        if utt is None or not self.settings.speculative_final:
            return
        # Only the first frame of the silence has arrived: the end padding is filled with
        # digital silence (the VAD just judged that stretch silent).
        audio = self._final_audio(utt.decoded_from, event.pause_sample, pad_with_silence=True)
        if self._speculation is not None:
            self._speculation.wanted = False  # superseded by this fresher pause
        spec = _Speculation(utt.turn_id, utt.decoded_from, event.pause_sample,
                            audio.size / SAMPLE_RATE)
        spec.task = self._spawn(self._run_model(self.model.transcribe, audio,
                                                lambda: spec.wanted))
        if utt.whole_from is not None and self._fits(utt.whole_from, event.pause_sample):
            # the final will need it with the turn before too
            whole = self._final_audio(utt.whole_from, event.pause_sample,
                                      pad_with_silence=True)
            spec.whole_task = self._spawn(self._run_model(
                self.model.transcribe, whole, lambda: spec.wanted and spec.whole_wanted))
            spec.whole_task.add_done_callback(_retrieve)
        self._speculation = spec
        self._spawn(self._share_speculation(utt, spec))

    async def _share_speculation(self, utt: _Utterance, spec: _Speculation) -> None:
        """Publish the speculative result of a pause the user is still silent in: as the
        turn's text up to that pause, and as the freshest partial."""
        try:
            result = await asyncio.shield(spec.task)
        except Exception:
            return
        if self._current is not utt or self._speculation is not spec:
            return
        text = result.text.strip()
        valid = validate_utterance(text, result.confidence, spec.audio_seconds,
                                   self.settings.min_confidence, result.no_speech_prob).valid
        text = " ".join([*_done_texts(utt.segments), text if valid else ""]).strip()
        last_word = result.last_word_probability if valid and text else None
        await self.publish(TranscriptSpeculated(session_id=self.session_id,
                                                turn_id=utt.turn_id, text=text,
                                                end_sample=spec.end_sample,
                                                last_word_probability=last_word))
        if text and text != utt.last_partial_text and self._speculation is spec:
            utt.last_partial_text = text
            await self.publish(TranscriptPartial(session_id=self.session_id,
                                                 turn_id=utt.turn_id, text=text))

    @Manager.event_handler(SpeechResumed, priority=10, enabled_if=_has_asr)
    @Manager.event_handler(SpeechStarted, priority=10, enabled_if=_has_asr)
    def on_resumed(self, event: SpeechResumed | SpeechStarted) -> None:
        spec, self._speculation = self._speculation, None
        if spec is None:
            return
        utt = self._current
        long_enough = spec.end_sample - spec.start_sample >= \
            self.settings.commit_after_s * SAMPLE_RATE
        if utt is not None and utt.turn_id == spec.turn_id and spec.task is not None \
                and long_enough and spec.start_sample == utt.decoded_from:
            # a long stretch ended at this pause: keep its decode as a segment of the turn
            utt.segments.append(spec.task)
            utt.decoded_from = spec.end_sample
            spec.whole_wanted = False
            return
        spec.wanted = False  # the user kept talking: its result is dropped

    @Manager.event_handler(UserTurnEnded, priority=10, enabled_if=_has_asr)
    def on_turn_ended(self, event: UserTurnEnded) -> None:
        utt = self._current
        if utt is not None and utt.turn_id == event.turn_id:
            self._current = None
            whole_from = utt.whole_from
            self._last_turn = (utt.start_sample if whole_from is None else whole_from,
                               event.end_sample)
            start, segments = utt.decoded_from, utt.segments
            earlier_s = (utt.decoded_from - utt.start_sample) / SAMPLE_RATE
            continued = utt.continues_turn
        else:
            start = max(0, event.end_sample - int(self.settings.max_utterance_s * SAMPLE_RATE))
            segments, earlier_s, whole_from, continued = [], 0.0, None, None
        self._finals[event.turn_id] = asyncio.get_running_loop().create_future()
        for old in list(self._finals)[:-KEPT_FINALS]:
            forgotten = self._finals.pop(old)
            if not forgotten.done():
                forgotten.set_result("")
        spec, self._speculation = self._speculation, None
        hit = spec is not None and spec.turn_id == event.turn_id and spec.task is not None \
            and spec.start_sample == start and spec.end_sample == event.end_sample
        # a continuation is also recognised as one request from the earlier turn's start
        whole: Callable[[str], Awaitable[str]] | None = None
        if whole_from is not None and not self._fits(whole_from, event.end_sample):
            whole = self._joined(continued)  # too long for one decode
        elif whole_from is not None:
            decoded = spec.whole_task if hit and spec is not None else None
            whole = self._whole_decode(
                whole_from, event.end_sample, decoded)  # decoded afresh: none at the pause
        if hit and spec is not None:
            self.speculative_hits += 1
            self._spawn(self._run_final(event.turn_id, earlier_s + spec.audio_seconds,
                                        spec.task, segments, whole))
            return
        if spec is not None:
            spec.wanted = False
        audio = self._final_audio(start, event.end_sample)
        self._spawn(self._run_final(event.turn_id, earlier_s + audio.size / SAMPLE_RATE,
                                    self._decode(audio), segments, whole))

    def _fits(self, start: int, end: int) -> bool:
        """Whether the audio from ``start`` to ``end`` fits in one decode."""
        padded = end + int(self.settings.end_padding_s * SAMPLE_RATE) - start
        return padded <= self.settings.max_utterance_s * SAMPLE_RATE

    def _whole_decode(self, start: int, end: int,
                      decoded: asyncio.Task[Transcription] | None
                      ) -> Callable[[str], Awaitable[str]]:
        """The text of a continuing turn together with the one before: ``decoded`` at
        its pause, else decoded from ``start`` to ``end`` when called (only once the
        turn's own final is known)."""
        audio = None if decoded is not None else self._final_audio(start, end)

        async def whole(_text: str) -> str:
            result = await decoded if decoded is not None else await self._decode(audio)
            return await self._restored(result.text.strip())
        return whole

    def _joined(self, earlier_turn: int | None) -> Callable[[str], Awaitable[str]]:
        """The texts of ``earlier_turn`` and of the continuing turn, joined ("" when the
        earlier one was rejected or is forgotten)."""
        earlier = self._finals.get(earlier_turn) if earlier_turn is not None else None

        async def whole(text: str) -> str:
            before = await asyncio.shield(earlier) if earlier is not None else ""
            return f"{before} {text}" if before else ""
        return whole

    def _final_audio(self, start: int, end: int, pad_with_silence: bool = False
                     ) -> np.ndarray:
        """The turn's audio plus ``end_padding_s``; padding not yet received is filled
        with silence when ``pad_with_silence``."""
        pad = int(self.settings.end_padding_s * SAMPLE_RATE)
        audio = self._utterance_audio(start, end + pad)
        missing = end + pad - self.history.end_sample
        if pad_with_silence and missing > 0:
            audio = np.concatenate([audio, np.zeros(missing, dtype=np.int16)])
        return audio

    async def _decode(self, audio: np.ndarray) -> Transcription:
        if audio.size == 0:
            return Transcription(text="", confidence=0.0)
        return await self._run_model(self.model.transcribe, audio)

    async def _run_model(self, decode, audio: np.ndarray, wanted=lambda: True
                         ) -> Transcription:
        """Run ``decode(audio)`` (in a worker thread unless the model proved cheaper than
        the hop: :class:`~xtalk.serving.model_calls.ModelCaller`) once this session's
        previous decode is done, unless ``wanted()`` has turned false by then
        (:class:`_Superseded`)."""
        async with self._decoding:
            if not wanted():
                raise _Superseded
            return await self._caller.call(lambda: decode(audio))

    def _utterance_audio(self, start: int, end: int) -> np.ndarray:
        max_samples = int(self.settings.max_utterance_s * SAMPLE_RATE)
        return self.history.slice(max(start, end - max_samples), end)

    async def _run_partial(self, utt: _Utterance) -> None:
        audio = self._utterance_audio(utt.decoded_from, self.history.end_sample)
        try:
            result = await self._run_model(
                self.model.transcribe_partial, audio,
                lambda: self._current is utt and self._speculation is None)
        except _Superseded:
            return
        text = " ".join([*_done_texts(utt.segments), result.text.strip()]).strip()
        if self._current is utt and text and text != utt.last_partial_text:
            utt.last_partial_text = text
            await self.publish(TranscriptPartial(session_id=self.session_id,
                                                 turn_id=utt.turn_id, text=text))

    async def _run_final(self, turn_id: int, seconds: float, pending,
                         segments: list[asyncio.Task[Transcription]] | None = None,
                         whole: Callable[[str], Awaitable[str]] | None = None
                         ) -> None:
        """Publish turn ``turn_id``'s final (``pending``'s text after ``segments``'),
        with ``whole_text = await whole(text)`` when the turn continues the one before."""
        published = ""
        try:
            published = await self._finish(turn_id, seconds, pending, segments, whole)
        finally:
            final = self._finals.get(turn_id)
            if final is not None and not final.done():
                final.set_result(published)

    async def _finish(self, turn_id: int, seconds: float, pending,
                      segments: list[asyncio.Task[Transcription]] | None,
                      whole: Callable[[str], Awaitable[str]] | None) -> str:
        earlier = await self._segment_texts(turn_id, segments or [])
        try:
            result: Transcription = await pending
        except asyncio.CancelledError:
            raise
        except Exception:
            self.log.exception("recognition failed for turn %s", turn_id)
            await self.publish(UtteranceRejected(session_id=self.session_id,
                                                 turn_id=turn_id, reason="asr_error"))
            return ""
        text = result.text.strip()
        if earlier:
            last = text if validate_utterance(text, result.confidence, seconds, 0.0,
                                              result.no_speech_prob).valid else ""
            text = " ".join(t for t in [*earlier, last] if t)
            result = Transcription(text=text, confidence=result.confidence,
                                   language=result.language, no_speech_prob=0.0)
        text = await self._restored(text)
        verdict = validate_utterance(text, result.confidence, seconds,
                                     self.settings.min_confidence, result.no_speech_prob)
        if not verdict.valid:
            await self.publish(UtteranceRejected(session_id=self.session_id, turn_id=turn_id,
                                                 reason=verdict.reason))
            return ""
        whole_text = ""
        if whole is not None:
            try:
                whole_text = await whole(text)
            except Exception:
                self.log.exception("recognition of turn %s with the one before failed",
                                   turn_id)
        await self.publish(TranscriptFinalized(
            session_id=self.session_id, turn_id=turn_id, text=text,
            confidence=result.confidence, audio_seconds=seconds, whole_text=whole_text))
        return text

    async def _restored(self, text: str) -> str:
        """``text`` with punctuation restored, when the pipeline has a restorer."""
        restorer = self.pipeline.get_punt_restorer_model()
        if restorer is not None and text:
            text = await asyncio.to_thread(restorer.restore, text)
        return text

    async def _segment_texts(self, turn_id: int,
                             segments: list[asyncio.Task[Transcription]]) -> list[str]:
        """The texts of a turn's committed segments (a failed or empty one is left out)."""
        texts = []
        for task in segments:
            try:
                part = await asyncio.shield(task)
            except Exception:
                self.log.exception("recognition of a segment of turn %s failed", turn_id)
                continue
            if part.text.strip() and part.no_speech_prob < 0.5:
                texts.append(part.text.strip())
        return texts

    def _spawn(self, coro) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @Manager.event_handler(SessionStopping)
    async def on_stopping(self, event: SessionStopping) -> None:
        await self.shutdown()

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
