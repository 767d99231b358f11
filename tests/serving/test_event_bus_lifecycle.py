"""Tests of :class:`xtalk.serving.event_bus.EventBus`: its counters and shutdown."""

from __future__ import annotations

import asyncio

from bus_events import failing_handler, speech

from xtalk.serving.event_bus import EventBus
from xtalk.serving.events import (
    BaseEvent,
    SpeechEnded,
    SpeechStarted,
)


# --------------------------------------------------------------------------- stats
async def test_get_stats_keys_and_counts() -> None:
    bus = EventBus()

    def ok(event: BaseEvent) -> None:
        pass

    bus.subscribe(SpeechStarted, ok)
    bus.subscribe(SpeechStarted, failing_handler)
    bus.subscribe(SpeechEnded, ok)
    stats = bus.get_stats()
    for key in ("published", "dispatched", "handler_errors", "subscriptions"):
        assert key in stats
    assert stats["published"] == 0
    assert stats["dispatched"] == 0
    assert stats["handler_errors"] == 0
    assert stats["subscriptions"] == {"vad.speech_started": 2, "vad.speech_ended": 1}

    await bus.publish(speech(), wait_for_completion=True)
    await bus.publish(SpeechEnded(session_id="s1"))
    await bus.drain()
    stats = bus.get_stats()
    assert stats["published"] == 3  # two events plus the error event
    assert stats["dispatched"] == 3
    assert stats["handler_errors"] == 1
    assert stats["handled"] == 2
    assert stats["error_events"] == 1
    assert stats["queued"] == 0


def test_stats_subscriptions_drop_empty_types() -> None:
    bus = EventBus()

    def handler(event: BaseEvent) -> None:
        pass

    bus.subscribe(SpeechStarted, handler)
    bus.unsubscribe(SpeechStarted, handler)
    assert bus.get_stats()["subscriptions"] == {}


# --------------------------------------------------------------------------- shutdown
async def test_shutdown_then_publish_returns_false() -> None:
    bus = EventBus(enable_history=True)
    calls: list[BaseEvent] = []
    bus.subscribe(SpeechStarted, calls.append)
    await bus.publish(speech(0))
    await bus.drain()
    assert len(calls) == 1

    await bus.shutdown()
    assert bus.get_stats()["closed"] is True
    assert await bus.publish(speech(1)) is False
    assert await bus.publish(speech(2), wait_for_completion=True) is False
    await asyncio.sleep(0.01)
    assert len(calls) == 1
    assert len(bus.get_history()) == 1
    assert bus.get_stats()["dropped_after_shutdown"] == 2


async def test_shutdown_twice_is_fine() -> None:
    bus = EventBus()
    await bus.publish(speech())
    await bus.shutdown()
    await bus.shutdown()
    assert await bus.publish(speech()) is False


async def test_shutdown_unused_bus() -> None:
    bus = EventBus()
    await bus.shutdown()
    assert await bus.publish(speech(), wait_for_completion=True) is False


async def test_shutdown_drops_queued_events_and_cancels_running_handler() -> None:
    bus = EventBus()
    started: list[int] = []
    finished: list[int] = []

    async def slow(event: SpeechStarted) -> None:
        started.append(event.start_sample)
        await asyncio.sleep(10)
        finished.append(event.start_sample)

    bus.subscribe(SpeechStarted, slow)
    for i in range(3):
        await bus.publish(speech(i))
    await asyncio.sleep(0.01)
    assert started == [0]
    await asyncio.wait_for(bus.shutdown(), timeout=2.0)
    await asyncio.sleep(0.01)
    assert started == [0]
    assert finished == []


async def test_shutdown_from_inside_a_handler_stops_dispatching() -> None:
    """A handler that shuts the bus down (e.g. the session ending on a client message)
    must not see queued events dispatched afterwards: shutdown drops queued events."""
    bus = EventBus()
    seen: list[int] = []

    async def handler(event: SpeechStarted) -> None:
        seen.append(event.start_sample)
        if event.start_sample == 0:
            await bus.shutdown()

    bus.subscribe(SpeechStarted, handler)
    for i in range(3):
        await bus.publish(speech(i))
    await asyncio.sleep(0.05)
    assert seen == [0]
    assert bus.get_stats()["subscriptions"] == {}


async def test_handler_raising_cancelled_error_does_not_stall_later_events() -> None:
    """A handler awaiting a task that someone else cancelled raises CancelledError
    although the bus itself was not cancelled; later queued events must still be
    dispatched (and drain must not return while events are still queued)."""
    bus = EventBus()
    seen: list[int] = []

    async def handler(event: SpeechStarted) -> None:
        seen.append(event.start_sample)
        if event.start_sample == 0:
            task = asyncio.ensure_future(asyncio.sleep(10))
            await asyncio.sleep(0)
            task.cancel()
            await task  # raises CancelledError in the handler

    bus.subscribe(SpeechStarted, handler)
    for i in range(3):
        await bus.publish(speech(i))
    await asyncio.wait_for(bus.drain(), timeout=2.0)
    await asyncio.sleep(0.01)
    assert seen == [0, 1, 2]
    assert bus.get_stats()["queued"] == 0
