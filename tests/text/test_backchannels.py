import pytest

from xtalk.text.backchannels import (
    is_backchannel,
    is_reaction,
    leaves_the_floor,
    says_more,
    whole_request,
)


@pytest.mark.parametrize("text", ["Mm-hmm.", "Yeah.", "okay", "Right.", "Uh-huh.",
                                  "Yeah, yeah.", "Okay, okay, okay.", "Mhm", "I see."])
def test_backchannels(text):
    assert is_backchannel(text)


@pytest.mark.parametrize("text", ["Okay?", "Stop.", "Yeah, but what about Paris?", "Yes.",
                                  "", "...", "Right, tell me more.", "okay stop"])
def test_not_backchannels(text):
    assert not is_backchannel(text)


@pytest.mark.parametrize("text", ["Mm hm.", "Hmm hmm.", "MMMM", "M-H-M-H-M.", "Mm-mm.",
                                  "M-M-H-N."])
def test_hums_however_whisper_spells_them(text):
    assert is_backchannel(text)


def test_a_lone_h_is_not_a_hum():
    assert not is_backchannel("H.")


@pytest.mark.parametrize("text", ["Mm-hmm.", "game.", "Right.", "It", "Bird.", "Night.",
                                  "Play."])
def test_a_lone_word_that_asks_nothing_leaves_the_floor(text):
    assert leaves_the_floor(text)


@pytest.mark.parametrize("text", ["Stop.", "Bye.", "No!", "Wait", "What?", "Paris?", "5.",
                                  "Three.", "Don't.", "Yes.", "Okay, stop.", "tell me more",
                                  "", "..."])
def test_commands_answers_questions_and_sentences_take_the_floor(text):
    assert not leaves_the_floor(text)


@pytest.mark.parametrize(("text", "speech_s", "confidence"), [
    ("and I can.", 0.7, 0.3), ("I like it.", 0.6, 0.45), ("That is right.", 0.8, 0.2),
    ("Go on.", None, None), ("and then hm.", 1.2, 0.9)])
def test_a_short_reaction_leaves_the_floor(text, speech_s, confidence):
    assert leaves_the_floor(text, speech_s, confidence)


@pytest.mark.parametrize(("text", "speech_s", "confidence"), [
    ("I like it.", 1.5, 0.3),  # not short
    ("I like it.", None, 0.3),  # length unknown
    ("sing a chant", 0.6, 0.9),  # a clear request
    ("I like it.", 0.6, None),  # confidence unknown
    ("I like it a lot.", 0.7, 0.3),  # four words
    ("Go back.", 0.6, 0.3), ("Tell me more.", 0.6, 0.3), ("Not that one.", 0.6, 0.3),
    ("good morning", 0.6, 0.3), ("Is it?", 0.5, 0.3), ("Page 3.", 0.5, 0.3),
    ("hm, stop that", 0.5, 0.3), ("hmm, hold on", 1.5, 0.3)])
def test_requests_commands_and_questions_take_the_floor(text, speech_s, confidence):
    assert not leaves_the_floor(text, speech_s, confidence)


@pytest.mark.parametrize("text,earlier,more", [
    ("What is the distance between the earth and the moon?",
     "What is the distance between their hands?", True),  # heard differently, but longer
    ("Tell me a story. Mm-hmm.", "Tell me a story.", False),
    ("Tell me a story, uh huh", "Tell me a story", False),
    ("Tell me a story. M-H-M.", "Tell me a story.", False),
    ("tell me a story", "Tell me a story.", False),
    ("Set a timer for 20 minutes.", "Set a timer for", True),
    ("", "Set a timer for", False),
])
def test_says_more(text: str, earlier: str, more: bool) -> None:
    assert says_more(text, earlier) is more


@pytest.mark.parametrize("text,reaction", [
    ("Stop.", True), ("No thanks.", True), ("Bye!", True), ("Wait, what?", True),
    ("Yeah.", True), ("five", False), ("the moon", False), ("and lemons", False),
    ("stop the music please", False), ("", False),
])
def test_is_reaction(text: str, reaction: bool) -> None:
    assert is_reaction(text) is reaction


@pytest.mark.parametrize("whole, expected", [
    # the decode together heard both parts (and mended the cut word): it stands
    ("Could you tell me the opening hours of the library?",
     "Could you tell me the opening hours of the library?"),
    # it skipped the first phrase before the long pause: the two transcripts joined
    ("Ask not what your country can do for you.",
     "And so my fellow Americans. Ask not what your country can do for you."),
    # most of the first phrase is there: it stands
    ("so my fellow Americans ask not what your country can do for you",
     "so my fellow Americans ask not what your country can do for you"),
])
def test_the_whole_request_keeps_the_earlier_words(whole: str, expected: str) -> None:
    earlier = ("Could you tell me that?" if whole.startswith("Could")
               else "And so my fellow Americans.")
    later = ("Opening hours on the library." if whole.startswith("Could")
             else "Ask not what your country can do for you.")
    assert whole_request(whole, earlier, later) == expected
