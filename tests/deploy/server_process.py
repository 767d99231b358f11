"""A scripted voice turn on an ``xtalk-server`` WebSocket (the processes themselves:
tests/server_process.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import soxr

from xtalk.models import tone_code


async def speak(ws: Any, text: str) -> str:
    """Say ``text`` in tone code on the session WebSocket ``ws``; return the recognised
    text once the reply's audio finished, after checking the reply decodes."""
    speech = tone_code.encode(text, 16000)
    audio = np.concatenate([np.zeros(4000, np.int16), speech, np.zeros(16000, np.int16)])
    for i in range(0, audio.size, 512):
        await ws.send(audio[i:i + 512].tobytes())
        await asyncio.sleep(0.008)
    recognised, pcm = None, []
    async with asyncio.timeout(30):
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                pcm.append(np.frombuffer(message, dtype=np.int16))
                continue
            data = json.loads(message)
            if data["action"] == "finish_asr":
                recognised = data["data"]["text"]
            if data["action"] == "tts_finished":
                break
    reply = soxr.resample(np.concatenate(pcm), 48000, 16000).astype(np.int16)
    decoded, _ = tone_code.decode(reply, 16000)
    assert decoded, "the reply audio did not decode"
    return recognised or ""


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
