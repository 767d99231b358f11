"""Tests of the event dataclasses and :func:`create_event_class`."""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict, defaultdict
from typing import Any, ClassVar

import pytest

import xtalk.serving.events as events_module
from xtalk.serving.event_bus import EventBus
from xtalk.serving.events import BaseEvent, SpeechStarted, create_event_class


def all_event_classes() -> list[type[BaseEvent]]:
    return [
        obj
        for obj in vars(events_module).values()
        if isinstance(obj, type)
        and issubclass(obj, BaseEvent)
        and obj.__module__.startswith(events_module.__name__)
    ]


# --------------------------------------------------------------------------- BaseEvent
def test_base_event_timestamp_is_automatic() -> None:
    before = time.time()
    event = BaseEvent(session_id="s1")
    after = time.time()
    assert event.session_id == "s1"
    assert before <= event.timestamp <= after


def test_base_event_timestamp_not_an_init_argument() -> None:
    fields = {f.name: f for f in dataclasses.fields(BaseEvent)}
    assert fields["timestamp"].init is False
    assert fields["session_id"].init is True
    with pytest.raises(TypeError):
        BaseEvent(session_id="s1", timestamp=1.0)  # type: ignore[call-arg]


def test_base_event_requires_session_id() -> None:
    with pytest.raises(TypeError):
        BaseEvent()  # type: ignore[call-arg]
    assert BaseEvent("positional").session_id == "positional"


def test_base_event_type_and_event_type() -> None:
    assert BaseEvent.TYPE == "base"
    event = BaseEvent(session_id="s1")
    assert event.TYPE == "base"
    assert event.event_type() == "base"
    # TYPE is a ClassVar, not a dataclass field.
    assert "TYPE" not in {f.name for f in dataclasses.fields(BaseEvent)}


def test_timestamps_increase() -> None:
    first = BaseEvent(session_id="s")
    second = BaseEvent(session_id="s")
    assert second.timestamp >= first.timestamp


def test_subclass_event_type() -> None:
    event = SpeechStarted(session_id="s1", start_sample=5)
    assert event.event_type() == SpeechStarted.TYPE == "vad.speech_started"
    assert isinstance(event.timestamp, float)


def test_handwritten_subclass_pattern() -> None:
    @dataclasses.dataclass
    class MyEvent(BaseEvent):
        value: int = 0
        TYPE: ClassVar[str] = "my.event"

    event = MyEvent(session_id="s1", value=3)
    assert event.event_type() == "my.event"
    assert event.value == 3


# --------------------------------------------------------------------------- catalogue
def test_every_event_type_is_unique() -> None:
    classes = all_event_classes()
    assert len(classes) > 10
    types = [cls.TYPE for cls in classes]
    duplicates = {t for t in types if types.count(t) > 1}
    assert not duplicates, duplicates


def test_every_event_class_is_a_dataclass_with_its_own_type() -> None:
    for cls in all_event_classes():
        assert dataclasses.is_dataclass(cls), cls
        assert isinstance(cls.TYPE, str) and cls.TYPE, cls
        if cls is not BaseEvent:
            assert cls.TYPE != "base", cls
            assert "TYPE" in vars(cls), cls


def test_every_event_class_constructs_with_only_session_id() -> None:
    for cls in all_event_classes():
        event = cls(session_id="s1")
        assert event.session_id == "s1"
        assert event.event_type() == cls.TYPE


def test_event_classes_are_exported() -> None:
    for cls in all_event_classes():
        assert cls.__name__ in events_module.__all__
    assert "create_event_class" in events_module.__all__


def test_builtin_mutable_defaults_not_shared() -> None:
    a = events_module.GenerationRequested(session_id="s")
    b = events_module.GenerationRequested(session_id="s")
    a.messages.append({"role": "user"})
    assert b.messages == []


# --------------------------------------------------------------------------- create_event_class
def test_create_event_class_basic() -> None:
    Custom = create_event_class(name="CustomEvent", fields={"text": "", "count": 3})
    assert isinstance(Custom, type)
    assert issubclass(Custom, BaseEvent)
    assert dataclasses.is_dataclass(Custom)
    assert Custom.__name__ == "CustomEvent"
    assert Custom.TYPE == "customevent"

    event = Custom(session_id="s1", text="hello")
    assert event.session_id == "s1"
    assert event.text == "hello"
    assert event.count == 3
    assert event.event_type() == "customevent"
    assert isinstance(event.timestamp, float)


def test_create_event_class_keyword_only() -> None:
    with pytest.raises(TypeError):
        create_event_class("Positional")  # type: ignore[misc]


def test_create_event_class_without_fields() -> None:
    Empty = create_event_class(name="Ping")
    assert Empty.TYPE == "ping"
    event = Empty(session_id="s")
    assert [f.name for f in dataclasses.fields(event)] == ["session_id", "timestamp", "monotonic"]
    Empty2 = create_event_class(name="Pong", fields={})
    assert Empty2(session_id="s").event_type() == "pong"


def test_create_event_class_field_defaults_and_order() -> None:
    Custom = create_event_class(name="Ordered", fields={"a": 1, "b": "two", "c": None})
    names = [f.name for f in dataclasses.fields(Custom)]
    assert names == ["session_id", "timestamp", "monotonic", "a", "b", "c"]
    event = Custom(session_id="s")
    assert (event.a, event.b, event.c) == (1, "two", None)
    event2 = Custom(session_id="s", a=5, c=[1])
    assert (event2.a, event2.b, event2.c) == (5, "two", [1])


