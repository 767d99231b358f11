"""The desktop app's real audio path end to end: PortAudio → ALSA → a private PulseAudio.

A spoken question (synthesised with Piper, resampled to the pipe source's 16 kHz) is written
in real time into ``module-pipe-source`` (the microphone); the app — EngineHost with the REAL
default models (faster-whisper tiny.en, Silero VAD, Piper; the language model is the scripted
OpenAI-compatible server on loopback), :class:`Microphone` and :class:`Speaker` on the
PortAudio devices ``xtalk_mic`` / ``xtalk_speaker`` — answers, and ``parec`` records the null
sink's monitor. The recording is transcribed with our faster-whisper adapter and must say the
scripted reply.

How PortAudio reaches the private server (see tests/support/pulse.py): ``PULSE_SERVER`` names our
socket and ``ALSA_CONFIG_PATH`` adds two ALSA PCMs of type ``pulse`` (Debian
``libasound2-plugins``) bound to the pipe source and the null sink; both are set before
PortAudio is re-initialised. Skipped only when pulseaudio cannot start.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pytest
import soxr
from llm_server import ScriptedLLMServer, Text
from pulse import (
    MIC_DEVICE,
    SPEAKER_DEVICE,
    MicFeeder,
    PrivatePulse,
    SinkRecorder,
)
from scripted_turn import QUESTION, REPLY, default_config, transcribe
from wer import wer

from app.audio.capture import Microphone
from app.audio.playback import Speaker, output_rate
from app.engine import EngineHost
from xtalk.models.tts.piper import PiperTTS


def spoken(text: str, rate: int) -> np.ndarray:
    """``text`` spoken by the default Piper voice, PCM16 mono at ``rate``."""
    tts = PiperTTS()
    pcm = np.concatenate(list(tts.synthesize(text)))
    audio = soxr.resample(pcm.astype(np.float32) / 32768.0, tts.sample_rate, rate)
    return (np.clip(audio, -1, 1) * 32767).astype(np.int16)


async def wait_until(predicate, timeout: float, message) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message() if callable(message) else message)
        await asyncio.sleep(0.05)


@pytest.mark.timeout(300)
async def test_a_spoken_question_through_pulseaudio_gets_a_spoken_answer(
        pulse: PrivatePulse) -> None:
    question = await asyncio.to_thread(spoken, QUESTION, pulse.mic_rate)
    feeder = MicFeeder(pulse).start()
    recorder = SinkRecorder(pulse).start()
    messages: list[dict[str, Any]] = []
    statuses: list[tuple[str, str, str]] = []

    def of(action: str) -> list[dict[str, Any]]:
        return [m for m in messages if m.action == action]

    with ScriptedLLMServer() as llm:
        llm.script(Text(REPLY, token_delay_s=0.01))
        rate = output_rate(SPEAKER_DEVICE)
        host = EngineHost(default_config(llm.base_url), output_sample_rate=rate)
        host.add_listener(messages.append)
        mic = Microphone(host.submit_microphone, MIC_DEVICE,
                         on_status=lambda s, d: statuses.append(("mic", s, d)))
        speaker = Speaker(host, SPEAKER_DEVICE,
                          on_status=lambda s, d: statuses.append(("speaker", s, d)))
        try:
            await host.start()
            await speaker.start()
            await mic.start()
            assert (mic.status, speaker.status) == ("running", "running"), statuses
            assert mic.sample_rate and mic.sample_rate != 16000  # the device's native rate
            await wait_until(lambda: host.state == "listening", 30, lambda: host.state)
            await asyncio.sleep(1.0)  # the noise floor first: nothing must happen
            assert not of("finish_asr")
            spoken_at = time.monotonic()
            duration = feeder.play(question)
            await wait_until(lambda: of("tts_finished"), 90,
                             lambda: f"no reply; got {[m.action for m in messages]}")
            await wait_until(lambda: speaker.idle and speaker.played_samples > 0, 30,
                             "the reply did not finish playing")
            answered_in = time.monotonic() - spoken_at
            await asyncio.sleep(0.5)  # the sink's last blocks reach parec
        finally:
            await mic.stop()
            await speaker.stop()
            await host.stop()
            feeder.stop()
            recorder.stop()
        request = llm.requests[0]

    heard_question = of("finish_asr")[0].data["text"]
    assert wer(QUESTION, heard_question) <= 0.35, heard_question
    assert wer(QUESTION, request["messages"][-1]["content"]) <= 0.35
    assert of("finish_resp")[0].data["text"].strip() == REPLY
    assert not [s for s in statuses if s[1] in ("lost", "unavailable")], statuses
    assert answered_in > duration  # the reply came after the question was spoken

    played = recorder.audio()
    voiced = np.flatnonzero(np.abs(played) > 300)
    assert voiced.size, "nothing was played on the null sink"
    reply_audio = played[max(0, voiced[0] - pulse.sink_rate // 10):voiced[-1] + 1]
    assert reply_audio.shape[0] / pulse.sink_rate > 1.5  # a sentence, not a click
    heard = await asyncio.to_thread(transcribe, reply_audio, pulse.sink_rate)
    assert wer(REPLY, heard) <= 0.35, heard
