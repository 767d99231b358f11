"""Service prototypes and live sessions, managers, subscription overrides, conversation
restore and stop."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from service_rig import make_pipeline, next_message

from xtalk.models.vad.energy import EnergyVAD
from xtalk.serving import events as ev
from xtalk.serving.connection import InProcessConnection
from xtalk.serving.event_bus import EventBus
from xtalk.serving.events import create_event_class
from xtalk.serving.interfaces import Manager
from xtalk.serving.managers import (
    CaptionerManager,
    EnhancerManager,
    LLMAgentContextManager,
    RecordingManager,
    RetrievalManager,
    SpeakerManager,
    ThinkingCueManager,
    TurnDetectorManager,
    VADManager,
    WakeWordManager,
)
from xtalk.serving.service import DefaultService, Service

Ping = create_event_class(name="PingEvent", fields={"text": ""}, type_name="test.ping")
Pong = create_event_class(name="PongEvent", fields={"text": ""}, type_name="test.pong")


# --------------------------------------------------------------------------- helpers
class RecorderManager(Manager):
    """Records the events it handles and its shutdowns."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, str]] = []
        self.shutdowns = 0

    @Manager.event_handler(Ping)
    def on_ping(self, event: Any) -> None:
        self.calls.append(("on_ping", event.text))

    @Manager.event_handler(Ping, priority=5)
    async def on_ping_async(self, event: Any) -> None:
        self.calls.append(("on_ping_async", event.text))

    @Manager.event_handler(Pong)
    def on_pong(self, event: Any) -> None:
        self.calls.append(("on_pong", event.text))

    def extra(self, event: Any) -> None:
        self.calls.append(("extra", event.text))

    async def shutdown(self) -> None:
        self.shutdowns += 1


class BoomManager(Manager):
    async def shutdown(self) -> None:
        raise RuntimeError("shutdown failed")


class LateRecorderManager(RecorderManager):
    """A second recorder class (managers are keyed by class)."""



def recorder_proto(**kwargs: Any) -> Service:
    return Service(pipeline=make_pipeline(), manager_classes=[RecorderManager], **kwargs)


async def publish(live: Service, event_cls: Any, text: str = "x") -> None:
    assert live.event_bus is not None
    await live.event_bus.publish(event_cls(session_id=live.session_id, text=text),
                                 wait_for_completion=True)


def recorder(live: Service, cls: type[Manager] = RecorderManager) -> Any:
    return live.managers[cls]



# --------------------------------------------------------------------------- prototype / live
async def test_prototype_has_no_runtime_state() -> None:
    pipeline = make_pipeline()
    proto = DefaultService(pipeline=pipeline, service_config={"system_prompt": "P"})
    assert proto.is_prototype
    assert proto.event_bus is None
    assert proto.managers == {}
    assert proto.pipeline is pipeline
    # the documented stack, then the extras (the wake-word gate, the thinking cue)
    assert proto.manager_classes == [*DefaultService.MANAGER_CLASSES, WakeWordManager,
                                     ThinkingCueManager]
    assert proto.manager_classes is not DefaultService.MANAGER_CLASSES


async def test_clone_makes_an_isolated_live_session(sessions) -> None:
    pipeline = make_pipeline(vad=EnergyVAD())
    proto = DefaultService(pipeline=pipeline)
    a, b = sessions(proto), sessions(proto)
    assert type(a) is DefaultService
    for live in (a, b):
        assert not live.is_prototype
        assert isinstance(live.event_bus, EventBus)
        assert live.pipeline is not pipeline
        assert live.pipeline.get_tts_model() is not pipeline.get_tts_model()
        assert live.pipeline.get_vad_model() is not pipeline.get_vad_model()
        assert live.pipeline.get_agent() is not pipeline.get_agent()
    assert a.event_bus is not b.event_bus
    assert a.pipeline is not b.pipeline
    assert a.pipeline.get_tts_model() is not b.pipeline.get_tts_model()
    assert a.session_id != b.session_id
    assert proto.is_prototype and proto.managers == {}
    for cls in DefaultService.MANAGER_CLASSES:
        assert a.managers[cls] is not b.managers[cls]
        assert a.managers[cls].event_bus is a.event_bus
        assert a.managers[cls].pipeline is a.pipeline
        assert a.managers[cls].session_id == a.session_id


