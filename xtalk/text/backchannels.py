"""Backchannels: what a listener says to show they are following, not to take the turn.

"Mm-hmm", "yeah", "okay", "right", "uh-huh" (alone or repeated) while the assistant speaks
mean "go on"; anything more ("yeah, but…"), a question ("okay?"), an answer ("yes") or a
command ("stop") is a real turn. :func:`leaves_the_floor` adds the lone word that is none
of these: heard over a reply it is most often a hum or the reply's echo misrecognised.
"""

from __future__ import annotations

import re

BACKCHANNELS = frozenset({
    "uh huh", "uh hu", "aha", "ah", "oh", "yeah", "yea", "yep", "yup", "ok", "okay",
    "right", "alright", "all right", "i see", "got it",
})

# One word that takes the floor even alone: commands, answers, greetings, question words,
# politeness. Numbers take it too (an answer: "five", "2").
FLOOR_WORDS = frozenset({
    "stop", "wait", "halt", "pause", "cancel", "enough", "quiet", "silence", "shush", "shh",
    "hush", "no", "nope", "nah", "yes", "sure", "bye", "goodbye", "hello", "hi", "hey",
    "sorry", "excuse", "pardon", "what", "why", "how", "who", "when", "where", "which",
    "help", "repeat", "again", "louder", "slower", "faster", "next", "skip", "back",
    "thanks", "thank", "actually", "listen", "hold", "hang", "nevermind", "continue",
    "don't", "dont", "quit", "exit", "mute", "forget", "wrong", "incorrect",
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
})

_WORDS = re.compile(r"[a-z']+")
_HUM = re.compile(r"^[mh]+$")  # "mm", "hmm", "mhm", "M-H-M": a closed-mouth hum


def is_backchannel(text: str) -> bool:
    """Whether ``text`` (a transcript) is only a backchannel, possibly repeated."""
    stripped = text.strip()
    if not stripped or stripped.endswith("?"):
        return False
    words = _WORDS.findall(stripped.lower().replace("-", " "))
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


def leaves_the_floor(text: str) -> bool:
    """Whether ``text``, heard while the assistant speaks, lets the reply go on: a
    backchannel, or one lone word that is not a question, a number or one of
    :data:`FLOOR_WORDS` (like LiveKit Agents' ``min_interruption_words``, but a command
    still interrupts)."""
    if is_backchannel(text):
        return True
    stripped = text.strip()
    words = _WORDS.findall(stripped.lower())
    return (len(words) == 1 and not stripped.endswith("?") and words[0] not in FLOOR_WORDS
            and not any(c.isdigit() for c in stripped))


__all__ = ["BACKCHANNELS", "FLOOR_WORDS", "is_backchannel", "leaves_the_floor"]
