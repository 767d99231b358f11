import pytest

from xtalk.models.turn.text_policy import TextEndpointPolicy


@pytest.mark.parametrize("text", ["I want to go to Paris and", "Set a timer for,", "um",
                                  "because the"])
def test_unfinished_clauses_wait_longer(text):
    verdict = TextEndpointPolicy(extra_wait_s=0.8).decide(text, 0.4)
    assert not verdict.is_end and verdict.wait_s == pytest.approx(0.8)


@pytest.mark.parametrize("text", ["What time is it?", "yes", "Turn on the lights.", ""])
def test_complete_sentences_end_the_turn(text):
    assert TextEndpointPolicy().decide(text, 0.4).is_end


def test_never_waits_beyond_the_maximum_silence():
    policy = TextEndpointPolicy(extra_wait_s=2.0, max_silence_s=1.0)
    assert policy.decide("and", 0.4).wait_s == pytest.approx(0.6)
    assert policy.decide("and", 1.0).is_end


@pytest.mark.parametrize("text", ["Can you remind me to?", "Tell me how long it takes to...",
                                  "I would like to book a table for the.", "And then, um."])
def test_a_word_that_cannot_end_a_clause_counts_before_punctuation(text):
    assert not TextEndpointPolicy().decide(text, 0.4).is_end


@pytest.mark.parametrize("text", ["What time is it?", "Turn the lights on.", "Where are you?"])
def test_pronouns_and_particles_end_a_punctuated_sentence(text):
    assert TextEndpointPolicy().decide(text, 0.4).is_end
