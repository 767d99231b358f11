"""The engine inside the desktop app: the host, its phases, its messages, LAN access."""

from app.engine.host import STATES, EngineHost
from app.engine.messages import (
    EngineError,
    EngineMessage,
    EngineStateChanged,
    ReplyAudio,
    ReplySpoken,
    ServerMessage,
    SpeechLevel,
)
from app.engine.phase import Shown

__all__ = ["STATES", "EngineError", "EngineHost", "EngineMessage", "EngineStateChanged",
           "ReplyAudio", "ReplySpoken", "ServerMessage", "Shown", "SpeechLevel"]
