"""TurnRules: the thresholds a voice probability and the pause's transcript must meet."""

import pytest

from xtalk.models.turn.turn_rules import PATIENCE, TurnRules

QUICK, PATIENT = PATIENCE["quick"], PATIENCE["patient"]


def test_the_maximum_silence_ends_the_turn_whatever_is_heard():
    assert QUICK.decide("And then the", 1.6, 0.01).is_end
    verdict = QUICK.decide("And then the", 0.2, 0.99)
    assert not verdict.is_end and verdict.wait_s == pytest.approx(1.4)


def test_a_pause_heard_without_audio_ends_the_turn():
    assert QUICK.decide("Turn on the lights.", 0.2, None).is_end


@pytest.mark.parametrize(("text", "word", "needed"), [
    ("Turn on the lights.", 0.9, 0.8),           # a sentence: the threshold
    ("turn on the lights", 0.9, 0.8),            # unpunctuated: its own bar (the same)
    ("Tell me that?", 0.2, 0.99),                # an unsure last word
    ("How far is the moon?", 0.9, 0.1),          # a question the recogniser was sure of
    ("How far is the moon?", None, 0.8),         # the recogniser did not say
    ("Stop.", 0.1, 0.8),                         # too short to be a completed phrase
])
def test_what_each_transcript_needs(text, word, needed):
    assert QUICK.needed(text, word) == pytest.approx(needed)


def test_the_patient_rules_end_nothing_the_quick_ones_keep_open():
    cases = [(text, word, p) for text in ("Please set an alarm.", "Can you play some music?",
                                          "who was the president", "Stop.", "Tell me that?")
             for word in (None, 0.3, 0.5, 0.7, 0.9) for p in (0.5, 0.85, 0.9, 0.96, 0.99)]
    for text, word, p in cases:
        if PATIENT.decide(text, 0.2, p, word).is_end:
            assert QUICK.decide(text, 0.2, p, word).is_end, (text, word, p)
    # what they were made for: a finished-sounding cut phrase with a sure voice
    assert QUICK.decide("Can you play some music?", 0.2, 0.9, 0.9).is_end
    assert not PATIENT.decide("Can you play some music?", 0.2, 0.9, 0.9).is_end
    assert not PATIENT.decide("Please set an alarm.", 0.2, 0.93, 0.7).is_end
    assert PATIENT.decide("Please set an alarm for seven.", 0.2, 0.97, 0.9).is_end


@pytest.mark.parametrize("bad", [{"threshold": 0.0}, {"threshold": 1.0},
                                 {"unsure_word_probability": 1.0},
                                 {"sure_question_threshold": 1.2}, {"max_silence_s": 0}])
def test_values_out_of_range_are_refused(bad):
    with pytest.raises(ValueError):
        TurnRules(**bad)
