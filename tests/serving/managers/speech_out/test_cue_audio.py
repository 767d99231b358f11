"""The thinking cue in the real voice: one chunk without the voice's trailing silence (so
the reply's words are not held back behind it), synthesised once per session and voice."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from manager_rig import SESSION

from xtalk.models.agents.rules import RuleAgent
from xtalk.models.asr.testing import ToneCodeASR
from xtalk.models.tts.piper import PiperTTS
from xtalk.pipelines.default import DefaultPipeline
from xtalk.serving.event_bus import EventBus
from xtalk.serving.events import GenerationRequested, ThinkingCueRequested, TTSChunkReady
from xtalk.serving.managers.speech_out.tts import TTSManager

pytestmark = pytest.mark.timeout(60)


def silent_edges_s(pcm: np.ndarray, rate: int) -> tuple[float, float]:
    """Seconds before the first and after the last 10 ms block above -45 dBFS."""
    block = rate // 100
    n = pcm.size // block
    x = pcm[:n * block].astype(np.float32).reshape(n, block) / 32768
    rms = np.sqrt(np.mean(x * x, axis=1))
    loud = np.nonzero(rms > 10 ** (-45 / 20))[0]
    return loud[0] * block / rate, (pcm.size - (loud[-1] + 1) * block) / rate


async def test_the_cue_is_trimmed_and_made_once() -> None:
    tts = PiperTTS()
    raw = np.concatenate(list(tts.synthesize("Hmm.")))
    raw_lead, raw_tail = silent_edges_s(raw, tts.sample_rate)
    assert raw_tail > 0.1  # what the voice leaves after it
    bus = EventBus(enable_history=True)
    manager = TTSManager(bus, SESSION, DefaultPipeline(ToneCodeASR(), RuleAgent(), tts), {})
    manager.bind_handlers(bus)
    chunks: list[TTSChunkReady] = []
    for turn in (1, 2):
        await bus.publish(GenerationRequested(session_id=SESSION, turn_id=turn),
                          wait_for_completion=True)
        await bus.publish(ThinkingCueRequested(session_id=SESSION, turn_id=turn,
                                               text="Hmm."), wait_for_completion=True)
        while len(chunks) < turn:
            await asyncio.sleep(0.02)  # synthesis runs in a worker thread
            chunks = [e for e in bus.get_history() if isinstance(e, TTSChunkReady)]
    first, second = chunks
    assert first.cue and first.chunk_index == 0 and first.text == "Hmm."
    lead, tail = silent_edges_s(first.pcm, first.sample_rate)
    assert lead <= min(raw_lead, 0.03) and tail <= 0.09, (lead, tail, raw_lead, raw_tail)
    assert second.pcm is first.pcm  # made once, reused
    await manager.shutdown()
