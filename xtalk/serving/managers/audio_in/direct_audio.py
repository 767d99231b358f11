"""DirectAudioManager: the single entry point of input audio.

Consumes: DirectAudioSubmitted (any rate, channels, int16 or float32 — WebSocket frames,
the desktop microphone, a file).
Emits: AudioFrameReceived (PCM16 mono 16 kHz) — or, when the pipeline has a speech enhancer
or a wake word, AudioFrameCaptured for those managers to handle first — dispatched
immediately so that everything derived from a frame (VAD, ASR buffering) happens before the
next queued event.

It owns the session's input timeline: ``start_sample`` counts canonical samples since the
session began. Each source gets its own streaming resampler (no seams between blocks).
"""

from __future__ import annotations

import time

import numpy as np

from xtalk.audio.pcm import INPUT_SAMPLE_RATE, StreamResampler, float_to_int16, to_mono_float32
from xtalk.serving.events import AudioFrameCaptured, AudioFrameReceived, DirectAudioSubmitted
from xtalk.serving.interfaces import Manager


class DirectAudioManager(Manager):
    """Converts submitted audio to the canonical format and timestamps it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._next_sample = 0
        self._resamplers: dict[tuple[str, int], StreamResampler] = {}

    @Manager.event_handler(DirectAudioSubmitted, priority=100)
    async def on_audio(self, event: DirectAudioSubmitted) -> None:
        if event.sample_rate <= 0:
            self.log.warning("dropping audio with invalid sample rate %s", event.sample_rate)
            return
        samples = event.samples
        if samples.dtype == np.int16 and samples.ndim == 1 \
                and event.sample_rate == INPUT_SAMPLE_RATE:
            pcm = samples
        else:
            mono = to_mono_float32(samples)
            key = (event.source, event.sample_rate)
            resampler = self._resamplers.get(key)
            if resampler is None:
                resampler = self._resamplers[key] = StreamResampler(
                    event.sample_rate, INPUT_SAMPLE_RATE)
            pcm = float_to_int16(resampler.process(mono))
        if pcm.size == 0:
            return
        start = self._next_sample
        self._next_sample += pcm.size
        staged = self.pipeline.get_enhancer_model() is not None \
            or self.pipeline.get_wake_word_model() is not None
        frame = AudioFrameCaptured if staged else AudioFrameReceived
        await self.publish(frame(session_id=self.session_id, pcm=pcm, start_sample=start,
                                 received_time=time.monotonic(), source=event.source),
                           wait_for_completion=True)
