"""Tests of :class:`xtalk.serving.event_bus.EventBus`."""

from __future__ import annotations

import asyncio
import inspect
import random

import pytest
from bus_events import failing_handler, speech

from xtalk.serving.event_bus import EventBus
from xtalk.serving.events import (
    AudioFrameReceived,
    BaseEvent,
    ErrorOccurred,
    SpeechEnded,
    SpeechStarted,
)


# --------------------------------------------------------------------------- constants
def test_class_constants() -> None:
    assert EventBus.MAX_ERROR_EVENT_DEPTH == 3
    assert EventBus.ERROR_EVENT_COOLDOWN == 1.0
    assert EventBus.ERROR_EVENT_RATE_LIMIT == 10


def test_init_signature_defaults() -> None:
    params = inspect.signature(EventBus.__init__).parameters
    assert list(params) == ["self", "enable_history", "max_history"]
    assert params["enable_history"].default is False
    assert params["max_history"].default == 1000


def test_default_bus_has_history_disabled() -> None:
    bus = EventBus()
    stats = bus.get_stats()
    assert stats["history_enabled"] is False
    assert stats["closed"] is False


def test_max_history_must_be_positive() -> None:
    with pytest.raises(ValueError):
        EventBus(enable_history=True, max_history=0)


# --------------------------------------------------------------------------- priorities
async def test_higher_priority_runs_first() -> None:
    bus = EventBus()
    calls: list[str] = []
    bus.subscribe(SpeechStarted, lambda e: calls.append("low"), priority=-5)
    bus.subscribe(SpeechStarted, lambda e: calls.append("mid"), priority=0)
    bus.subscribe(SpeechStarted, lambda e: calls.append("high"), priority=10)
    bus.subscribe(SpeechStarted, lambda e: calls.append("mid2"))
    assert await bus.publish(speech(), wait_for_completion=True) is True
    assert calls == ["high", "mid", "mid2", "low"]


async def test_priority_order_independent_of_subscription_order() -> None:
    bus = EventBus()
    calls: list[int] = []
    prios = list(range(20))
    random.Random(4).shuffle(prios)
    for p in prios:
        bus.subscribe(SpeechStarted, lambda e, p=p: calls.append(p), priority=p)
    await bus.publish(speech(), wait_for_completion=True)
    assert calls == sorted(prios, reverse=True)


async def test_equal_priority_runs_sequentially_in_subscription_order() -> None:
    bus = EventBus()
    log: list[str] = []

    def make(name: str, delay: float):
        async def handler(event: BaseEvent) -> None:
            log.append(f"{name}-enter")
            await asyncio.sleep(delay)
            log.append(f"{name}-exit")

        return handler

    # The first one sleeps longest: if handlers ran concurrently, exits would reorder.
    bus.subscribe(SpeechStarted, make("a", 0.03))
    bus.subscribe(SpeechStarted, make("b", 0.01))
    bus.subscribe(SpeechStarted, make("c", 0.0))
    await bus.publish(speech(), wait_for_completion=True)
    assert log == ["a-enter", "a-exit", "b-enter", "b-exit", "c-enter", "c-exit"]


async def test_equal_priority_sequential_when_queued() -> None:
    bus = EventBus()
    log: list[str] = []
    active = 0
    max_active = 0

    def make(name: str):
        async def handler(event: BaseEvent) -> None:
            nonlocal active, max_active
            active += 1
            max_active = max(max_active, active)
            log.append(f"{name}-enter")
            await asyncio.sleep(0.005)
            log.append(f"{name}-exit")
            active -= 1

        return handler

    for name in "xyz":
        bus.subscribe(SpeechStarted, make(name), priority=3)
    await bus.publish(speech())
    await bus.drain()
    assert max_active == 1
    assert log == ["x-enter", "x-exit", "y-enter", "y-exit", "z-enter", "z-exit"]


async def test_mixed_sync_and_async_handlers() -> None:
    bus = EventBus()
    log: list[str] = []

    def sync_high(event: BaseEvent) -> None:
        log.append("sync-high")

    async def async_mid(event: BaseEvent) -> None:
        await asyncio.sleep(0.005)
        log.append("async-mid")

    def sync_mid(event: BaseEvent) -> None:
        log.append("sync-mid")

    async def async_low(event: BaseEvent) -> None:
        log.append("async-low")

    bus.subscribe(SpeechStarted, async_low, priority=-1)
    bus.subscribe(SpeechStarted, sync_high, priority=5)
    bus.subscribe(SpeechStarted, async_mid)
    bus.subscribe(SpeechStarted, sync_mid)
    await bus.publish(speech(), wait_for_completion=True)
    assert log == ["sync-high", "async-mid", "sync-mid", "async-low"]

    log.clear()
    await bus.publish(speech())
    await bus.drain()
    assert log == ["sync-high", "async-mid", "sync-mid", "async-low"]


