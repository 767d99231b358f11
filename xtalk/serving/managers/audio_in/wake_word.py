"""WakeWordManager: nothing of the user's audio is heard until the wake phrase.

Consumes: AudioFrameCaptured (or AudioFrameEnhanced when the pipeline also has a speech
enhancer), SessionStarted, SpeechStarted, SpeechEnded, UserTurnAccepted, ReplyHeard,
PlaybackStopped.
Emits: AudioFrameReceived — the frame while the gate is open, digital silence of the same
length while it waits (the input timeline has no gaps, and nothing before the wake phrase
is recognised, recorded or kept); WakeWordDetected; WakeWordAwaited. Switched off when the
pipeline has no wake word.

While waiting, every frame is scored by the detector (in a worker thread); the gate opens
with the frame after the one that ends the phrase, so a request may follow in the same
breath. It closes after ``wake_word.follow_up_s`` (service config, default 8 s) of input
audio with no speech and no reply in progress: the follow-up window after a reply, or after
a wake phrase that no request followed. A reply always holds the gate open (barge-in needs
no wake phrase), also a reply to typed text. Time is the audio's own clock.
"""

from __future__ import annotations

import asyncio
from enum import Enum

import numpy as np

from xtalk.audio.pcm import INPUT_SAMPLE_RATE
from xtalk.models.interfaces import WakeWordDetector
from xtalk.serving.events import (
    AudioFrameCaptured,
    AudioFrameEnhanced,
    AudioFrameReceived,
    PlaybackStopped,
    ReplyHeard,
    SessionStarted,
    SpeechEnded,
    SpeechStarted,
    UserTurnAccepted,
    WakeWordAwaited,
    WakeWordDetected,
)
from xtalk.serving.interfaces import Manager
from xtalk.serving.session_settings import WakeWordSettings


class Gate(Enum):
    """Whether the user's audio is heard."""

    WAITING = "waiting"  # for the wake phrase: the conversation hears silence
    OPEN = "open"  # a request, a reply, or the follow-up window after one


def _has_wake_word(manager: Manager) -> bool:
    return manager.pipeline.get_wake_word_model() is not None


def _raw_frames(manager: Manager) -> bool:
    return _has_wake_word(manager) and manager.pipeline.get_enhancer_model() is None


def _enhanced_frames(manager: Manager) -> bool:
    return _has_wake_word(manager) and manager.pipeline.get_enhancer_model() is not None


class WakeWordManager(Manager):
    """Gates the input audio on the pipeline's wake-word detector."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        settings = WakeWordSettings(**self.setting("wake_word", {}))
        self.follow_up_samples = round(float(settings.follow_up_s) * INPUT_SAMPLE_RATE)
        self.gate = Gate.WAITING
        self._idle = 0  # samples of open gate with nobody speaking and no reply
        self._speaking = False
        self._replying: set[int] = set()

    @property
    def detector(self) -> WakeWordDetector:
        detector = self.pipeline.get_wake_word_model()
        assert detector is not None
        return detector

    @Manager.event_handler(SessionStarted, enabled_if=_has_wake_word)
    async def on_start(self, event: SessionStarted) -> None:
        await self.publish(WakeWordAwaited(session_id=self.session_id,
                                           phrase=self.detector.phrase, reason="start"))

    # ------------------------------------------------------------------ frames
    @Manager.event_handler(AudioFrameCaptured, priority=50, enabled_if=_raw_frames)
    @Manager.event_handler(AudioFrameEnhanced, priority=50, enabled_if=_enhanced_frames)
    async def on_frame(self, event: AudioFrameCaptured | AudioFrameEnhanced) -> None:
        if self.gate is Gate.OPEN:
            await self._pass(event, event.pcm)
            await self._count_idle(event.pcm.size)
            return
        detector = self.detector
        score = await asyncio.to_thread(detector.process, event.pcm)
        await self._pass(event, np.zeros_like(event.pcm))
        if score >= detector.threshold:
            await asyncio.to_thread(detector.reset)
            self._open()
            await self.publish(WakeWordDetected(
                session_id=self.session_id, phrase=detector.phrase, score=score,
                end_sample=event.start_sample + event.pcm.size))

    async def _pass(self, event: AudioFrameCaptured | AudioFrameEnhanced,
                    pcm: np.ndarray) -> None:
        await self.publish(event.staged(AudioFrameReceived, pcm), wait_for_completion=True)

    async def _count_idle(self, samples: int) -> None:
        if self._speaking or self._replying:
            return
        self._idle += samples
        if self._idle >= self.follow_up_samples:
            self.gate = Gate.WAITING
            await self.publish(WakeWordAwaited(session_id=self.session_id,
                                               phrase=self.detector.phrase, reason="timeout"))

    def _open(self) -> None:
        self.gate = Gate.OPEN
        self._idle = 0

    # ------------------------------------------------------------------ activity
    @Manager.event_handler(SpeechStarted, enabled_if=_has_wake_word)
    def on_speech(self, event: SpeechStarted) -> None:
        self._speaking = True
        self._idle = 0

    @Manager.event_handler(SpeechEnded, enabled_if=_has_wake_word)
    def on_silence(self, event: SpeechEnded) -> None:
        self._speaking = False
        self._idle = 0

    @Manager.event_handler(UserTurnAccepted, enabled_if=_has_wake_word)
    def on_reply_coming(self, event: UserTurnAccepted) -> None:
        self._replying.add(event.turn_id)
        self._open()

    @Manager.event_handler(ReplyHeard, enabled_if=_has_wake_word)
    @Manager.event_handler(PlaybackStopped, enabled_if=_has_wake_word)
    def on_reply_over(self, event: ReplyHeard | PlaybackStopped) -> None:
        self._replying.discard(event.turn_id)
        self._idle = 0


__all__ = ["Gate", "WakeWordManager"]
