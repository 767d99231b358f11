"""Voice turns on an ``xtalk-server`` WebSocket for the deployment tests (the processes
and the turn itself: tests/server_process.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from server_process import voice_turn


async def speak(ws: Any, text: str) -> str:
    """Say ``text`` in tone code on the session WebSocket ``ws``; return the recognised
    text once the reply's audio finished, after checking the reply decodes."""
    turn = await voice_turn(ws, text)
    assert turn.reply, "the reply audio did not decode"
    return turn.recognised


async def receive_until(ws: Any, action: str, timeout: float = 15) -> dict[str, Any]:
    """Skip messages until one with ``action``; return it."""
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                continue
            data = json.loads(message)
            if data["action"] == action:
                return data