async def test_default_manager_classes_instantiated_in_order(sessions) -> None:
    live = sessions(DefaultService(pipeline=make_pipeline()))
    expected = DefaultService.default_manager_classes()
    assert list(live.managers) == expected
    assert [type(m) for m in live.managers.values()] == expected


async def test_clone_of_subclass_keeps_the_type(sessions) -> None:
    class MyService(DefaultService):
        pass

    live = sessions(MyService(pipeline=make_pipeline()))
    assert type(live) is MyService


async def test_handle_message_loop_on_prototype_raises() -> None:
    proto = DefaultService(pipeline=make_pipeline())
    with pytest.raises(RuntimeError):
        await proto.handle_message_loop()
    with pytest.raises(RuntimeError):
        await proto.send_session_attached()
    await proto.stop()  # a no-op on a prototype


async def test_clone_with_session_id_and_config_overrides(sessions) -> None:
    proto = DefaultService(pipeline=make_pipeline(),
                           service_config={"system_prompt": "Base.", "retrieval_top_k": 2})
    live = sessions(proto, session_id="session-42",
                    service_config_overrides={"system_prompt": "Override."})
    assert live.session_id == "session-42"
    assert live.service_config == {"system_prompt": "Override.", "retrieval_top_k": 2}
    assert proto.service_config == {"system_prompt": "Base.", "retrieval_top_k": 2}
    context = live.managers[LLMAgentContextManager]
    assert context.system_prompt == "Override."
    assert context.session_id == "session-42"
    assert live.managers[RetrievalManager].top_k == 2
    other = sessions(proto)
    assert other.managers[LLMAgentContextManager].system_prompt == "Base."


async def test_service_config_is_copied_not_shared(sessions) -> None:
    config = {"system_prompt": "Base."}
    proto = DefaultService(pipeline=make_pipeline(), service_config=config)
    config["system_prompt"] = "Changed later."
    assert proto.service_config["system_prompt"] == "Base."
    live = sessions(proto)
    live.service_config["system_prompt"] = "Live."
    assert proto.service_config["system_prompt"] == "Base."


# --------------------------------------------------------------------------- managers
async def test_register_and_unregister_on_prototype(sessions) -> None:
    proto = DefaultService(pipeline=make_pipeline())
    proto.register_manager(RecorderManager)
    proto.register_manager(RecorderManager)  # twice: no duplicate
    assert proto.manager_classes.count(RecorderManager) == 1
    assert proto.manager_classes[-1] is RecorderManager
    assert DefaultService.MANAGER_CLASSES.count(RecorderManager) == 0  # class list untouched
    live = sessions(proto)
    assert list(live.managers)[-1] is RecorderManager
    await publish(live, Ping, "hello")
    assert ("on_ping", "hello") in recorder(live).calls

    proto.unregister_manager(RecorderManager)
    proto.unregister_manager(RetrievalManager)
    assert RecorderManager not in proto.manager_classes
    later = sessions(proto)
    assert RecorderManager not in later.managers
    assert RetrievalManager not in later.managers
    assert RecorderManager in live.managers  # an existing session keeps its managers


async def test_register_and_unregister_on_live_session(sessions) -> None:
    proto = DefaultService(pipeline=make_pipeline())
    live = sessions(proto)
    live.register_manager(RecorderManager)
    assert RecorderManager not in proto.manager_classes
    manager = recorder(live)
    await publish(live, Ping, "one")
    assert manager.calls == [("on_ping_async", "one"), ("on_ping", "one")]

    live.unregister_manager(RecorderManager)
    assert RecorderManager not in live.managers
    assert RecorderManager not in live.manager_classes
    await publish(live, Ping, "two")
    assert manager.calls == [("on_ping_async", "one"), ("on_ping", "one")]
    await live.stop()
    assert manager.shutdowns == 1  # retired managers are shut down with the session


