"""Tests of the test/demo models: ToneCodeASR, ToneCodeTTS, EnergyVAD and RuleAgent."""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest
from langchain_core.tools import tool

import xtalk.models.agents as agents_pkg
import xtalk.models.asr as asr_pkg
import xtalk.models.tts as tts_pkg
import xtalk.models.vad as vad_pkg
from xtalk.models import tone_code
from xtalk.models.agents.rules import RuleAgent
from xtalk.models.asr.testing import ToneCodeASR
from xtalk.models.interfaces import (
    TextDelta,
    ToolCallPending,
    ToolInvocation,
    UnsupportedFeatureError,
)
from xtalk.models.tts.testing import ToneCodeTTS
from xtalk.models.vad.energy import EnergyVAD


# --------------------------------------------------------------------------- registry
@pytest.mark.parametrize(
    ("package", "name", "cls"),
    [
        (asr_pkg, "ToneCodeASR", ToneCodeASR),
        (tts_pkg, "ToneCodeTTS", ToneCodeTTS),
        (vad_pkg, "EnergyVAD", EnergyVAD),
        (agents_pkg, "RuleAgent", RuleAgent),
    ],
)
def test_packages_expose_classes_lazily(package, name, cls) -> None:
    assert name in package.__all__
    assert getattr(package, name) is cls
    assert getattr(package, "NoSuchModel", None) is None
    with pytest.raises(AttributeError):
        package.NoSuchModel  # noqa: B018


# --------------------------------------------------------------------------- ASR
def test_asr_transcribes_tone_code() -> None:
    asr = ToneCodeASR()
    result = asr.transcribe(tone_code.encode("turn on the lights", 16000))
    assert (result.text, result.confidence) == ("turn on the lights", 1.0)
    assert asr.clone() is asr


def test_asr_rejects_low_confidence() -> None:
    rng = np.random.default_rng(3)
    noise = (rng.standard_normal(8000) * 3000).astype(np.int16)
    assert ToneCodeASR().transcribe(noise).text == ""
    pcm = tone_code.encode("abcd", 16000)
    pcm[800:1600] = (rng.standard_normal(800) * 8000).astype(np.int16)  # spoil 1 of 4 symbols
    assert ToneCodeASR(min_confidence=0.5).transcribe(pcm).text == "acd"
    strict = ToneCodeASR(min_confidence=0.9).transcribe(pcm)
    assert strict.text == ""
    assert strict.confidence == pytest.approx(0.75)


# --------------------------------------------------------------------------- TTS
def test_tts_chunks_and_rate() -> None:
    tts = ToneCodeTTS(sample_rate=24000, chunk_seconds=0.1)
    chunks = list(tts.synthesize("hello there"))
    assert tts.sample_rate == 24000
    assert all(c.dtype == np.int16 and 0 < c.size <= 2400 for c in chunks)
    # 11 symbols plus the trailing word gap that separates consecutive clauses
    assert sum(c.size for c in chunks) == round(12 * tone_code.SYMBOL_SECONDS * 24000)
    assert list(tts.synthesize("   ")) == []
    assert list(tts.synthesize("")) == []


def test_tts_realtime_factor_sleeps() -> None:
    import time

    tts = ToneCodeTTS(chunk_seconds=0.1, realtime_factor=0.5)
    start = time.perf_counter()
    list(tts.synthesize("abcd"))  # 0.2 s of audio
    assert time.perf_counter() - start >= 0.09


def test_tts_voice_and_speed_validation() -> None:
    tts = ToneCodeTTS()
    assert tts.voices == ["sine", "warm"]
    assert tts.voice == "sine"
    tts.set_voice("warm")
    assert tts.voice == "warm"
    with pytest.raises(ValueError, match="sine, warm"):
        tts.set_voice("robot")
    with pytest.raises(ValueError):
        ToneCodeTTS(voice="robot")
    tts.set_speed(1.5)
    tts.set_speed(0.5)
    for bad in (0.4, 1.6):
        with pytest.raises(ValueError):
            tts.set_speed(bad)
    assert tts.emotions == []
    with pytest.raises(UnsupportedFeatureError):
        tts.set_emotion("happy")


def test_tts_speed_changes_duration() -> None:
    tts = ToneCodeTTS(sample_rate=16000, chunk_seconds=10)
    normal = next(tts.synthesize("abcd")).size
    tts.set_speed(1.25)
    fast = next(tts.synthesize("abcd"))
    assert fast.size == round(normal / 1.25)
    assert tone_code.decode(fast, 16000, speed=1.25)[0] == "abcd"


def test_tts_clone_isolation() -> None:
    original = ToneCodeTTS(sample_rate=22050, chunk_seconds=0.2, voice="warm")
    original.set_speed(1.2)
    a, b = original.clone(), original.clone()
    assert a is not original and a is not b
    assert (a.sample_rate, a.chunk_seconds, a.voice, a.speed) == (22050, 0.2, "warm", 1.2)
    a.set_voice("sine")
    a.set_speed(0.8)
    assert (b.voice, b.speed) == ("warm", 1.2)
    assert (original.voice, original.speed) == ("warm", 1.2)


def test_tts_to_asr_round_trip() -> None:
    tts = ToneCodeTTS(sample_rate=16000, chunk_seconds=0.05, voice="warm")
    audio = np.concatenate(list(tts.synthesize("Hi, what's up?")))
    assert ToneCodeASR().transcribe(audio).text == "hi what's up"


