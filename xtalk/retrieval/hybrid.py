"""Hybrid retrieval: fuse several rankings (e.g. full-text and vector search) into one.

Reciprocal-rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): an item at 1-based rank
``r`` in a ranking scores ``weight / (k + r)``, summed over the rankings; only ranks are
used, so BM25 scores and cosine similarities, which live on unrelated scales, need no
calibration. ``k = 60`` is the paper's constant: a larger ``k`` flattens the difference
between the top ranks.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

T = TypeVar("T", bound=Hashable)


def fuse(rankings: Sequence[Sequence[T]], k: int = 60,
         weights: Sequence[float] | None = None) -> list[T]:
    """Every item of ``rankings`` (each best first), best fused score first.

    An item repeated within one ranking counts at its first rank. Equal scores keep the
    order in which the items were first met (ranking by ranking), so the result is
    deterministic.

    Raises:
        ValueError: ``k`` is negative, or ``weights`` does not have one weight per ranking.
    """
    if k < 0:
        raise ValueError("k must not be negative")
    if weights is None:
        weights = [1.0] * len(rankings)
    elif len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    scores: dict[T, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        seen: set[T] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    first_met = {item: i for i, item in enumerate(scores)}
    return sorted(scores, key=lambda item: (-scores[item], first_met[item]))


__all__ = ["fuse"]