async def test_get_manager_finds_subclasses(sessions) -> None:
    live = sessions(Service(pipeline=make_pipeline(), manager_classes=[LateRecorderManager]))
    assert live.get_manager(RecorderManager) is live.managers[LateRecorderManager]
    assert live.get_manager(BoomManager) is None


# --------------------------------------------------------------------------- subscriptions
async def test_declared_handlers_run_by_priority(sessions) -> None:
    live = sessions(recorder_proto())
    await publish(live, Ping, "p")
    assert recorder(live).calls == [("on_ping_async", "p"), ("on_ping", "p")]


async def test_subscribe_event_with_method_name(sessions) -> None:
    proto = recorder_proto()
    proto.subscribe_event(event_listener_cls=RecorderManager, event_type=Pong,
                          method_or_handler="extra")
    live = sessions(proto)
    await publish(live, Pong, "q")
    assert recorder(live).calls == [("on_pong", "q"), ("extra", "q")]


async def test_subscribe_event_with_external_event_handler(sessions) -> None:
    seen: list[str] = []

    def handler(event: Any) -> None:
        seen.append(event.text)

    proto = recorder_proto()
    proto.subscribe_event(event_listener_cls=RecorderManager, event_type=Ping,
                          method_or_handler=handler)
    live = sessions(proto)
    await publish(live, Ping, "ext")
    assert seen == ["ext"]


async def test_subscribe_event_with_listener_event_handler(sessions) -> None:
    seen: list[tuple[Any, str]] = []

    async def handler(listener: Any, event: Any) -> None:
        seen.append((listener, event.text))

    proto = recorder_proto()
    proto.subscribe_event(event_listener_cls=RecorderManager, event_type=Ping,
                          method_or_handler=handler)
    a, b = sessions(proto), sessions(proto)
    await publish(a, Ping, "a")
    await publish(b, Ping, "b")
    assert seen == [(recorder(a), "a"), (recorder(b), "b")]


async def test_subscribe_event_priority(sessions) -> None:
    order: list[str] = []
    proto = Service(pipeline=make_pipeline(), manager_classes=[RecorderManager])
    proto.subscribe_event(event_listener_cls=RecorderManager, event_type=Ping,
                          method_or_handler=lambda e: order.append("low"), priority=-10)
    proto.subscribe_event(event_listener_cls=RecorderManager, event_type=Ping,
                          method_or_handler=lambda e: order.append("high"), priority=10)
    live = sessions(proto)
    await publish(live, Ping, "x")
    assert order == ["high", "low"]
    assert recorder(live).calls == [("on_ping_async", "x"), ("on_ping", "x")]


async def test_subscribe_event_enabled_if(sessions) -> None:
    seen: list[str] = []
    proto = recorder_proto()
    proto.subscribe_event(event_listener_cls=RecorderManager, event_type=Ping,
                          method_or_handler=lambda e: seen.append("never"),
                          enabled_if=lambda listener: False)
    proto.subscribe_event(event_listener_cls=RecorderManager, event_type=Ping,
                          method_or_handler=lambda e: seen.append(e.session_id),
                          enabled_if=lambda listener: listener.session_id == "chosen")
    other = sessions(proto)
    chosen = sessions(proto, session_id="chosen")
    await publish(other, Ping)
    await publish(chosen, Ping)
    assert seen == ["chosen"]


async def test_subscribe_event_on_live_session_applies_at_once(sessions) -> None:
    proto = recorder_proto()
    live = sessions(proto)
    seen: list[str] = []
    live.subscribe_event(event_listener_cls=RecorderManager, event_type=Pong,
                         method_or_handler=lambda e: seen.append(e.text))
    live.subscribe_event(event_listener_cls=RecorderManager, event_type=Pong,
                         method_or_handler="extra")
    live.subscribe_event(event_listener_cls=RecorderManager, event_type=Pong,
                         method_or_handler=lambda e: seen.append("disabled"),
                         enabled_if=lambda listener: False)
    await publish(live, Pong, "now")
    assert seen == ["now"]
    assert ("extra", "now") in recorder(live).calls


