"""Speech that starts in a pause keeps the turn open, however late the decision to end
the turn is handled: frames that queue up behind the VAD under load, a verdict that comes
after the maximum silence, an end decided just before the onset was delivered. Going on
after a turn counts from a soft first word that the speech's start reached back over."""

from __future__ import annotations

import numpy as np
import pytest
from harness import wait_until
from manager_rig import SESSION, ManagerRig

from xtalk.models.turn.text_policy import TextEndpointPolicy
from xtalk.models.vad.energy import EnergyVAD
from xtalk.serving import events as ev
from xtalk.serving.event_bus import EventBus
from xtalk.serving.managers.audio_in.vad import VADManager
from xtalk.serving.managers.turns.turn_detector import TurnDetectorManager
from xtalk.serving.managers.turns.turn_taking import TurnTakingManager

SR = 16000
FRAME = 512
CONFIG = {"vad": {"min_silence_s": 0.2, "min_speech_s": 0.064, "pre_roll_s": 0.2}}


def _frames(kind: str, seconds: float, start: int, rng: np.random.Generator
            ) -> list[ev.AudioFrameReceived]:
    """``seconds`` of loud noise (``"speech"``, as the energy VAD hears it) or silence."""
    frames = []
    for i in range(round(seconds * SR / FRAME)):
        pcm = (rng.normal(0, 6000, FRAME) if kind == "speech" else np.zeros(FRAME))
        frames.append(ev.AudioFrameReceived(session_id=SESSION, start_sample=start + i * FRAME,
                                            pcm=pcm.astype(np.int16)))
    return frames


async def test_a_soft_start_in_a_backlog_of_frames_keeps_the_turn_open() -> None:
    """The wait for "I would like to …" is due at about 1.27 s of input; a soft word start
    scores speech for one frame at 1.17 s (dismissed), the word itself follows at 1.4 s.
    The frames from 0.67 s on arrive at once (a loaded server), so the VAD's verdicts on
    them come while the frames behind are still queued: the turn must neither end at the
    wait's due time (an onset was pending) nor within the grace after the dismissed one —
    it goes on, and ends only after the second phrase."""
    rig = ManagerRig(VADManager, CONFIG, vad=EnergyVAD(),
                     turn_detector=TextEndpointPolicy(extra_wait_s=0.6, max_silence_s=2.0))
    bus: EventBus = rig.bus
    for cls in (TurnDetectorManager, TurnTakingManager):
        cls(bus, SESSION, rig.pipeline, CONFIG).bind_handlers(bus)
    rng = np.random.default_rng(7)
    first = _frames("speech", 0.4, 0, rng)
    first += _frames("silence", 0.3, first[-1].start_sample + FRAME, rng)
    for frame in first[:6]:
        await rig.publish(frame)
    await rig.publish(ev.TranscriptPartial(session_id=SESSION, turn_id=1,
                                           text="I would like to"))
    for frame in first[6:]:
        await rig.publish(frame)
    await wait_until(lambda: rig.seen(ev.TurnEndDecided), what="the verdict on the pause")
    assert [e.is_end for e in rig.seen(ev.TurnEndDecided)] == [False]
    backlog = list(first[-1:])
    for kind, seconds in (("silence", 0.5), ("speech", 0.032), ("silence", 0.2),
                          ("speech", 0.6), ("silence", 1.2)):
        backlog += _frames(kind, seconds, backlog[-1].start_sample + FRAME, rng)
    second = backlog[-round(1.8 * SR / FRAME)]  # the word's first frame
    for frame in backlog[1:]:
        bus.post(frame)
    await bus.drain()
    await wait_until(lambda: rig.seen(ev.UserTurnEnded), what="the end of the turn")
    assert [e.turn_id for e in rig.seen(ev.UserTurnStarted)] == [1]
    ended = rig.seen(ev.UserTurnEnded)
    assert len(ended) == 1 and ended[0].end_sample > second.start_sample  # after the word


