"""Speculative replies, end to end with test models over both transports.

At a pause inside the user's turn the reply to what was said so far is prepared; it goes
out only when the turn is accepted with the same words, and a discarded one leaves no
trace on the wire, in the conversation or in the store.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from harness import Transport, build_xtalk, silence, tones, wait_until, words

from xtalk import Xtalk
from xtalk.serving import events as ev
from xtalk.serving.managers.agent.context import LLMAgentContextManager

pytestmark = pytest.mark.timeout(30)

REPLY = "I heard you say: {text}."
TRACKED = (ev.GenerationRequested, ev.GenerationCancelRequested, ev.SpeculationConfirmed,
           ev.ReplySpeculationRequested, ev.ToolCalled, ev.ConversationTurnCommitted)


class RecordingTool:
    """A LangChain-style tool that records when it runs."""

    name = "set_alarm"
    description = "Set an alarm."

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []

    def invoke(self, args: dict[str, Any]) -> str:
        self.runs.append(dict(args))
        return "alarm set"


def xtalk_with_detector(**agent: Any) -> Xtalk:
    return build_xtalk(agent={"default_reply": REPLY, **agent},
                       rules=[{"pattern": r"\balarm\b", "tool": "set_alarm",
                               "reply": "Done: {result}."}],
                       turn_detector={"type": "TextEndpointPolicy",
                                      "params": {"extra_wait_s": 0.8}})


def record(xt: Xtalk, session_id: str) -> list[ev.BaseEvent]:
    events: list[ev.BaseEvent] = []
    bus = xt.sessions[session_id].event_bus
    for cls in TRACKED:
        bus.subscribe(cls, events.append)
    return events


def history(xt: Xtalk, session_id: str) -> list[dict[str, Any]]:
    context = xt.sessions[session_id].get_manager(LLMAgentContextManager)
    assert isinstance(context, LLMAgentContextManager)
    return context.conversation_messages()


def kinds(events: list[ev.BaseEvent]) -> list[str]:
    out = []
    for e in events:
        if isinstance(e, ev.ConversationTurnCommitted):
            continue
        name = type(e).__name__
        if isinstance(e, ev.GenerationRequested | ev.GenerationCancelRequested):
            name += "(speculative)" if e.speculative else ""
        out.append(name)
    return out


async def test_a_confirmed_speculation_is_the_reply(transport: Transport) -> None:
    xt = xtalk_with_detector()
    client = await transport.open_session(xt)
    events = record(xt, client.session_id)
    await client.send_audio(silence(0.1))
    await client.send_audio(tones("hello there"), speed=2.0)
    await client.send_audio(silence(0.8), speed=2.0)
    final = await client.wait_for("finish_asr")
    await client.wait_for("tts_finished", turn_id=final.turn_id)
    assert kinds(events) == ["ReplySpeculationRequested", "GenerationRequested(speculative)",
                             "SpeculationConfirmed"], events
    # nothing of the reply went out before the turn was accepted
    first_reply = min(m.index for m in client.messages
                      if m.action in ("update_resp", "start_tts", "tts_chunk_meta"))
    assert final.index < first_reply, client.dump()
    assert words(client.first("finish_resp").data["text"]) == words(
        "I heard you say: hello there.")
    metrics = await client.wait_for("latency_metrics", turn_id=final.turn_id)
    assert metrics.data["speculation_saved_ms"] >= 0.0
    await wait_until(lambda: len(history(xt, client.session_id)) == 2, what="reply committed")
    assert [m["role"] for m in history(xt, client.session_id)] == ["user", "assistant"]


async def test_a_discarded_speculation_leaves_no_trace(transport: Transport) -> None:
    """"set a timer for" … (pause: speculated, but the transcript promises more) … "ten
    minutes": the reply to the first part never reaches the wire or the conversation."""
    xt = xtalk_with_detector(token_delay_s=0.05)
    client = await transport.open_session(xt)
    events = record(xt, client.session_id)
    await client.send_audio(silence(0.1))
    await client.send_audio(tones("set a timer for"), speed=2.0)
    await client.send_audio(silence(0.45), speed=1.0)  # a pause: speculated, not ended
    await wait_until(lambda: any(isinstance(e, ev.ReplySpeculationRequested) for e in events),
                     what="the speculation")
    await client.send_audio(tones("ten minutes"), speed=2.0)
    await client.send_audio(silence(1.4), speed=2.0)
    final = await client.wait_for("finish_asr")
    await client.wait_for("tts_finished", turn_id=final.turn_id)
    assert final.data["text"] == "set a timer for ten minutes"
    cancelled = [e for e in events if isinstance(e, ev.GenerationCancelRequested)]
    assert cancelled and all(e.speculative for e in cancelled), events
    reply = "I heard you say: set a timer for ten minutes."
    texts = [m.data.get("text", "") for m in client.messages
             if m.action in ("update_resp", "finish_resp")]
    assert texts and all(reply.startswith(t) for t in texts), client.dump()
    assert client.first("finish_resp").data["text"] == reply
    assert len(client.of("finish_asr")) == 1 and len(client.of("tts_finished")) == 1
    await wait_until(lambda: len(history(xt, client.session_id)) == 2, what="reply committed")
    assert history(xt, client.session_id) == [
        {"role": "user", "content": "set a timer for ten minutes"},
        {"role": "assistant", "content": reply}]
    # what the store would persist (ConversationTurnCommitted) is the same, nothing else
    committed = [(e.role, e.content) for e in events
                 if isinstance(e, ev.ConversationTurnCommitted)]
    assert committed == [("user", "set a timer for ten minutes"), ("assistant", reply)]


