"""Cancelling a generation stops it even when the agent's stream swallows the
cancellation (ends quietly instead of raising): a speculative generation would otherwise
wait forever for a confirmation, and the session's events behind the cancel with it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from harness import wait_until
from manager_rig import SESSION, ManagerRig

from xtalk.models.interfaces import TextDelta
from xtalk.serving import events as ev
from xtalk.serving.managers.agent import consumption
from xtalk.serving.managers.agent.consumption import LLMAgentConsumptionManager


class SwallowingAgent:
    """Streams one sentence, then waits for more; a cancellation ends its stream quietly
    (what a library that catches CancelledError does)."""

    def __init__(self) -> None:
        self.swallowed = 0

    async def astream(self, messages: list[dict[str, Any]]) -> AsyncIterator[Any]:
        yield TextDelta("Those were the words of President Kennedy.")
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.swallowed += 1
            return


async def test_a_cancellation_the_stream_swallows_still_stops_the_generation(
        monkeypatch) -> None:
    monkeypatch.setattr(consumption, "CANCEL_RETRY_S", 0.05)
    rig = ManagerRig(LLMAgentConsumptionManager)
    agent = SwallowingAgent()
    rig.pipeline.llm_agent = agent
    await rig.publish(ev.GenerationRequested(session_id=SESSION, turn_id=1, speculative=True,
                                             messages=[{"role": "user", "content": "Hi"}]))
    await wait_until(lambda: rig.seen(ev.ReplyTextDelta), what="the first sentence")
    await asyncio.wait_for(rig.publish(ev.GenerationCancelRequested(
        session_id=SESSION, turn_id=1, speculative=True)), timeout=5)
    assert agent.swallowed == 1
    assert not rig.seen(ev.ReplyTextCompleted)  # discarded, never completed
    # the session goes on: the next request is answered
    rig.pipeline.llm_agent = _Answering()
    await rig.publish(ev.GenerationRequested(session_id=SESSION, turn_id=2,
                                             messages=[{"role": "user", "content": "Hi"}]))
    await wait_until(lambda: rig.seen(ev.ReplyTextCompleted), what="the next reply")
    assert rig.seen(ev.ReplyTextCompleted)[-1].text == "Hello."


class _Answering:
    async def astream(self, messages: list[dict[str, Any]]) -> AsyncIterator[Any]:
        yield TextDelta("Hello.")
