"""Rank chunks for a query: Okapi BM25 (offline default) or cosine similarity."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")

_TOKEN = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "so",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


def tokenize(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text.lower()) if t not in _STOPWORDS]


class BM25Index:
    """An in-memory Okapi BM25 index (k1=1.5, b=0.75)."""

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.docs: list[str] = []
        self._tfs: list[Counter[str]] = []
        self._df: Counter[str] = Counter()
        self._total_len = 0

    def add(self, chunks: list[str]) -> None:
        for chunk in chunks:
            tokens = tokenize(chunk)
            self.docs.append(chunk)
            self._tfs.append(Counter(tokens))
            self._df.update(set(tokens))
            self._total_len += len(tokens)

    def search(self, query: str, k: int = 3) -> list[tuple[float, str]]:
        if not self.docs:
            return []
        n = len(self.docs)
        avg = self._total_len / n or 1.0
        scores = []
        terms = tokenize(query)
        for tf, doc in zip(self._tfs, self.docs, strict=True):
            length = sum(tf.values())
            score = 0.0
            for term in terms:
                if term not in tf:
                    continue
                idf = math.log(1 + (n - self._df[term] + 0.5) / (self._df[term] + 0.5))
                f = tf[term]
                score += (
                    idf * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * length / avg))
                )
            if score > 0:
                scores.append((score, doc))
        scores.sort(key=lambda item: -item[0])
        return scores[:k]


def cosine_top_k(
    query: list[float],
    vectors: list[list[float]],
    docs: Sequence[T],
    k: int = 3,
    min_score: float = 0.2,
) -> list[tuple[float, T]]:
    """The ``k`` documents whose vectors are most similar to ``query``."""
    if not vectors:
        return []
    matrix = np.asarray(vectors, dtype=np.float64)
    q = np.asarray(query, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(q) or 1.0)
    sims = matrix @ q / np.where(norms == 0, 1.0, norms)
    order = np.argsort(-sims)[:k]
    return [(float(sims[i]), docs[i]) for i in order if sims[i] >= min_score]