async def test_a_tool_call_in_a_speculation_waits_for_confirmation(transport: Transport
                                                                  ) -> None:
    tool = RecordingTool()
    xt = xtalk_with_detector()
    xt.service_prototype.pipeline.get_agent().add_tools([tool])
    client = await transport.open_session(xt)
    events = record(xt, client.session_id)
    session_agent = xt.sessions[client.session_id].pipeline.get_agent()
    session_tool = session_agent.tools[-1]
    # "set an alarm for" … pause (speculated: the rule would call the tool) … "six"
    await client.send_audio(silence(0.1))
    await client.send_audio(tones("set an alarm for"), speed=2.0)
    await client.send_audio(silence(0.45), speed=1.0)
    await wait_until(lambda: any(isinstance(e, ev.ReplySpeculationRequested) for e in events),
                     what="the speculation")
    await asyncio.sleep(0.2)
    assert session_tool.runs == [], "a speculative reply ran a tool"
    await client.send_audio(tones("six"), speed=2.0)
    await client.send_audio(silence(1.4), speed=2.0)
    final = await client.wait_for("finish_asr")
    await client.wait_for("tts_finished", turn_id=final.turn_id)
    assert session_tool.runs == [{}]  # once, for the accepted turn
    assert len(client.of("tool_called")) == 1
    assert client.of("tool_called")[0].index > final.index


async def test_speculation_mismatch_is_regenerated() -> None:
    """The context manager confirms a speculation only for the same words on the same
    conversation; otherwise it cancels it and generates the accepted turn afresh."""
    from xtalk.serving.event_bus import EventBus

    class _NoAgent:
        def get_agent(self) -> None:
            return None

    bus = EventBus(enable_history=True)
    manager = LLMAgentContextManager(bus, "s", _NoAgent(), {})
    manager.bind_handlers(bus)
    await bus.publish(ev.ReplySpeculationRequested(session_id="s", turn_id=1,
                                                   text="What time is it"),
                      wait_for_completion=True)
    await bus.publish(ev.UserTurnAccepted(session_id="s", turn_id=1, text="What time is it?"),
                      wait_for_completion=True)
    await bus.publish(ev.ReplySpeculationRequested(session_id="s", turn_id=2, text="Tell me"),
                      wait_for_completion=True)
    await bus.publish(ev.UserTurnAccepted(session_id="s", turn_id=2, text="Tell me a joke."),
                      wait_for_completion=True)
    await bus.drain()
    got = [(type(e).__name__, getattr(e, "turn_id", None), getattr(e, "speculative", None))
           for e in bus.get_history()
           if isinstance(e, ev.GenerationRequested | ev.GenerationCancelRequested
                         | ev.SpeculationConfirmed)]
    assert got == [("GenerationRequested", 1, True), ("SpeculationConfirmed", 1, None),
                   ("GenerationRequested", 2, True), ("GenerationCancelRequested", 2, True),
                   ("GenerationRequested", 2, False)]
    final = bus.get_history("agent.generation_requested")[-1]
    assert final.messages[-1] == {"role": "user", "content": "Tell me a joke."}
