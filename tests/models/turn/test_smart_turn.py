"""SmartTurnDetector with the real Smart Turn v3.2 model (the file pipecat-ai ships), on
speech synthesised by the bundled Piper voice."""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import pytest
import soxr

from xtalk.models.turn.smart_turn import (
    SmartTurnDetector,
    default_model_path,
    log_mel_features,
)
from xtalk.models.turn.turn_rules import PATIENCE
from xtalk.models.vad.silero import default_model_path as silero_path
from xtalk.registry import build_model

SR = 16000


@functools.lru_cache(maxsize=1)
def _detector() -> SmartTurnDetector:
    return SmartTurnDetector()


@functools.cache
def said(text: str, pause_s: float = 0.2) -> np.ndarray:
    """``text`` in the Piper voice (without its random variation), cut at the end of the
    voice, then ``pause_s`` silence."""
    from xtalk.models.tts.piper import PiperTTS

    tts = PiperTTS(noise_scale=0.0, noise_w=0.0)
    audio = np.concatenate([np.asarray(p, dtype=np.int16) for p in tts.synthesize(text)])
    pcm = soxr.resample(audio.astype(np.float32) / 32768.0, tts.sample_rate, SR)
    pcm = (np.clip(pcm, -1, 1) * 32767).astype(np.int16)
    loud = np.nonzero(np.abs(pcm) > 300)[0]
    return np.concatenate([pcm[:loud[-1] + 1], np.zeros(int(pause_s * SR), dtype=np.int16)])


def test_the_model_ships_with_pipecat_and_loads_from_config():
    path = default_model_path()
    assert path.name.startswith("smart-turn-v3") and path.stat().st_size > 5_000_000
    detector = build_model("turn_detector", {"type": "SmartTurnDetector",
                                             "params": {"threshold": 0.6}})
    assert isinstance(detector, SmartTurnDetector) and detector.uses_audio
    assert detector.rules.threshold == 0.6 and detector.patience == "quick"
    patient = build_model("turn_detector", {"type": "SmartTurnDetector", "params": {
        "patience": "patient", "max_silence_s": 2.0}})
    assert patient.rules == replace(PATIENCE["patient"], max_silence_s=2.0)


def test_bad_model_paths_and_parameters_are_refused(tmp_path):
    with pytest.raises(RuntimeError, match="not found"):
        SmartTurnDetector(model_path=str(tmp_path / "missing.onnx"))
    with pytest.raises(RuntimeError, match="not a Smart Turn"):
        SmartTurnDetector(model_path=str(silero_path()))
    for bad in ({"threshold": 1.5}, {"max_silence_s": 0}, {"threads": 0},
                {"patience": "sleepy"}, {"treshold": 0.7}):
        with pytest.raises(ValueError):
            SmartTurnDetector(**bad)


def test_features_are_whisper_log_mels_of_the_last_eight_seconds():
    rng = np.random.default_rng(0)
    long = (rng.normal(0, 3000, 10 * SR)).astype(np.int16)
    features = log_mel_features(long)
    assert features.shape == (80, 800) and features.dtype == np.float32
    assert np.allclose(features, log_mel_features(long[-8 * SR:]))
    short = log_mel_features(long[:SR])  # padded with silence in front
    assert short.shape == (80, 800) and short[:, :600].std() < short[:, 700:].std()


def test_features_match_the_reference_the_model_was_published_with():
    reference = pytest.importorskip("pipecat.audio.turn.smart_turn._whisper_features")
    pcm = said("What is the capital of Australia?")
    x = np.concatenate([np.zeros(8 * SR - pcm.size), pcm.astype(np.float32) / 32768.0])
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    expected = reference.compute_whisper_log_mel_features(x, do_normalize=False)
    assert np.abs(log_mel_features(pcm) - expected).max() < 0.02


@pytest.mark.parametrize("text", ["What is the capital of Australia?",
                                  "Turn on the kitchen lights."])
def test_a_finished_sentence_ends_the_turn(text):
    verdict = _detector().decide(text, 0.2, said(text))
    assert verdict.is_end and verdict.probability is not None and verdict.probability >= 0.5


@pytest.mark.parametrize("text", ["Remind me to, um", "And then the"])
def test_an_unfinished_voice_keeps_the_turn_open(text):
    detector = SmartTurnDetector(use_transcript=False)
    verdict = detector.decide("", 0.2, said(text))
    assert not verdict.is_end and verdict.probability is not None and verdict.probability < 0.5
    assert verdict.wait_s == pytest.approx(detector.rules.max_silence_s - 0.2)


