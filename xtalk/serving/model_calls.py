"""Calling a model from the event loop: in a worker thread, unless it is cheap.

Inference runs in worker threads so a slow model never stalls the session's events. For
a model that does almost nothing per call (an energy VAD, a test model) the hop to a
thread and back costs far more than the call itself, and with hundreds of sessions the
hops alone fill the loop. :class:`ModelCaller` times every call; once ``warmup`` calls
averaged under ``inline_below_s`` per item, it calls the model inline, and it goes back
to threads as soon as one inline call takes longer than ten times that.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

INLINE_BELOW_S = 30e-6  # well under one thread hop (~50 - 100 µs here)
WARMUP_CALLS = 20


class ModelCaller:
    """Runs one session's calls of one model (see the module docstring)."""

    def __init__(self, *, inline_below_s: float = INLINE_BELOW_S,
                 warmup: int = WARMUP_CALLS) -> None:
        self.inline_below_s, self.warmup = inline_below_s, warmup
        self.inline = False
        self._calls = 0
        self._mean_s = 0.0

    async def call(self, fn: Callable[[], T], items: int = 1) -> T:
        """``fn()``'s result; ``items``: how many model steps the call makes (the cost is
        judged per step)."""
        if self.inline:
            start = time.perf_counter()
            result = fn()
            self._note((time.perf_counter() - start) / max(items, 1))
            return result

        def timed() -> tuple[T, float]:
            start = time.perf_counter()
            value = fn()
            return value, time.perf_counter() - start

        result, spent = await asyncio.to_thread(timed)
        self._note(spent / max(items, 1))
        return result

    def _note(self, per_item_s: float) -> None:
        if self.inline:
            if per_item_s > 10 * self.inline_below_s:
                self.inline, self._calls, self._mean_s = False, 0, 0.0
            return
        self._calls += 1
        self._mean_s += (per_item_s - self._mean_s) / self._calls
        if self._calls >= self.warmup and self._mean_s < self.inline_below_s:
            self.inline = True


__all__ = ["INLINE_BELOW_S", "ModelCaller"]
