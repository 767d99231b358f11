"""Tests of :class:`xtalk.serving.interfaces.Manager` handler declaration and binding."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from xtalk.serving.event_bus import EventBus
from xtalk.serving.events import (
    BaseEvent,
    SpeechEnded,
    SpeechStarted,
    TranscriptFinalized,
)
from xtalk.serving.interfaces import (
    EventListenerMixin,
    EventOverrides,
    HandlerSpec,
    Manager,
    ShutdownMixin,
)

PIPELINE = object()


class RecordingManager(Manager):
    """Records every handler call in ``self.calls``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[str] = []

    @Manager.event_handler(SpeechStarted, priority=5)
    async def on_start(self, event: SpeechStarted) -> None:
        await asyncio.sleep(0)
        self.calls.append("on_start")

    @Manager.event_handler(SpeechStarted)
    def on_start_low(self, event: SpeechStarted) -> None:
        self.calls.append("on_start_low")

    @Manager.event_handler(SpeechEnded, priority=1)
    def on_end(self, event: SpeechEnded) -> None:
        self.calls.append("on_end")

    @Manager.event_handler(SpeechEnded, priority=2)
    def on_end_first(self, event: SpeechEnded) -> None:
        self.calls.append("on_end_first")

    def not_a_handler(self, event: BaseEvent) -> None:
        self.calls.append("not_a_handler")


def make(
    cls: type[Manager] = RecordingManager,
    bus: EventBus | None = None,
    config: dict[str, Any] | None = None,
) -> Any:
    return cls(bus or EventBus(), "sess-1", PIPELINE, config)


def spec_map(cls: type[EventListenerMixin]) -> dict[tuple[type[BaseEvent], Any], HandlerSpec]:
    return {(s.event_type, s.method_or_handler): s for s in cls.declared_handlers()}


# --------------------------------------------------------------------------- declarations
def test_manager_class_hierarchy() -> None:
    assert issubclass(Manager, EventListenerMixin)
    assert issubclass(Manager, ShutdownMixin)


def test_declared_handlers_collected() -> None:
    specs = spec_map(RecordingManager)
    assert set(specs) == {
        (SpeechStarted, "on_start"),
        (SpeechStarted, "on_start_low"),
        (SpeechEnded, "on_end"),
        (SpeechEnded, "on_end_first"),
    }
    assert specs[(SpeechStarted, "on_start")].priority == 5
    assert specs[(SpeechStarted, "on_start_low")].priority == 0
    assert specs[(SpeechEnded, "on_end_first")].priority == 2
    assert all(s.enabled_if is None for s in specs.values())
    assert all(s.name == s.method_or_handler for s in specs.values())


def test_decorator_returns_the_function_unchanged() -> None:
    def func(self: Any, event: BaseEvent) -> int:
        return 42

    decorated = Manager.event_handler(SpeechStarted)(func)
    assert decorated is func
    assert decorated(None, SpeechStarted(session_id="s")) == 42


def test_event_handler_rejects_non_event_types() -> None:
    with pytest.raises(TypeError):
        Manager.event_handler(int)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Manager.event_handler("vad.speech_started")  # type: ignore[arg-type]


def test_event_handler_priority_and_enabled_if_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        Manager.event_handler(SpeechStarted, 5)  # type: ignore[misc]


def test_plain_manager_has_no_handlers() -> None:
    assert Manager.declared_handlers() == []


def test_one_method_for_several_events() -> None:
    class Multi(Manager):
        @Manager.event_handler(SpeechStarted, priority=3)
        @Manager.event_handler(SpeechEnded, priority=4)
        def on_speech(self, event: BaseEvent) -> None:
            self.seen = [*getattr(self, "seen", []), event.TYPE]

    specs = spec_map(Multi)
    assert set(specs) == {(SpeechStarted, "on_speech"), (SpeechEnded, "on_speech")}
    assert specs[(SpeechStarted, "on_speech")].priority == 3
    assert specs[(SpeechEnded, "on_speech")].priority == 4


