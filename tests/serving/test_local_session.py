"""LocalSession (xtalk/serving/local.py): the door an embedding program uses — audio in at
any rate, typed events, protocol messages decoded, played audio to the echo canceller, the
agent's status, and a place outside the session queue."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
import soxr
from harness import build_xtalk, make_config, speech

from xtalk import InProcessConnection, Xtalk
from xtalk.client.wire import ReplyAudio, ServerMessage
from xtalk.models.agents.rules import RuleAgent
from xtalk.models.asr.testing import ToneCodeASR
from xtalk.models.interfaces import SpeechEnhancer
from xtalk.models.tts.testing import ToneCodeTTS
from xtalk.models.vad.energy import EnergyVAD
from xtalk.pipelines.default import DefaultPipeline
from xtalk.serving import events as ev
from xtalk.serving.local import LocalSession, LocalSessionError
from xtalk.serving.service import DefaultService

TIMEOUT = 10.0


async def next_of(session: LocalSession, action: str) -> ServerMessage | ReplyAudio:
    async with asyncio.timeout(TIMEOUT):
        while True:
            message = await session.receive()
            if message.action == action:
                return message


async def feed(session: LocalSession, pcm16k: np.ndarray, rate: int) -> None:
    """Submit ``pcm16k`` resampled to ``rate`` in 20 ms blocks, from another thread (as a
    PortAudio callback would), four times faster than real time."""
    pcm = soxr.resample(pcm16k.astype(np.float32) / 32768, 16000, rate).astype(np.float32)
    block = rate // 50

    def run() -> None:
        for i in range(0, pcm.size, block):
            session.submit_audio(pcm[i:i + block].copy(), rate)
            time.sleep(0.005)

    await asyncio.to_thread(run)


async def test_a_spoken_turn_at_the_devices_rates() -> None:
    xtalk = build_xtalk(rules=[{"pattern": "hello", "reply": "hi there"}])
    session = LocalSession(xtalk, output_sample_rate=24000)
    await session.open()
    heard: list[ev.SpeechStarted] = []
    session.subscribe(ev.SpeechStarted, heard.append)
    try:
        assert xtalk.is_session_live(session.session_id)
        await feed(session, speech("hello"), 44100)
        final = await next_of(session, "finish_asr")
        assert isinstance(final, ServerMessage) and final.text() == "hello"
        audio = await next_of(session, "audio")
        assert isinstance(audio, ReplyAudio) and audio.sample_rate == 24000
        assert audio.announced and audio.turn_id == final.turn_id
        await next_of(session, "tts_finished")
        assert heard and heard[0].source == "server"  # the engine's VAD heard it
        async with asyncio.timeout(TIMEOUT):  # the reply is kept once it was heard
            while len(session.conversation()) < 2:
                await asyncio.sleep(0.05)
        assert [m["role"] for m in session.conversation()] == ["user", "assistant"]
    finally:
        await session.close()
    assert not xtalk.is_session_live(session.session_id)
    with pytest.raises(LocalSessionError):
        await session.send({"action": "ping", "data": {}})
    with pytest.raises(LocalSessionError):
        session.subscribe(ev.SpeechStarted, heard.append)


class ReferenceLog(SpeechEnhancer):
    """Passes frames through; logs what it is told about the played audio."""

    def __init__(self) -> None:
        self.log: list[tuple[str, object]] = []

    def enhance(self, frame: np.ndarray) -> np.ndarray:
        return frame

    def note_played(self, pcm: np.ndarray, sample_rate: int,
                    start: float | None = None) -> None:
        self.log.append(("played", (pcm.size, sample_rate, start)))

    def pause_reference(self, paused: bool) -> None:
        self.log.append(("paused", paused))

    def clear_reference(self) -> None:
        self.log.append(("cleared", None))


async def test_played_audio_and_a_stopped_reply_reach_the_echo_canceller() -> None:
    pipeline = DefaultPipeline(ToneCodeASR(), RuleAgent(rules=[
        {"pattern": "story", "reply": "once upon a time there was a very long story"}]),
        ToneCodeTTS(sample_rate=16000), vad=EnergyVAD(), speech_enhancer=ReferenceLog())
    xtalk = Xtalk(service_prototype=DefaultService(pipeline=pipeline))
    session = LocalSession(xtalk)
    await session.open()
    enhancer = session._require().pipeline.get_enhancer_model()
    assert isinstance(enhancer, ReferenceLog)
    try:
        start = time.monotonic() + 0.05
        thread = threading.Thread(target=session.report_played,
                                  args=(np.ones(960, np.int16), 48000, start))
        thread.start()
        thread.join()
        await session.send({"action": "text_input", "data": {"text": "story"}})
        await next_of(session, "audio")
        await session.send({"action": "interrupt", "data": {}})
        await next_of(session, "stop_tts")
    finally:
        await session.close()
    assert ("played", (960, 48000, start)) in enhancer.log
    assert ("cleared", None) in enhancer.log


async def test_a_local_session_never_waits_in_the_queue() -> None:
    xtalk = Xtalk.from_config(make_config(max_connections=1))
    lan = InProcessConnection()
    lan_task = asyncio.create_task(xtalk.connect(lan))
    try:
        first = await lan.client.receive(timeout=TIMEOUT)
        assert isinstance(first, dict) and first["action"] == "session_info"
        session = LocalSession(xtalk)
        await session.open()  # the limit is taken: still open at once
        assert isinstance(await next_of(session, "session_info"), ServerMessage)
        status = await session.agent_status()
        assert status.connected and status.endpoint == "RuleAgent"
        await session.close()
    finally:
        await lan.client.close()
        await asyncio.wait_for(lan_task, TIMEOUT)
