"""SpeakerManager: tells who is speaking, by comparing speaker embeddings of turns.

Consumes: AudioFrameReceived, UserTurnStarted, UserTurnEnded.
Emits: SpeakerIdentified (``speaker_updated``) when the speaker of a turn differs from the
previous turn's. Speakers are enrolled on first appearance (cosine similarity against
known speakers, threshold from service config ``speaker_threshold``, default 0.7).
Switched off when the pipeline has no speaker encoder.
"""

from __future__ import annotations

import asyncio

import numpy as np

from xtalk.audio.history import AudioHistory
from xtalk.serving.events import (
    AudioFrameReceived,
    SpeakerIdentified,
    UserTurnEnded,
    UserTurnStarted,
)
from xtalk.serving.interfaces import Manager


def _has_encoder(manager: Manager) -> bool:
    return manager.pipeline.get_speaker_encoder() is not None


class SpeakerManager(Manager):
    """Identifies the speaker of each turn."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.history = AudioHistory(max_seconds=30.0)
        self.threshold = float(self.setting("speaker_threshold", 0.7))
        self.speakers: list[np.ndarray] = []
        self.current: str | None = None
        self._starts: dict[int, int] = {}

    @Manager.event_handler(AudioFrameReceived, priority=5, enabled_if=_has_encoder)
    def on_frame(self, event: AudioFrameReceived) -> None:
        self.history.append(event.start_sample, event.pcm)

    @Manager.event_handler(UserTurnStarted, enabled_if=_has_encoder)
    def on_started(self, event: UserTurnStarted) -> None:
        self._starts = {event.turn_id: event.start_sample}

    @Manager.event_handler(UserTurnEnded, enabled_if=_has_encoder)
    async def on_ended(self, event: UserTurnEnded) -> None:
        start = self._starts.pop(event.turn_id, None)
        if start is None:
            return
        encoder = self.pipeline.get_speaker_encoder()
        assert encoder is not None
        audio = self.history.slice(start, event.end_sample)
        embedding = np.asarray(await asyncio.to_thread(encoder.embed, audio), dtype=np.float64)
        speaker_id, reason = self.identify(embedding)
        if speaker_id != self.current:
            self.current = speaker_id
            await self.publish(SpeakerIdentified(session_id=self.session_id,
                                                 turn_id=event.turn_id,
                                                 speaker_id=speaker_id, reason=reason))

    def identify(self, embedding: np.ndarray) -> tuple[str, str]:
        """Match ``embedding`` to a known speaker or enrol a new one."""
        norm = np.linalg.norm(embedding) or 1.0
        unit = embedding / norm
        scores = [float(unit @ known) for known in self.speakers]
        if scores and max(scores) >= self.threshold:
            return f"speaker_{int(np.argmax(scores)) + 1}", "matched"
        self.speakers.append(unit)
        return f"speaker_{len(self.speakers)}", "new_speaker"
