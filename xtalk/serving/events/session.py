"""Session events: start and stop, client info and requests, outbound messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from xtalk.serving.events import BaseEvent


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


__all__ = [name for name, obj in list(globals().items())
           if isinstance(obj, type) and issubclass(obj, BaseEvent) and obj is not BaseEvent]
