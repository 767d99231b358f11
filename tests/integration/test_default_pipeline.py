"""The default offline pipeline end to end: real recordings in, spoken answers out.

A real recording is streamed in real time into a session built from
``resources/default_config.json`` (faster-whisper tiny.en, Silero VAD, Piper, DefaultAgent);
the language model is a scripted OpenAI-compatible server on loopback. The reply audio is
decoded back with the ASR to prove it is speech saying the reply.
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import soundfile
import soxr
from harness import InProcessTransport, silence
from llm_server import ScriptedLLMServer, Text, ToolCall
from paths import ROOT
from wer import wer

from xtalk import Xtalk
from xtalk.models.asr.faster_whisper import FasterWhisperASR

SPEECH = ROOT.parent / "shared" / "data" / "speech"
JFK_TEXT = ("And so my fellow Americans, ask not what your country can do for you, "
            "ask what you can do for your country.")


def default_config(*, min_silence_s: float | None = None, **agent_params) -> dict:
    config = json.loads((ROOT / "resources" / "default_config.json").read_text())
    config["llm_agent"] = {"type": "DefaultAgent", "params": agent_params}
    if min_silence_s is not None:
        config["service_config"]["vad"]["min_silence_s"] = min_silence_s
    return config


def load_speech(name: str) -> np.ndarray:
    audio, rate = soundfile.read(SPEECH / name, dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if rate != 16000:
        mono = soxr.resample(mono, rate, 16000)
    return (np.clip(mono, -1, 1) * 32767).astype(np.int16)


def transcribe_reply(pcm48k: np.ndarray) -> str:
    audio16 = soxr.resample(pcm48k.astype(np.float32) / 32768.0, 48000, 16000)
    return FasterWhisperASR().transcribe((audio16 * 32767).astype(np.int16)).text


@pytest.fixture()
async def transport():
    t = InProcessTransport()
    yield t
    await t.aclose()


async def test_jfk_recording_gets_a_spoken_answer_with_a_tool_call(transport):
    with ScriptedLLMServer() as llm:
        # the answer to the whole sentence (a reply prepared speculatively at a pause
        # inside it asks the model too, and gets the default reply)
        llm.script_for("for your country", [ToolCall("get_current_time", {})],
                       Text("That was President Kennedy. He asked people to serve their "
                            "country.", token_delay_s=0.01))
        # JFK pauses for up to 1.6 s inside his sentence (a speech, not a conversation):
        # with the conversational default endpoint each phrase would be its own turn.
        xtalk = Xtalk.from_config(default_config(
            min_silence_s=2.0,
            model={"base_url": llm.base_url, "api_key": "sk-test-secret",
                   "model": "scripted-model"}))
        client = await transport.open_session(xtalk, timeout=30)
        audio = np.concatenate([silence(0.5), load_speech("jfk.flac"), silence(3.0)])
        await client.send_audio(audio, speed=1.0)  # real time
        final = await client.wait_for("finish_asr", timeout=20)
        assert wer(JFK_TEXT, final.data["text"]) <= 0.15
        await client.wait_for("tts_finished", timeout=60)

        reply = client.first("finish_resp").data["text"]
        assert "Kennedy" in reply
        tool = client.first("tool_called")
        assert tool is not None and tool.data["name"] == "get_current_time"
        turn = final.turn_id
        assert {m.turn_id for m in client.of("audio")} == {turn}
        metrics = client.first("latency_metrics").data
        assert metrics["e2e_ms"] > 0 and metrics["asr_ms"] >= 0

        # the model's words as spoken (a "Hmm." may open the reply while the tool runs)
        heard = await asyncio.to_thread(transcribe_reply,
                                        client.reply_pcm(turn, words_only=True))
        assert wer(reply, heard) <= 0.35, heard
        # the conversation went to the model, and the key never reached the client
        answered = [r for r in llm.requests
                    if "for your country" in (r["messages"][-1].get("content") or "")]
        assert answered, llm.requests
        assert answered[0]["messages"][0]["role"] == "system"
        assert wer(JFK_TEXT, answered[0]["messages"][-1]["content"]) <= 0.15
        assert "max_tokens" in answered[0]
        assert not any("sk-test-secret" in repr(m.data) for m in client.of())


async def test_no_language_model_gives_the_spoken_offline_answer(transport, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("XTALK_LLM_PROBE_URLS", "")
    xtalk = Xtalk.from_config(default_config())
    client = await transport.open_session(xtalk, timeout=30)
    await client.send_json({"action": "text_input", "data": {"text": "Tell me a joke."}})
    await client.wait_for("tts_finished", timeout=30)
    reply = client.first("finish_resp").data["text"]
    assert "language model" in reply.lower()
    heard = await asyncio.to_thread(transcribe_reply, client.reply_pcm(client.first(
        "finish_resp").turn_id, words_only=True))
    assert "language model" in heard.lower() or wer(reply, heard) <= 0.4, heard


async def test_an_llm_that_is_down_gets_a_spoken_apology_and_the_session_goes_on(transport,
                                                                                caplog):
    from llm_server import free_port

    xtalk = Xtalk.from_config(default_config(
        model={"base_url": f"http://127.0.0.1:{free_port()}/v1", "api_key": "x",
               "model": "m"}))
    client = await transport.open_session(xtalk, timeout=30)
    with caplog.at_level("WARNING", logger="xtalk"):
        await client.send_json({"action": "text_input", "data": {"text": "Hello?"}})
        await client.wait_for("tts_finished", timeout=30)
    assert client.first("error").data["code"] == "agent_unavailable"
    assert "sorry" in client.first("finish_resp").data["text"].lower()
    assert client.of("audio"), "the apology is spoken"
    # the log says which endpoint failed and why, in one line: no traceback
    failures = [r for r in caplog.records if "agent failed" in r.getMessage()]
    assert failures and all(r.exc_info is None for r in failures), failures
    assert "127.0.0.1" in failures[0].getMessage()
