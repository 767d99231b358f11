"""Typed events exchanged on a session's :class:`~xtalk.serving.event_bus.EventBus`.

Events are the only coupling between managers. Names follow one rule: facts are in the
past tense (``SpeechStarted``, ``TranscriptFinalized``), commands end in ``Requested``
(``PlaybackPauseRequested``). Each class has a stable dotted ``TYPE`` string used by the
bus for subscriptions and by the history filters.

The events are grouped the way a conversation flows::

    audio in  ->  VAD  ->  turn-taking  ->  ASR  ->  agent  ->  TTS  ->  playback
                                                               \\-> latency metrics

Audio positions are given in samples of the session's 16 kHz input stream (``*_sample``)
so that an utterance is an exact slice of the input, whatever order events arrive in.
Times named ``*_time`` are :func:`time.monotonic` seconds.
"""

from __future__ import annotations

import copy
import dataclasses
import keyword
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np


@dataclass
class BaseEvent:
    """Base dataclass for all Xtalk events.

    Attributes:
        session_id: Session identifier associated with the event.
        timestamp: Unix time recorded when the event instance was created.
        monotonic: :func:`time.monotonic` at creation, for latency measurements.
        TYPE: Stable event type string used by the event bus.
    """

    session_id: str
    timestamp: float = field(init=False)
    monotonic: float = field(init=False, repr=False, compare=False)
    TYPE: ClassVar[str] = "base"

    def __post_init__(self) -> None:
        self.timestamp = time.time()
        self.monotonic = time.monotonic()

    def event_type(self) -> str:
        """Return the bus type string of this event."""
        return type(self).TYPE


_RESERVED_FIELDS = frozenset({"session_id", "timestamp", "monotonic", "TYPE", "event_type"})


def create_event_class(
    *, name: str, fields: dict[str, Any] | None = None, type_name: str | None = None
) -> type[BaseEvent]:
    """Create a :class:`BaseEvent` subclass dynamically.

    Args:
        name: Class name of the generated dataclass.
        fields: Field names mapped to default values; each field's type is inferred from
            its default. Mutable defaults (lists, dicts, sets) are copied per instance.
        type_name: Event bus type string; defaults to ``name.lower()``.

    Returns:
        A new dataclass type inheriting from :class:`BaseEvent`.

    Raises:
        ValueError: If ``name`` is not an identifier or a field name is invalid.
    """
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"event class name must be an identifier, got {name!r}")
    spec: list[tuple[str, Any, Any]] = []
    for field_name, default in (fields or {}).items():
        if not field_name.isidentifier() or keyword.iskeyword(field_name) \
                or field_name in _RESERVED_FIELDS:
            raise ValueError(f"invalid or reserved event field name {field_name!r}")
        annotation: Any = Any if default is None else type(default)
        if isinstance(default, list | dict | set):
            spec.append(
                (field_name, annotation, field(default_factory=lambda d=default: copy.copy(d)))
            )
        else:
            spec.append((field_name, annotation, field(default=default)))
    cls = dataclasses.make_dataclass(name, spec, bases=(BaseEvent,))
    cls.TYPE = type_name or name.lower()
    return cls


# --------------------------------------------------------------------------- session
@dataclass
class SessionStarted(BaseEvent):
    """A live session was accepted and its managers are running."""

    user_id: str | None = None
    TYPE: ClassVar[str] = "session.started"


@dataclass
class SessionStopping(BaseEvent):
    """The session is shutting down (client left or server stopping)."""

    reason: str = ""
    TYPE: ClassVar[str] = "session.stopping"


@dataclass
class ErrorOccurred(BaseEvent):
    """Something failed. ``code`` is a stable machine-readable code; ``message`` is safe
    to show to a client (never a raw traceback)."""

    code: str = "internal_error"
    message: str = ""
    source: str = ""
    depth: int = 0
    fatal: bool = False
    TYPE: ClassVar[str] = "error"


@dataclass
class ClientMessageReceived(BaseEvent):
    """A validated control message from the client that no manager-specific event covers
    (conversation_start/end, clock_sync, ...)."""

    action: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    TYPE: ClassVar[str] = "client.message"


@dataclass
class OutboundMessageRequested(BaseEvent):
    """Send a raw JSON message to the client (used for replies that have no event of
    their own, e.g. ``pong``)."""

    message: dict[str, Any] = field(default_factory=dict)
    TYPE: ClassVar[str] = "client.send_requested"


