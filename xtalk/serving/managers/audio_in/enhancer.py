"""EnhancerManager: denoise / echo-cancel input frames before anyone else hears them.

Consumes: AudioFrameReceived (priority 50: before VAD and ASR), AudioChunkSent (the audio
being played, as the echo reference). Emits nothing: it rewrites ``event.pcm`` in place.
Switched off when the pipeline has no speech enhancer.
"""

from __future__ import annotations

import asyncio

from xtalk.serving.events import AudioChunkSent, AudioFrameReceived
from xtalk.serving.interfaces import Manager


def _has_enhancer(manager: Manager) -> bool:
    return manager.pipeline.get_enhancer_model() is not None


class EnhancerManager(Manager):
    """Applies the pipeline's speech enhancer to every input frame."""

    @Manager.event_handler(AudioFrameReceived, priority=50, enabled_if=_has_enhancer)
    async def on_frame(self, event: AudioFrameReceived) -> None:
        enhancer = self.pipeline.get_enhancer_model()
        assert enhancer is not None
        enhanced = await asyncio.to_thread(enhancer.enhance, event.pcm)
        if enhanced.shape == event.pcm.shape:
            event.pcm = enhanced
        else:
            self.log.warning("enhancer changed the frame length; frame left unprocessed")

    @Manager.event_handler(AudioChunkSent, priority=10, enabled_if=_has_enhancer)
    def on_playback(self, event: AudioChunkSent) -> None:
        enhancer = self.pipeline.get_enhancer_model()
        assert enhancer is not None
        enhancer.set_reference(event.pcm, event.sample_rate)
