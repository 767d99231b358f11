"""ASR scheduling: one decode per session at a time, and a speculative final decode that
is no longer wanted when its turn comes is skipped, so short pauses inside an utterance
never pile abandoned decodes up in front of the real final."""

from __future__ import annotations

import threading
import time

import numpy as np
from harness import silence, tones

from xtalk.api import Xtalk
from xtalk.models.asr.testing import ToneCodeASR
from xtalk.models.interfaces import Transcription

DECODE_S = 0.8  # a slow CPU model


class SlowToneASR(ToneCodeASR):
    """ToneCodeASR that takes DECODE_S per final decode and records the calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []  # samples given to each final decode
        self.running = 0
        self.max_running = 0
        self._lock = threading.Lock()

    def clone(self) -> SlowToneASR:
        return self

    def transcribe(self, audio: np.ndarray) -> Transcription:
        with self._lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        time.sleep(DECODE_S)
        result = super().transcribe(audio)
        with self._lock:
            self.running -= 1
        self.calls.append(int(np.asarray(audio).size))
        return result


def _xtalk(asr: SlowToneASR) -> Xtalk:
    xtalk = Xtalk.from_config({
        "asr": "ToneCodeASR", "vad": "EnergyVAD", "llm_agent": "RuleAgent",
        "tts": {"type": "ToneCodeTTS", "params": {"sample_rate": 24000}},
        "service_config": {"vad": {"min_silence_s": 0.25},
                           "asr": {"partial_interval_s": 100.0}}})
    xtalk.service_prototype.pipeline.asr_model = asr
    return xtalk


async def test_abandoned_speculations_are_skipped_not_queued(transport) -> None:
    asr = SlowToneASR()
    xtalk = _xtalk(asr)
    assert xtalk.service_prototype.pipeline.get_asr_model() is asr
    client = await transport.open_session(xtalk)
    # three short pauses inside one utterance (each starts a speculative final and is
    # then resumed), then the real end of the turn
    parts = [tones("set"), silence(0.15), tones("a"), silence(0.15), tones("timer"),
             silence(0.15), tones("now")]
    utterance = np.concatenate([silence(0.1), *parts, silence(0.6)])
    await client.send_audio(utterance, speed=1.0)
    final = await client.wait_for("finish_asr", timeout=10)
    assert final.data["text"].startswith("set")  # tone code stops at the first gap
    # pause 1's speculation ran; pauses 2 and 3 were resumed while it was still running,
    # so theirs were skipped; the last pause's decode is the final, over all the words
    assert len(asr.calls) == 2, asr.calls
    assert asr.calls[1] >= sum(p.size for p in parts)
    assert asr.max_running == 1


class RecordingToneASR(ToneCodeASR):
    """ToneCodeASR that records the length of the audio of every final decode."""

    def __init__(self) -> None:
        super().__init__()
        self.finals: list[float] = []

    def clone(self) -> RecordingToneASR:
        return self

    def transcribe(self, audio: np.ndarray) -> Transcription:
        self.finals.append(np.asarray(audio).size / 16000)
        return super().transcribe(audio)


async def test_a_long_turn_is_decoded_in_committed_segments(transport) -> None:
    """Once the audio since the last committed point is longer than commit_after_s, a
    pause inside the turn commits what was said before it: the turn's text is every
    segment's, and the final decode only covers the audio after the last commit (a long
    dictation is never cut to Whisper's 30 s window, and its final stays short)."""
    asr = RecordingToneASR()
    xtalk = Xtalk.from_config({
        "asr": "ToneCodeASR", "vad": "EnergyVAD", "llm_agent": "RuleAgent",
        "tts": {"type": "ToneCodeTTS", "params": {"sample_rate": 24000}},
        "service_config": {"vad": {"min_silence_s": 0.4},
                           "asr": {"partial_interval_s": 0.2, "commit_after_s": 0.5}}})
    xtalk.service_prototype.pipeline.asr_model = asr
    client = await transport.open_session(xtalk)
    phrases = ["one two three", "four five six", "seven eight"]
    parts = []
    for phrase in phrases:  # each longer than commit_after_s, then a 0.2 s pause
        parts += [tones(phrase), silence(0.2)]
    utterance = np.concatenate([silence(0.1), *parts[:-1], silence(0.8)])
    await client.send_audio(utterance, speed=1.0)
    final = await client.wait_for("finish_asr", timeout=10)
    assert final.data["text"] == " ".join(phrases), final.data
    # the last decode covered the last phrase only (plus padding), not the whole turn
    assert asr.finals[-1] < tones(phrases[-1]).size / 16000 + 0.6, asr.finals
    partials = [m.data["text"] for m in client.of("update_asr", turn_id=final.turn_id)]
    assert any(p.startswith("one two three four") for p in partials), partials


async def test_short_pauses_in_a_short_turn_commit_nothing(transport) -> None:
    asr = RecordingToneASR()
    xtalk = _xtalk(asr)  # commit_after_s: the default 10 s
    xtalk.service_prototype.pipeline.asr_model = asr
    client = await transport.open_session(xtalk)
    utterance = np.concatenate([silence(0.1), tones("set"), silence(0.15), tones("now"),
                                silence(0.6)])
    await client.send_audio(utterance, speed=1.0)
    final = await client.wait_for("finish_asr", timeout=10)
    assert final.data["text"] == "set now"  # one decode of the whole turn
    assert asr.finals[-1] >= (tones("set").size + tones("now").size) / 16000
