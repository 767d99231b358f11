"""Speech right after a turn that was rejected as no speech keeps that turn's words when
the two are recognised together ("ask not", too short and unsure alone, then "what your
country can do for you"); a cough before it adds nothing."""

from __future__ import annotations

import pytest
from manager_rig import SESSION, ManagerRig

from xtalk.serving import events as ev
from xtalk.serving.managers.turns.turn_taking import TurnTakingManager

SR = 16000


async def spoken(rig: ManagerRig, start_s: float, end_s: float) -> int:
    """A turn of speech from ``start_s`` to ``end_s`` (no turn detector: it ends at once)."""
    await rig.publish(ev.SpeechStarted(session_id=SESSION, start_sample=int(start_s * SR)))
    await rig.publish(ev.SpeechEnded(session_id=SESSION, end_sample=int(end_s * SR)))
    return rig.seen(ev.UserTurnEnded)[-1].turn_id


@pytest.mark.parametrize("whole,accepted", [
    ("Ask not what your country can do for you.", "Ask not what your country can do for you."),
    ("What your country can do for you.", "What your country can do for you."),  # a cough
])
async def test_words_of_a_rejected_start_are_kept(whole: str, accepted: str) -> None:
    rig = ManagerRig(TurnTakingManager)
    first = await spoken(rig, 0.0, 1.5)
    await rig.publish(ev.TranscriptFinalized(session_id=SESSION, turn_id=first,
                                             text="And so my fellow Americans."))
    rejected = await spoken(rig, 3.5, 4.0)
    await rig.publish(ev.UtteranceRejected(session_id=SESSION, turn_id=rejected,
                                           reason="low_confidence"))
    third = await spoken(rig, 4.3, 6.0)
    started = rig.seen(ev.UserTurnStarted)[-1]
    assert started.continues_turn == rejected and started.continues_from == int(3.5 * SR)
    await rig.publish(ev.TranscriptFinalized(
        session_id=SESSION, turn_id=third, text="What your country can do for you.",
        whole_text=whole))
    assert [e.text for e in rig.seen(ev.UserTurnAccepted)] == [
        "And so my fellow Americans.", accepted]
    assert not rig.seen(ev.UserTurnMerged)  # nothing to withdraw: the start had no reply
