"""Real speech through the browser client: headless Chromium with its fake microphone
playing ``jfk.flac`` (pauses of up to 1.2 s inside one sentence), the page's default audio
processing (echo cancellation, noise suppression, gain control), ``xtalk-server`` with the
default offline models and a scripted language model on loopback.

The sentence must stay one turn with every word (the first word after each pause
included), and get one reply that starts only after the speaker is done.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr
from browser import (
    HAVE_CHROMIUM,
    MIC_RATE,
    NO_CHROMIUM,
    click,
    console_problems,
    debug_state,
    open_app,
    server_with_user,
    write_pcm_wav,
)
from llm_server import ScriptedLLMServer
from wer import normalise_words, wer

ROOT = Path(__file__).resolve().parents[2]
SPEECH = ROOT.parent / "shared" / "data" / "speech"
JFK_TEXT = ("And so my fellow Americans, ask not what your country can do for you, "
            "ask what you can do for your country.")
REPLY = "Those were the words of President Kennedy."

pytestmark = [pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM),
              pytest.mark.timeout(180)]


def jfk_wav(path: Path, lead_s: float = 1.0, tail_s: float = 40.0) -> None:
    audio, rate = soundfile.read(SPEECH / "jfk.flac", dtype="float32", always_2d=True)
    mono = soxr.resample(audio.mean(axis=1), rate, MIC_RATE)
    pcm = (np.clip(mono, -1, 1) * 32767).astype(np.int16)
    write_pcm_wav(path, np.concatenate([np.zeros(int(lead_s * MIC_RATE), np.int16), pcm,
                                        np.zeros(int(tail_s * MIC_RATE), np.int16)]))


@pytest.fixture
def speech_server(tmp_path: Path):
    with ScriptedLLMServer(default_reply=REPLY) as llm:
        config = json.loads((ROOT / "resources" / "default_config.json").read_text())
        config["llm_agent"] = {"type": "DefaultAgent", "params": {"model": {
            "base_url": llm.base_url, "api_key": "sk-test", "model": "scripted-model"}}}
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        with server_with_user(tmp_path, config=path) as base:
            yield base


async def test_a_paused_sentence_is_one_turn_with_every_word(speech_server: str, chromium,
                                                             tmp_path: Path) -> None:
    wav = tmp_path / "jfk.wav"
    jfk_wav(wav)
    cdp = await open_app(chromium(wav), speech_server)
    try:
        processing = await cdp.evaluate(
            "navigator.mediaDevices.getSupportedConstraints().echoCancellation")
        assert processing is True
        await click(cdp, "#mic")
        await cdp.wait_until(
            "window.xtalkDebug.transcripts.length > 0 && "
            f"window.xtalkDebug.replies.includes({json.dumps(REPLY)}) && "
            "window.xtalkDebug.playbackFinishedSent > 0",
            90, "the transcript, the reply and its playback")
        await cdp.evaluate("new Promise(r => setTimeout(r, 2500))")  # nothing more comes
        await click(cdp, "#mic")
        debug = await debug_state(cdp)
        transcripts = debug["transcripts"]
        assert len(transcripts) == 1, transcripts  # one turn: no reply over the speaker
        assert wer(JFK_TEXT, transcripts[0]) <= 0.15, transcripts
        words = normalise_words(transcripts[0])
        assert words[:2] == ["and", "so"] and words.count("ask") == 2, transcripts
        assert debug["replies"] == [REPLY]
        messages = debug["messages"]
        assert messages.get("tts_finished") == 1 and messages.get("pause_tts", 0) == 0
        assert messages.get("stop_tts", 0) == 0, messages
        assert debug["errors"] == [], debug["errors"]
        assert not console_problems(cdp), console_problems(cdp)
    finally:
        await cdp.close()
