"""What the offline agent can say from the user's memory and documents.

* "remember (that) …", "please remember …", "don't forget …" → the fact is kept;
* "what do you remember (about me)", "what do you know about me" → the facts;
* "forget (that / about) …" → the facts it describes are forgotten;
* a question sharing its content words with a remembered fact → that fact;
* a question (a "?", or a question word first) the documents answer → "From your notes: "
  and the best excerpt's sentences that share most of the question's words (at most
  :data:`MAX_EXCERPT_CHARS`).

Facts are read back in the second person ("my sister" → "your sister").
"""

from __future__ import annotations

import re

from xtalk.models.interfaces import MemoryBook, Retriever
from xtalk.retrieval.ranking import tokenize

MAX_EXCERPT_CHARS = 280
NOTHING_REMEMBERED = "You haven't asked me to remember anything yet."

_REMEMBER = re.compile(
    r"^\W*(?:(?:please|can you|could you|will you)\s+)?(?:remember|don'?t forget|note)"
    r"\s+(?:that\s+)?(?P<fact>.+?)\W*$", re.I)
_RECALL = re.compile(r"\bwhat (?:do|did) you (?:remember|know)\b|\bwhat have you remembered\b"
                     r"|\bwhat do you know about me\b", re.I)
_FORGET = re.compile(r"^\W*(?:please\s+)?forget\s+(?:that\s+|about\s+)?(?P<about>.+?)\W*$",
                     re.I)
_QUESTION = re.compile(r"\?\s*$|^\W*(?:what|when|where|which|who|whom|whose|why|how|is|"
                       r"are|was|were|do|does|did|can|could|should|will|would)\b",
                       re.I)
_SENTENCES = re.compile(r"(?<=[.!?])\s+")
_PERSON = {"i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself",
           "i'm": "you're", "am": "are", "we": "you", "our": "your", "us": "you"}


def second_person(fact: str) -> str:
    """``fact`` as said back to its owner ("My sister is Ann." → "Your sister is Ann.")."""
    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        other = _PERSON.get(word.lower(), word)
        return other.capitalize() if word[0].isupper() and other != word else other
    return re.sub(r"[A-Za-z']+", swap, fact)


def _listing(facts: list[str]) -> str:
    said = [second_person(f) for f in facts]
    return " ".join(f[:1].upper() + f[1:] for f in said)


def best_sentences(excerpt: str, question: str, limit: int = MAX_EXCERPT_CHARS) -> str:
    """The excerpt's sentences that share most words with ``question`` (or, sharing none,
    its first ones), in their order, within ``limit`` characters (at least one, cut at a
    word)."""
    sentences = [s.strip() for s in _SENTENCES.split(" ".join(excerpt.split())) if s.strip()]
    if not sentences:
        return ""
    wanted = set(tokenize(question))
    scores = [len(wanted & set(tokenize(s))) for s in sentences]
    ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    best = scores[ranked[0]]
    chosen: list[int] = []
    for i in ranked:  # no shared word: the excerpt's beginning (it was found by meaning)
        if chosen and ((best and scores[i] == 0) or sum(len(sentences[j]) + 1
                                                          for j in chosen)
                       + len(sentences[i]) > limit):
            continue
        chosen.append(i)
    text = " ".join(sentences[i] for i in sorted(chosen))
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return text


async def knowledge_reply(text: str, memory: MemoryBook | None, retriever: Retriever | None,
                          *, answers_otherwise: bool = False) -> str | None:
    """The reply to ``text`` from memory and documents, or None when they have none.
    ``answers_otherwise``: the offline agent has its own answer (time, greeting...), so
    only explicit memory requests are handled here."""
    if memory is not None:
        if (match := _REMEMBER.match(text)) is not None:
            try:
                fact = await memory.remember(match.group("fact"))
            except ValueError as exc:
                return f"I couldn't remember that: {exc}."
            return f"Okay, I'll remember that. {_listing([fact])}"
        if _RECALL.search(text):
            facts = await memory.recall()
            return f"You told me: {_listing(facts)}" if facts else NOTHING_REMEMBERED
        if (match := _FORGET.match(text)) is not None:
            forgotten = await memory.forget(match.group("about"))
            if not forgotten:
                return "I didn't have anything remembered about that."
            return f"Okay, I forgot: {_listing(forgotten)}"
    if answers_otherwise:
        return None
    wanted = set(tokenize(text))
    if memory is not None and wanted:
        facts = await memory.recall()
        overlap = [(len(wanted & set(tokenize(f))), f) for f in facts]
        best = max(overlap, default=(0, ""))
        if best[0] >= max(1, min(2, len(wanted) // 2)):
            return f"You told me: {second_person(best[1])}"
    if retriever is not None and wanted and _QUESTION.search(text):
        passages = [p for p in await retriever(text) if p.strip()]
        if passages and (excerpt := best_sentences(passages[0], text)):
            return f"From your notes: {excerpt}"
    return None


__all__ = ["NOTHING_REMEMBERED", "best_sentences", "knowledge_reply", "second_person"]
