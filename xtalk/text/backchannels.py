"""Backchannels: what a listener says to show they are following, not to take the turn.

"Mm-hmm", "yeah", "okay", "right", "uh-huh" (alone or repeated) while the assistant speaks
mean "go on"; anything more ("yeah, but…"), a question ("okay?"), an answer ("yes") or a
command ("stop") is a real turn.
"""

from __future__ import annotations

import re

BACKCHANNELS = frozenset({
    "uh huh", "uh hu", "aha", "ah", "oh", "yeah", "yea", "yep", "yup", "ok", "okay",
    "right", "alright", "all right", "i see", "got it",
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


__all__ = ["BACKCHANNELS", "is_backchannel"]