async def test_subscribe_event_for_subclass_listener_via_base_class(sessions) -> None:
    seen: list[str] = []
    proto = Service(pipeline=make_pipeline(), manager_classes=[LateRecorderManager])
    proto.subscribe_event(event_listener_cls=RecorderManager, event_type=Pong,
                          method_or_handler=lambda e: seen.append(e.text))
    live = sessions(proto)
    await publish(live, Pong, "inherited")
    assert seen == ["inherited"]


async def test_unsubscribe_one_method(sessions) -> None:
    proto = recorder_proto()
    proto.unsubscribe_event(event_listener_cls=RecorderManager, event_type=Ping,
                            method_name="on_ping")
    live = sessions(proto)
    await publish(live, Ping, "1")
    await publish(live, Pong, "2")
    assert recorder(live).calls == [("on_ping_async", "1"), ("on_pong", "2")]


async def test_unsubscribe_all_handlers_of_an_event(sessions) -> None:
    proto = recorder_proto()
    proto.unsubscribe_event(event_listener_cls=RecorderManager, event_type=Ping)
    live = sessions(proto)
    await publish(live, Ping, "1")
    await publish(live, Pong, "2")
    assert recorder(live).calls == [("on_pong", "2")]
    assert live.event_bus.subscriber_count(Ping) == 0


async def test_unsubscribe_on_live_session_applies_at_once(sessions) -> None:
    live = sessions(recorder_proto())
    live.unsubscribe_event(event_listener_cls=RecorderManager, event_type=Ping,
                           method_name="on_ping_async")
    await publish(live, Ping, "1")
    live.unsubscribe_event(event_listener_cls=RecorderManager, event_type=Ping)
    await publish(live, Ping, "2")
    assert recorder(live).calls == [("on_ping", "1")]


async def test_unsubscribe_after_subscribe_disables_the_added_method(sessions) -> None:
    proto = recorder_proto()
    proto.subscribe_event(event_listener_cls=RecorderManager, event_type=Pong,
                          method_or_handler="extra")
    proto.unsubscribe_event(event_listener_cls=RecorderManager, event_type=Pong,
                            method_name="extra")
    live = sessions(proto)
    await publish(live, Pong, "x")
    assert recorder(live).calls == [("on_pong", "x")]


async def test_overrides_copied_into_clones_and_do_not_leak_back(sessions) -> None:
    seen: list[str] = []
    proto = recorder_proto()
    proto.subscribe_event(event_listener_cls=RecorderManager, event_type=Ping,
                          method_or_handler=lambda e: seen.append("proto:" + e.session_id))
    first = sessions(proto, session_id="first")
    # Changes on a live session stay in that session.
    first.subscribe_event(event_listener_cls=RecorderManager, event_type=Ping,
                          method_or_handler=lambda e: seen.append("live:" + e.session_id))
    first.unsubscribe_event(event_listener_cls=RecorderManager, event_type=Pong)
    # Changes on the prototype after a clone do not reach that clone.
    proto.subscribe_event(event_listener_cls=RecorderManager, event_type=Ping,
                          method_or_handler=lambda e: seen.append("late:" + e.session_id))
    second = sessions(proto, session_id="second")

    await publish(first, Ping)
    await publish(second, Ping)
    await publish(first, Pong, "p1")
    await publish(second, Pong, "p2")
    assert seen == ["proto:first", "live:first", "proto:second", "late:second"]
    assert ("on_pong", "p1") not in recorder(first).calls
    assert ("on_pong", "p2") in recorder(second).calls


# --------------------------------------------------------------------------- conversation
HISTORY = [
    {"role": "system", "content": "old system prompt"},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
]


