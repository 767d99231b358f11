"""The session's agent resolves its language-model endpoint when the session starts, not
during the user's first turn (resolving costs ~0.7 s: probing, imports, client set-up)."""

from __future__ import annotations

import pytest
from harness import Transport, make_config, wait_until
from llm_server import ScriptedLLMServer

from xtalk.api import Xtalk

pytestmark = pytest.mark.timeout(60)


async def test_agent_is_resolved_before_the_first_turn(transport: Transport) -> None:
    with ScriptedLLMServer() as llm:
        config = make_config()
        config["llm_agent"] = {"type": "DefaultAgent", "params": {"model": {
            "base_url": llm.base_url, "api_key": "test-key", "model": "scripted-model"}}}
        xt = Xtalk.from_config(config)
        client = await transport.open_session(xt)
        agent = xt.sessions[client.session_id].pipeline.get_agent()
        # no turn yet: nothing was asked of the model, but the endpoint is ready
        # (``agent.connected`` would resolve it itself: look at the backend's flag)
        await wait_until(lambda: agent._backend.resolved, timeout=20,
                         what="the agent resolved")
        assert agent.connected
        assert not llm.requests
        llm.script("Hi there.")
        await client.send_json({"action": "text_input", "data": {"text": "hello"}})
        reply = await client.wait_for("finish_resp", timeout=20)
        assert reply.data["text"] == "Hi there."