# --------------------------------------------------------------------------- audio in
@dataclass
class InputFrame(BaseEvent):
    """A block of canonical input audio (PCM16 mono 16 kHz) at one stage of the input chain.

    ``start_sample`` is the position of the first sample in the session's input stream;
    ``received_time`` is when it arrived (monotonic).
    """

    pcm: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    start_sample: int = 0
    received_time: float = 0.0
    source: str = "websocket"
    TYPE: ClassVar[str] = "audio.frame"  # never published: the stages below are

    def staged(self, stage: type[_Frame], pcm: np.ndarray) -> _Frame:
        """This block at the next ``stage`` of the chain, now holding ``pcm``."""
        return stage(session_id=self.session_id, pcm=pcm, start_sample=self.start_sample,
                     received_time=self.received_time, source=self.source)


_Frame = TypeVar("_Frame", bound=InputFrame)


@dataclass
class AudioFrameReceived(InputFrame):
    """A block of canonical input audio as the conversation hears it: PCM16 mono 16 kHz.

    ``start_sample`` is the position of the first sample in the session's input stream;
    ``received_time`` is when it arrived (monotonic). With a speech enhancer in the
    pipeline this is the enhanced frame (see :class:`AudioFrameCaptured`).
    """

    TYPE: ClassVar[str] = "audio.frame_received"


@dataclass
class AudioFrameCaptured(InputFrame):
    """A block of canonical input audio before the speech enhancer and the wake word
    (published only when the pipeline has either); the enhancer manager turns it into
    AudioFrameEnhanced / AudioFrameReceived, else the wake-word manager handles it."""

    TYPE: ClassVar[str] = "audio.frame_captured"


@dataclass
class AudioFrameEnhanced(InputFrame):
    """A block of canonical input audio after the speech enhancer, published only when the
    pipeline also has a wake word: the wake-word manager turns it into AudioFrameReceived."""

    TYPE: ClassVar[str] = "audio.frame_enhanced"


@dataclass
class WakeWordDetected(BaseEvent):
    """The wake phrase ended at ``end_sample`` (``score``: the detector's): the user's
    audio is heard from the next sample on (``wake_word_detected`` on the wire)."""

    phrase: str = ""
    score: float = 0.0
    end_sample: int = 0
    TYPE: ClassVar[str] = "audio.wake_word_detected"


@dataclass
class WakeWordAwaited(BaseEvent):
    """Nothing of the user's audio is heard until ``phrase`` (``wake_word_waiting`` on the
    wire): at the session's start, and when the follow-up window ran out (``reason``:
    ``"start"`` / ``"timeout"``)."""

    phrase: str = ""
    reason: str = "start"
    TYPE: ClassVar[str] = "audio.wake_word_awaited"


@dataclass
class DirectAudioSubmitted(BaseEvent):
    """Audio from a non-WebSocket source (desktop microphone, file) in any format.

    ``samples`` is int16 or float32 (range -1..1), shape ``(n,)`` or ``(n, channels)``.
    The DirectAudioManager converts it to the canonical format.
    """

    samples: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    sample_rate: int = 16000
    source: str = "direct"
    TYPE: ClassVar[str] = "audio.direct_submitted"


@dataclass
class RecordingSaved(BaseEvent):
    """The RecordingManager wrote the session's input audio to ``path``."""

    path: str = ""
    TYPE: ClassVar[str] = "audio.recording_saved"


# --------------------------------------------------------------------------- VAD
@dataclass
class SpeechStarted(BaseEvent):
    """Voice activity began at ``start_sample`` (``source`` is ``server`` or ``client``)."""

    start_sample: int = 0
    source: str = "server"
    TYPE: ClassVar[str] = "vad.speech_started"


@dataclass
class SpeechOnsetDetected(BaseEvent):
    """A frame at ``start_sample`` scored as speech, before the segmenter's
    ``min_speech_s`` confirmed it: speech may be starting. A playing reply pauses at once
    (barge-in one frame earlier); SpeechStarted or SpeechOnsetDismissed follows."""

    start_sample: int = 0
    TYPE: ClassVar[str] = "vad.speech_onset_detected"


@dataclass
class SpeechOnsetDismissed(BaseEvent):
    """The frames after a SpeechOnsetDetected were not speech (a click, a blip): nothing
    started."""

    TYPE: ClassVar[str] = "vad.speech_onset_dismissed"


