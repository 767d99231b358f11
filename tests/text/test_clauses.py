from xtalk.text.clauses import ClauseSplitter


def feed(splitter: ClauseSplitter, text: str, step: int = 3) -> list[str]:
    out: list[str] = []
    for i in range(0, len(text), step):
        out += splitter.push(text[i:i + step])
    return out + splitter.flush()


def test_sentences_are_cut_at_their_ends():
    clauses = feed(ClauseSplitter(), "It is sunny. Take a hat! Will it rain? No.")
    assert clauses == ["It is sunny.", "Take a hat!", "Will it rain?", "No."]


def test_first_clause_is_cut_at_a_comma_after_a_few_words_only():
    clauses = feed(ClauseSplitter(first_clause_min_words=4),
                   "Well, the weather today is lovely, warm and bright, so go out.")
    assert clauses[0] == "Well, the weather today is lovely,"
    assert clauses[1] == "warm and bright, so go out."


def test_decimals_and_abbreviations_are_not_cut():
    clauses = feed(ClauseSplitter(), "It costs 3.5 dollars, e.g. for Dr. Smith. Done.", step=1)
    assert clauses == ["It costs 3.5 dollars,", "e.g. for Dr. Smith.", "Done."]


def test_text_stays_buffered_until_the_stream_shows_the_sentence_ended():
    splitter = ClauseSplitter()
    assert splitter.push("Version 3.") == []
    assert splitter.push("5 is out. ") == ["Version 3.5 is out."]


def test_very_long_clauses_are_cut_at_a_space():
    splitter = ClauseSplitter(max_clause_chars=40)
    clauses = feed(splitter, "word " * 30)
    assert all(len(c) <= 40 for c in clauses)
    assert " ".join(clauses).split() == ["word"] * 30


def test_long_sentences_are_cut_the_same_however_the_text_arrives():
    text = ("Short one. This sentence runs on and on well past the limit of the splitter "
            "before it finally ends. Done.")
    whole = feed(ClauseSplitter(max_clause_chars=40), text, step=len(text))
    assert whole == feed(ClauseSplitter(max_clause_chars=40), text, step=2)
    assert all(len(c) <= 40 for c in whole) and len(whole) >= 4
    assert " ".join(whole).split() == text.split()


def test_flush_of_nothing_is_empty():
    assert ClauseSplitter().flush() == []


def test_code_blocks_spanning_clauses_are_not_spoken():
    text = "Here is code. ```python\nx = 1. y = 2.\nprint(x)``` That prints one."
    clauses = feed(ClauseSplitter(), text, step=4)
    spoken = " ".join(clauses)
    assert "print(x)" not in spoken and "x = 1" not in spoken
    assert spoken.startswith("Here is code.") and spoken.endswith("That prints one.")


def test_a_sure_sentence_end_goes_out_with_its_token():
    splitter = ClauseSplitter()
    assert splitter.push("That is a good") == []
    assert splitter.push(" question") == []
    assert splitter.push(".") == ["That is a good question."]
    assert splitter.push(" Paris is big") == []
    assert splitter.push("?") == ["Paris is big?"]
    assert splitter.push("!") == []  # "?!" cut after "?": the "!" is not a clause
    assert splitter.push(" Yes") == []
    assert splitter.flush() == ["Yes"]


def test_a_dot_that_may_go_on_waits_for_the_next_token():
    splitter = ClauseSplitter()
    for token in ("It is 3", ".", "5 metres in the U", ".", "S", "."):
        assert splitter.push(token) == []
    assert splitter.push(" Mr.") == []  # an abbreviation never ends a sentence
    assert splitter.push(" Smith said so") == []
    assert splitter.push('."') == ['It is 3.5 metres in the U.S. Mr. Smith said so."']
    assert splitter.push(' "Hi') == []
    assert splitter.flush() == ['"Hi']


def test_tokens_with_leading_spaces_are_cut_as_whole_text_is():
    text = "Well, the weather today is lovely, warm and bright. Go out! Is it 3.5 km? No."
    tokens = [t if i == 0 else " " + t for i, t in enumerate(text.split(" "))]
    tokens = [piece for t in tokens for piece in ((t[:-1], t[-1]) if t[-1] in ".!?," else (t,))]
    splitter = ClauseSplitter()
    streamed = [c for t in tokens for c in splitter.push(t)] + splitter.flush()
    assert streamed == feed(ClauseSplitter(), text, step=1)
