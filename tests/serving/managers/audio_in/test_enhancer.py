"""The enhancer manager: every captured frame is enhanced before anyone hears it, and the
enhancer is told what is played (the echo canceller's reference) through its declared
methods."""

from __future__ import annotations

import logging

import numpy as np
from manager_rig import SESSION, ManagerRig

from xtalk.models.interfaces import SpeechEnhancer
from xtalk.serving.events import (
    AudioChunkSent,
    AudioFrameCaptured,
    AudioFrameReceived,
    AudioPlayed,
    PlaybackPaused,
    PlaybackResumed,
    PlaybackStopped,
)
from xtalk.serving.managers.audio_in.enhancer import EnhancerManager


class Halving(SpeechEnhancer):
    """Halves every frame (or, with ``trim``, returns one sample short); logs the reference
    calls it gets."""

    def __init__(self, trim: bool = False) -> None:
        self.trim = trim
        self.calls: list[tuple] = []

    def enhance(self, frame: np.ndarray) -> np.ndarray:
        out = (frame // 2).astype(np.int16)
        return out[:-1] if self.trim else out

    def set_reference(self, pcm: np.ndarray, sample_rate: int) -> None:
        self.calls.append(("set_reference", pcm.size, sample_rate))

    def note_played(self, pcm: np.ndarray, sample_rate: int, start: float | None = None) -> None:
        self.calls.append(("note_played", pcm.size, sample_rate, start))

    def pause_reference(self, paused: bool) -> None:
        self.calls.append(("pause_reference", paused))

    def clear_reference(self) -> None:
        self.calls.append(("clear_reference",))


def _frame(start: int) -> AudioFrameCaptured:
    pcm = np.arange(start, start + 512, dtype=np.int16)
    return AudioFrameCaptured(session_id=SESSION, pcm=pcm, start_sample=start,
                              received_time=12.5, source="microphone")


async def test_frames_are_enhanced_in_order_and_the_captured_frame_is_left_alone() -> None:
    rig = ManagerRig(EnhancerManager, speech_enhancer=Halving())
    captured = [_frame(0), _frame(512)]
    for event in captured:
        await rig.publish(event)
    received = rig.seen(AudioFrameReceived)
    assert [e.start_sample for e in received] == [0, 512]
    for got, sent in zip(received, captured, strict=True):
        assert np.array_equal(got.pcm, sent.pcm // 2)
        assert (got.received_time, got.source) == (12.5, "microphone")
        assert np.array_equal(sent.pcm, np.arange(sent.start_sample, sent.start_sample + 512))


async def test_a_frame_of_another_length_goes_on_unprocessed(caplog) -> None:
    rig = ManagerRig(EnhancerManager, speech_enhancer=Halving(trim=True))
    event = _frame(0)
    with caplog.at_level(logging.WARNING):
        await rig.publish(event)
    [received] = rig.seen(AudioFrameReceived)
    assert np.array_equal(received.pcm, event.pcm)
    assert "changed the frame length" in caplog.text


async def test_the_reference_reaches_the_enhancer_through_its_declared_methods() -> None:
    enhancer = Halving()
    rig = ManagerRig(EnhancerManager, speech_enhancer=enhancer)
    session_enhancer = rig.pipeline.get_enhancer_model()
    assert session_enhancer is enhancer
    reply = np.ones(800, dtype=np.int16)
    await rig.publish(AudioChunkSent(session_id=SESSION, turn_id=1, pcm=reply,
                                     sample_rate=24000))
    await rig.publish(AudioPlayed(session_id=SESSION, pcm=reply[:480], sample_rate=48000,
                                  start_time=3.25))
    await rig.publish(PlaybackPaused(session_id=SESSION, turn_id=1))
    await rig.publish(PlaybackResumed(session_id=SESSION, turn_id=1))
    await rig.publish(PlaybackStopped(session_id=SESSION, turn_id=1))
    assert enhancer.calls == [("set_reference", 800, 24000), ("note_played", 480, 48000, 3.25),
                              ("pause_reference", True), ("pause_reference", False),
                              ("clear_reference",)]


async def test_without_an_enhancer_the_manager_stays_out_of_the_way() -> None:
    rig = ManagerRig(EnhancerManager)
    await rig.publish(_frame(0))
    await rig.publish(PlaybackStopped(session_id=SESSION, turn_id=1))
    assert rig.seen(AudioFrameReceived) == []
