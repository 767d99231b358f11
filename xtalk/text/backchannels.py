"""Backchannels: what a listener says to show they are following, not to take the turn.

"Mm-hmm", "yeah", "okay", "right", "uh-huh" (alone or repeated) while the assistant speaks
mean "go on"; anything more ("yeah, but…"), a question ("okay?"), an answer ("yes") or a
command ("stop") is a real turn. :func:`leaves_the_floor` adds the lone word and the
short reaction that are none of these: heard over a reply they are most often a hum or
the reply's echo misrecognised.
"""

from __future__ import annotations

import re

BACKCHANNELS = frozenset({
    "uh huh", "uh hu", "aha", "ah", "oh", "yeah", "yea", "yep", "yup", "ok", "okay",
    "right", "alright", "all right", "i see", "got it", "go on", "carry on", "keep going",
})

# A word that takes the floor, alone or in a short reaction: commands, answers, greetings,
# question words, politeness. Numbers take it too (an answer: "five").
FLOOR_WORDS = frozenset({
    "stop", "wait", "halt", "pause", "cancel", "enough", "quiet", "silence", "shush", "shh",
    "hush", "no", "nope", "nah", "yes", "sure", "bye", "goodbye", "hello", "hi", "hey",
    "sorry", "excuse", "pardon", "what", "why", "how", "who", "when", "where", "which",
    "help", "repeat", "again", "louder", "slower", "faster", "next", "skip", "back",
    "thanks", "thank", "actually", "listen", "hold", "hang", "nevermind", "continue",
    "don't", "dont", "quit", "exit", "mute", "forget", "wrong", "incorrect",
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
})
_NUMBER_WORDS = frozenset({"zero", "one", "two", "three", "four", "five", "six", "seven",
                           "eight", "nine", "ten"})
# What a reaction may consist of (``is_reaction``): commands, answers, greetings,
# backchannel words — not numbers, which answer ("… for | five").
_REACTION_WORDS = (FLOOR_WORDS - _NUMBER_WORDS) | {w for p in BACKCHANNELS for w in p.split()}
# A word that makes a few words a request, though alone it asks nothing ("Play." or
# "Night." alone is most often a misheard hum; "play some music", "good night" are not).
REQUEST_WORDS = frozenset({
    "not", "never", "shut", "tell", "more", "go", "play", "read", "open", "call", "set",
    "turn", "remember", "search", "find", "show", "give", "please", "morning", "afternoon",
    "evening", "night",
})

#: An utterance this short (seconds from its first speech frame to the silence after it)
#: and of at most this many words is a reaction, not a turn, unless it commands, answers
#: or asks.
SHORT_REACTION_S = 0.8
#: Below this recognition confidence a short multi-word transcript is taken for a
#: misheard reaction (Whisper: exp of the mean log-probability).
UNSURE_CONFIDENCE = 0.5
SHORT_REACTION_WORDS = 3

_WORDS = re.compile(r"[a-z']+")
_HUM = re.compile(r"^[mhn]+$")  # "mm", "hmm", "mhm", "M-H-M", "M-M-H-N": a closed-mouth hum


def _words(text: str) -> list[str]:
    """Lower-case words; "mm-hmm" is two words."""
    return _WORDS.findall(text.lower().replace("-", " "))


def _is_hum(word: str) -> bool:
    return bool(_HUM.match(word)) and "m" in word


def is_backchannel(text: str) -> bool:
    """Whether ``text`` (a transcript) is only a backchannel, possibly repeated."""
    stripped = text.strip()
    if not stripped or stripped.endswith("?"):
        return False
    words = _words(stripped)
    if not words:
        return False
    if all(_HUM.match(w) for w in words) and any("m" in w for w in words):
        return True  # "Mm-hmm", "Mm hm", "Hmm hmm", "MMM", "M-H-M"
    phrase = " ".join(words)
    if phrase in BACKCHANNELS:
        return True
    # "yeah yeah", "okay, okay", "right, right, right": one backchannel repeated
    for size in (1, 2):
        unit = " ".join(words[:size])
        if unit in BACKCHANNELS and len(words) % size == 0 and \
                all(" ".join(words[i:i + size]) == unit for i in range(0, len(words), size)):
            return True
    return False