async def test_high_priority_handler_can_prepare_event_for_others() -> None:
    bus = EventBus()
    seen: list[int] = []

    async def enhancer(event: SpeechStarted) -> None:
        await asyncio.sleep(0.001)
        event.start_sample += 100

    bus.subscribe(SpeechStarted, lambda e: seen.append(e.start_sample))
    bus.subscribe(SpeechStarted, enhancer, priority=10)
    await bus.publish(speech(1))
    await bus.drain()
    assert seen == [101]


# --------------------------------------------------------------------------- ordering
async def test_publication_order_kept_with_awaiting_handler() -> None:
    bus = EventBus()
    log: list[tuple[str, int]] = []
    rng = random.Random(7)

    async def slow(event: SpeechStarted) -> None:
        log.append(("start", event.start_sample))
        # Vary the suspension so a concurrent implementation would interleave.
        if rng.random() < 0.3:
            await asyncio.sleep(0.0005)
        else:
            await asyncio.sleep(0)
        log.append(("end", event.start_sample))

    second: list[int] = []
    bus.subscribe(SpeechStarted, slow, priority=1)
    bus.subscribe(SpeechStarted, lambda e: second.append(e.start_sample))

    for i in range(200):
        assert await bus.publish(speech(i)) is True
    await bus.drain()

    expected: list[tuple[str, int]] = []
    for i in range(200):
        expected += [("start", i), ("end", i)]
    assert log == expected
    assert second == list(range(200))
    stats = bus.get_stats()
    assert stats["published"] == 200
    assert stats["dispatched"] == 200
    assert stats["queued"] == 0


async def test_events_of_different_types_keep_publication_order() -> None:
    bus = EventBus()
    log: list[str] = []

    async def on_start(event: SpeechStarted) -> None:
        await asyncio.sleep(0.001)
        log.append(f"start{event.start_sample}")

    def on_end(event: SpeechEnded) -> None:
        log.append(f"end{event.end_sample}")

    bus.subscribe(SpeechStarted, on_start)
    bus.subscribe(SpeechEnded, on_end)
    for i in range(5):
        await bus.publish(speech(i))
        await bus.publish(SpeechEnded(session_id="s1", end_sample=i))
    await bus.drain()
    assert log == [x for i in range(5) for x in (f"start{i}", f"end{i}")]


async def test_publish_without_waiting_returns_true_before_handling() -> None:
    bus = EventBus()
    calls: list[int] = []
    bus.subscribe(SpeechStarted, lambda e: calls.append(e.start_sample))
    assert await bus.publish(speech(3)) is True
    assert calls == []
    await bus.drain()
    assert calls == [3]


async def test_publish_without_waiting_returns_true_even_if_handler_fails() -> None:
    bus = EventBus()
    bus.subscribe(SpeechStarted, failing_handler)
    assert await bus.publish(speech()) is True
    await bus.drain()
    assert bus.get_stats()["handler_errors"] == 1


async def test_drain_waits_for_events_published_by_handlers() -> None:
    bus = EventBus()
    ends: list[int] = []

    async def on_start(event: SpeechStarted) -> None:
        await asyncio.sleep(0.001)
        await bus.publish(SpeechEnded(session_id=event.session_id, end_sample=event.start_sample))

    bus.subscribe(SpeechStarted, on_start)
    bus.subscribe(SpeechEnded, lambda e: ends.append(e.end_sample))
    for i in range(3):
        await bus.publish(speech(i))
    await bus.drain()
    assert ends == [0, 1, 2]


async def test_drain_on_unused_bus_returns() -> None:
    bus = EventBus()
    await asyncio.wait_for(bus.drain(), timeout=1.0)