async def test_an_end_decided_while_speech_starts_waits_for_that_speech() -> None:
    """An end delivered while an onset is pending waits for it: speech goes on with the
    same turn; an onset that comes to nothing has the pause judged again."""
    rig = ManagerRig(TurnTakingManager, turn_detector=TextEndpointPolicy())
    await rig.publish(ev.SpeechStarted(session_id=SESSION, start_sample=0))
    await rig.publish(ev.SpeechEnded(session_id=SESSION, end_sample=16000))
    assert [e.end_sample for e in rig.seen(ev.TurnEndCheckRequested)] == [16000]
    await rig.publish(ev.SpeechOnsetDetected(session_id=SESSION, start_sample=30000))
    await rig.publish(ev.TurnEndDecided(session_id=SESSION, turn_id=1, is_end=True))
    assert not rig.seen(ev.UserTurnEnded)  # held for the onset
    await rig.publish(ev.SpeechOnsetDismissed(session_id=SESSION))
    assert not rig.seen(ev.UserTurnEnded)
    assert [e.end_sample for e in rig.seen(ev.TurnEndCheckRequested)] == [16000, 16000]
    await rig.publish(ev.TurnEndDecided(session_id=SESSION, turn_id=1, is_end=True))
    assert [e.turn_id for e in rig.seen(ev.UserTurnEnded)] == [1]

    await rig.publish(ev.SpeechStarted(session_id=SESSION, start_sample=48000))
    await rig.publish(ev.SpeechEnded(session_id=SESSION, end_sample=64000))
    await rig.publish(ev.SpeechOnsetDetected(session_id=SESSION, start_sample=70000))
    await rig.publish(ev.TurnEndDecided(session_id=SESSION, turn_id=2, is_end=True))
    await rig.publish(ev.SpeechStarted(session_id=SESSION, start_sample=69000))
    await rig.publish(ev.SpeechEnded(session_id=SESSION, end_sample=90000))
    await rig.publish(ev.TurnEndDecided(session_id=SESSION, turn_id=2, is_end=True))
    assert [e.turn_id for e in rig.seen(ev.UserTurnStarted)] == [1, 2]  # one turn
    assert [(e.turn_id, e.end_sample) for e in rig.seen(ev.UserTurnEnded)] == [
        (1, 16000), (2, 90000)]


async def test_a_late_verdict_past_the_maximum_silence_waits_for_a_pending_onset() -> None:
    """The verdict on a pause comes when the audio is already past the maximum silence
    (a slow transcript): with an onset pending it ends the turn only once that onset has
    come to nothing and the grace after it has passed."""
    rig = ManagerRig(TurnDetectorManager, CONFIG,
                     turn_detector=TextEndpointPolicy(extra_wait_s=0.6, max_silence_s=1.0))
    rng = np.random.default_rng(3)
    for frame in _frames("silence", 1.5, 0, rng):
        await rig.publish(frame)
    await rig.publish(ev.SpeechOnsetDetected(session_id=SESSION, start_sample=23000))
    await rig.publish(ev.TurnEndCheckRequested(session_id=SESSION, turn_id=1, end_sample=4800,
                                               text="and"))
    await wait_until(lambda: rig.seen(ev.TurnEndDecided), what="the verdict")
    assert [e.is_end for e in rig.seen(ev.TurnEndDecided)] == [False]
    await rig.publish(ev.SpeechOnsetDismissed(session_id=SESSION))
    for frame in _frames("silence", 0.4, 24064, rng):
        await rig.publish(frame)
    assert [e.is_end for e in rig.seen(ev.TurnEndDecided)] == [False]  # within the grace
    for frame in _frames("silence", 0.2, 24064 + 6144, rng):
        await rig.publish(frame)
    assert [e.is_end for e in rig.seen(ev.TurnEndDecided)] == [False, True]
    # decided on the input's clock: once the grace after the dismissed onset had passed
    assert 24064 + 8000 <= rig.seen(ev.TurnEndDecided)[-1].at_sample <= 24064 + 6144 + 3072