@dataclass
class SpeechEnded(BaseEvent):
    """Voice activity ended at ``end_sample`` (followed by the minimum silence).

    ``end_time`` is the monotonic time at which the last speech sample arrived: the
    reference point for end-to-end latency. ``reason`` is e.g. ``silence`` or ``muted``.
    """

    end_sample: int = 0
    end_time: float = 0.0
    source: str = "server"
    reason: str = "silence"
    TYPE: ClassVar[str] = "vad.speech_ended"


@dataclass
class SpeechPaused(BaseEvent):
    """Silence began at ``pause_sample`` inside speech; the turn may be ending (the ASR
    starts its final decode speculatively)."""

    pause_sample: int = 0
    TYPE: ClassVar[str] = "vad.speech_paused"


@dataclass
class SpeechResumed(BaseEvent):
    """Speech came back before the silence was long enough to end the segment."""

    TYPE: ClassVar[str] = "vad.speech_resumed"


@dataclass
class ClientVADSignalled(BaseEvent):
    """The client's own VAD reported speech start (``kind="start"``) or end (``"end"``);
    placed on the input timeline by the VAD manager."""

    kind: str = "start"
    reason: str = ""
    TYPE: ClassVar[str] = "vad.client_signalled"


@dataclass
class SpeechLevelMeasured(BaseEvent):
    """Per-frame speech probability and level, for meters."""

    probability: float = 0.0
    rms: float = 0.0
    TYPE: ClassVar[str] = "vad.level"


# --------------------------------------------------------------------------- turns
@dataclass
class UserTurnStarted(BaseEvent):
    """A candidate user turn began; every later event of it carries ``turn_id``.

    ``continues_turn``: the user went on right after turn X, whose reply had barely begun;
    ``continues_from`` is where X's audio starts, so the turn can also be recognised as
    one request with it (``TranscriptFinalized.whole_text``) and replace X
    (:class:`UserTurnMerged`)."""

    turn_id: int = 0
    start_sample: int = 0
    continues_turn: int | None = None
    continues_from: int | None = None
    TYPE: ClassVar[str] = "turn.user_started"


@dataclass
class TurnEndCheckRequested(BaseEvent):
    """Ask the turn detector whether the user finished speaking."""

    turn_id: int = 0
    end_sample: int = 0
    text: str = ""
    TYPE: ClassVar[str] = "turn.end_check_requested"


@dataclass
class TurnEndDecided(BaseEvent):
    """The turn detector's verdict: end now, or wait ``wait_s`` more for speech."""

    turn_id: int = 0
    is_end: bool = True
    wait_s: float = 0.0
    TYPE: ClassVar[str] = "turn.end_decided"


@dataclass
class UserTurnEnded(BaseEvent):
    """The user's turn ended at ``end_sample``: recognise it for good."""

    turn_id: int = 0
    end_sample: int = 0
    speech_end_time: float = 0.0
    TYPE: ClassVar[str] = "turn.user_ended"


@dataclass
class ReplySpeculationRequested(BaseEvent):
    """Prepare the reply to ``text`` (the speculative transcript of turn ``turn_id``)
    without letting anything of it out until the turn is accepted with the same text."""

    turn_id: int = 0
    text: str = ""
    TYPE: ClassVar[str] = "turn.speculation_requested"


@dataclass
class SpeculationConfirmed(BaseEvent):
    """The accepted turn ``turn_id`` is the one its speculative reply was prepared for:
    the held reply goes out now."""

    turn_id: int = 0
    TYPE: ClassVar[str] = "turn.speculation_confirmed"


@dataclass
class BackchannelHeard(BaseEvent):
    """The user said only a backchannel ("mm-hmm", "yeah", "okay") or a lone word that
    takes no floor (``xtalk.text.backchannels.leaves_the_floor``) while a reply played:
    turn ``turn_id`` is not a request, and the paused reply goes on."""

    turn_id: int = 0
    text: str = ""
    TYPE: ClassVar[str] = "turn.backchannel"


@dataclass
class UserTurnMerged(BaseEvent):
    """Turn ``turn_id`` was not finished: the user went on, and turn ``into_turn_id``,
    saying the whole request (``text``), replaces it. Its transcript and reply leave the
    conversation, the store and the client's view; delivered after the new speech's
    final transcript and before ``into_turn_id`` is accepted."""

    turn_id: int = 0
    into_turn_id: int = 0
    text: str = ""
    TYPE: ClassVar[str] = "turn.merged"


