"""The end-of-turn detector re-judges a pause when a fresher transcript arrives."""

from __future__ import annotations

from xtalk.models.turn.text_policy import TextEndpointPolicy
from xtalk.serving.event_bus import EventBus
from xtalk.serving.events import (
    SpeechStarted,
    TranscriptPartial,
    TurnEndCheckRequested,
    TurnEndDecided,
)
from xtalk.serving.managers.turns.turn_detector import TurnDetectorManager


class _Pipeline:
    def get_turn_detector_model(self):
        return TextEndpointPolicy(extra_wait_s=0.8)


async def _setup():
    bus = EventBus(enable_history=True)
    manager = TurnDetectorManager(bus, "s", _Pipeline(), {"vad": {"min_silence_s": 0.35}})
    manager.bind_handlers(bus)
    return bus


def _decisions(bus):
    return [(e.is_end, round(e.wait_s, 2)) for e in bus.get_history("turn.end_decided")]


async def test_a_fresher_finished_transcript_ends_the_wait_early():
    bus = await _setup()
    await bus.publish(TurnEndCheckRequested(session_id="s", turn_id=3, text="Set a timer for"),
                      wait_for_completion=True)
    await bus.publish(TranscriptPartial(session_id="s", turn_id=3,
                                        text="Set a timer for ten minutes."),
                      wait_for_completion=True)
    assert _decisions(bus) == [(False, 0.8), (True, 0.0)]
    assert all(isinstance(e, TurnEndDecided) for e in bus.get_history("turn.end_decided"))


async def test_an_unfinished_fresh_transcript_or_resumed_speech_changes_nothing():
    bus = await _setup()
    await bus.publish(TurnEndCheckRequested(session_id="s", turn_id=1, text="I want to"),
                      wait_for_completion=True)
    await bus.publish(TranscriptPartial(session_id="s", turn_id=1, text="I want to go and"),
                      wait_for_completion=True)
    await bus.publish(SpeechStarted(session_id="s", start_sample=0), wait_for_completion=True)
    await bus.publish(TranscriptPartial(session_id="s", turn_id=1, text="I want tea."),
                      wait_for_completion=True)
    assert _decisions(bus) == [(False, 0.8)]
