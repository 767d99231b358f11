"""CaptionerManager: describes non-speech sounds the user made (applause, music, ...).

Consumes: AudioFrameReceived, UserTurnStarted, UserTurnEnded, UtteranceRejected.
Emits: CaptionUpdated (``caption_updated`` on the wire), rewritten by the pipeline's caption
rewriter when there is one. Switched off when the pipeline has no captioner.
"""

from __future__ import annotations

import asyncio

from xtalk.audio.history import AudioHistory
from xtalk.serving.events import (
    AudioFrameReceived,
    CaptionUpdated,
    UserTurnEnded,
    UserTurnStarted,
    UtteranceRejected,
)
from xtalk.serving.interfaces import Manager


def _has_captioner(manager: Manager) -> bool:
    return manager.pipeline.get_captioner_model() is not None


class CaptionerManager(Manager):
    """Captions utterances that were not speech."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.history = AudioHistory(max_seconds=15.0)
        self._spans: dict[int, tuple[int, int | None]] = {}

    @Manager.event_handler(AudioFrameReceived, priority=5, enabled_if=_has_captioner)
    def on_frame(self, event: AudioFrameReceived) -> None:
        self.history.append(event.start_sample, event.pcm)

    @Manager.event_handler(UserTurnStarted, enabled_if=_has_captioner)
    def on_started(self, event: UserTurnStarted) -> None:
        self._spans[event.turn_id] = (event.start_sample, None)
        for old in sorted(self._spans)[:-5]:
            del self._spans[old]

    @Manager.event_handler(UserTurnEnded, enabled_if=_has_captioner)
    def on_ended(self, event: UserTurnEnded) -> None:
        start, _ = self._spans.get(event.turn_id, (event.end_sample, None))
        self._spans[event.turn_id] = (start, event.end_sample)

    @Manager.event_handler(UtteranceRejected, enabled_if=_has_captioner)
    async def on_rejected(self, event: UtteranceRejected) -> None:
        start, end = self._spans.pop(event.turn_id, (0, None))
        if end is None:
            return
        audio = self.history.slice(start, end)
        captioner = self.pipeline.get_captioner_model()
        assert captioner is not None
        caption = await asyncio.to_thread(captioner.caption, audio)
        rewriter = self.pipeline.get_caption_rewriter_model()
        if caption and rewriter is not None:
            caption = await asyncio.to_thread(rewriter.rewrite, caption)
        if caption:
            await self.publish(CaptionUpdated(session_id=self.session_id,
                                              turn_id=event.turn_id, text=caption))