def test_handlers_inherited_from_base_class() -> None:
    class Child(RecordingManager):
        @Manager.event_handler(TranscriptFinalized)
        def on_final(self, event: TranscriptFinalized) -> None:
            self.calls.append("on_final")

    names = {(s.event_type, s.name) for s in Child.declared_handlers()}
    assert names == {
        (SpeechStarted, "on_start"),
        (SpeechStarted, "on_start_low"),
        (SpeechEnded, "on_end"),
        (SpeechEnded, "on_end_first"),
        (TranscriptFinalized, "on_final"),
    }
    # The base class does not see the child's handlers.
    assert (TranscriptFinalized, "on_final") not in spec_map(RecordingManager)


def test_handlers_inherited_through_several_levels_and_mixins() -> None:
    class Mixin(EventListenerMixin):
        @EventListenerMixin.event_handler(TranscriptFinalized, priority=7)
        def mixin_final(self, event: BaseEvent) -> None:
            pass

    class Middle(RecordingManager):
        pass

    class Leaf(Mixin, Middle):
        pass

    names = {(s.event_type, s.name) for s in Leaf.declared_handlers()}
    assert (TranscriptFinalized, "mixin_final") in names
    assert (SpeechStarted, "on_start") in names
    assert len(Leaf.declared_handlers()) == 5


def test_redecorated_override_replaces_base_declaration() -> None:
    class Child(RecordingManager):
        @Manager.event_handler(SpeechStarted, priority=50)
        def on_start(self, event: SpeechStarted) -> None:
            self.calls.append("child_on_start")

    specs = [s for s in Child.declared_handlers() if s.name == "on_start"]
    assert len(specs) == 1
    assert specs[0].priority == 50


async def test_inherited_handlers_are_bound_and_called() -> None:
    class Child(RecordingManager):
        @Manager.event_handler(SpeechStarted, priority=10)
        def child_first(self, event: SpeechStarted) -> None:
            self.calls.append("child_first")

    bus = EventBus()
    manager = make(Child, bus)
    manager.bind_handlers(bus)
    await bus.publish(SpeechStarted(session_id="sess-1"), wait_for_completion=True)
    assert manager.calls == ["child_first", "on_start", "on_start_low"]


# --------------------------------------------------------------------------- bind_handlers
async def test_bind_handlers_subscribes_with_priority() -> None:
    bus = EventBus()
    manager = make(bus=bus)
    bound = manager.bind_handlers(bus)
    assert len(bound) == 4
    assert {ev for ev, _ in bound} == {SpeechStarted, SpeechEnded}
    assert all(callable(h) for _, h in bound)
    assert bus.subscriber_count(SpeechStarted) == 2
    assert bus.subscriber_count(SpeechEnded) == 2

    await bus.publish(SpeechStarted(session_id="sess-1"), wait_for_completion=True)
    await bus.publish(SpeechEnded(session_id="sess-1"))
    await bus.drain()
    assert manager.calls == ["on_start", "on_start_low", "on_end_first", "on_end"]
    assert "not_a_handler" not in manager.calls


async def test_bound_handlers_are_instance_methods() -> None:
    bus = EventBus()
    manager = make(bus=bus)
    bound = {h.__name__: h for _, h in manager.bind_handlers(bus)}
    assert bound["on_end"] == manager.on_end
    assert bus.unsubscribe(SpeechEnded, manager.on_end) is True


async def test_two_instances_bind_independently() -> None:
    bus = EventBus()
    m1 = make(bus=bus)
    m2 = make(bus=bus)
    m1.bind_handlers(bus)
    m2.bind_handlers(bus)
    assert bus.subscriber_count(SpeechEnded) == 4
    await bus.publish(SpeechEnded(session_id="sess-1"), wait_for_completion=True)
    assert m1.calls == ["on_end_first", "on_end"]
    assert m2.calls == ["on_end_first", "on_end"]


