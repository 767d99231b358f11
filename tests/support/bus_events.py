"""What the EventBus tests share: a speech event, a handler that fails with a secret in
its message, and a bus whose speech handler fails while its errors are collected."""

from __future__ import annotations

from xtalk.serving.event_bus import EventBus
from xtalk.serving.events import BaseEvent, ErrorOccurred, SpeechStarted

SECRET = "secret-token-1234 do not leak"


def speech(i: int = 0, session_id: str = "s1") -> SpeechStarted:
    return SpeechStarted(session_id=session_id, start_sample=i)


class Boom(RuntimeError):
    pass


def failing_handler(event: BaseEvent) -> None:
    raise Boom(SECRET)


def failing_bus() -> tuple[EventBus, list[ErrorOccurred]]:
    """A bus whose SpeechStarted handler fails, and the error events it publishes."""
    bus = EventBus()
    errors: list[ErrorOccurred] = []
    bus.subscribe(ErrorOccurred, errors.append)
    bus.subscribe(SpeechStarted, failing_handler)
    return bus, errors