async def test_an_end_held_for_an_onset_ends_when_no_audio_comes(monkeypatch) -> None:
    """The client stops sending right after a first speech frame: nothing will confirm or
    dismiss it, so the held end takes effect after a short wall-clock slack."""
    from xtalk.serving.managers.turns import turn_taking

    monkeypatch.setattr(turn_taking, "DEFERRED_END_SLACK_S", 0.05)
    rig = ManagerRig(TurnTakingManager, turn_detector=TextEndpointPolicy())
    await rig.publish(ev.SpeechStarted(session_id=SESSION, start_sample=0))
    await rig.publish(ev.SpeechEnded(session_id=SESSION, end_sample=16000))
    await rig.publish(ev.SpeechOnsetDetected(session_id=SESSION, start_sample=30000))
    await rig.publish(ev.TurnEndDecided(session_id=SESSION, turn_id=1, is_end=True))
    assert not rig.seen(ev.UserTurnEnded)
    await wait_until(lambda: rig.seen(ev.UserTurnEnded), what="the held end")
    assert [(e.turn_id, e.end_sample) for e in rig.seen(ev.UserTurnEnded)] == [(1, 16000)]


@pytest.mark.parametrize("dismissed_s, start_s, continues", [
    (3.3, 2.8, 1),  # the start reaches back over the dismissed "ask"
    (2.5, 3.8, None),  # a click long before the start: the speech began at "not"
])
async def test_going_on_is_measured_from_a_soft_first_word(dismissed_s: float, start_s: float,
                                                           continues: int | None) -> None:
    """jfk.flac: "…fellow Americans" ends at 2.1 s, the soft "ask" scores speech for a frame
    at 3.3 s (dismissed), "not" at 4.0 s starts the speech, which reaches back over "ask".
    The user went on 1.2 s after the turn, not 1.9 s: within the 1.5 s that continue it."""
    rig = ManagerRig(TurnTakingManager)
    await rig.publish(ev.SpeechStarted(session_id=SESSION, start_sample=int(0.3 * SR)))
    await rig.publish(ev.SpeechEnded(session_id=SESSION, end_sample=int(2.1 * SR)))
    await rig.publish(ev.TranscriptFinalized(session_id=SESSION, turn_id=1,
                                             text="And so my fellow Americans."))
    await rig.publish(ev.SpeechOnsetDetected(session_id=SESSION,
                                             start_sample=int(dismissed_s * SR)))
    await rig.publish(ev.SpeechOnsetDismissed(session_id=SESSION))
    await rig.publish(ev.SpeechOnsetDetected(session_id=SESSION, start_sample=int(4.0 * SR)))
    await rig.publish(ev.SpeechStarted(session_id=SESSION, start_sample=int(start_s * SR)))
    started = rig.seen(ev.UserTurnStarted)[-1]
    assert started.continues_turn == continues
    if continues is not None:
        assert started.continues_from == int(0.3 * SR)


@pytest.mark.parametrize("decided_s, continues", [
    (3.7, 1),  # waited through to the 1.6 s maximum: "not" 0.2 s after the end
    (None, None),  # when the decision was made is not known: 1.7 s after the voice
])
async def test_going_on_after_the_longest_wait_continues_the_turn(
        decided_s: float | None, continues: int | None) -> None:
    """jfk.flac on a loaded server: "…fellow Americans" ends at 2.1 s, the detector waits
    its 1.6 s maximum and ends the turn at 3.7 s of input; "not" starts the speech at
    3.8 s (the soft "ask" before it was no speech to the VAD). The user went on 0.1 s
    after the assistant took the turn: that may continue it, although the voice had
    stopped 1.7 s before (more than the 1.5 s that continue a turn)."""
    rig = ManagerRig(TurnTakingManager, turn_detector=TextEndpointPolicy())
    await rig.publish(ev.SpeechStarted(session_id=SESSION, start_sample=int(0.3 * SR)))
    await rig.publish(ev.SpeechEnded(session_id=SESSION, end_sample=int(2.1 * SR)))
    at = None if decided_s is None else int(decided_s * SR)
    await rig.publish(ev.TurnEndDecided(session_id=SESSION, turn_id=1, is_end=False,
                                        wait_s=1.4, at_sample=int(2.3 * SR)))
    await rig.publish(ev.TurnEndDecided(session_id=SESSION, turn_id=1, is_end=True,
                                        at_sample=at))
    assert [e.turn_id for e in rig.seen(ev.UserTurnEnded)] == [1]
    await rig.publish(ev.SpeechStarted(session_id=SESSION, start_sample=int(3.8 * SR)))
    started = rig.seen(ev.UserTurnStarted)[-1]
    assert started.continues_turn == continues
    if continues is not None:
        assert started.continues_from == int(0.3 * SR)


