"""The wake-word models on real synthesised speech (the bundled Piper voice): the phrase is
heard, other speech is not, sessions do not share state, bad names are clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from xtalk.models.interfaces import WakeWordDetector
from xtalk.models.tts.piper import PiperTTS
from xtalk.models.wake import MicroWakeWord, OpenWakeWord, ToneWakeWord
from xtalk.registry import ConfigError, build_model

RATE = 16000
FRAME = 512


@pytest.fixture(scope="module")
def say():
    tts = PiperTTS()

    def speak(text: str) -> np.ndarray:
        audio = np.concatenate(list(tts.synthesize(text))).astype(np.float32) / 32768
        pcm = soxr.resample(audio, tts.sample_rate, RATE)
        pad = np.zeros(RATE // 2, dtype=np.float32)
        return (np.concatenate([pad, pcm, pad, pad]) * 32767).astype(np.int16)

    return speak


def peak(detector: WakeWordDetector, pcm: np.ndarray) -> float:
    return max(detector.process(pcm[i:i + FRAME]) for i in range(0, pcm.size, FRAME))


@pytest.mark.parametrize("cls", [OpenWakeWord, MicroWakeWord])
def test_the_phrase_is_heard_and_other_speech_is_not(cls, say) -> None:
    detector = cls("hey_jarvis")
    assert detector.phrase == "Hey Jarvis" and 0 < detector.threshold < 1
    assert peak(detector, say("Hey Jarvis, what time is it?")) >= detector.threshold
    detector.reset()
    assert peak(detector, say("Hey there, what time is it?")) < detector.threshold
    detector.reset()
    assert peak(detector, say("The weather report described the history of the harbour.")) \
        < detector.threshold


@pytest.mark.parametrize("cls", [OpenWakeWord, MicroWakeWord])
def test_each_session_gets_its_own_stream(cls, say) -> None:
    first = cls("hey_jarvis")
    second = first.clone()
    assert second is not first and second.phrase == first.phrase
    wake = say("Hey Jarvis.")
    half = (wake.size // 2) // FRAME * FRAME
    peak(first, wake[:half])  # the first session hears half the phrase ...
    assert peak(second, say("Good morning, how are you?")) < second.threshold
    assert peak(first, wake[half:]) >= first.threshold  # ... then the rest, undisturbed
    assert peak(second, wake) >= second.threshold


@pytest.mark.parametrize("cls", [OpenWakeWord, MicroWakeWord])
def test_unknown_models_are_clear_errors(cls, tmp_path) -> None:
    with pytest.raises(ValueError, match="hey_jarvis"):
        cls("hey_computer")
    with pytest.raises(ValueError, match="no such"):
        cls(model_path=str(tmp_path / "missing.tflite"))


def test_the_configuration_slot_names_the_models() -> None:
    detector = build_model("wake_word", {"type": "OpenWakeWord",
                                           "params": {"model": "alexa", "threshold": 0.6}})
    assert isinstance(detector, OpenWakeWord)
    assert (detector.phrase, detector.threshold) == ("Alexa", 0.6)
    assert isinstance(build_model("wake_word", "ToneWakeWord"), ToneWakeWord)
    with pytest.raises(ConfigError):
        build_model("wake_word", "NoSuchWakeWord")
