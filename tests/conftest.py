"""Shared fixtures. ``transport``: the end-to-end harness (tests/support/harness.py), run over the
in-process connection and over a real WebSocket server."""

from __future__ import annotations

from typing import Any

import pytest
from harness import TRANSPORTS, Transport

from xtalk.serving.connection import InProcessConnection
from xtalk.serving.service import Service


@pytest.fixture(params=["inprocess", "websocket"])
async def transport(request: pytest.FixtureRequest):
    """A :class:`harness.Transport`; every client and server it opened is closed after the
    test, and no message of any client may leak traceback text."""
    t: Transport = TRANSPORTS[request.param]()
    try:
        yield t
    finally:
        await t.aclose()
    leaks = [(c.name, m) for c in t.clients for m in c.tracebacks()]
    assert not leaks, f"traceback text sent to a client: {leaks}"


@pytest.fixture
def llm_server():
    """A running :class:`llm_server.ScriptedLLMServer` (scripted OpenAI-compatible server on
    127.0.0.1); script replies with ``llm_server.script(...)``, inspect ``.requests``."""
    from llm_server import ScriptedLLMServer

    with ScriptedLLMServer() as server:
        yield server


@pytest.fixture
async def sessions():
    """Make live clones and stop them at the end of the test."""
    made: list[Service] = []

    def make(proto: Service, **kwargs: Any) -> Service:
        live = proto.clone(InProcessConnection(), **kwargs)
        made.append(live)
        return live

    yield make
    for live in made:
        await live.stop()