# --------------------------------------------------------------------------- VAD
def test_energy_vad_levels() -> None:
    vad = EnergyVAD()
    n = vad.frame_samples
    assert n == 512
    assert vad.speech_probability(np.zeros(n, np.int16)) == 0.0
    tone = tone_code.encode("a", 16000)[100 : 100 + n]
    assert vad.speech_probability(tone) == 1.0
    rng = np.random.default_rng(0)
    quiet = (rng.standard_normal(n) * 32768 * 10 ** (-55 / 20)).astype(np.int16)
    assert vad.speech_probability(quiet) == 0.0
    at_threshold = (np.ones(n) * 32768 * 10 ** (-35 / 20)).astype(np.int16)
    assert vad.speech_probability(at_threshold) == pytest.approx(0.5, abs=0.01)
    ramp = np.ones(n) * 32768 * 10 ** (-37.5 / 20)
    assert EnergyVAD(range_db=10).speech_probability(ramp.astype(np.int16)) == pytest.approx(
        0.25, abs=0.01
    )


def test_energy_vad_clone() -> None:
    vad = EnergyVAD(threshold_dbfs=-40, range_db=6)
    other = vad.clone()
    assert other is not vad
    assert (other.threshold_dbfs, other.range_db) == (-40, 6)
    vad.reset()


# --------------------------------------------------------------------------- agent
async def collect(agent: RuleAgent, text: str) -> list:
    return [item async for item in agent.astream([{"role": "user", "content": text}])]


def joined(items: list) -> str:
    return "".join(i.text for i in items if isinstance(i, TextDelta))


async def test_agent_default_reply_and_pieces() -> None:
    items = await collect(RuleAgent(), "tell me a story")
    assert joined(items) == "I heard you say: tell me a story."
    assert [i.text for i in items] == ["I ", "heard ", "you ", "say: ", "tell ", "me ", "a ",
                                       "story."]


async def test_agent_builtin_rules() -> None:
    agent = RuleAgent()
    assert joined(await collect(agent, "Hi there")) == "Hello! How can I help you?"
    assert joined(await collect(agent, "Repeat after me: the sky is blue")) == "the sky is blue"
    assert re.fullmatch(r"It is \d\d:\d\d\.", joined(await collect(agent, "What time is it?")))
    assert joined(await collect(agent, "this is it")) == "I heard you say: this is it."


async def test_agent_uses_last_user_message() -> None:
    messages = [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "Hello! How can I help you?"},
        {"role": "user", "content": "weather"},
        {"role": "assistant", "content": "partial"},
    ]
    items = [i async for i in RuleAgent().astream(messages)]
    assert joined(items) == "I heard you say: weather."


async def test_agent_rule_with_named_group() -> None:
    agent = RuleAgent(rules=[{"pattern": r"my name is (?P<name>\w+)",
                              "reply": "Nice to meet you, {name}!  You said {text}"}])
    reply = joined(await collect(agent, "Well, MY NAME IS Ada"))
    assert reply == "Nice to meet you, Ada!  You said Well, MY NAME IS Ada"


@tool
def get_weather(city: str) -> str:
    """Weather in a city."""
    return f"sunny in {city}"


async def test_agent_tool_rule() -> None:
    agent = RuleAgent(rules=[{"pattern": r"weather in (?P<city>\w+)", "tool": "get_weather",
                              "args": {"city": "{city}"}, "reply": "It is {result}."}])
    agent.add_tools([get_weather])
    items = await collect(agent, "what's the weather in Paris?")
    assert items[0] == ToolCallPending(name="get_weather", args={"city": "Paris"})
    assert items[1] == ToolInvocation(name="get_weather", args={"city": "Paris"},
                                      result="sunny in Paris")
    assert all(isinstance(i, TextDelta) for i in items[2:])
    assert joined(items) == "It is sunny in Paris."


async def test_agent_missing_tool_is_an_error() -> None:
    agent = RuleAgent(rules=[{"pattern": "x", "tool": "nope", "reply": "{result}"}])
    with pytest.raises(LookupError, match="nope"):
        await collect(agent, "x")


def test_agent_rejects_bad_rules() -> None:
    with pytest.raises(ValueError):
        RuleAgent(rules=[{"reply": "no pattern"}])
    with pytest.raises(ValueError):
        RuleAgent(rules=[{"pattern": "(", "reply": "x"}])


async def test_agent_cancellation_mid_stream() -> None:
    agent = RuleAgent(default_reply="one two three four five six", token_delay_s=0.05)
    received: list[str] = []

    async def consume() -> None:
        async for item in agent.astream([{"role": "user", "content": "go"}]):
            received.append(item.text)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.12)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert 1 <= len(received) < 6


async def test_agent_first_token_delay() -> None:
    agent = RuleAgent(first_token_delay_s=0.1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    stream = agent.astream([{"role": "user", "content": "hi"}])
    await stream.__anext__()
    assert loop.time() - start >= 0.09
    await stream.aclose()


def test_agent_clone_copies_tools() -> None:
    agent = RuleAgent(rules=[{"pattern": "a", "reply": "b"}], token_delay_s=0.01)
    agent.add_tools([get_weather])
    other = agent.clone()
    assert other is not agent
    assert other.tools == [get_weather]
    assert (other.rules, other.token_delay_s) == (agent.rules, 0.01)
    other.add_tools([get_weather])
    assert len(agent.tools) == 1 and len(other.tools) == 2
    agent.tools.append("x")  # the property returns a copy
    assert len(agent.tools) == 1