async def test_bind_handlers_interleaves_priorities_across_managers() -> None:
    class Other(Manager):
        def __init__(self, *args: Any, log: list[str], **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.log = log  # type: ignore[assignment]

        @Manager.event_handler(SpeechStarted, priority=3)
        def middle(self, event: BaseEvent) -> None:
            self.log.append("other.middle")

    bus = EventBus()
    first = make(bus=bus)
    first.bind_handlers(bus)
    other = Other(bus, "sess-1", PIPELINE, None, log=first.calls)
    other.bind_handlers(bus)
    await bus.publish(SpeechStarted(session_id="sess-1"), wait_for_completion=True)
    assert first.calls == ["on_start", "other.middle", "on_start_low"]


async def test_enabled_if_false_handler_not_subscribed() -> None:
    class Conditional(Manager):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.calls: list[str] = []
            self.predicate_args: list[Any] = []

        @Manager.event_handler(SpeechStarted, enabled_if=lambda m: m.setting("use_model", False))
        def needs_model(self, event: BaseEvent) -> None:
            self.calls.append("needs_model")

        @Manager.event_handler(
            SpeechStarted,
            enabled_if=lambda m: m.predicate_args.append(m) is None,  # always true
        )
        def always(self, event: BaseEvent) -> None:
            self.calls.append("always")

        @Manager.event_handler(SpeechEnded, priority=2, enabled_if=lambda m: False)
        def never(self, event: BaseEvent) -> None:
            self.calls.append("never")

    bus = EventBus()
    off = Conditional(bus, "s", PIPELINE, {"use_model": False})
    bound = off.bind_handlers(bus)
    assert [h.__name__ for _, h in bound] == ["always"]
    assert off.predicate_args == [off]  # the predicate receives the instance
    assert bus.subscriber_count(SpeechEnded) == 0
    await bus.publish(SpeechStarted(session_id="s"), wait_for_completion=True)
    await bus.publish(SpeechEnded(session_id="s"), wait_for_completion=True)
    assert off.calls == ["always"]

    bus2 = EventBus()
    on = Conditional(bus2, "s", PIPELINE, {"use_model": True})
    names = sorted(h.__name__ for _, h in on.bind_handlers(bus2))
    assert names == ["always", "needs_model"]
    await bus2.publish(SpeechStarted(session_id="s"), wait_for_completion=True)
    assert on.calls == ["needs_model", "always"]

    spec = next(s for s in Conditional.declared_handlers() if s.name == "never")
    assert spec.enabled_if is not None and spec.priority == 2


def test_bind_handlers_without_overrides_equals_empty_overrides() -> None:
    bus1, bus2 = EventBus(), EventBus()
    m1, m2 = make(bus=bus1), make(bus=bus2)
    m1.bind_handlers(bus1)
    m2.bind_handlers(bus2, EventOverrides())
    assert bus1.get_stats()["subscriptions"] == bus2.get_stats()["subscriptions"]


# --------------------------------------------------------------------------- overrides
async def test_overrides_remove_one_method_by_name() -> None:
    bus = EventBus()
    manager = make(bus=bus)
    overrides = EventOverrides(removed=[(SpeechStarted, "on_start")])
    bound = manager.bind_handlers(bus, overrides)
    assert sorted(h.__name__ for _, h in bound) == ["on_end", "on_end_first", "on_start_low"]
    await bus.publish(SpeechStarted(session_id="sess-1"), wait_for_completion=True)
    assert manager.calls == ["on_start_low"]


async def test_overrides_remove_by_name_only_for_that_event() -> None:
    class Multi(Manager):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.calls: list[str] = []

        @Manager.event_handler(SpeechStarted)
        @Manager.event_handler(SpeechEnded)
        def on_speech(self, event: BaseEvent) -> None:
            self.calls.append(event.TYPE)

    bus = EventBus()
    manager = Multi(bus, "s", PIPELINE)
    manager.bind_handlers(bus, EventOverrides(removed=[(SpeechEnded, "on_speech")]))
    await bus.publish(SpeechStarted(session_id="s"), wait_for_completion=True)
    await bus.publish(SpeechEnded(session_id="s"), wait_for_completion=True)
    assert manager.calls == ["vad.speech_started"]


async def test_overrides_remove_all_handlers_of_an_event() -> None:
    bus = EventBus()
    manager = make(bus=bus)
    overrides = EventOverrides(removed=[(SpeechEnded, None)])
    bound = manager.bind_handlers(bus, overrides)
    assert {ev for ev, _ in bound} == {SpeechStarted}
    assert bus.subscriber_count(SpeechEnded) == 0
    await bus.publish(SpeechEnded(session_id="sess-1"), wait_for_completion=True)
    await bus.publish(SpeechStarted(session_id="sess-1"), wait_for_completion=True)
    assert manager.calls == ["on_start", "on_start_low"]


async def test_overrides_removal_of_unknown_method_is_harmless() -> None:
    bus = EventBus()
    manager = make(bus=bus)
    overrides = EventOverrides(
        removed=[(SpeechStarted, "no_such_method"), (TranscriptFinalized, None)]
    )
    bound = manager.bind_handlers(bus, overrides)
    assert len(bound) == 4


async def test_overrides_add_external_handler_taking_event() -> None:
    bus = EventBus()
    manager = make(bus=bus)
    received: list[BaseEvent] = []

    def external(event: BaseEvent) -> None:
        received.append(event)
        manager.calls.append("external")

    overrides = EventOverrides(added=[HandlerSpec(SpeechStarted, external, priority=10)])
    bound = manager.bind_handlers(bus, overrides)
    assert (SpeechStarted, external) in bound
    event = SpeechStarted(session_id="sess-1")
    await bus.publish(event, wait_for_completion=True)
    assert received == [event]
    assert manager.calls == ["external", "on_start", "on_start_low"]


async def test_overrides_add_async_external_handler_taking_listener_and_event() -> None:
    bus = EventBus()
    manager = make(bus=bus)
    received: list[tuple[Any, BaseEvent]] = []

    async def external(listener: RecordingManager, event: BaseEvent) -> None:
        await asyncio.sleep(0)
        received.append((listener, event))
        listener.calls.append("external2")

    overrides = EventOverrides(added=[HandlerSpec(SpeechEnded, external, priority=-1)])
    manager.bind_handlers(bus, overrides)
    event = SpeechEnded(session_id="sess-1")
    await bus.publish(event)
    await bus.drain()
    assert received == [(manager, event)]
    assert manager.calls == ["on_end_first", "on_end", "external2"]


async def test_overrides_add_sync_handler_taking_listener_and_event() -> None:
    bus = EventBus()
    manager = make(bus=bus)
    seen: list[Any] = []
    overrides = EventOverrides(
        added=[
            HandlerSpec(
                TranscriptFinalized, lambda listener, event: seen.append((listener, event.text))
            )
        ]
    )
    manager.bind_handlers(bus, overrides)
    await bus.publish(TranscriptFinalized(session_id="sess-1", text="hi"), wait_for_completion=True)
    assert seen == [(manager, "hi")]


async def test_overrides_add_async_external_handler_taking_event() -> None:
    bus = EventBus()
    manager = make(bus=bus)
    seen: list[str] = []

    async def external(event: BaseEvent) -> None:
        await asyncio.sleep(0)
        seen.append(event.TYPE)

    manager.bind_handlers(bus, EventOverrides(added=[HandlerSpec(TranscriptFinalized, external)]))
    await bus.publish(TranscriptFinalized(session_id="sess-1"), wait_for_completion=True)
    assert seen == ["asr.final"]


async def test_overrides_add_method_name_string() -> None:
    bus = EventBus()
    manager = make(bus=bus)
    overrides = EventOverrides(added=[HandlerSpec(TranscriptFinalized, "not_a_handler", 3)])
    bound = manager.bind_handlers(bus, overrides)
    assert (TranscriptFinalized, manager.not_a_handler) in bound
    await bus.publish(TranscriptFinalized(session_id="sess-1"), wait_for_completion=True)
    assert manager.calls == ["not_a_handler"]
    assert overrides.added[0].name == "not_a_handler"


async def test_overrides_add_unknown_method_name_raises() -> None:
    bus = EventBus()
    manager = make(bus=bus)
    with pytest.raises(AttributeError):
        manager.bind_handlers(
            bus, EventOverrides(added=[HandlerSpec(TranscriptFinalized, "missing")])
        )


async def test_overrides_remove_and_readd_with_new_priority() -> None:
    bus = EventBus()
    manager = make(bus=bus)
    overrides = EventOverrides(
        added=[HandlerSpec(SpeechStarted, "on_start_low", priority=100)],
        removed=[(SpeechStarted, "on_start_low")],
    )
    manager.bind_handlers(bus, overrides)
    assert bus.subscriber_count(SpeechStarted) == 2
    await bus.publish(SpeechStarted(session_id="sess-1"), wait_for_completion=True)
    assert manager.calls == ["on_start_low", "on_start"]


async def test_overrides_added_handler_honours_enabled_if() -> None:
    bus = EventBus()
    manager = make(bus=bus, config={"flag": False})
    calls: list[str] = []
    overrides = EventOverrides(
        added=[
            HandlerSpec(
                TranscriptFinalized,
                lambda e: calls.append("off"),
                enabled_if=lambda m: m.setting("flag", False),
            ),
            HandlerSpec(
                TranscriptFinalized,
                lambda e: calls.append("on"),
                enabled_if=lambda m: m.session_id == "sess-1",
            ),
        ]
    )
    manager.bind_handlers(bus, overrides)
    assert bus.subscriber_count(TranscriptFinalized) == 1
    await bus.publish(TranscriptFinalized(session_id="sess-1"), wait_for_completion=True)
    assert calls == ["on"]


def test_event_overrides_copy_is_independent() -> None:
    original = EventOverrides(
        added=[HandlerSpec(SpeechStarted, "on_start")], removed=[(SpeechEnded, None)]
    )
    clone = original.copy()
    assert clone == original
    clone.added.append(HandlerSpec(SpeechEnded, "on_end"))
    clone.removed.clear()
    assert len(original.added) == 1
    assert original.removed == [(SpeechEnded, None)]


def test_event_overrides_defaults_not_shared() -> None:
    a, b = EventOverrides(), EventOverrides()
    a.added.append(HandlerSpec(SpeechStarted, "x"))
    assert b.added == [] and b.removed == []


def test_handler_spec_name() -> None:
    assert HandlerSpec(SpeechStarted, "on_start").name == "on_start"
    assert HandlerSpec(SpeechStarted, print).name is None
    spec = HandlerSpec(SpeechStarted, "x")
    assert spec.priority == 0 and spec.enabled_if is None


# --------------------------------------------------------------------------- Manager basics
def test_manager_init_stores_arguments() -> None:
    bus = EventBus()
    pipeline = object()
    config = {"answer": 42}
    manager = Manager(bus, "sess-7", pipeline, config)
    assert manager.event_bus is bus
    assert manager.session_id == "sess-7"
    assert manager.pipeline is pipeline
    assert manager.config is config
    assert isinstance(manager.log, logging.LoggerAdapter)


def test_manager_init_keywords_and_default_config() -> None:
    bus = EventBus()
    manager = Manager(event_bus=bus, session_id="s", pipeline=PIPELINE)
    assert manager.config == {}
    manager2 = Manager(bus, "s", PIPELINE, None)
    assert manager2.config == {}
    assert manager.config is not manager2.config


def test_manager_setting() -> None:
    manager = Manager(EventBus(), "s", PIPELINE, {"a": 1, "none": None, "zero": 0})
    assert manager.setting("a", 5) == 1
    assert manager.setting("missing", 5) == 5
    assert manager.setting("none", 5) == 5
    assert manager.setting("zero", 5) == 0


async def test_manager_publish_uses_its_bus() -> None:
    bus = EventBus(enable_history=True)
    manager = Manager(bus, "s", PIPELINE)
    got: list[BaseEvent] = []
    bus.subscribe(SpeechStarted, got.append)
    event = SpeechStarted(session_id="s")
    assert await manager.publish(event, wait_for_completion=True) is True
    assert got == [event]
    assert await manager.publish(SpeechStarted(session_id="s")) is True
    await bus.drain()
    assert len(got) == 2
    assert len(bus.get_history()) == 2


async def test_docstring_example_manager() -> None:
    from xtalk.serving.events import OutboundMessageRequested

    class EchoManager(Manager):
        @Manager.event_handler(TranscriptFinalized, priority=5)
        async def on_final(self, event: TranscriptFinalized) -> None:
            await self.publish(
                OutboundMessageRequested(
                    session_id=self.session_id, message={"action": "echo", "text": event.text}
                )
            )

    bus = EventBus()
    manager = EchoManager(bus, "s9", PIPELINE)
    manager.bind_handlers(bus)
    out: list[OutboundMessageRequested] = []
    bus.subscribe(OutboundMessageRequested, out.append)
    await bus.publish(TranscriptFinalized(session_id="s9", text="hello"))
    await bus.drain()
    assert [o.message for o in out] == [{"action": "echo", "text": "hello"}]
    assert out[0].session_id == "s9"