def test_an_unfinished_transcript_waits_whatever_the_voice_says():
    # Piper's "Can you explain the difference between" sounds final to the model (p > 0.9)
    audio = said("Can you explain the difference between")
    assert not _detector().decide("Can you explain the difference between?", 0.2,
                                  audio).is_end
    assert SmartTurnDetector(use_transcript=False).decide("", 0.2, audio).is_end


def test_an_unsure_last_word_needs_a_surer_voice():
    text = "What is the capital of Australia?"
    audio = said(text)
    sure = _detector().decide(text, 0.2, audio, last_word_probability=0.9)
    assert sure.is_end and sure.probability is not None and sure.probability < 0.999
    strict = SmartTurnDetector(unsure_word_threshold=(sure.probability + 1) / 2)
    unsure = strict.decide(text, 0.2, audio, last_word_probability=0.2)
    assert not unsure.is_end and unsure.wait_s == pytest.approx(strict.rules.max_silence_s - 0.2)
    assert strict.decide(text, 0.2, audio, last_word_probability=0.4).is_end
    assert strict.decide(text, 0.2, audio).is_end  # the recogniser did not say
    stop = said("Stop.")  # too short to be a phrase Whisper completed: judged as before
    assert strict.decide("Stop.", 0.2, stop, last_word_probability=0.2) == \
        strict.decide("Stop.", 0.2, stop)
    off = SmartTurnDetector(unsure_word_probability=0.0,
                            unsure_word_threshold=(sure.probability + 1) / 2)
    assert off.decide(text, 0.2, audio, last_word_probability=0.01).is_end
    for bad in ({"unsure_word_probability": 1.0}, {"unsure_word_threshold": 0.0}):
        with pytest.raises(ValueError):
            SmartTurnDetector(**bad)


def test_a_question_the_recogniser_is_sure_of_ends_on_a_doubtful_voice():
    """Smart Turn often hears a finished question in a flat voice as unfinished; a phrase
    ending in "?" whose last word (with the mark) the recogniser was sure of ends the
    turn unless the voice sounds surely unfinished."""
    text = "How long does it take to boil an egg?"
    audio = said(text)
    p = _detector().probability(audio)
    doubtful = SmartTurnDetector(threshold=min(0.99, p + 0.05))  # the voice: not enough
    assert not doubtful.decide(text, 0.2, audio).is_end  # the recogniser did not say
    assert not doubtful.decide(text, 0.2, audio, last_word_probability=0.5).is_end
    sure = doubtful.decide(text, 0.2, audio, last_word_probability=0.9)
    assert sure.is_end and sure.probability == pytest.approx(p)
    statement = text.replace("?", ".")  # only a question mark says a question ended
    assert not doubtful.decide(statement, 0.2, audio, last_word_probability=0.9).is_end
    assert not doubtful.decide("An egg?", 0.2, audio, last_word_probability=0.9).is_end
    below = SmartTurnDetector(threshold=min(0.99, p + 0.05),
                              sure_question_threshold=min(0.99, p + 0.01))
    assert not below.decide(text, 0.2, audio, last_word_probability=0.9).is_end
    off = SmartTurnDetector(threshold=min(0.99, p + 0.05), sure_question_probability=0.0)
    assert not off.decide(text, 0.2, audio, last_word_probability=0.99).is_end
    with pytest.raises(ValueError):
        SmartTurnDetector(sure_question_probability=1.0)


def test_a_voice_probability_computed_beforehand_is_the_one_judged():
    text = "What is the capital of Australia?"
    audio = said(text)
    detector = _detector()
    p = detector.voice_probability(audio)
    assert p == pytest.approx(detector.probability(audio))
    assert detector.decide(text, 0.2, audio, voice_probability=p) == \
        detector.decide(text, 0.2, audio)
    low = detector.decide(text, 0.2, audio, voice_probability=0.01)  # (not recomputed)
    assert not low.is_end and low.probability == 0.01
    assert detector.voice_probability(np.zeros(0, dtype=np.int16)) is None


def test_the_maximum_silence_ends_the_turn_without_asking_the_model():
    assert _detector().decide("And then the", 1.6, None).is_end


def test_a_frozen_build_finds_the_model_file_without_pipecat_code(tmp_path, monkeypatch):
    import importlib.util
    import sys

    from xtalk.models.turn import smart_turn

    data = tmp_path / "pipecat" / "audio" / "turn" / "smart_turn" / "data"
    data.mkdir(parents=True)
    (data / smart_turn.MODEL_FILENAME).write_bytes(b"onnx")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pipecat" else real_find_spec(name, *a))
    with pytest.raises(RuntimeError, match="pipecat-ai package is not installed"):
        smart_turn.default_model_path()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert smart_turn.default_model_path() == data / smart_turn.MODEL_FILENAME
