"""TTSManager: turns reply text into audio, clause by clause, as the text streams in.

Consumes: GenerationRequested (a reply begins: speculative or not), SpeculationConfirmed,
ReplyTextDelta, ReplyTextCompleted, SpeechSynthesisRequested, ThinkingCueRequested,
GenerationCancelRequested, PlaybackStopped, VoiceChangeRequested, SpeedChangeRequested,
EmotionChangeRequested, ModelChangeRequested (kind "tts"), SessionStarted (the session's
speaking rate, ``service_config.tts_speed``, is applied as a SpeedChangeRequested would
be), SessionStopping.
Emits: TTSChunkReady (PCM16 at the model's own ``sample_rate``), TTSReplyCompleted (once
per reply that was not cancelled), VoiceChanged / SpeedChanged / EmotionChanged, and
ErrorOccurred for requests the voice cannot honour (never silently ignored).

Synthesis runs in a worker thread, one clause at a time, in order. A cancelled reply's
queued clauses are dropped and chunks of a clause in flight are discarded. The chunks of a
speculative reply are marked ``speculative`` until its SpeculationConfirmed. A thinking
cue is spoken only as a reply's first clause, as one chunk marked ``cue`` and trimmed of
the voice's leading and trailing silence (so the words after it are not held back); its
audio is kept for the session until the voice, speed or model changes. Once the reply's
own text is queued, a late cue is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from xtalk.audio.pcm import trim_silence
from xtalk.models.interfaces import TTS, UnsupportedFeatureError
from xtalk.serving.events import (
    BaseEvent,
    EmotionChanged,
    EmotionChangeRequested,
    ErrorOccurred,
    GenerationCancelRequested,
    GenerationRequested,
    ModelChanged,
    ModelChangeRequested,
    PlaybackStopped,
    ReplyTextCompleted,
    ReplyTextDelta,
    SessionStarted,
    SessionStopping,
    SpeculationConfirmed,
    SpeechSynthesisRequested,
    SpeedChanged,
    SpeedChangeRequested,
    ThinkingCueRequested,
    TTSChunkReady,
    TTSReplyCompleted,
    VoiceChanged,
    VoiceChangeRequested,
)
from xtalk.serving.interfaces import Manager
from xtalk.text.clauses import ClauseSplitter

_END = object()
MAX_CANCELLED = 32  # cancelled turns remembered (their late text deltas are dropped)


@dataclass
class _Reply:
    turn_id: int
    splitter: ClauseSplitter = field(default_factory=ClauseSplitter)
    chunks: int = 0
    cancelled: bool = False
    speculative: bool = False
    queued: bool = False  # a clause of it was queued (a thinking cue comes too late)


@dataclass(frozen=True)
class _Cue:
    text: str


class TTSManager(Manager):
    """Synthesises reply clauses in order and reports when a reply's audio is complete."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._replies: dict[int, _Reply] = {}  # replies being synthesised
        self._cancelled: deque[int] = deque(maxlen=MAX_CANCELLED)  # late deltas are dropped
        self._work: asyncio.Queue[tuple[_Reply, object]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.speed = 1.0
        self._model_speed = False  # True when the model itself applies the speed
        #: (cue, speed) → (pcm, rate), in the current voice
        self._cue_audio: dict[tuple[str, float], tuple[np.ndarray, int]] = {}

    @property
    def _streaming(self) -> bool:
        return bool(getattr(self.pipeline, "use_streaming_tts", True))

    @property
    def model(self) -> TTS | None:
        return self.pipeline.get_tts_model()

    def _reply(self, turn_id: int) -> _Reply:
        reply = self._replies.get(turn_id)
        if reply is None:
            reply = _Reply(turn_id, cancelled=turn_id in self._cancelled)
            if not reply.cancelled:
                self._replies[turn_id] = reply
        return reply

    def _enqueue(self, reply: _Reply, item: object) -> None:
        reply.queued = True
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work_loop())
        self._work.put_nowait((reply, item))

    # ------------------------------------------------------------------ text in
    @Manager.event_handler(GenerationRequested, priority=20)
    def on_generation(self, event: GenerationRequested) -> None:
        """A reply begins: a fresh one (an earlier attempt for the turn stays cancelled)."""
        old = self._replies.get(event.turn_id)
        if old is not None:
            old.cancelled = True
        if event.turn_id in self._cancelled:
            self._cancelled.remove(event.turn_id)
        self._replies[event.turn_id] = _Reply(event.turn_id, speculative=event.speculative)

    @Manager.event_handler(SpeculationConfirmed, priority=20)
    def on_confirmed(self, event: SpeculationConfirmed) -> None:
        reply = self._replies.get(event.turn_id)
        if reply is not None:
            reply.speculative = False

    @Manager.event_handler(ReplyTextDelta, priority=20)
    def on_delta(self, event: ReplyTextDelta) -> None:
        reply = self._reply(event.turn_id)
        if reply.cancelled or not self._streaming:
            return
        for clause in reply.splitter.push(event.delta):
            self._enqueue(reply, clause)

    @Manager.event_handler(SpeechSynthesisRequested, priority=20)
    def on_say(self, event: SpeechSynthesisRequested) -> None:
        reply = self._reply(event.turn_id)
        if not reply.cancelled and event.text.strip():
            self._enqueue(reply, event.text.strip())

    @Manager.event_handler(ThinkingCueRequested, priority=20)
    def on_cue(self, event: ThinkingCueRequested) -> None:
        reply = self._replies.get(event.turn_id)
        if reply is not None and not reply.cancelled and not reply.queued \
                and event.text.strip():
            self._enqueue(reply, _Cue(event.text.strip()))

    @Manager.event_handler(ReplyTextCompleted, priority=20)
    def on_completed(self, event: ReplyTextCompleted) -> None:
        reply = self._reply(event.turn_id)
        if reply.cancelled:
            return
        if self._streaming:
            rest = reply.splitter.flush()
        else:
            rest = [event.text] if event.text.strip() else []
        for clause in rest:
            self._enqueue(reply, clause)
        self._enqueue(reply, _END)

    @Manager.event_handler(GenerationCancelRequested, priority=20)
    def on_cancel(self, event: GenerationCancelRequested) -> None:
        self._cancel(event.turn_id)

    @Manager.event_handler(PlaybackStopped, priority=20)
    def on_stopped(self, event: PlaybackStopped) -> None:
        self._cancel(event.turn_id)

    def _cancel(self, turn_id: int | None) -> None:
        """Cancel the reply of ``turn_id`` (all with ``None``): its queued clauses are
        skipped, and text that still arrives for it is dropped."""
        for reply in list(self._replies.values()):
            if turn_id is None or reply.turn_id == turn_id:
                reply.cancelled = True
                del self._replies[reply.turn_id]
                self._cancelled.append(reply.turn_id)
        if turn_id is not None and turn_id not in self._cancelled:
            self._cancelled.append(turn_id)

    # ------------------------------------------------------------------ synthesis
    async def _work_loop(self) -> None:
        while True:
            reply, item = await self._work.get()
            if item is _END and self._replies.get(reply.turn_id) is reply:
                del self._replies[reply.turn_id]
            if reply.cancelled:
                continue
            if item is _END:
                await self.publish(TTSReplyCompleted(session_id=self.session_id,
                                                     turn_id=reply.turn_id,
                                                     chunk_count=reply.chunks))
                continue
            try:
                if isinstance(item, _Cue):
                    await self._speak_cue(reply, item.text)
                else:
                    await self._synthesize(reply, str(item))
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("speech synthesis failed for turn %s", reply.turn_id)
                await self.publish(ErrorOccurred(
                    session_id=self.session_id, code="tts_failed",
                    message="Speech synthesis failed for part of the reply.", source="tts"))

    async def _speak_cue(self, reply: _Reply, text: str) -> None:
        """The cue as one chunk: synthesised and trimmed once, then reused."""
        key = (text, self.speed)
        if key not in self._cue_audio:
            model = self.model
            if model is None:
                return
            pieces = await asyncio.to_thread(lambda: [
                (np.asarray(pcm, dtype=np.int16), model.sample_rate)
                for pcm in model.synthesize(text)])
            rates = {rate for _, rate in pieces}
            if len(rates) != 1:
                return  # nothing said (or a voice switch mid-way): no cue this time
            rate = rates.pop()
            pcm = trim_silence(np.concatenate([p for p, _ in pieces]), rate)
            self._cue_audio[key] = (self._apply_speed(pcm, rate), rate)
        pcm, rate = self._cue_audio[key]
        if reply.cancelled or pcm.size == 0:
            return
        await self.publish(TTSChunkReady(
            session_id=self.session_id, turn_id=reply.turn_id, chunk_index=reply.chunks,
            pcm=pcm, sample_rate=rate, text=text, speculative=reply.speculative, cue=True))
        reply.chunks += 1

    async def _synthesize(self, reply: _Reply, text: str) -> None:
        model = self.model
        if model is None:
            return
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[object] = asyncio.Queue()

        def produce() -> None:  # worker thread: only hands results to the loop
            try:
                for pcm in model.synthesize(text):
                    if reply.cancelled:
                        break
                    # the rate is read as the chunk is made (a voice switch may change it)
                    loop.call_soon_threadsafe(chunks.put_nowait, (pcm, model.sample_rate))
            except Exception as exc:
                loop.call_soon_threadsafe(chunks.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(chunks.put_nowait, _END)

        producer = loop.run_in_executor(None, produce)
        try:
            while True:
                item = await chunks.get()
                if item is _END:
                    break
                if isinstance(item, Exception):
                    raise item
                if reply.cancelled:
                    continue
                raw, rate = item  # type: ignore[misc]
                pcm = self._apply_speed(np.asarray(raw, dtype=np.int16), rate)
                await self.publish(TTSChunkReady(
                    session_id=self.session_id, turn_id=reply.turn_id,
                    chunk_index=reply.chunks, pcm=pcm, sample_rate=rate, text=text,
                    speculative=reply.speculative))
                reply.chunks += 1
        finally:
            await producer

    def _apply_speed(self, pcm: np.ndarray, sample_rate: int) -> np.ndarray:
        controller = self.pipeline.get_speed_controller()
        if controller is None or abs(self.speed - 1.0) < 1e-3 or self._model_speed:
            return pcm
        return controller.apply(pcm, sample_rate, self.speed)

    # ------------------------------------------------------------------ voice settings
    async def _change(self, what: str, apply: Callable[[TTS], None],
                      done: BaseEvent) -> bool:
        """Apply a voice setting to the model; report success (``done``) or why not."""
        try:
            if self.model is None:
                raise UnsupportedFeatureError("no speech synthesis is configured")
            apply(self.model)
        except (UnsupportedFeatureError, ValueError) as exc:
            await self.publish(ErrorOccurred(session_id=self.session_id, code="unsupported",
                                             message=f"{what} not changed: {exc}",
                                             source="tts"))
            return False
        self._cue_audio.clear()  # spoken in the old voice
        await self.publish(done)
        return True

    @Manager.event_handler(ModelChangeRequested)
    async def on_model_change(self, event: ModelChangeRequested) -> None:
        if event.kind != "tts":
            return
        model_type = str(event.params.get("model_type", ""))
        config = dict(event.params.get("config") or {})
        try:
            await asyncio.to_thread(self.pipeline.set_tts_model, model_type, config)
        except (ValueError, AttributeError) as exc:
            self.log.info("TTS model change refused: %s", exc)
            await self.publish(ErrorOccurred(
                session_id=self.session_id, code="invalid_model",
                message=f"Cannot switch speech synthesis to {model_type!r}.", source="tts"))
            return
        if abs(self.speed - 1.0) > 1e-3 and self.model is not None:
            try:  # the session's speed carries over to the new model
                self._give_speed(self.model, self.speed)
            except (UnsupportedFeatureError, ValueError) as exc:
                self.log.info("speed %.2f not applied to %s: %s", self.speed, model_type, exc)
                self.speed, self._model_speed = 1.0, False
        self._cue_audio.clear()
        await self.publish(ModelChanged(session_id=self.session_id, kind="tts",
                                        name=model_type))

    @Manager.event_handler(VoiceChangeRequested)
    async def on_voice(self, event: VoiceChangeRequested) -> None:
        await self._change("Voice", lambda m: m.set_voice(event.voice_name),
                           VoiceChanged(session_id=self.session_id, name=event.voice_name))

    @Manager.event_handler(EmotionChangeRequested)
    async def on_emotion(self, event: EmotionChangeRequested) -> None:
        await self._change(
            "Emotion", lambda m: m.set_emotion(event.emotion_name, event.emotion_vector),
            EmotionChanged(session_id=self.session_id, name=event.emotion_name,
                           vector=event.emotion_vector))

    @Manager.event_handler(SessionStarted)
    async def on_session_started(self, event: SessionStarted) -> None:
        speed = self.setting("tts_speed", 1.0)
        if speed != 1.0:  # a bad value is refused like a client's (ErrorOccurred)
            await self.on_speed(SpeedChangeRequested(session_id=self.session_id,
                                                     speed=speed))

    @Manager.event_handler(SpeedChangeRequested)
    async def on_speed(self, event: SpeedChangeRequested) -> None:
        """The model's own speed control is preferred; a speed controller in the pipeline
        stretches the audio of models that have none."""
        if await self._change("Speed", lambda m: self._give_speed(m, event.speed),
                              SpeedChanged(session_id=self.session_id, speed=event.speed)):
            self.speed = event.speed

    def _give_speed(self, model: TTS, speed: float) -> None:
        """Hand ``speed`` to the model, or leave it to the pipeline's speed controller."""
        try:
            model.set_speed(speed)
            self._model_speed = True
        except UnsupportedFeatureError:
            if self.pipeline.get_speed_controller() is None:
                raise
            self._model_speed = False

    @Manager.event_handler(SessionStopping)
    async def on_stopping(self, event: SessionStopping) -> None:
        await self.shutdown()

    async def shutdown(self) -> None:
        self._cancel(None)
        worker, self._worker = self._worker, None
        if worker is not None and not worker.done():
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await worker
