"""Real speech through the browser client: headless Chromium with its fake microphone
playing ``jfk.flac`` (pauses of up to 1.2 s inside one sentence), the page's default audio
processing (echo cancellation, noise suppression, gain control), ``xtalk-server`` with the
default offline models and a scripted language model on loopback.

The sentence must be answered as one request with every word (the first word after each
pause included), and get one reply whose audio starts only after the speaker is done.
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
from paths import ROOT
from wer import normalise_words, wer

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


def default_config_with(llm: ScriptedLLMServer, tmp_path: Path) -> Path:
    """resources/default_config.json with DefaultAgent on ``llm``, written to a file."""
    config = json.loads((ROOT / "resources" / "default_config.json").read_text())
    config["llm_agent"] = {"type": "DefaultAgent", "params": {"model": {
        "base_url": llm.base_url, "api_key": "sk-test", "model": "scripted-model"}}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def speech_server(tmp_path: Path):
    with ScriptedLLMServer(default_reply=REPLY) as llm, \
            server_with_user(tmp_path, config=default_config_with(llm, tmp_path)) as base:
        yield base


async def test_a_paused_sentence_is_one_request_with_every_word(speech_server: str, chromium,
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
        messages = debug["messages"]
        shown = await cdp.evaluate(
            "Array.from(document.querySelectorAll('#transcript .message')).map(m => "
            "[m.classList.contains('user') ? 'user' : 'assistant', "
            "m.querySelector('.text').textContent])")
        what = (shown, debug["transcripts"], messages)
        # one request and one reply on the page. Most runs are one turn; on a starved
        # machine the first pause's verdict can arrive as the speaker goes on: that turn
        # may end, but then it is merged into the rest and none of its reply is heard
        assert [role for role, _ in shown] == ["user", "assistant"], what
        assert messages.get("turn_merged", 0) == len(debug["transcripts"]) - 1, what
        request, reply = shown[0][1], shown[1][1]
        assert wer(JFK_TEXT, request) <= 0.15, what
        words = normalise_words(request)
        assert words[:2] == ["and", "so"], what
        # the first word after the pause survives ("ask", which Whisper may hear as "asked")
        assert words[words.index("not") - 1] in {"ask", "asked"}, what
        assert reply == REPLY, what
        # one reply's audio, never paused by the speaker's voice; a stop only withdraws
        # the reply of a merged early turn, which never started to play
        assert messages.get("start_tts") == 1 and messages.get("tts_finished") == 1, what
        assert messages.get("pause_tts", 0) == 0, what
        assert messages.get("stop_tts", 0) == messages.get("turn_merged", 0), what
        assert debug["errors"] == [], debug["errors"]
        assert not console_problems(cdp), console_problems(cdp)
    finally:
        await cdp.close()


STORY = ("Once upon a time there was a little robot who liked to talk. Every morning it "
         "walked to the market and told the people about the weather, the birds and the "
         "boats in the harbour. In the evening it went home and read a long book about "
         "the sea, the stars and the mountains far away.")


async def test_speaking_over_a_reply_loses_no_word(tmp_path: Path, chromium) -> None:
    """A question, then — while the long reply plays — a second phrase ("ask not what your
    country can do for you", from jfk.flac) over it: the reply stops, and the second
    transcript has its first word although the page's echo cancellation, noise suppression
    and gain control process the voice that starts over the reply."""
    from xtalk.models.tts.piper import PiperTTS

    tts = PiperTTS(noise_scale=0.0, noise_w=0.0)
    question = np.concatenate([np.asarray(p, np.int16) for p in
                               tts.synthesize("Tell me a long story.")])
    question = soxr.resample(question.astype(np.float32) / 32768, tts.sample_rate, MIC_RATE)
    audio, rate = soundfile.read(SPEECH / "jfk.flac", dtype="float32", always_2d=True)
    jfk = soxr.resample(audio.mean(axis=1), rate, MIC_RATE)
    phrase = jfk[int(3.0 * MIC_RATE):int(7.5 * MIC_RATE)]  # "ask not ... for you"
    silence = np.zeros(int(3.0 * MIC_RATE), np.float32)
    pcm = np.concatenate([np.zeros(MIC_RATE, np.float32), question, silence, phrase,
                          np.zeros(40 * MIC_RATE, np.float32)])
    wav = tmp_path / "barge.wav"
    write_pcm_wav(wav, (np.clip(pcm, -1, 1) * 32767).astype(np.int16))
    with ScriptedLLMServer(default_reply=STORY, token_delay_s=0.02) as llm, \
            server_with_user(tmp_path, config=default_config_with(llm, tmp_path)) as base:
        cdp = await open_app(chromium(wav), base)
        try:
            await click(cdp, "#mic")
            await cdp.wait_until("window.xtalkDebug.transcripts.length >= 2 && "
                                 "window.xtalkDebug.replies.length >= 2", 90,
                                 "the second transcript and its reply")
            await click(cdp, "#mic")
            debug = await debug_state(cdp)
        finally:
            await cdp.close()
    first, second = debug["transcripts"][:2]
    assert "story" in normalise_words(first), debug["transcripts"]
    words = normalise_words(second)
    assert words[:2] == ["ask", "not"], debug["transcripts"]
    assert wer("ask not what your country can do for you", second) <= 0.2
    assert debug["messages"].get("stop_tts", 0) >= 1, debug["messages"]