@pytest.mark.parametrize("first, joined", [
    ("Not", True),  # one word over the reply, heard as a reaction: the rest follows
    ("Mm-hmm.", False),  # a backchannel: what follows is a turn of its own
])
async def test_a_word_heard_alone_over_a_reply_joins_what_follows(first: str,
                                                                  joined: bool) -> None:
    """Over a long reply the user says "ask not | what your country can do for you";
    "ask" is lost and "Not" alone lets the reply go on (a lone word is most often a
    misheard hum). The rest, 0.6 s later, is recognised with it and is the request."""
    rig = ManagerRig(TurnTakingManager)
    await rig.publish(ev.UserTextSubmitted(session_id=SESSION, text="Tell me a long story."))
    await rig.publish(ev.SpeechStarted(session_id=SESSION, start_sample=int(6.0 * SR)))
    await rig.publish(ev.SpeechEnded(session_id=SESSION, end_sample=int(6.4 * SR)))
    kept = rig.seen(ev.UserTurnEnded)[-1].turn_id
    await rig.publish(ev.TranscriptFinalized(session_id=SESSION, turn_id=kept, text=first,
                                             confidence=0.3))
    assert [e.text for e in rig.seen(ev.BackchannelHeard)] == [first]  # the reply goes on
    await rig.publish(ev.SpeechStarted(session_id=SESSION, start_sample=int(7.0 * SR)))
    await rig.publish(ev.SpeechEnded(session_id=SESSION, end_sample=int(8.5 * SR)))
    started = rig.seen(ev.UserTurnStarted)[-1]
    assert started.continues_turn == (kept if joined else None)
    whole = f"{first} what your country can do for you." if joined else ""
    await rig.publish(ev.TranscriptFinalized(
        session_id=SESSION, turn_id=started.turn_id,
        text="What your country can do for you.", whole_text=whole))
    accepted = rig.seen(ev.UserTurnAccepted)[-1]
    assert accepted.turn_id == started.turn_id
    assert accepted.text == (whole if joined else "What your country can do for you.")
    merged = [(e.turn_id, e.into_turn_id) for e in rig.seen(ev.UserTurnMerged)]
    assert merged == ([(kept, started.turn_id)] if joined else [])
    assert rig.seen(ev.PlaybackStopRequested)[-1].turn_id == 1  # the story stops


async def test_a_merge_keeps_the_words_the_decode_together_skipped() -> None:
    """Going on after "And so my fellow Americans.": the decode of both turns together
    came back without the first phrase (Whisper skips one before a long pause now and
    then); the whole request keeps it."""
    rig = ManagerRig(TurnTakingManager)
    await rig.publish(ev.SpeechStarted(session_id=SESSION, start_sample=int(0.3 * SR)))
    await rig.publish(ev.SpeechEnded(session_id=SESSION, end_sample=int(2.1 * SR)))
    await rig.publish(ev.TranscriptFinalized(session_id=SESSION, turn_id=1,
                                             text="And so my fellow Americans."))
    assert [e.text for e in rig.seen(ev.UserTurnAccepted)] == ["And so my fellow Americans."]
    await rig.publish(ev.SpeechStarted(session_id=SESSION, start_sample=int(3.0 * SR)))
    await rig.publish(ev.SpeechEnded(session_id=SESSION, end_sample=int(5.0 * SR)))
    later = "Ask not what your country can do for you."
    await rig.publish(ev.TranscriptFinalized(session_id=SESSION, turn_id=2, text=later,
                                             whole_text=later))
    accepted = rig.seen(ev.UserTurnAccepted)[-1]
    assert accepted.turn_id == 2 and accepted.text == f"And so my fellow Americans. {later}"
    assert [(e.turn_id, e.into_turn_id) for e in rig.seen(ev.UserTurnMerged)] == [(1, 2)]
