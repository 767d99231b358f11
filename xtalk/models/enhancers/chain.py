"""Several speech enhancers in a row (e.g. echo cancellation, then noise suppression)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xtalk.models.interfaces import SpeechEnhancer


class EnhancerChain(SpeechEnhancer):
    """Runs ``stages`` in order on every frame; every stage hears about the reference
    (what is played), so an echo canceller anywhere in the chain gets it.

    Args:
        stages: Speech enhancers, or config entries for the ``speech_enhancer`` slot
            (``"RNNoise"``, ``{"type": "EchoGate", "params": {...}}``).
    """

    def __init__(self, stages: Sequence[SpeechEnhancer | str | dict]) -> None:
        from xtalk.registry import build_model

        self.stages: list[SpeechEnhancer] = [
            stage if isinstance(stage, SpeechEnhancer) else build_model("speech_enhancer", stage)
            for stage in stages]
        if not self.stages:
            raise ValueError("an EnhancerChain needs at least one stage")

    def clone(self) -> EnhancerChain:
        return EnhancerChain([stage.clone() for stage in self.stages])

    def enhance(self, frame: np.ndarray) -> np.ndarray:
        for stage in self.stages:
            frame = stage.enhance(frame)
        return frame

    def set_reference(self, pcm: np.ndarray, sample_rate: int) -> None:
        for stage in self.stages:
            stage.set_reference(pcm, sample_rate)

    def note_played(self, pcm: np.ndarray, sample_rate: int,
                    start: float | None = None) -> None:
        for stage in self.stages:
            stage.note_played(pcm, sample_rate, start)

    def pause_reference(self, paused: bool) -> None:
        for stage in self.stages:
            stage.pause_reference(paused)

    def clear_reference(self) -> None:
        for stage in self.stages:
            stage.clear_reference()


__all__ = ["EnhancerChain"]