def test_create_event_class_infers_types() -> None:
    Custom = create_event_class(
        name="Typed",
        fields={
            "text": "",
            "count": 0,
            "ratio": 0.5,
            "flag": False,
            "items": [],
            "meta": {},
            "tags": set(),
            "nothing": None,
        },
    )
    types = {f.name: f.type for f in dataclasses.fields(Custom)}
    assert types["text"] is str
    assert types["count"] is int
    assert types["ratio"] is float
    assert types["flag"] is bool
    assert types["items"] is list
    assert types["meta"] is dict
    assert types["tags"] is set
    assert types["nothing"] is Any


def test_create_event_class_default_type_name_is_lowercase_name() -> None:
    assert create_event_class(name="MyCamelCaseEvent").TYPE == "mycamelcaseevent"


def test_create_event_class_explicit_type_name() -> None:
    Custom = create_event_class(name="Custom", fields={"x": 1}, type_name="app.custom")
    assert Custom.TYPE == "app.custom"
    assert Custom(session_id="s").event_type() == "app.custom"


def test_create_event_class_does_not_touch_base_type() -> None:
    create_event_class(name="Other", type_name="app.other")
    assert BaseEvent.TYPE == "base"
    assert SpeechStarted.TYPE == "vad.speech_started"


def test_create_event_class_mutable_defaults_not_shared() -> None:
    Custom = create_event_class(
        name="Mutable",
        fields={"items": [1], "meta": {"k": "v"}, "tags": {"a"}, "ordered": OrderedDict(a=1)},
    )
    a = Custom(session_id="s")
    b = Custom(session_id="s")
    assert a.items == b.items == [1]
    assert a.items is not b.items
    assert a.meta is not b.meta
    assert a.tags is not b.tags
    assert a.ordered is not b.ordered
    assert type(a.ordered) is OrderedDict
    a.items.append(2)
    a.meta["k2"] = "v2"
    a.tags.add("b")
    assert b.items == [1]
    assert b.meta == {"k": "v"}
    assert b.tags == {"a"}
    # The original default object is never handed out.
    c = Custom(session_id="s")
    assert c.items == [1] and c.meta == {"k": "v"} and c.tags == {"a"}


def test_create_event_class_defaultdict_default() -> None:
    """A defaultdict is a dict: per the docstring it is copied per instance. The copy is
    made with ``type(d)(d)``, which for a defaultdict raises TypeError when an instance
    is created."""
    Custom = create_event_class(name="WithDefaultDict", fields={"counts": defaultdict(int)})
    a = Custom(session_id="s")
    b = Custom(session_id="s")
    assert a.counts is not b.counts
    a.counts["x"] += 1
    assert b.counts == {}


@pytest.mark.parametrize("name", ["", "1abc", "has space", "with-dash", "dotted.name"])
def test_create_event_class_invalid_name(name: str) -> None:
    with pytest.raises(ValueError):
        create_event_class(name=name)


@pytest.mark.parametrize(
    "field_name",
    ["", "1x", "with space", "a-b", "session_id", "timestamp", "monotonic", "TYPE"],
)
def test_create_event_class_invalid_field_name(field_name: str) -> None:
    with pytest.raises(ValueError):
        create_event_class(name="Bad", fields={field_name: 0})


def test_create_event_class_keyword_field_name_raises_value_error() -> None:
    """Documented: ValueError if a field name is invalid. A Python keyword is an
    invalid field name, but dataclasses raises TypeError for it."""
    with pytest.raises(ValueError):
        create_event_class(name="Bad", fields={"class": 0})


def test_create_event_class_field_cannot_shadow_event_type_method() -> None:
    """A field named ``event_type`` replaces BaseEvent.event_type() on instances (calling
    it raises TypeError: 'str' object is not callable); it must be rejected."""
    try:
        Custom = create_event_class(name="Shadow", fields={"event_type": "x"})
    except ValueError:
        return
    assert Custom(session_id="s").event_type() == "shadow"


async def test_created_class_is_usable_on_the_bus() -> None:
    Custom = create_event_class(name="Custom", fields={"text": ""}, type_name="app.custom")
    bus = EventBus(enable_history=True)
    received: list[BaseEvent] = []
    by_string: list[BaseEvent] = []
    bus.subscribe(Custom, received.append)
    bus.subscribe("app.custom", by_string.append)
    event = Custom(session_id="s1", text="hi")
    assert await bus.publish(event, wait_for_completion=True) is True
    await bus.publish(Custom(session_id="s2", text="queued"))
    await bus.drain()
    assert [e.text for e in received] == ["hi", "queued"]
    assert by_string == received
    assert bus.get_history(event_type="app.custom", session_id="s1") == [event]


async def test_two_created_classes_with_distinct_types_are_routed_separately() -> None:
    A = create_event_class(name="A")
    B = create_event_class(name="B")
    bus = EventBus()
    got: list[str] = []
    bus.subscribe(A, lambda e: got.append("a"))
    bus.subscribe(B, lambda e: got.append("b"))
    await bus.publish(B(session_id="s"), wait_for_completion=True)
    await bus.publish(A(session_id="s"), wait_for_completion=True)
    assert got == ["b", "a"]
