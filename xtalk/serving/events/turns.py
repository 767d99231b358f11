"""Turn-taking events: user turns started, judged, ended, accepted, merged; backchannels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xtalk.serving.events import BaseEvent


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
    """The turn detector's verdict: end now, or wait ``wait_s`` more for speech.
    ``at_sample``: how far the input audio had reached when it was decided (``None``:
    not known)."""

    turn_id: int = 0
    is_end: bool = True
    wait_s: float = 0.0
    at_sample: int | None = None
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


__all__ = [name for name, obj in list(globals().items())
           if isinstance(obj, type) and issubclass(obj, BaseEvent) and obj is not BaseEvent]
