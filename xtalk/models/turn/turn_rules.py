"""How a voice end-of-turn probability and the pause's transcript decide a pause (pure logic).

:class:`TurnRules` holds the thresholds :class:`~xtalk.models.turn.smart_turn.
SmartTurnDetector` applies to its model's probability; :data:`PATIENCE` names two sets of
them. "quick" (the default) answers most finished requests at the first pause and takes a
fifth of mid-request hesitations for the end (turn merging then answers the whole request);
"patient" takes few hesitations for the end but keeps about two finished requests in three
waiting for the maximum silence. The trade-off, measured: benchmarks/README.md, "What the
detector can hear".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from xtalk.models.interfaces import TurnVerdict
from xtalk.models.turn.text_policy import sounds_unfinished

#: A transcript this long can be a cut phrase that Whisper completed ("Stop." cannot).
UNSURE_MIN_WORDS = 3
_PUNCTUATED = re.compile(r"[.!?。！？][\"')\]]*$")
_QUESTION = re.compile(r"[?？][\"')\]]*$")
_PROBABILITIES = ("threshold", "unpunctuated_threshold", "unsure_word_threshold",
                  "sure_question_threshold")
_CERTAINTIES = ("unsure_word_probability", "sure_question_probability")


@dataclass(frozen=True)
class TurnRules:
    """The probability of "finished" a pause needs, by what its transcript says.

    A transcript that promises more (it ends in "to", "and", "the", a comma or Whisper's
    "..." — :func:`~xtalk.models.turn.text_policy.sounds_unfinished`) keeps the turn open
    whatever the voice says (with ``use_transcript``). Otherwise the pause ends the turn
    when the probability reaches ``threshold``; ``unpunctuated_threshold`` when Whisper left
    no full stop or question mark; ``unsure_word_threshold`` for a phrase of three words or
    more whose last word the recogniser was unsure of (below ``unsure_word_probability``:
    at a pause Whisper often "completes" a cut phrase, "tell me the" → "tell me that?");
    only ``sure_question_threshold`` for a question the recogniser was sure had ended (its
    last word and "?" at least ``sure_question_probability``: Smart Turn often hears a
    finished question in a flat voice as unfinished). 0 switches either certainty rule off.
    After ``max_silence_s`` the turn ends whatever is heard.

    Raises:
        ValueError: a value is out of range.
    """

    threshold: float = 0.8
    max_silence_s: float = 1.6
    use_transcript: bool = True
    unpunctuated_threshold: float = 0.8
    unsure_word_probability: float = 0.4
    unsure_word_threshold: float = 0.99
    sure_question_probability: float = 0.8
    sure_question_threshold: float = 0.1

    def __post_init__(self) -> None:
        for name in _PROBABILITIES:
            value = getattr(self, name)
            if not 0.0 < float(value) < 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        for name in _CERTAINTIES:
            value = getattr(self, name)
            if not 0.0 <= float(value) < 1.0:
                raise ValueError(f"{name} must be at least 0 and below 1, got {value}")
        if float(self.max_silence_s) <= 0:
            raise ValueError(f"max_silence_s must be positive, got {self.max_silence_s}")

    def needed(self, text: str, last_word_probability: float | None) -> float:
        """The probability of "finished" that ``text`` (stripped, not empty) needs."""
        threshold = self.threshold
        if not _PUNCTUATED.search(text):
            threshold = max(threshold, self.unpunctuated_threshold)
        if last_word_probability is None or len(text.split()) < UNSURE_MIN_WORDS:
            return threshold
        if last_word_probability < self.unsure_word_probability:
            return max(threshold, self.unsure_word_threshold)
        if self.sure_question_probability and _QUESTION.search(text) \
                and last_word_probability >= self.sure_question_probability:
            return min(threshold, self.sure_question_threshold)
        return threshold

    def needs_voice(self, text: str, silence_s: float) -> bool:
        """Whether the verdict on this pause rests on the voice's probability (not on the
        maximum silence, nor on a transcript that promises more)."""
        return silence_s < self.max_silence_s \
            and not (self.use_transcript and sounds_unfinished(text))

    def decide(self, text: str, silence_s: float, probability: float | None,
               last_word_probability: float | None = None) -> TurnVerdict:
        """The verdict on a pause of ``silence_s`` after ``text``; ``probability`` is the
        voice's "finished" (``None``: no audio was heard, which ends the turn)."""
        if silence_s >= self.max_silence_s:
            return TurnVerdict(is_end=True)
        wait = self.max_silence_s - silence_s
        if not self.needs_voice(text, silence_s):
            return TurnVerdict(is_end=False, wait_s=wait)
        if probability is None:
            return TurnVerdict(is_end=True)
        stripped = text.strip()
        needed = self.needed(stripped, last_word_probability) \
            if self.use_transcript and stripped else self.threshold
        if probability >= needed:
            return TurnVerdict(is_end=True, probability=probability)
        return TurnVerdict(is_end=False, wait_s=wait, probability=probability)


#: Named rule sets (``SmartTurnDetector(patience=...)``).
PATIENCE: dict[str, TurnRules] = {
    "quick": TurnRules(),
    "patient": TurnRules(threshold=0.95, unpunctuated_threshold=0.95,
                         unsure_word_probability=0.8, sure_question_probability=0.0),
}

#: The names of the rules' fields (a detector's parameters of the same names override them).
RULE_FIELDS = tuple(f.name for f in fields(TurnRules))

__all__ = ["PATIENCE", "RULE_FIELDS", "TurnRules"]
