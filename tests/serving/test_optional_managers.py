"""The optional managers do their jobs when their models are in the pipeline: the speech
enhancer's frames are what everyone hears (and it gets the played audio), non-speech gets a
caption, a new voice is announced, the input is recorded, pauses are judged."""

from __future__ import annotations

import wave
from typing import Any

import numpy as np
from harness import noise, silence, tones
from service_rig import wait_for

from xtalk.models.agents.rules import RuleAgent
from xtalk.models.asr.testing import ToneCodeASR
from xtalk.models.interfaces import Captioner, SpeakerEncoder, SpeechEnhancer
from xtalk.models.tts.testing import ToneCodeTTS
from xtalk.models.turn.text_policy import TextEndpointPolicy
from xtalk.models.vad.energy import EnergyVAD
from xtalk.pipelines.default import DefaultPipeline
from xtalk.serving import events as ev
from xtalk.serving.connection import InProcessConnection
from xtalk.serving.service import DefaultService


class HalvingEnhancer(SpeechEnhancer):
    """Halves every frame; records the reference audio it is given."""

    def __init__(self) -> None:
        self.references: list[int] = []

    def enhance(self, frame: np.ndarray) -> np.ndarray:
        return (frame // 2).astype(np.int16)

    def set_reference(self, pcm: np.ndarray, sample_rate: int) -> None:
        self.references.append(pcm.size)


class ApplauseCaptioner(Captioner):
    def caption(self, audio: np.ndarray) -> str:
        return "applause"


class TwoVoices(SpeakerEncoder):
    """A different, orthogonal embedding at every call."""

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, audio: np.ndarray) -> np.ndarray:
        self.calls += 1
        vector = np.zeros(8)
        vector[self.calls % 8] = 1.0
        return vector


async def test_the_optional_models_are_used(tmp_path) -> None:
    enhancer = HalvingEnhancer()
    pipeline = DefaultPipeline(ToneCodeASR(), RuleAgent(), ToneCodeTTS(sample_rate=16000),
                               vad=EnergyVAD(), speech_enhancer=enhancer,
                               captioner=ApplauseCaptioner(), speaker_encoder=TwoVoices(),
                               turn_detector=TextEndpointPolicy())
    proto = DefaultService(pipeline=pipeline, service_config={
        "record_dir": str(tmp_path), "vad": {"min_silence_s": 0.25}})
    live = proto.clone(InProcessConnection())
    seen: list[Any] = []
    for cls in (ev.AudioFrameReceived, ev.CaptionUpdated, ev.SpeakerIdentified,
                ev.TurnEndDecided, ev.RecordingSaved, ev.UserTurnAccepted):
        live.event_bus.subscribe(cls, seen.append)
    session_enhancer = live.pipeline.get_enhancer_model()
    audio = np.concatenate([silence(0.2), tones("hello there"), silence(0.6),
                            noise(0.4, level=0.2), silence(0.6), tones("good morning"),
                            silence(0.6)])
    for i in range(0, audio.size, 512):
        await live.event_bus.publish(ev.DirectAudioSubmitted(
            session_id=live.session_id, samples=audio[i:i + 512], sample_rate=16000),
            wait_for_completion=True)
    # Recognition and the detector run in worker threads when they are slow (a loaded
    # machine): wait for the second turn rather than only for the bus to drain.
    await wait_for(lambda: sum(isinstance(e, ev.UserTurnAccepted) for e in seen) >= 2, 20)
    await live.event_bus.drain()
    await live.stop()

    frames = [e for e in seen if isinstance(e, ev.AudioFrameReceived)]
    heard = np.concatenate([f.pcm for f in frames])
    assert np.array_equal(heard, (audio[:heard.size] // 2).astype(np.int16))  # enhanced
    accepted = [e.text for e in seen if isinstance(e, ev.UserTurnAccepted)]
    assert accepted == ["hello there", "good morning"]
    assert any(isinstance(e, ev.TurnEndDecided) for e in seen)  # the detector judged
    assert [e.text for e in seen if isinstance(e, ev.CaptionUpdated)] == ["applause"]
    assert any(isinstance(e, ev.SpeakerIdentified) for e in seen)
    assert session_enhancer.references  # the replies' audio reached it as the reference
    [saved] = [e for e in seen if isinstance(e, ev.RecordingSaved)]
    with wave.open(saved.path) as wav:
        recorded = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert np.array_equal(recorded, heard)
