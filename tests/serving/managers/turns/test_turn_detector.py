"""The end-of-turn detector judges a pause on its transcript (and voice), and re-judges it
when a fresher transcript arrives."""

from __future__ import annotations

import numpy as np
import pytest
from harness import wait_until

from xtalk.models.interfaces import TurnDetector, TurnVerdict
from xtalk.models.turn.text_policy import TextEndpointPolicy
from xtalk.serving.event_bus import EventBus
from xtalk.serving.events import (
    AudioFrameReceived,
    SpeechStarted,
    TranscriptPartial,
    TranscriptSpeculated,
    TurnEndCheckRequested,
    UserTurnStarted,
)
from xtalk.serving.managers.turns.turn_detector import TurnDetectorManager


class _Pipeline:
    def __init__(self, detector: TurnDetector, asr: bool = False) -> None:
        self.detector, self.asr = detector, asr

    def get_turn_detector_model(self) -> TurnDetector:
        return self.detector

    def get_asr_model(self) -> object | None:
        return object() if self.asr else None


class _VoiceJudge(TurnDetector):
    """Records what it was asked; "finished" when the audio's last sample is odd."""

    uses_audio = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, int]] = []

    def decide(self, text, silence_s, audio=None) -> TurnVerdict:
        assert audio is not None
        self.calls.append((text, round(silence_s, 3), int(audio.size)))
        finished = bool(audio[-1] % 2)
        return TurnVerdict(is_end=finished, wait_s=0.0 if finished else 1.0)


class _WordJudge(TurnDetector):
    """Records the recogniser's certainty of the last word it is told; ends below 0.5."""

    def __init__(self) -> None:
        self.told: list[float | None] = []

    def decide(self, text, silence_s, audio=None, *, last_word_probability=None
               ) -> TurnVerdict:
        self.told.append(last_word_probability)
        unsure = last_word_probability is not None and last_word_probability < 0.5
        return TurnVerdict(is_end=not unsure, wait_s=1.0 if unsure else 0.0)


def _setup(detector: TurnDetector, asr: bool = False, wait_s: float = 1.0):
    bus = EventBus(enable_history=True)
    manager = TurnDetectorManager(bus, "s", _Pipeline(detector, asr),
                                  {"vad": {"min_silence_s": 0.35},
                                   "turn": {"transcript_wait_s": wait_s}})
    manager.bind_handlers(bus)
    return bus


def _decisions(bus):
    return [(e.is_end, round(e.wait_s, 2)) for e in bus.get_history("turn.end_decided")]


async def _publish(bus, event):
    await bus.publish(event, wait_for_completion=True)


async def test_a_fresher_finished_transcript_ends_the_wait_early():
    bus = _setup(TextEndpointPolicy(extra_wait_s=0.8))
    await _publish(bus, TurnEndCheckRequested(session_id="s", turn_id=3,
                                              text="Set a timer for"))
    await wait_until(lambda: _decisions(bus) == [(False, 0.8)], what="the wait verdict")
    await _publish(bus, TranscriptPartial(session_id="s", turn_id=3,
                                          text="Set a timer for ten minutes."))
    await wait_until(lambda: _decisions(bus) == [(False, 0.8), (True, 0.0)],
                     what="the end verdict")


async def test_an_unfinished_fresh_transcript_or_resumed_speech_changes_nothing():
    bus = _setup(TextEndpointPolicy(extra_wait_s=0.8))
    await _publish(bus, TurnEndCheckRequested(session_id="s", turn_id=1, text="I want to"))
    await wait_until(lambda: _decisions(bus) == [(False, 0.8)], what="the wait verdict")
    await _publish(bus, TranscriptPartial(session_id="s", turn_id=1, text="I want to go and"))
    await _publish(bus, SpeechStarted(session_id="s", start_sample=0))
    await _publish(bus, TranscriptPartial(session_id="s", turn_id=1, text="I want tea."))
    await bus.drain()
    assert _decisions(bus) == [(False, 0.8)]


async def test_the_pause_is_judged_on_its_own_transcript_not_an_older_partial():
    """With recognition speculating at pauses, the check waits for the transcript of that
    very pause ("... to" → wait), not the stale partial it was asked with."""
    bus = _setup(TextEndpointPolicy(extra_wait_s=0.8), asr=True)
    await _publish(bus, TurnEndCheckRequested(session_id="s", turn_id=2, end_sample=16000,
                                              text="Can you remind"))
    await bus.drain()
    assert _decisions(bus) == []  # waiting for the pause's transcript
    await _publish(bus, TranscriptSpeculated(session_id="s", turn_id=2, end_sample=8000,
                                             text="Can you remind me"))  # an older pause
    await bus.drain()
    assert _decisions(bus) == []
    await _publish(bus, TranscriptSpeculated(session_id="s", turn_id=2, end_sample=16000,
                                             text="Can you remind me to?"))
    await wait_until(lambda: _decisions(bus) == [(False, 0.8)], what="the verdict")


async def test_without_the_pause_transcript_the_partial_is_judged_after_the_wait():
    bus = _setup(TextEndpointPolicy(extra_wait_s=0.8), asr=True, wait_s=0.05)
    await _publish(bus, TurnEndCheckRequested(session_id="s", turn_id=2, end_sample=16000,
                                              text="What time is it?"))
    await wait_until(lambda: _decisions(bus) == [(True, 0.0)], what="the verdict")


