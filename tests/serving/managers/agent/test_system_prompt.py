"""One system prompt, built by the context manager: the agent's own prompt replaces the
engine's default but never the engine's context (retrieved document excerpts)."""

from __future__ import annotations

from xtalk.models.agents.default import DefaultAgent
from xtalk.serving import events as ev
from xtalk.serving.event_bus import EventBus
from xtalk.serving.managers.agent.context import LLMAgentContextManager
from xtalk.serving.managers.agent.retrieval import RetrievalManager
from xtalk.text.prompts import DEFAULT_SYSTEM_PROMPT

NOTE = "The spare key is under the blue flower pot."


class _Pipeline:
    def __init__(self, agent) -> None:
        self.agent = agent

    def get_agent(self):
        return self.agent

    def get_embeddings_model(self):
        return None


async def _system_message(agent, service_config) -> str:
    bus = EventBus(enable_history=True)
    pipeline = _Pipeline(agent)
    for cls in (RetrievalManager, LLMAgentContextManager):
        cls(bus, "s", pipeline, service_config).bind_handlers(bus)
    await bus.publish(ev.DocumentChunksIndexed(session_id="s", chunks=[NOTE]),
                      wait_for_completion=True)
    await bus.publish(ev.UserTurnAccepted(session_id="s", turn_id=1,
                                          text="Where is the spare key?"),
                      wait_for_completion=True)
    await bus.drain()
    [request] = bus.get_history("agent.generation_requested")
    assert request.messages[0]["role"] == "system"
    return request.messages[0]["content"]


async def test_the_agents_own_prompt_keeps_the_retrieved_excerpts() -> None:
    agent = DefaultAgent(system_prompt="Speak like a pirate.", probe_local=False)
    system = await _system_message(agent, {"system_prompt": "Be brief."})
    assert system.startswith("Speak like a pirate.") and NOTE in system


async def test_the_configured_prompt_then_the_default() -> None:
    agent = DefaultAgent(probe_local=False)
    configured = await _system_message(agent, {"system_prompt": "Be brief."})
    assert configured.startswith("Be brief.") and NOTE in configured
    default = await _system_message(agent, {})
    assert default.startswith(DEFAULT_SYSTEM_PROMPT) and NOTE in default


async def test_facts_and_every_retrievers_excerpts_reach_the_prompt() -> None:
    bus = EventBus(enable_history=True)
    LLMAgentContextManager(bus, "s", _Pipeline(DefaultAgent(probe_local=False)),
                           {}).bind_handlers(bus)
    await bus.publish(ev.MemoriesRecalled(session_id="s", facts=["I live in York."]),
                      wait_for_completion=True)
    for text in ("[notes.md] The key is under the pot.", "The bike is in the shed."):
        await bus.publish(ev.RetrievalUpdated(session_id="s", turn_id=1, text=text),
                          wait_for_completion=True)
    await bus.publish(ev.UserTurnAccepted(session_id="s", turn_id=1, text="Where is it?"),
                      wait_for_completion=True)
    await bus.drain()
    [request] = bus.get_history("agent.generation_requested")
    system = request.messages[0]["content"]
    assert "- I live in York." in system
    assert "The key is under the pot." in system and "The bike is in the shed." in system
    await bus.publish(ev.UserTurnAccepted(session_id="s", turn_id=2, text="And now?"),
                      wait_for_completion=True)
    await bus.drain()
    later = bus.get_history("agent.generation_requested")[-1].messages[0]["content"]
    assert "I live in York." in later and "The key" not in later  # excerpts are per turn