# --------------------------------------------------------------------------- publish
async def test_wait_for_completion_runs_handlers_before_returning() -> None:
    bus = EventBus()
    done: list[str] = []

    async def handler(event: BaseEvent) -> None:
        await asyncio.sleep(0.01)
        done.append("async")

    bus.subscribe(SpeechStarted, handler)
    bus.subscribe(SpeechStarted, lambda e: done.append("sync"))
    result = await bus.publish(speech(), wait_for_completion=True)
    assert result is True
    assert done == ["async", "sync"]


async def test_wait_for_completion_returns_false_when_handler_raises() -> None:
    bus = EventBus()
    after: list[str] = []
    bus.subscribe(SpeechStarted, failing_handler, priority=1)
    bus.subscribe(SpeechStarted, lambda e: after.append("ran"))
    assert await bus.publish(speech(), wait_for_completion=True) is False
    # The other handlers still run.
    assert after == ["ran"]


async def test_wait_for_completion_returns_false_when_async_handler_raises() -> None:
    bus = EventBus()

    async def bad(event: BaseEvent) -> None:
        await asyncio.sleep(0)
        raise ValueError("nope")

    bus.subscribe(SpeechStarted, bad)
    assert await bus.publish(speech(), wait_for_completion=True) is False
    await bus.drain()


async def test_wait_for_completion_without_subscribers_is_true() -> None:
    bus = EventBus()
    assert await bus.publish(speech(), wait_for_completion=True) is True


async def test_publish_rejects_non_events() -> None:
    bus = EventBus()
    with pytest.raises(TypeError):
        await bus.publish("not an event")  # type: ignore[arg-type]


async def test_subscribe_with_type_string_and_class() -> None:
    bus = EventBus()
    calls: list[str] = []
    bus.subscribe("vad.speech_started", lambda e: calls.append("string"))
    bus.subscribe(SpeechStarted, lambda e: calls.append("class"))
    assert bus.subscriber_count("vad.speech_started") == 2
    assert bus.subscriber_count(SpeechStarted) == 2
    await bus.publish(speech(), wait_for_completion=True)
    assert calls == ["string", "class"]


async def test_other_types_not_delivered() -> None:
    bus = EventBus()
    calls: list[BaseEvent] = []
    bus.subscribe(SpeechEnded, calls.append)
    await bus.publish(speech(), wait_for_completion=True)
    await bus.publish(AudioFrameReceived(session_id="s1"))
    await bus.drain()
    assert calls == []


