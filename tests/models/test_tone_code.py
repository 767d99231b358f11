"""Tests of the tone codec (test/demo aid)."""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from xtalk.models import tone_code
from xtalk.models.tone_code import SYMBOL_SECONDS, decode, encode, normalize_text
from xtalk.models.tts.testing import ToneCodeTTS

SENTENCES = [
    "hello world",
    "don't panic",
    "call 911 at 10 o'clock",
    "the quick brown fox jumps over the lazy dog 0123456789",
]


def test_normalize_text() -> None:
    assert normalize_text("  Hello,   World!! ") == "hello world"
    assert normalize_text("It’s well-known: café #1") == "it's well known cafe 1"
    assert normalize_text("?!.") == ""


def test_encode_shape_and_level() -> None:
    pcm = encode("abc", 16000)
    assert pcm.dtype == np.int16
    assert pcm.size == round(3 * SYMBOL_SECONDS * 16000)
    assert np.abs(pcm).max() <= 0.3 * 32767 + 1
    assert pcm[0] == 0  # faded in
    assert encode("  ?! ").size == 0
    assert encode("abc", 16000, speed=2.0).size == pcm.size // 2


def test_harmonics_keep_fundamental_strongest() -> None:
    pcm = encode("a", 16000, harmonics=True).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm))
    freqs = np.fft.rfftfreq(pcm.size, 1 / 16000)
    fundamental = tone_code.symbol_frequency(1)
    assert freqs[np.argmax(spectrum)] == pytest.approx(fundamental, abs=25)
    second = spectrum[np.abs(freqs - 2 * fundamental) < 25].max()
    assert 0.1 * spectrum.max() < second < spectrum.max()


@pytest.mark.parametrize("text", SENTENCES)
def test_round_trip_16k(text: str) -> None:
    assert decode(encode(text, 16000), 16000) == (text, 1.0)


@pytest.mark.parametrize("speed", [0.5, 1.5])
def test_round_trip_with_speed(speed: float) -> None:
    assert decode(encode("speed test", 16000, speed=speed), 16000, speed=speed)[0] == "speed test"


@pytest.mark.parametrize("cut_ms", [0, 2, 4, 7])
@pytest.mark.parametrize("voice", ["sine", "warm"])
def test_round_trip_after_resampling_tts_output(cut_ms: int, voice: str) -> None:
    text = "it's 7 o'clock and all is well"
    tts = ToneCodeTTS(sample_rate=24000, voice=voice)
    pcm24 = np.concatenate(list(tts.synthesize(text)))
    pcm16 = soxr.resample(pcm24.astype(np.float32) / 32768, 24000, 16000)
    pcm16 = pcm16[cut_ms * 16:]
    silence = np.zeros(int(0.3 * 16000), dtype=np.float32)
    padded = np.concatenate([silence, pcm16, silence])
    audio = np.clip(np.round(padded * 32768), -32768, 32767).astype(np.int16)
    decoded, confidence = decode(audio, 16000)
    assert decoded == text
    assert confidence == 1.0


def test_truncated_first_symbol_is_skipped() -> None:
    pcm = encode("xyes", 16000)[int(0.7 * SYMBOL_SECONDS * 16000):]
    assert decode(pcm, 16000)[0] == "yes"


def test_short_word() -> None:
    audio = np.concatenate([np.zeros(1600, np.int16), encode("yes"), np.zeros(1600, np.int16)])
    assert decode(audio) == ("yes", 1.0)
    assert decode(encode("a")) == ("a", 1.0)


def test_white_noise_decodes_to_nothing() -> None:
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(16000) * 0.2 * 32767).astype(np.int16)
    text, confidence = decode(noise)
    assert text == ""
    assert confidence < 0.2


def test_noisy_tones_still_decode() -> None:
    rng = np.random.default_rng(1)
    pcm = encode("noisy line").astype(np.float64)
    noisy = pcm + rng.standard_normal(pcm.size) * np.sqrt(np.mean(pcm**2)) / 10 ** (10 / 20)
    assert decode(np.clip(noisy, -32768, 32767).astype(np.int16)) == ("noisy line", 1.0)


def test_silence_and_empty() -> None:
    assert decode(np.zeros(16000, np.int16)) == ("", 0.0)
    assert decode(np.zeros(0, np.int16)) == ("", 0.0)


def test_off_alphabet_tone_is_invalid() -> None:
    t = np.arange(1600) / 16000
    off = (0.3 * 32767 * np.sin(2 * np.pi * 425 * t)).astype(np.int16)  # between two symbols
    assert decode(off) == ("", 0.0)
