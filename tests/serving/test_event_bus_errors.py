"""Tests of :class:`xtalk.serving.event_bus.EventBus`: failing handlers become sanitised,
rate-limited error events, and a handler that stalls the bus is named."""

from __future__ import annotations

import asyncio

import pytest
from bus_events import SECRET, Boom, failing_bus, failing_handler, speech

from xtalk.serving.event_bus import EventBus
from xtalk.serving.events import (
    BaseEvent,
    ErrorOccurred,
    SpeechEnded,
    SpeechStarted,
)


# --------------------------------------------------------------------------- errors
async def test_failing_handler_produces_sanitised_error_event() -> None:
    bus, errors = failing_bus()
    await bus.publish(speech(session_id="sess-9"))
    await bus.drain()

    assert len(errors) == 1
    err = errors[0]
    assert isinstance(err, ErrorOccurred)
    assert err.TYPE == "error"
    assert err.event_type() == "error"
    assert err.session_id == "sess-9"
    assert err.depth == 1
    assert err.message
    assert SECRET not in err.message
    assert "Traceback" not in err.message
    assert "Boom" not in err.message
    assert 'File "' not in err.message
    stats = bus.get_stats()
    assert stats["handler_errors"] == 1
    assert stats["error_events"] == 1


async def test_error_event_subscribed_by_string() -> None:
    bus = EventBus()
    errors: list[BaseEvent] = []
    bus.subscribe("error", errors.append)
    bus.subscribe(SpeechStarted, failing_handler)
    assert await bus.publish(speech(), wait_for_completion=True) is False
    await bus.drain()
    assert len(errors) == 1


async def test_failing_handler_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    bus.subscribe(SpeechStarted, failing_handler)
    with caplog.at_level("ERROR", logger="xtalk.serving.event_bus"):
        await bus.publish(speech(), wait_for_completion=True)
    assert any(r.exc_info for r in caplog.records)


async def test_failing_error_handler_does_not_loop_forever() -> None:
    bus = EventBus()
    depths: list[int] = []

    def bad_error_handler(event: ErrorOccurred) -> None:
        depths.append(event.depth)
        raise Boom("error handler broken")

    bus.subscribe(ErrorOccurred, bad_error_handler)
    bus.subscribe(SpeechStarted, failing_handler)
    await bus.publish(speech())
    await asyncio.wait_for(bus.drain(), timeout=5.0)
    await asyncio.sleep(0.02)
    await bus.drain()

    assert len(depths) == EventBus.MAX_ERROR_EVENT_DEPTH == 3
    assert depths == [1, 2, 3]
    stats = bus.get_stats()
    assert stats["error_events"] == 3
    assert stats["error_events_dropped_depth"] == 1
    assert stats["handler_errors"] == 4  # the original one + one per error event


async def test_failing_error_handler_with_wait_for_completion() -> None:
    bus = EventBus(enable_history=True)

    def bad_error_handler(event: ErrorOccurred) -> None:
        raise Boom("again")

    bus.subscribe(ErrorOccurred, bad_error_handler)
    bus.subscribe(SpeechStarted, failing_handler)
    assert await bus.publish(speech(), wait_for_completion=True) is False
    await asyncio.wait_for(bus.drain(), timeout=5.0)
    errors = bus.get_history(event_type="error")
    assert [e.depth for e in errors] == [1, 2, 3]


async def test_error_event_published_by_user_counts_depth_from_its_own() -> None:
    bus = EventBus(enable_history=True)

    def bad_error_handler(event: ErrorOccurred) -> None:
        raise Boom("x")

    bus.subscribe(ErrorOccurred, bad_error_handler)
    await bus.publish(ErrorOccurred(session_id="s1", code="custom", depth=2))
    await asyncio.wait_for(bus.drain(), timeout=5.0)
    assert [e.depth for e in bus.get_history(event_type="error")] == [2, 3]
    assert bus.get_stats()["error_events_dropped_depth"] == 1


async def test_error_storm_is_rate_limited() -> None:
    bus, errors = failing_bus()
    for i in range(100):
        await bus.publish(speech(i))
    await bus.drain()

    assert 1 <= len(errors) <= EventBus.ERROR_EVENT_RATE_LIMIT
    assert len(errors) == EventBus.ERROR_EVENT_RATE_LIMIT
    stats = bus.get_stats()
    assert stats["handler_errors"] == 100
    assert stats["error_events"] == len(errors)
    assert stats["error_events_rate_limited"] == 100 - len(errors)
    assert stats["error_events_rate_limited"] == 90


async def test_error_storm_with_wait_for_completion_is_rate_limited() -> None:
    bus, errors = failing_bus()
    results = [await bus.publish(speech(i), wait_for_completion=True) for i in range(50)]
    await bus.drain()
    assert results == [False] * 50
    assert len(errors) == EventBus.ERROR_EVENT_RATE_LIMIT
    assert bus.get_stats()["error_events_rate_limited"] == 40


async def test_reset_error_tracking_lets_errors_through_again() -> None:
    bus, errors = failing_bus()
    for i in range(30):
        await bus.publish(speech(i))
    await bus.drain()
    assert len(errors) == EventBus.ERROR_EVENT_RATE_LIMIT

    # Still suppressed (the cooldown has not elapsed).
    await bus.publish(speech(100))
    await bus.drain()
    assert len(errors) == EventBus.ERROR_EVENT_RATE_LIMIT

    bus.reset_error_tracking()
    await bus.publish(speech(101))
    await bus.drain()
    assert len(errors) == EventBus.ERROR_EVENT_RATE_LIMIT + 1
    assert errors[-1].depth == 1


async def test_errors_flow_again_after_cooldown(monkeypatch: pytest.MonkeyPatch) -> None:
    import xtalk.serving.event_bus as event_bus_module

    now = [1000.0]

    class FakeTime:
        @staticmethod
        def monotonic() -> float:
            return now[0]

    # Only the bus module's clock is replaced; the event loop keeps the real one.
    monkeypatch.setattr(event_bus_module, "time", FakeTime)
    bus, errors = failing_bus()
    for i in range(20):
        await bus.publish(speech(i), wait_for_completion=True)
    await bus.drain()
    assert len(errors) == 10

    now[0] += EventBus.ERROR_EVENT_COOLDOWN + 0.5
    await bus.publish(speech(50), wait_for_completion=True)
    await bus.drain()
    assert len(errors) == 11


async def test_a_handler_that_stalls_the_bus_is_logged(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """A handler still running after STALL_WARN_S is named in a warning (the session's
    events wait behind it); one that returns in time is not."""
    monkeypatch.setattr(EventBus, "STALL_WARN_S", 0.05)
    bus = EventBus()
    release = asyncio.Event()

    async def quick(event: SpeechStarted) -> None:
        await asyncio.sleep(0)

    async def stuck(event: SpeechEnded) -> None:
        await release.wait()

    bus.subscribe(SpeechStarted, quick)
    bus.subscribe(SpeechEnded, stuck)
    with caplog.at_level("WARNING", logger="xtalk.serving.event_bus"):
        await bus.publish(speech(), wait_for_completion=True)
        await asyncio.sleep(0.1)
        assert not caplog.records
        waiting = asyncio.create_task(bus.publish(
            SpeechEnded(session_id="s1", end_sample=1), wait_for_completion=True))
        await asyncio.sleep(0.15)
        release.set()
        assert await waiting
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "stuck" in warnings[0] and "speech_ended" in warnings[0]
