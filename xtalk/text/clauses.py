"""Split reply text into speakable clauses (pure logic), the one clause splitter of Xtalk.

The engine's TTSManager feeds a reply's text deltas to a :class:`ClauseSplitter` and hands
the TTS model one clause at a time; a model that is given a whole text instead (a direct
``synthesize`` call, a remote server with a request size limit) cuts only text that is
genuinely long, with :func:`split_long_text`, so it is cut the same way.

Text is cut at sentence ends (``. ! ? …`` and their CJK forms, followed by a space or the
end of the stream). The *first* clause of a reply is also cut at a comma, colon, semicolon
or dash once it has a few words, so the first audio starts before the sentence ends.
A sentence end that comes last in the text so far is cut at once when it cannot be
anything else (``?``, ``!``, or a full stop after a word of two or more letters), so a
token stream's ``.`` goes to the TTS without waiting for the next token; a full stop after
a digit or a single letter waits for what follows. Decimal numbers ("3.5"),
abbreviations ("e.g.", "Dr.", "U.S.") and ellipses inside text are not cut. Fenced code
blocks (```) are never spoken, even when they span several clauses.
"""

from __future__ import annotations

import re

#: Clauses longer than this are cut at a space (the engine never sends a TTS more).
MAX_CLAUSE_CHARS = 220

_SENTENCE_END = re.compile(r"([.!?…。！？]+[\"')\]]*)(\s+|$)")
_CLAUSE_END = re.compile(r"([,;:—–]|\s-)(\s+)")
_UNAMBIGUOUS_END = re.compile(r"[!?…。！？]")
_WORD_BEFORE = re.compile(r"(?<![\w.])([^\W\d_]{2,})$")
#: What may follow a sentence end cut at once ("?!", a closing quote): dropped, unspoken.
_TRAILING_END = re.compile(r"^[.!?…。！？\"')\]]*")
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "no",
    "approx", "dept", "est", "inc", "ltd", "mt", "fig", "u.s",
})


def _is_abbreviation(text: str, dot_index: int) -> bool:
    word = re.findall(r"[\w.]+$", text[:dot_index])
    return bool(word) and word[0].lower().rstrip(".") in _ABBREVIATIONS


def _ends_here(text: str, start: int, punctuation: str) -> bool:
    """Whether ``punctuation`` at the end of the text so far surely ends a sentence."""
    if _UNAMBIGUOUS_END.search(punctuation):
        return True
    return punctuation.rstrip("\"')]") in (".", "...") \
        and _WORD_BEFORE.search(text[:start]) is not None


class ClauseSplitter:
    """Accumulates text deltas and returns complete clauses.

    Args:
        first_clause_min_words: Words needed before the first clause may be cut at a comma.
        max_clause_chars: Force a cut (at a space) in very long clauses.
    """

    def __init__(self, first_clause_min_words: int = 4,
                 max_clause_chars: int = MAX_CLAUSE_CHARS) -> None:
        self.first_clause_min_words = first_clause_min_words
        self.max_clause_chars = max_clause_chars
        self._buffer = ""
        self._emitted = 0
        self._in_code = False
        self._cut_at_end = False  # the last cut was at the end of the text then

    def _speakable(self, clause: str) -> str:
        """Drop the parts of ``clause`` inside fenced code blocks (state carries over)."""
        parts = clause.split("```")
        kept = []
        for i, part in enumerate(parts):
            if i > 0:
                self._in_code = not self._in_code
            if not self._in_code:
                kept.append(part)
        return " ".join(" ".join(kept).split())

    def push(self, delta: str) -> list[str]:
        """Add text; return the clauses completed by it."""
        self._buffer += delta
        if self._cut_at_end and self._buffer:
            self._buffer = _TRAILING_END.sub("", self._buffer)
            self._cut_at_end = not self._buffer
            self._buffer = self._buffer.lstrip()
        clauses: list[str] = []
        while True:
            cut = self._find_cut()
            if cut is None:
                break
            self._cut_at_end = cut == len(self._buffer)
            clause, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:].lstrip()
            clause = self._speakable(clause)
            if clause:
                clauses.append(clause)
                self._emitted += 1
        return clauses

    def flush(self) -> list[str]:
        """End of the reply: return whatever is left."""
        rest, self._buffer = self._speakable(self._buffer.strip()), ""
        self._in_code = self._cut_at_end = False
        if rest:
            self._emitted += 1
            return [rest]
        return []

    def _find_cut(self) -> int | None:
        text = self._buffer
        for match in _SENTENCE_END.finditer(text):
            if match.end(1) > self.max_clause_chars:
                break  # too long a clause: cut at a space below
            end_punct = match.start(1)
            if match.group(2) == "" and not _ends_here(text, match.start(1), match.group(1)):
                return None  # the stream may continue right after the dot ("3.5", "U.S.")
            if text[end_punct] == "." and _is_abbreviation(text, end_punct):
                continue
            return match.end(1)
        if self._emitted == 0:
            for match in _CLAUSE_END.finditer(text):
                if match.end(1) > self.max_clause_chars:
                    break
                if len(text[:match.start()].split()) >= self.first_clause_min_words:
                    return match.end(1)
        if len(text) > self.max_clause_chars:
            space = text.rfind(" ", 0, self.max_clause_chars)
            return space if space > 0 else self.max_clause_chars
        return None


def split_long_text(text: str, max_chars: int = MAX_CLAUSE_CHARS) -> list[str]:
    """``text`` (whitespace collapsed) as one piece when it has at most ``max_chars``
    characters, else cut by a :class:`ClauseSplitter` into clauses of at most ``max_chars``.

    Raises:
        ValueError: ``max_chars`` is not a positive integer.
    """
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
        raise ValueError(f"max_chars must be a positive integer, got {max_chars!r}")
    text = " ".join(str(text).split())
    if len(text) <= max_chars:
        return [text] if text else []
    splitter = ClauseSplitter(max_clause_chars=max_chars)
    return splitter.push(text) + splitter.flush()
