"""Instrumentation of a benchmark session (``pipeline_latency.py``): every ASR decode,
every turn-detector verdict and which replies were prepared speculatively. The wrappers
only observe: every call goes through unchanged."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from xtalk.serving import events as ev
from xtalk.serving.managers.recognition.asr import ASRManager


class DecodeLog:
    """Records every ASR decode of a session (kind, start, end on the monotonic clock) by
    wrapping the session's ASR model methods (instrumentation only: the calls go through
    unchanged). ``transcribe`` = a final or speculative-final decode, ``transcribe_partial``
    = an interim result."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.calls: list[tuple[str, float, float]] = []
        self._saved: dict[str, Any] = {}
        for kind in ("transcribe", "transcribe_partial"):
            original = getattr(model, kind)
            self._saved[kind] = model.__dict__.get(kind)

            def wrapper(audio: Any, _original: Any = original, _kind: str = kind) -> Any:
                started = time.monotonic()
                try:
                    return _original(audio)
                finally:
                    self.calls.append((_kind, started, time.monotonic()))

            setattr(model, kind, wrapper)

    def restore(self) -> None:
        for kind, saved in self._saved.items():
            if saved is None:
                with contextlib.suppress(AttributeError):
                    delattr(self.model, kind)
            else:
                setattr(self.model, kind, saved)

    def between(self, t0: float, t1: float) -> list[tuple[str, float, float]]:
        return [c for c in self.calls if t0 <= c[1] < t1]


class PolicyLog:
    """Records the turn detector's verdicts (time, partial text it judged, verdict) by
    wrapping the session's detector ``decide`` (instrumentation only)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.calls: list[tuple[float, str, Any]] = []
        self._saved = model.__dict__.get("decide")
        original = model.decide

        def decide(text: str, silence_s: float, audio: Any = None, **hints: Any) -> Any:
            verdict = original(text, silence_s, **hints) if audio is None else \
                original(text, silence_s, audio, **hints)
            self.calls.append((time.monotonic(), text, verdict))
            return verdict

        model.decide = decide

    def restore(self) -> None:
        if self._saved is None:
            with contextlib.suppress(AttributeError):
                del self.model.decide
        else:
            self.model.decide = self._saved

    def waits(self, t0: float, t1: float) -> list[tuple[str, float]]:
        """(judged text, extra wait) of the "not finished yet" verdicts in the window."""
        return [(text, float(getattr(v, "wait_s", 0.0))) for t, text, v in self.calls
                if t0 <= t < t1 and not getattr(v, "is_end", True)]


def busy_seconds(calls: list[tuple[str, float, float]]) -> float:
    """Time covered by at least one decode call (the union of their intervals)."""
    total, end = 0.0, float("-inf")
    for _, t0, t1 in sorted(calls, key=lambda c: c[1]):
        if t1 > end:
            total += t1 - max(t0, end)
            end = t1
    return total


class Instruments:
    """Per-session instrumentation: decodes, turn-detector verdicts, confirmations."""

    def __init__(self, live: Any) -> None:
        service = live.service
        self.asr = service.get_manager(ASRManager)
        model = service.pipeline.get_asr_model()
        self.decodes = DecodeLog(model) if model is not None else None
        detector = service.pipeline.get_turn_detector_model()
        self.policy = PolicyLog(detector) if detector is not None else None
        self.confirmed: set[int] = set()
        confirmed = getattr(ev, "SpeculationConfirmed", None)  # absent before December
        if confirmed is not None:
            service.event_bus.subscribe(confirmed, lambda e: self.confirmed.add(e.turn_id))

    def restore(self) -> None:
        if self.decodes is not None:
            self.decodes.restore()
        if self.policy is not None:
            self.policy.restore()


__all__ = ["DecodeLog", "Instruments", "PolicyLog", "busy_seconds"]