@dataclass
class UserTextSubmitted(BaseEvent):
    """The user typed a message instead of speaking."""

    text: str = ""
    TYPE: ClassVar[str] = "turn.text_submitted"


@dataclass
class UserTurnAccepted(BaseEvent):
    """A user turn was accepted as a request to answer (spoken or typed)."""

    turn_id: int = 0
    text: str = ""
    modality: str = "speech"
    TYPE: ClassVar[str] = "turn.accepted"


# --------------------------------------------------------------------------- ASR
@dataclass
class TranscriptPartial(BaseEvent):
    """An interim transcript of the turn in progress."""

    turn_id: int = 0
    text: str = ""
    TYPE: ClassVar[str] = "asr.partial"


@dataclass
class TranscriptSpeculated(BaseEvent):
    """The transcript of the turn up to the pause at ``end_sample``, decoded while the
    user is silent there: what the final will be if the turn ends at this pause."""

    turn_id: int = 0
    text: str = ""
    end_sample: int = 0
    TYPE: ClassVar[str] = "asr.speculated"


@dataclass
class TranscriptFinalized(BaseEvent):
    """The final transcript of a turn; ``whole_text``: for a turn that continues another
    (``UserTurnStarted.continues_from``), the transcript from that turn's start."""

    turn_id: int = 0
    text: str = ""
    confidence: float = 1.0
    audio_seconds: float = 0.0
    whole_text: str = ""
    TYPE: ClassVar[str] = "asr.final"


@dataclass
class UtteranceRejected(BaseEvent):
    """The turn's audio was not valid speech (noise, hallucination, empty)."""

    turn_id: int = 0
    reason: str = ""
    TYPE: ClassVar[str] = "asr.rejected"


@dataclass
class CaptionUpdated(BaseEvent):
    """A non-speech audio caption (``caption_updated`` on the wire)."""

    turn_id: int = 0
    text: str = ""
    is_final: bool = True
    TYPE: ClassVar[str] = "caption.updated"


@dataclass
class SpeakerIdentified(BaseEvent):
    """The speaker of a turn was identified or changed."""

    turn_id: int = 0
    speaker_id: str = ""
    reason: str = ""
    TYPE: ClassVar[str] = "speaker.updated"


# --------------------------------------------------------------------------- agent
@dataclass
class GenerationRequested(BaseEvent):
    """Run the agent on ``messages`` (a snapshot of the conversation) for ``turn_id``.

    A ``speculative`` generation runs ahead of the turn's acceptance: its text is
    synthesised but nothing user-visible (wire, history, tool calls) happens before
    SpeculationConfirmed; GenerationCancelRequested discards it."""

    turn_id: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    speculative: bool = False
    TYPE: ClassVar[str] = "agent.generation_requested"


@dataclass
class GenerationCancelRequested(BaseEvent):
    """Stop the generation of ``turn_id`` (barge-in, new turn, session end).
    ``speculative``: it is a speculative reply being discarded (nothing of it went out,
    and the turn's real reply may still come)."""

    turn_id: int = 0
    reason: str = ""
    speculative: bool = False
    TYPE: ClassVar[str] = "agent.cancel_requested"


@dataclass
class ReplyTextDelta(BaseEvent):
    """New reply text; ``text`` is cumulative, ``delta`` the newly added part.
    ``speculative`` text is synthesised but not sent to the client."""

    turn_id: int = 0
    delta: str = ""
    text: str = ""
    speculative: bool = False
    TYPE: ClassVar[str] = "agent.text_delta"


@dataclass
class ReplyTextCompleted(BaseEvent):
    """The agent finished the reply text of ``turn_id`` (not sent when cancelled)."""

    turn_id: int = 0
    text: str = ""
    TYPE: ClassVar[str] = "agent.text_completed"


@dataclass
class ToolCalled(BaseEvent):
    """The agent called a tool."""

    turn_id: int = 0
    name: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    TYPE: ClassVar[str] = "agent.tool_called"


@dataclass
class ThoughtUpdated(BaseEvent):
    """Reasoning text the agent chose to expose."""

    turn_id: int = 0
    text: str = ""
    is_final: bool = False
    TYPE: ClassVar[str] = "agent.thought_updated"


