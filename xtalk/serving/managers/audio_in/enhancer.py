"""EnhancerManager: denoise / echo-cancel input frames before anyone else hears them.

Consumes: AudioFrameCaptured (the input frame as captured); for an echo canceller's
reference: AudioChunkSent (reply audio as sent), AudioPlayed (as a local speaker played it),
PlaybackPaused / PlaybackResumed / PlaybackStopped.
Emits: AudioFrameReceived (the enhanced frame, dispatched at once; a frame the enhancer
returned with another length goes on unprocessed), or AudioFrameEnhanced when the pipeline
has a wake word (the wake-word manager listens first). Switched off when the pipeline has no
speech enhancer (the input manager then publishes AudioFrameReceived itself).
"""

from __future__ import annotations

import asyncio

from xtalk.models.interfaces import SpeechEnhancer
from xtalk.serving.events import (
    AudioChunkSent,
    AudioFrameCaptured,
    AudioFrameEnhanced,
    AudioFrameReceived,
    AudioPlayed,
    PlaybackPaused,
    PlaybackResumed,
    PlaybackStopped,
)
from xtalk.serving.interfaces import Manager


def _has_enhancer(manager: Manager) -> bool:
    return manager.pipeline.get_enhancer_model() is not None


class EnhancerManager(Manager):
    """Applies the pipeline's speech enhancer to every input frame."""

    @Manager.event_handler(AudioFrameCaptured, priority=50, enabled_if=_has_enhancer)
    async def on_frame(self, event: AudioFrameCaptured) -> None:
        enhancer = self.pipeline.get_enhancer_model()
        assert enhancer is not None
        pcm = await asyncio.to_thread(enhancer.enhance, event.pcm)
        if pcm.shape != event.pcm.shape:
            self.log.warning("enhancer changed the frame length; frame left unprocessed")
            pcm = event.pcm
        frame = AudioFrameEnhanced if self.pipeline.get_wake_word_model() is not None \
            else AudioFrameReceived
        await self.publish(event.staged(frame, pcm), wait_for_completion=True)

    @property
    def enhancer(self) -> SpeechEnhancer:
        enhancer = self.pipeline.get_enhancer_model()
        assert enhancer is not None
        return enhancer

    @Manager.event_handler(AudioChunkSent, priority=10, enabled_if=_has_enhancer)
    def on_sent(self, event: AudioChunkSent) -> None:
        self.enhancer.set_reference(event.pcm, event.sample_rate)

    @Manager.event_handler(AudioPlayed, priority=10, enabled_if=_has_enhancer)
    def on_played(self, event: AudioPlayed) -> None:
        self.enhancer.note_played(event.pcm, event.sample_rate, event.start_time)

    @Manager.event_handler(PlaybackPaused, priority=10, enabled_if=_has_enhancer)
    @Manager.event_handler(PlaybackResumed, priority=10, enabled_if=_has_enhancer)
    def on_paused(self, event: PlaybackPaused | PlaybackResumed) -> None:
        self.enhancer.pause_reference(isinstance(event, PlaybackPaused))

    @Manager.event_handler(PlaybackStopped, priority=10, enabled_if=_has_enhancer)
    def on_stopped(self, event: PlaybackStopped) -> None:
        self.enhancer.clear_reference()
