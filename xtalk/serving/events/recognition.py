"""Recognition events: partial, speculative and final transcripts, rejected utterances."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xtalk.serving.events import BaseEvent


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
    user is silent there: what the final will be if the turn ends at this pause.
    ``last_word_probability``: the recogniser's certainty of its last word, if known."""

    turn_id: int = 0
    text: str = ""
    end_sample: int = 0
    last_word_probability: float | None = None
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


__all__ = [name for name, obj in list(globals().items())
           if isinstance(obj, type) and issubclass(obj, BaseEvent) and obj is not BaseEvent]
