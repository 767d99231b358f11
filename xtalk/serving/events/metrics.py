"""Metrics events: latency per turn, clock sync."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xtalk.serving.events import BaseEvent


# --------------------------------------------------------------------------- metrics
@dataclass
class LatencyMeasured(BaseEvent):
    """Per-turn latency breakdown in milliseconds (``None`` when a stage did not run).

    ``speculation_saved_ms``: how much sooner the first audio was ready because the reply
    was prepared speculatively (``None`` when it was not); ``cue_ms``: end of speech → a
    thinking cue that opened the reply (``None`` without one; ``e2e_ms`` counts to the
    reply's own words)."""

    turn_id: int = 0
    endpoint_ms: float | None = None
    asr_ms: float | None = None
    llm_first_token_ms: float | None = None
    llm_sentence_ms: float | None = None
    tts_first_chunk_ms: float | None = None
    e2e_ms: float | None = None
    network_ms: float | None = None
    speculation_saved_ms: float | None = None
    cue_ms: float | None = None
    TYPE: ClassVar[str] = "metrics.latency"


@dataclass
class ClockSynced(BaseEvent):
    """The client's clock offset estimate (seconds, client minus server)."""

    offset_s: float = 0.0
    rtt_s: float = 0.0
    TYPE: ClassVar[str] = "metrics.clock_synced"


__all__ = [name for name, obj in list(globals().items())
           if isinstance(obj, type) and issubclass(obj, BaseEvent) and obj is not BaseEvent]