def _spelt_hums_joined(words: list[str]) -> list[str]:
    """``["the", "m", "h", "m"]`` → ``["the", "mhm"]``: a hum Whisper spelt letter by
    letter ("the M-H-M.") is one word."""
    out: list[str] = []
    for word in words:
        if len(word) == 1 and word in "mhn" and out and _HUM.match(out[-1]):
            out[-1] += word
        else:
            out.append(word)
    return out


def leaves_the_floor(text: str, speech_s: float | None = None,
                     confidence: float | None = None) -> bool:
    """Whether ``text``, heard while the assistant speaks, lets the reply go on: a
    backchannel; one lone word; up to :data:`SHORT_REACTION_WORDS` words with a hum among
    them, or said in at most :data:`SHORT_REACTION_S` (``speech_s``: the utterance's
    length) and recognised with a ``confidence`` under :data:`UNSURE_CONFIDENCE` — in
    each case with no question, number or :data:`FLOOR_WORDS` word in it (nor, for
    several words, a :data:`REQUEST_WORDS` word). A clear short request ("sing a chant")
    takes the floor.
    (Like LiveKit Agents' ``min_interruption_words``, but a command still interrupts; a
    hum Whisper turns into "and I can." is a short reaction too.)"""
    if is_backchannel(text):
        return True
    stripped = text.strip()
    words = _spelt_hums_joined(_words(stripped))
    if not words or stripped.endswith("?") or any(c.isdigit() for c in stripped) \
            or FLOOR_WORDS.intersection(words):
        return False
    if len(words) == 1:
        return True
    if len(words) > SHORT_REACTION_WORDS or REQUEST_WORDS.intersection(words):
        return False
    hummed = any(_is_hum(w) for w in words)  # "and then hm.": a hum
    unsure = confidence is not None and confidence < UNSURE_CONFIDENCE
    return hummed or (unsure and speech_s is not None and speech_s <= SHORT_REACTION_S)


def is_reaction(text: str) -> bool:
    """Whether ``text`` is only a reaction to what was just said — at most two words,
    each a command, answer, greeting or backchannel ("stop", "no thanks", "bye") — rather
    than more of a request ("five", "the moon", "and lemons")."""
    words = _words(text)
    return 0 < len(words) <= 2 and all(w in _REACTION_WORDS for w in words)


def says_more(text: str, earlier: str) -> bool:
    """Whether ``text`` (a transcript of a turn and what the user said right after it)
    says more than ``earlier`` (the turn's own transcript): more words once a trailing
    backchannel or hum is set aside. Counted, not compared word for word: the second
    decode may hear the first part differently ("their hands" → "the earth and")."""
    words = _spelt_hums_joined(_words(text))
    while words:
        if " ".join(words[-2:]) in BACKCHANNELS and len(words) >= 2:
            del words[-2:]  # "uh huh", "i see"
        elif _is_hum(words[-1]) or words[-1] in BACKCHANNELS:
            words.pop()
        else:
            break
    return len(words) > len(_words(earlier))


def whole_request(whole: str, earlier: str, later: str) -> str:
    """The text of a request said as ``earlier`` and, after a pause, ``later``, given
    ``whole``, the two decoded together: ``whole``, unless that decode lost most of the
    earlier part (Whisper now and then skips a first phrase before a long pause) — then
    the two transcripts joined."""
    kept = len(_words(whole)) - len(_words(later))
    if kept * 2 >= len(_words(earlier)):
        return whole
    return f"{earlier.strip()} {later.strip()}".strip()


__all__ = ["BACKCHANNELS", "FLOOR_WORDS", "REQUEST_WORDS", "SHORT_REACTION_S",
           "SHORT_REACTION_WORDS", "UNSURE_CONFIDENCE", "is_backchannel", "is_reaction",
           "leaves_the_floor", "says_more", "whole_request"]
