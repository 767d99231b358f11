"""Tone-code services for tests of the session API: a pipeline, and waiting for a message
or a condition. (The ``sessions`` fixture, live clones stopped after the test, is in
tests/conftest.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

from xtalk.models.agents.rules import RuleAgent
from xtalk.models.asr.testing import ToneCodeASR
from xtalk.models.tts.testing import ToneCodeTTS
from xtalk.pipelines.default import DefaultPipeline
from xtalk.serving.connection import InProcessConnection


def make_pipeline(**kwargs: Any) -> DefaultPipeline:
    """Tone-code ASR and TTS (16 kHz) with the rule agent."""
    return DefaultPipeline(ToneCodeASR(), RuleAgent(), ToneCodeTTS(sample_rate=16000), **kwargs)


async def next_message(conn: InProcessConnection, action: str, timeout: float = 5.0
                       ) -> dict[str, Any]:
    """The next JSON message with ``action`` from the service (others are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no {action!r} message within {timeout} s")
        item = await conn.client.receive(timeout=remaining)
        if isinstance(item, dict) and item.get("action") == action:
            return item


async def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    """Poll ``predicate`` every 10 ms until it is true (AssertionError after ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
