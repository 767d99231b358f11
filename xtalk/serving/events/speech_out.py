"""Speech out: synthesis, voices and models, playback of the reply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from xtalk.serving.events import BaseEvent


# --------------------------------------------------------------------------- TTS
@dataclass
class SpeechSynthesisRequested(BaseEvent):
    """Speak ``text`` as part of the reply of ``turn_id`` (one clause)."""

    turn_id: int = 0
    text: str = ""
    TYPE: ClassVar[str] = "tts.synthesis_requested"


@dataclass
class ThinkingCueRequested(BaseEvent):
    """Say ``text`` ("Hmm.") as the start of the reply of ``turn_id``: the language model
    is slow to begin. Its audio is reply audio, but not reply text (never in history)."""

    turn_id: int = 0
    text: str = ""
    TYPE: ClassVar[str] = "tts.thinking_cue_requested"


@dataclass
class TTSChunkReady(BaseEvent):
    """A chunk of reply audio: PCM16 mono at ``sample_rate`` (the TTS model's own rate).

    ``text`` is the clause the chunk belongs to, ``chunk_index`` counts from 0 per reply.
    A ``speculative`` chunk is held until its turn's SpeculationConfirmed; a ``cue`` chunk
    speaks a thinking cue, not the model's words.
    """

    turn_id: int = 0
    chunk_index: int = 0
    pcm: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    sample_rate: int = 16000
    text: str = ""
    speculative: bool = False
    cue: bool = False
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
    it speaks (``cue``: a thinking cue's)."""

    turn_id: int = 0
    chunk_index: int = 0
    pcm: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    sample_rate: int = 16000
    text: str = ""
    cue: bool = False
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


__all__ = [name for name, obj in list(globals().items())
           if isinstance(obj, type) and issubclass(obj, BaseEvent) and obj is not BaseEvent]