async def test_restore_conversation_sets_the_conversation(sessions) -> None:
    live = sessions(DefaultService(pipeline=make_pipeline()))
    assert live.conversation() == []
    live.restore_conversation(messages=HISTORY)
    await live.event_bus.drain()  # a ConversationRestored event, delivered in order
    assert live.conversation() == HISTORY[1:]
    # The agent's prompt snapshot now carries the restored history.
    context = live.managers[LLMAgentContextManager]
    snapshot = context._snapshot(1)
    assert snapshot[0]["role"] == "system"
    assert snapshot[1:] == HISTORY[1:]


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "robot", "content": "beep"}],
        [{"role": "tool", "content": "x"}],
        [{"role": "user", "content": 3}],
        [{"role": "user"}],
        [{"content": "no role"}],
        ["just a string"],
        [{"role": "user", "content": "ok"}, {"role": "bad", "content": "x"}],
    ],
)
async def test_restore_conversation_validates_messages(sessions, messages) -> None:
    live = sessions(DefaultService(pipeline=make_pipeline()))
    live.restore_conversation(messages=HISTORY)
    with pytest.raises(ValueError):
        live.restore_conversation(messages=messages)
    await live.event_bus.drain()
    assert live.conversation() == HISTORY[1:]  # nothing partially applied


async def test_session_info_and_session_attached() -> None:
    conn = InProcessConnection()
    live = DefaultService(pipeline=make_pipeline()).clone(conn, session_id="attach-1")
    live.restore_conversation(messages=HISTORY)
    task = asyncio.create_task(live.handle_message_loop())
    try:
        info = await next_message(conn, "session_info")
        assert info == {"action": "session_info", "data": {"session_id": "attach-1"}}
        await live.send_session_attached()
        attached = await next_message(conn, "session_attached")
        assert attached == {"action": "session_attached",
                            "data": {"session_id": "attach-1", "messages": HISTORY[1:]}}
    finally:
        await conn.client.close()
        await asyncio.wait_for(task, 10)
    assert live.event_bus.get_stats()["closed"]


# --------------------------------------------------------------------------- stop
async def test_stop_shuts_down_every_manager_even_if_one_fails(caplog) -> None:
    proto = Service(pipeline=make_pipeline(),
                    manager_classes=[BoomManager, RecorderManager, LateRecorderManager])
    live = proto.clone(InProcessConnection())
    first, second = recorder(live), recorder(live, LateRecorderManager)
    await live.stop()
    assert first.shutdowns == 1
    assert second.shutdowns == 1
    assert live.event_bus.get_stats()["closed"]
    assert "BoomManager failed to shut down" in caplog.text
    await live.stop()  # twice is fine
    assert first.shutdowns == 1


async def test_a_session_stopped_mid_reply_leaves_nothing_running(tmp_path) -> None:
    """Stopped while the reply is being spoken: every default manager (recording too) shuts
    down, a second shutdown of each is harmless, and no task of the session lives on."""
    conn = InProcessConnection()
    proto = DefaultService(pipeline=make_pipeline(vad=EnergyVAD()),
                           service_config={"record_dir": str(tmp_path)})
    before = asyncio.all_tasks()
    live = proto.clone(conn)
    loop_task = asyncio.create_task(live.handle_message_loop())
    await next_message(conn, "session_info")
    await live.event_bus.publish(ev.DirectAudioSubmitted(  # the recorder opens its file
        session_id=live.session_id, samples=np.zeros(512, dtype=np.int16), sample_rate=16000),
        wait_for_completion=True)
    await conn.client.send_json({"action": "text_input", "data": {"text": "help"}})
    await next_message(conn, "start_tts")
    await live.stop()
    await asyncio.wait_for(loop_task, 10)
    for manager in live.managers.values():
        await manager.shutdown()  # again: nothing to release, nothing raised
    await asyncio.sleep(0.05)
    left = {t for t in asyncio.all_tasks() - before if not t.done()}
    left.discard(asyncio.current_task())  # type: ignore[arg-type]
    assert not left, left
    assert live.event_bus.get_stats()["closed"]
    assert (tmp_path / f"{live.session_id}.wav").stat().st_size > 44  # closed and complete