@pytest.mark.parametrize("last_sample, is_end", [(1, True), (2, False)])
async def test_a_voice_detector_hears_the_turn_from_its_start_with_the_pause(last_sample,
                                                                           is_end):
    judge = _VoiceJudge()
    bus = _setup(judge)
    await _publish(bus, UserTurnStarted(session_id="s", turn_id=4, start_sample=1600))
    audio = np.zeros(16000, dtype=np.int16)
    audio[-1] = last_sample
    await _publish(bus, AudioFrameReceived(session_id="s", pcm=audio, start_sample=0))
    # the pause began at 0.8 s; the audio so far reaches 1.0 s
    await _publish(bus, TurnEndCheckRequested(session_id="s", turn_id=4, end_sample=12800,
                                              text="hello"))
    await wait_until(lambda: len(_decisions(bus)) == 1, what="the verdict")
    assert judge.calls == [("hello", 0.2, 16000 - 1600)]
    assert _decisions(bus) == [(is_end, 0.0 if is_end else 1.0)]


async def test_a_wait_ends_on_the_audio_clock_not_the_wall_clock():
    """"Wait 0.8 s" means 0.8 s more of *input audio*: however slowly the frames come,
    the turn ends when the timeline passes it, not while an onset is pending, and not
    within 0.5 s of one that came to nothing."""
    from xtalk.serving.events import SpeechOnsetDetected, SpeechOnsetDismissed

    bus = _setup(TextEndpointPolicy(extra_wait_s=0.8))

    async def frames(seconds: float, start: int) -> int:
        for i in range(int(seconds * 16000 / 512)):
            await _publish(bus, AudioFrameReceived(session_id="s", start_sample=start + i * 512,
                                                   pcm=np.zeros(512, dtype=np.int16)))
        return start + int(seconds * 16000 / 512) * 512

    end = await frames(0.5, 0)  # the pause began at 0.5 s (sample 8000)
    await _publish(bus, TurnEndCheckRequested(session_id="s", turn_id=1, end_sample=8000,
                                              text="and"))
    await wait_until(lambda: _decisions(bus) == [(False, 0.8)], what="the wait verdict")
    # the verdict counted 0.35 s of silence (the VAD's) + 0.8 s: due at 0.5 + 1.15 s
    end = await frames(0.9, end)
    assert _decisions(bus) == [(False, 0.8)]  # 0.9 s after the pause: not yet
    await _publish(bus, SpeechOnsetDetected(session_id="s", start_sample=end))
    end = await frames(0.4, end)
    assert _decisions(bus) == [(False, 0.8)]  # past due, but speech may be starting
    await _publish(bus, SpeechOnsetDismissed(session_id="s"))
    end = await frames(0.4, end)
    assert _decisions(bus) == [(False, 0.8)]  # a soft word start may follow the blip
    await frames(0.15, end)
    assert _decisions(bus) == [(False, 0.8), (True, 0.0)]


async def test_the_detector_is_told_how_sure_the_recogniser_was_of_the_last_word():
    judge = _WordJudge()
    bus = _setup(judge, asr=True)
    await _publish(bus, TranscriptSpeculated(session_id="s", turn_id=5, end_sample=16000,
                                             text="Could you tell me that?",
                                             last_word_probability=0.31))
    await _publish(bus, TurnEndCheckRequested(session_id="s", turn_id=5, end_sample=16000,
                                              text="Could you tell"))
    await wait_until(lambda: _decisions(bus) == [(False, 1.0)], what="the wait verdict")
    # a fresher partial says nothing of its last word: judged on its text alone
    await _publish(bus, TranscriptPartial(session_id="s", turn_id=5,
                                          text="Could you tell me the"))
    await wait_until(lambda: _decisions(bus) == [(False, 1.0), (True, 0.0)],
                     what="the end verdict")
    assert judge.told == [0.31, None]


class _ScoringJudge(TurnDetector):
    """Scores the voice apart (the audio's mean), and records what each step was given."""

    uses_audio = True

    def __init__(self) -> None:
        self.scored: list[int] = []
        self.decided: list[tuple[str, float | None]] = []

    def voice_probability(self, audio) -> float:
        self.scored.append(int(audio.size))
        return float(audio.mean())

    def decide(self, text, silence_s, audio=None, *, voice_probability=None) -> TurnVerdict:
        self.decided.append((text, voice_probability))
        finished = text.endswith("?") and (voice_probability or 0.0) > 0.5
        return TurnVerdict(is_end=finished, wait_s=0.0 if finished else 1.0)


async def test_the_voice_is_scored_while_the_pause_is_decoded_and_only_once():
    judge = _ScoringJudge()
    bus = _setup(judge, asr=True)
    await _publish(bus, UserTurnStarted(session_id="s", turn_id=3, start_sample=0))
    await _publish(bus, AudioFrameReceived(session_id="s", start_sample=0,
                                           pcm=np.ones(12800, dtype=np.int16)))
    # the pause began at 0.6 s, but its first 0.2 s are not in yet: nothing to score
    await _publish(bus, TurnEndCheckRequested(session_id="s", turn_id=3, end_sample=9600,
                                              text="What time"))
    assert judge.scored == []
    await _publish(bus, AudioFrameReceived(session_id="s", start_sample=12800,
                                           pcm=np.ones(3200, dtype=np.int16)))
    # scored at once, before the transcript of the pause has come
    await wait_until(lambda: judge.scored == [9600 + 3200], what="the voice's score")
    assert judge.decided == [] and _decisions(bus) == []
    await _publish(bus, TranscriptSpeculated(session_id="s", turn_id=3, end_sample=9600,
                                             text="What time is"))
    await wait_until(lambda: _decisions(bus) == [(False, 1.0)], what="the wait verdict")
    await _publish(bus, TranscriptPartial(session_id="s", turn_id=3, text="What time is it?"))
    await wait_until(lambda: _decisions(bus) == [(False, 1.0), (True, 0.0)],
                     what="the end verdict")
    assert judge.decided == [("What time is", 1.0), ("What time is it?", 1.0)]
    assert judge.scored == [12800]  # the fresher transcript reused the score