@dataclass
class ConversationRestored(BaseEvent):
    """The conversation history was replaced by persisted ``messages``."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    TYPE: ClassVar[str] = "agent.conversation_restored"


@dataclass
class ConversationTurnCommitted(BaseEvent):
    """A message became part of the conversation history (for persistence)."""

    turn_id: int = 0
    role: str = ""
    content: str = ""
    interrupted: bool = False
    TYPE: ClassVar[str] = "agent.turn_committed"


@dataclass
class TextEmbeddingRequested(BaseEvent):
    """Store ``text`` for retrieval in this session."""

    text: str = ""
    TYPE: ClassVar[str] = "retrieval.embed_requested"


@dataclass
class DocumentChunksIndexed(BaseEvent):
    """Text chunks (with embedding vectors when an embeddings model exists) to search."""

    chunks: list[str] = field(default_factory=list)
    vectors: list[list[float]] | None = None
    TYPE: ClassVar[str] = "retrieval.chunks_indexed"


@dataclass
class MemoriesRecalled(BaseEvent):
    """The facts remembered about the session's user, all of them, oldest first (at the
    start of the session and whenever they change)."""

    facts: list[str] = field(default_factory=list)
    TYPE: ClassVar[str] = "knowledge.memories_recalled"


@dataclass
class RetrievalUpdated(BaseEvent):
    """Retrieved context for a turn (``retrieval_updated`` on the wire, unless it was
    retrieved for a ``speculative`` reply)."""

    turn_id: int = 0
    text: str = ""
    is_final: bool = True
    speculative: bool = False
    TYPE: ClassVar[str] = "retrieval.updated"


# --------------------------------------------------------------------------- TTS
@dataclass
class SpeechSynthesisRequested(BaseEvent):
    """Speak ``text`` as part of the reply of ``turn_id`` (one clause)."""

    turn_id: int = 0
    text: str = ""
    TYPE: ClassVar[str] = "tts.synthesis_requested"


@dataclass
class TTSChunkReady(BaseEvent):
    """A chunk of reply audio: PCM16 mono at ``sample_rate`` (the TTS model's own rate).

    ``text`` is the clause the chunk belongs to, ``chunk_index`` counts from 0 per reply.
    A ``speculative`` chunk is held until its turn's SpeculationConfirmed.
    """

    turn_id: int = 0
    chunk_index: int = 0
    pcm: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    sample_rate: int = 16000
    text: str = ""
    speculative: bool = False
    TYPE: ClassVar[str] = "tts.chunk_ready"


@dataclass
class TTSReplyCompleted(BaseEvent):
    """No more audio will be synthesised for ``turn_id``; ``chunk_count`` were made."""

    turn_id: int = 0
    chunk_count: int = 0
    TYPE: ClassVar[str] = "tts.reply_completed"


@dataclass
class VoiceChangeRequested(BaseEvent):
    voice_name: str = ""
    TYPE: ClassVar[str] = "tts.voice_change_requested"


@dataclass
class VoiceChanged(BaseEvent):
    name: str = ""
    TYPE: ClassVar[str] = "tts.voice_changed"


@dataclass
class EmotionChangeRequested(BaseEvent):
    emotion_name: str = ""
    emotion_vector: list[float] | None = None
    TYPE: ClassVar[str] = "tts.emotion_change_requested"


@dataclass
class EmotionChanged(BaseEvent):
    name: str = ""
    vector: list[float] | None = None
    TYPE: ClassVar[str] = "tts.emotion_changed"


@dataclass
class ModelChangeRequested(BaseEvent):
    """Switch the session's ``kind`` (``"tts"`` or ``"llm"``) model at run time.

    Only published for clients when the server allows client model changes."""

    kind: str = "tts"
    params: dict[str, Any] = field(default_factory=dict)
    TYPE: ClassVar[str] = "model.change_requested"


@dataclass
class ModelChanged(BaseEvent):
    kind: str = "tts"
    name: str = ""
    TYPE: ClassVar[str] = "model.changed"


@dataclass
class SpeedChangeRequested(BaseEvent):
    speed: float = 1.0
    TYPE: ClassVar[str] = "tts.speed_change_requested"


@dataclass
class SpeedChanged(BaseEvent):
    speed: float = 1.0
    TYPE: ClassVar[str] = "tts.speed_changed"


# --------------------------------------------------------------------------- playback
@dataclass
class PlaybackStarted(BaseEvent):
    """The reply of ``turn_id`` began playing (``start_tts`` on the wire)."""

    turn_id: int = 0
    TYPE: ClassVar[str] = "playback.started"


@dataclass
class AudioChunkSent(BaseEvent):
    """A reply chunk is handed to the client / local player now; ``text`` is the clause
    it speaks."""

    turn_id: int = 0
    chunk_index: int = 0
    pcm: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    sample_rate: int = 16000
    text: str = ""
    TYPE: ClassVar[str] = "playback.chunk_sent"


@dataclass
class AudioPlayed(BaseEvent):
    """The local speaker played ``pcm`` (PCM16 mono at ``sample_rate``) from
    ``start_time`` (monotonic; ``None``: now): an echo canceller's exact reference."""

    pcm: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    sample_rate: int = 16000
    start_time: float | None = None
    TYPE: ClassVar[str] = "playback.audio_played"


@dataclass
class PlaybackPauseRequested(BaseEvent):
    turn_id: int | None = None
    TYPE: ClassVar[str] = "playback.pause_requested"


@dataclass
class PlaybackResumeRequested(BaseEvent):
    turn_id: int | None = None
    TYPE: ClassVar[str] = "playback.resume_requested"


@dataclass
class PlaybackStopRequested(BaseEvent):
    turn_id: int | None = None
    reason: str = ""
    TYPE: ClassVar[str] = "playback.stop_requested"


@dataclass
class PlaybackPaused(BaseEvent):
    turn_id: int = 0
    TYPE: ClassVar[str] = "playback.paused"


@dataclass
class PlaybackResumed(BaseEvent):
    turn_id: int = 0
    TYPE: ClassVar[str] = "playback.resumed"


@dataclass
class PlaybackStopped(BaseEvent):
    """The reply of ``turn_id`` was cut off; ``heard_text`` is what the user heard."""

    turn_id: int = 0
    heard_text: str = ""
    reason: str = ""
    TYPE: ClassVar[str] = "playback.stopped"


@dataclass
class PlaybackFinished(BaseEvent):
    """No more audio of ``turn_id`` will be handed out (``tts_finished`` on the wire).

    ``interrupted`` is true when the reply was stopped before all of it was played.
    """

    turn_id: int = 0
    interrupted: bool = False
    TYPE: ClassVar[str] = "playback.finished"


@dataclass
class ReplyHeard(BaseEvent):
    """The reply of ``turn_id`` was heard to its end: all of it was sent and not stopped,
    and the client reported its queue drained, or its ``seconds`` of audio have had time to
    play (pauses excluded), or the next user turn began, or the session is stopping.
    Published once per such reply, after its PlaybackFinished (an interrupted reply gets
    PlaybackStopped with the ``heard_text`` instead)."""

    turn_id: int = 0
    seconds: float = 0.0
    TYPE: ClassVar[str] = "playback.heard"


@dataclass
class ChunkPlayed(BaseEvent):
    """The client / local player reports it played ``chunk_index``."""

    chunk_index: int = 0
    TYPE: ClassVar[str] = "playback.chunk_played"


@dataclass
class PlaybackDrained(BaseEvent):
    """The client / local player's queue ran dry after ``tts_finished``."""

    TYPE: ClassVar[str] = "playback.drained"


# --------------------------------------------------------------------------- metrics
@dataclass
class LatencyMeasured(BaseEvent):
    """Per-turn latency breakdown in milliseconds (``None`` when a stage did not run).

    ``speculation_saved_ms``: how much sooner the first audio was ready because the reply
    was prepared speculatively (``None`` when it was not)."""

    turn_id: int = 0
    endpoint_ms: float | None = None
    asr_ms: float | None = None
    llm_first_token_ms: float | None = None
    llm_sentence_ms: float | None = None
    tts_first_chunk_ms: float | None = None
    e2e_ms: float | None = None
    network_ms: float | None = None
    speculation_saved_ms: float | None = None
    TYPE: ClassVar[str] = "metrics.latency"


@dataclass
class ClockSynced(BaseEvent):
    """The client's clock offset estimate (seconds, client minus server)."""

    offset_s: float = 0.0
    rtt_s: float = 0.0
    TYPE: ClassVar[str] = "metrics.clock_synced"


__all__ = [name for name, obj in list(globals().items()) if isinstance(obj, type)
           and issubclass(obj, BaseEvent)] + ["create_event_class"]
