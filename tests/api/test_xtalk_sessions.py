"""The Xtalk session API: agent tools for every session, documents embedded for a session,
the session limiter, and what the constructor accepts."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from langchain_core.tools import tool
from service_rig import make_pipeline, wait_for

from xtalk.api import Xtalk
from xtalk.serving import events as ev
from xtalk.serving.connection import InProcessConnection
from xtalk.serving.service import DefaultService


@tool
def lookup_weather(city: str) -> str:
    """Return the weather of a city."""
    return f"Sunny in {city}."


@tool
def lookup_time(city: str) -> str:
    """Return the local time of a city."""
    return f"Noon in {city}."


def make_app(**service_config: Any) -> Xtalk:
    return Xtalk(service_prototype=DefaultService(pipeline=make_pipeline(),
                                                  service_config=service_config))


@contextlib.asynccontextmanager
async def connected(app: Xtalk, **kwargs: Any):
    """Run ``app.connect`` on an in-process connection until the block ends."""
    conn = InProcessConnection()
    before = set(app.sessions)
    task = asyncio.create_task(app.connect(conn, **kwargs))
    try:
        await wait_for(lambda: set(app.sessions) - before)
        (session_id,) = set(app.sessions) - before
        yield conn, app.sessions[session_id]
    finally:
        with contextlib.suppress(Exception):
            await conn.client.close()
        await asyncio.wait_for(task, 10)


async def test_add_agent_tools_before_any_session() -> None:
    app = make_app()
    app.add_agent_tools([lookup_weather, lambda: lookup_time])
    agent = app.service_prototype.pipeline.get_agent()
    assert [t.name for t in agent.tools] == ["lookup_weather", "lookup_time"]
    assert agent.tools[0] is lookup_weather
    assert agent.tools[1] is lookup_time


async def test_sessions_get_the_prototype_tools() -> None:
    app = make_app()
    app.add_agent_tools([lookup_weather])
    async with connected(app) as (_, live):
        tools = live.pipeline.get_agent().tools
        assert [t.name for t in tools] == ["lookup_weather"]
        assert live.pipeline.get_agent() is not app.service_prototype.pipeline.get_agent()


async def test_add_agent_tools_after_a_session_raises() -> None:
    app = make_app()
    async with connected(app):
        with pytest.raises(RuntimeError):
            app.add_agent_tools([lookup_weather])
    with pytest.raises(RuntimeError):  # also after that session ended
        app.add_agent_tools([lambda: lookup_time])
    assert app.service_prototype.pipeline.get_agent().tools == []


async def test_embed_text_unknown_session() -> None:
    app = make_app()
    with pytest.raises(ValueError):
        await app.embed_text("no-such-session", "some text")


async def test_embed_text_checks_user_and_text() -> None:
    app = make_app()
    async with connected(app, user_id="alice") as (_, live):
        with pytest.raises(ValueError):
            await app.embed_text(live.session_id, "text", user_id="bob")
        with pytest.raises(ValueError):
            await app.embed_text(live.session_id, "   ")
        await app.embed_text(live.session_id, "fine", user_id="alice")
    with pytest.raises(ValueError):  # the session has ended
        await app.embed_text(live.session_id, "late")


async def test_embed_text_then_text_turn_retrieves_the_document() -> None:
    app = make_app(event_history=True)
    document = ("The zebra project launch code is purple banana.\n\n"
                "Unrelated paragraph about gardening tomatoes in spring.")
    async with connected(app) as (conn, live):
        await app.embed_text(live.session_id, document)
        await conn.client.send_json({"action": "text_input",
                                     "data": {"text": "What is the zebra launch code?"}})
        bus = live.event_bus

        def retrieved() -> list[Any]:
            return bus.get_history(event_type=ev.RetrievalUpdated.TYPE)

        await wait_for(retrieved)
        (update,) = retrieved()
        assert isinstance(update, ev.RetrievalUpdated)
        assert update.session_id == live.session_id
        assert "purple banana" in update.text
        accepted = bus.get_history(event_type=ev.UserTurnAccepted.TYPE)
        assert accepted and accepted[0].turn_id == update.turn_id
        indexed = bus.get_history(event_type=ev.DocumentChunksIndexed.TYPE)
        assert indexed and indexed[0].vectors is None  # no embeddings model: BM25
        # The retrieved passage reaches the agent's prompt.
        await wait_for(lambda: bus.get_history(event_type=ev.GenerationRequested.TYPE))
        request = bus.get_history(event_type=ev.GenerationRequested.TYPE)[0]
        assert "purple banana" in request.messages[0]["content"]


async def test_text_turn_without_documents_publishes_no_retrieval() -> None:
    app = make_app(event_history=True)
    async with connected(app) as (conn, live):
        await conn.client.send_json({"action": "text_input", "data": {"text": "hello"}})
        bus = live.event_bus
        await wait_for(lambda: bus.get_history(event_type=ev.GenerationRequested.TYPE))
        assert bus.get_history(event_type=ev.RetrievalUpdated.TYPE) == []


async def test_set_session_limit_creates_and_replaces_the_limiter() -> None:
    app = make_app()
    assert app.limiter is None
    app.set_session_limit(2)
    limiter = app.limiter
    assert limiter is not None and limiter.limit == 2
    app.set_session_limit(5)
    assert app.limiter is limiter
    assert app.limiter.limit == 5
    with pytest.raises(ValueError):
        app.set_session_limit(0)
    assert app.limiter.limit == 5


async def test_max_sessions_constructor() -> None:
    app = Xtalk(service_prototype=DefaultService(pipeline=make_pipeline()), max_sessions=3)
    assert app.limiter is not None and app.limiter.limit == 3


async def test_xtalk_requires_a_prototype(sessions) -> None:
    live = sessions(DefaultService(pipeline=make_pipeline()))
    with pytest.raises(TypeError):
        Xtalk(service_prototype=live)
