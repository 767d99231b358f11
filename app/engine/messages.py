"""What the engine host tells its listeners (the window, the speaker, the headless runner).

Every message has an ``action``: the session's protocol messages
(:class:`~xtalk.client.wire.ServerMessage`, ``docs/protocol.md``) and reply audio
(:class:`~xtalk.client.wire.ReplyAudio`, ``"audio"``, at the speaker's rate) as the session
sends them, and the host's own messages below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from app.engine.phase import Shown
from xtalk.client.wire import ReplyAudio, ServerMessage


class EngineError(RuntimeError):
    """The engine cannot do what was asked (not started, no store, session in use...)."""


@dataclass(frozen=True)
class EngineStateChanged:
    """The state shown to the user changed."""

    state: Shown
    detail: str = ""
    action: ClassVar[str] = "engine_state"


@dataclass(frozen=True)
class SpeechLevel:
    """The microphone's speech probability and loudness (RMS, 0..1) for a meter."""

    probability: float
    rms: float
    action: ClassVar[str] = "speech_level"


@dataclass(frozen=True)
class ReplySpoken:
    """The speaker played reply chunk ``chunk_index``, which speaks ``text``."""

    turn_id: int | None
    chunk_index: int
    text: str
    action: ClassVar[str] = "reply_spoken"


EngineMessage = ServerMessage | ReplyAudio | EngineStateChanged | SpeechLevel | ReplySpoken

__all__ = ["EngineError", "EngineMessage", "EngineStateChanged", "ReplyAudio", "ReplySpoken",
           "ServerMessage", "SpeechLevel"]