async def test_stop_after_message_loop_ended() -> None:
    conn = InProcessConnection()
    proto = Service(pipeline=make_pipeline(), manager_classes=[RecorderManager, BoomManager])
    live = proto.clone(conn)
    task = asyncio.create_task(live.handle_message_loop())
    await next_message(conn, "session_info")
    await conn.client.close()
    await asyncio.wait_for(task, 10)
    assert recorder(live).shutdowns == 1
    await live.stop()
    assert recorder(live).shutdowns == 1


async def test_stop_publishes_session_stopping(sessions) -> None:
    seen: list[str] = []
    proto = recorder_proto()
    proto.subscribe_event(event_listener_cls=RecorderManager, event_type=ev.SessionStopping,
                          method_or_handler=lambda e: seen.append(e.reason))
    live = proto.clone(InProcessConnection())
    await live.stop()
    assert seen == ["stop"]


# --------------------------------------------------------------------------- optional managers
OPTIONAL = [VADManager, EnhancerManager, CaptionerManager, SpeakerManager, RecordingManager,
            TurnDetectorManager, WakeWordManager, ThinkingCueManager]


def subscriptions(live: Service) -> dict[str, int]:
    return dict(live.event_bus.get_stats()["subscriptions"])


async def test_optional_managers_switch_off_without_models(sessions) -> None:
    full = sessions(DefaultService(pipeline=make_pipeline()))
    without = sessions(Service(
        pipeline=make_pipeline(),
        manager_classes=[c for c in DefaultService.default_manager_classes()
                         if c not in OPTIONAL]))
    for cls in OPTIONAL:
        assert cls in full.managers  # instantiated, but switched off
    subs_full, subs_without = subscriptions(full), subscriptions(without)
    # The only handlers left are the VAD manager's: it places *client* VAD signals on the
    # input timeline, which works without a server-side VAD model (its frame handler only
    # tracks the timeline then).
    for event_cls in (ev.ClientVADSignalled, ev.AudioFrameReceived):
        assert subs_full.pop(event_cls.TYPE) == subs_without.pop(event_cls.TYPE, 0) + 1
    assert subs_full == subs_without
    assert full.event_bus.subscriber_count(ev.TurnEndCheckRequested) == 0
    assert full.event_bus.subscriber_count(ev.AudioChunkSent) == \
        without.event_bus.subscriber_count(ev.AudioChunkSent)


async def test_session_without_optional_models_handles_audio(sessions) -> None:
    live = sessions(DefaultService(pipeline=make_pipeline()))
    ok = await live.event_bus.publish(
        ev.DirectAudioSubmitted(session_id=live.session_id,
                                samples=np.zeros(512, dtype=np.int16), sample_rate=16000,
                                source="test"),
        wait_for_completion=True)
    assert ok
    await live.event_bus.drain()
    assert live.event_bus.get_stats()["handler_errors"] == 0



async def test_malformed_client_messages_are_answered_and_the_session_lives_on() -> None:
    conn = InProcessConnection()
    live = DefaultService(pipeline=make_pipeline()).clone(conn)
    task = asyncio.create_task(live.handle_message_loop())
    try:
        await next_message(conn, "session_info")
        huge = "1" + "0" * 400
        for text in ["{", '{"action": "change_tts_speed", "data": {"speed": ' + huge + "}}",
                     '{"action": "change_emotion", "data": {"emotion_vector": [NaN]}}']:
            await conn.client.send_text(text)
            error = await next_message(conn, "error")
            assert error["data"]["code"] in ("invalid_json", "invalid_field")
        await conn.client.send_bytes(b"\x00")
        assert (await next_message(conn, "error"))["data"]["code"] == "misaligned_frame"
        assert not task.done()
        await conn.client.send_json({"action": "ping", "data": {"timestamp": 1}})
        pong = await next_message(conn, "pong")
        assert pong["client_timestamp"] == 1
    finally:
        await conn.client.close()
        await asyncio.wait_for(task, 10)