def test_subscribe_rejects_bad_arguments() -> None:
    bus = EventBus()
    with pytest.raises(TypeError):
        bus.subscribe(SpeechStarted, "not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        bus.subscribe(int, print)  # type: ignore[arg-type]


def test_unsubscribe_returns_true_then_false() -> None:
    bus = EventBus()

    def handler(event: BaseEvent) -> None:
        pass

    assert bus.unsubscribe(SpeechStarted, handler) is False
    bus.subscribe(SpeechStarted, handler)
    assert bus.unsubscribe(SpeechStarted, handler) is True
    assert bus.unsubscribe(SpeechStarted, handler) is False
    assert bus.subscriber_count(SpeechStarted) == 0


def test_unsubscribe_with_string_after_class_subscription() -> None:
    bus = EventBus()

    def handler(event: BaseEvent) -> None:
        pass

    bus.subscribe(SpeechStarted, handler)
    assert bus.unsubscribe("vad.speech_started", handler) is True
    bus.subscribe("vad.speech_started", handler)
    assert bus.unsubscribe(SpeechStarted, handler) is True


def test_unsubscribe_wrong_type_returns_false() -> None:
    bus = EventBus()

    def handler(event: BaseEvent) -> None:
        pass

    bus.subscribe(SpeechStarted, handler)
    assert bus.unsubscribe(SpeechEnded, handler) is False
    assert bus.subscriber_count(SpeechStarted) == 1


async def test_unsubscribed_handler_not_called() -> None:
    bus = EventBus()
    calls: list[str] = []

    def a(event: BaseEvent) -> None:
        calls.append("a")

    def b(event: BaseEvent) -> None:
        calls.append("b")

    bus.subscribe(SpeechStarted, a)
    bus.subscribe(SpeechStarted, b)
    bus.unsubscribe(SpeechStarted, a)
    await bus.publish(speech(), wait_for_completion=True)
    assert calls == ["b"]


async def test_subscribing_same_handler_twice_is_noop() -> None:
    bus = EventBus()
    calls: list[int] = []

    def handler(event: BaseEvent) -> None:
        calls.append(1)

    bus.subscribe(SpeechStarted, handler)
    bus.subscribe(SpeechStarted, handler)
    bus.subscribe("vad.speech_started", handler, priority=99)
    assert bus.subscriber_count(SpeechStarted) == 1
    await bus.publish(speech(), wait_for_completion=True)
    assert calls == [1]
    assert bus.unsubscribe(SpeechStarted, handler) is True
    assert bus.unsubscribe(SpeechStarted, handler) is False


async def test_same_bound_method_twice_is_noop() -> None:
    bus = EventBus()

    class Listener:
        def __init__(self) -> None:
            self.calls = 0

        def on(self, event: BaseEvent) -> None:
            self.calls += 1

    listener = Listener()
    bus.subscribe(SpeechStarted, listener.on)
    bus.subscribe(SpeechStarted, listener.on)
    await bus.publish(speech(), wait_for_completion=True)
    assert listener.calls == 1

    other = Listener()
    bus.subscribe(SpeechStarted, other.on)
    await bus.publish(speech(), wait_for_completion=True)
    assert (listener.calls, other.calls) == (2, 1)


async def test_same_handler_on_two_types() -> None:
    bus = EventBus()
    calls: list[str] = []

    def handler(event: BaseEvent) -> None:
        calls.append(event.TYPE)

    bus.subscribe(SpeechStarted, handler)
    bus.subscribe(SpeechEnded, handler)
    await bus.publish(speech(), wait_for_completion=True)
    await bus.publish(SpeechEnded(session_id="s1"), wait_for_completion=True)
    assert calls == ["vad.speech_started", "vad.speech_ended"]


# --------------------------------------------------------------------------- history
async def test_history_disabled_by_default() -> None:
    bus = EventBus()
    await bus.publish(speech(), wait_for_completion=True)
    await bus.publish(speech())
    await bus.drain()
    assert bus.get_history() == []
    assert bus.get_stats()["history_size"] == 0


async def test_history_records_published_events_in_order() -> None:
    bus = EventBus(enable_history=True)
    events = [speech(i) for i in range(5)]
    for e in events[:3]:
        await bus.publish(e)
    for e in events[3:]:
        await bus.publish(e, wait_for_completion=True)
    await bus.drain()
    history = bus.get_history()
    assert history == events
    assert all(a is b for a, b in zip(history, events, strict=True))
    assert bus.get_stats()["history_enabled"] is True


async def test_history_bounded_by_max_history() -> None:
    bus = EventBus(enable_history=True, max_history=5)
    for i in range(12):
        await bus.publish(speech(i))
    await bus.drain()
    history = bus.get_history()
    assert [e.start_sample for e in history] == [7, 8, 9, 10, 11]
    assert bus.get_stats()["history_size"] == 5


async def test_history_filters() -> None:
    bus = EventBus(enable_history=True)
    a1 = speech(1, session_id="a")
    b1 = speech(2, session_id="b")
    a2 = SpeechEnded(session_id="a", end_sample=3)
    b2 = SpeechEnded(session_id="b", end_sample=4)
    for e in (a1, b1, a2, b2):
        await bus.publish(e)
    await bus.drain()
    assert bus.get_history(event_type="vad.speech_started") == [a1, b1]
    assert bus.get_history(event_type=SpeechEnded.TYPE) == [a2, b2]
    assert bus.get_history(session_id="a") == [a1, a2]
    assert bus.get_history(event_type="vad.speech_ended", session_id="b") == [b2]
    assert bus.get_history(event_type="no.such.type") == []
    assert bus.get_history(session_id="zzz") == []
    assert bus.get_history() == [a1, b1, a2, b2]


async def test_history_includes_error_events() -> None:
    bus = EventBus(enable_history=True)
    bus.subscribe(SpeechStarted, failing_handler)
    await bus.publish(speech())
    await bus.drain()
    errors = bus.get_history(event_type="error")
    assert len(errors) == 1
    assert isinstance(errors[0], ErrorOccurred)


async def test_clear_history() -> None:
    bus = EventBus(enable_history=True)
    for i in range(3):
        await bus.publish(speech(i))
    await bus.drain()
    assert len(bus.get_history()) == 3
    bus.clear_history()
    assert bus.get_history() == []
    assert bus.get_stats()["history_size"] == 0
    await bus.publish(speech(9))
    assert [e.start_sample for e in bus.get_history()] == [9]
