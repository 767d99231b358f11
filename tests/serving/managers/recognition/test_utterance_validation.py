import pytest

from xtalk.serving.managers.recognition.utterance_validation import validate_utterance


@pytest.mark.parametrize("text", ["yes", "No.", "stop", "Hi!"])
def test_short_real_answers_are_valid(text):
    assert validate_utterance(text, 0.9, 0.3).valid


@pytest.mark.parametrize("text,reason", [
    ("", "no_speech"), ("  ...  ", "no_speech"), ("[Music]", "sound_tag"),
    ("(applause)", "sound_tag"),
])
def test_empty_and_sound_tags_are_rejected(text, reason):
    verdict = validate_utterance(text, 0.9, 1.0)
    assert not verdict.valid and verdict.reason == reason


def test_hallucination_rejected_only_when_the_model_doubts_speech():
    assert not validate_utterance("Thank you.", 0.9, 2.0, no_speech_prob=0.8).valid
    assert validate_utterance("Thank you.", 0.9, 1.0, no_speech_prob=0.1).valid


@pytest.mark.parametrize("text", ["Okay.", "Bye.", "So", "Thank you."])
def test_real_short_answers_with_low_confidence_are_kept(text):
    assert validate_utterance(text, 0.35, 0.5, no_speech_prob=0.1).valid


def test_low_confidence_threshold():
    assert not validate_utterance("hello", 0.2, 1.0, min_confidence=0.5).valid
