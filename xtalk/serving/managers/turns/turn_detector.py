"""TurnDetectorManager: asks the turn-detector model whether a pause ends the turn.

Consumes: TurnEndCheckRequested, TranscriptPartial, SpeechStarted.
Emits: TurnEndDecided.
When the verdict was "wait", a fresher transcript of the same turn (typically the ASR's
speculative final of the pause, which arrives a moment later) is judged again, and an
"end now" verdict cuts the wait short. Switched off when the pipeline has no turn
detector (turn-taking then ends the turn on the VAD's silence alone).
"""

from __future__ import annotations

from xtalk.models.interfaces import TurnVerdict
from xtalk.serving.events import (
    SpeechStarted,
    TranscriptPartial,
    TurnEndCheckRequested,
    TurnEndDecided,
)
from xtalk.serving.interfaces import Manager


def _has_detector(manager: Manager) -> bool:
    return manager.pipeline.get_turn_detector_model() is not None


class TurnDetectorManager(Manager):
    """Answers end-of-turn checks with the detector's verdict."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.silence_s = float(dict(self.setting("vad", {})).get("min_silence_s", 0.4))
        self._waiting_turn: int | None = None

    def _decide(self, text: str) -> TurnVerdict:
        detector = self.pipeline.get_turn_detector_model()
        assert detector is not None
        try:
            return detector.decide(text, self.silence_s)
        except Exception:
            self.log.exception("turn detector failed; ending the turn")
            return TurnVerdict(is_end=True)

    @Manager.event_handler(TurnEndCheckRequested, enabled_if=_has_detector)
    async def on_check(self, event: TurnEndCheckRequested) -> None:
        verdict = self._decide(event.text)
        self._waiting_turn = None if verdict.is_end else event.turn_id
        await self.publish(TurnEndDecided(session_id=self.session_id, turn_id=event.turn_id,
                                          is_end=verdict.is_end, wait_s=verdict.wait_s))

    @Manager.event_handler(TranscriptPartial, enabled_if=_has_detector)
    async def on_partial(self, event: TranscriptPartial) -> None:
        if event.turn_id != self._waiting_turn or not self._decide(event.text).is_end:
            return
        self._waiting_turn = None
        await self.publish(TurnEndDecided(session_id=self.session_id, turn_id=event.turn_id,
                                          is_end=True))

    @Manager.event_handler(SpeechStarted, enabled_if=_has_detector)
    def on_speech(self, event: SpeechStarted) -> None:
        self._waiting_turn = None  # the user went on: the pending verdict no longer applies
