"""TurnDetectorManager: asks the turn-detector model whether a pause ends the turn.

Consumes: TurnEndCheckRequested. Emits: TurnEndDecided.
Switched off when the pipeline has no turn detector (turn-taking then ends the turn on the
VAD's silence alone).
"""

from __future__ import annotations

from xtalk.serving.events import TurnEndCheckRequested, TurnEndDecided
from xtalk.serving.interfaces import Manager


def _has_detector(manager: Manager) -> bool:
    return manager.pipeline.get_turn_detector_model() is not None


class TurnDetectorManager(Manager):
    """Answers end-of-turn checks with the detector's verdict."""

    @Manager.event_handler(TurnEndCheckRequested, enabled_if=_has_detector)
    async def on_check(self, event: TurnEndCheckRequested) -> None:
        detector = self.pipeline.get_turn_detector_model()
        assert detector is not None
        silence_s = float(dict(self.setting("vad", {})).get("min_silence_s", 0.4))
        try:
            verdict = detector.decide(event.text, silence_s)
        except Exception:
            self.log.exception("turn detector failed; ending the turn")
            verdict = None
        await self.publish(TurnEndDecided(
            session_id=self.session_id, turn_id=event.turn_id,
            is_end=True if verdict is None else verdict.is_end,
            wait_s=0.0 if verdict is None else verdict.wait_s))
