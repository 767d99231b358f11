"""A turn that continues the one before is also recognised from that one's start: that
decode starts at the continuing turn's pause, as its own speculative final does, so the
merged request's final does not wait for one more decode after the turn ends."""

from __future__ import annotations

import numpy as np
from harness import silence, tones, wait_until
from manager_rig import SESSION, ManagerRig

from xtalk.models.asr.testing import ToneCodeASR
from xtalk.models.interfaces import Transcription
from xtalk.serving.events import (
    AudioFrameReceived,
    SpeechPaused,
    SpeechResumed,
    TranscriptFinalized,
    UserTurnEnded,
    UserTurnStarted,
)
from xtalk.serving.managers.recognition.asr import ASRManager

SR = 16000


class RecordingASR(ToneCodeASR):
    """ToneCodeASR that records the first sample and length of every final decode."""

    def __init__(self) -> None:
        super().__init__()
        self.decoded: list[int] = []  # samples per final decode, in order

    def clone(self) -> RecordingASR:
        return self

    def transcribe(self, audio: np.ndarray) -> Transcription:
        self.decoded.append(int(np.asarray(audio).size))
        return super().transcribe(audio)


async def _frames(rig: ManagerRig, pcm: np.ndarray, start: int) -> int:
    for i in range(0, pcm.size, 512):
        await rig.publish(AudioFrameReceived(session_id=SESSION, pcm=pcm[i:i + 512],
                                             start_sample=start + i))
    return start + pcm.size


async def _continuing_turn(rig: ManagerRig, resume_first: bool) -> tuple[int, int]:
    """Turn 1 "set a timer", a gap, then turn 2 "for ten" continuing it; returns where
    turn 2's pause starts and where its audio ends."""
    first, said = tones("set a timer"), tones("for ten minutes")
    second, rest = said[:tones("for ten").size], said[tones("for ten").size:]
    if not resume_first:
        second = tones("for ten")
    at = await _frames(rig, np.concatenate([silence(0.1), first]), 0)
    await rig.publish(UserTurnEnded(session_id=SESSION, turn_id=1, end_sample=at))
    start2 = await _frames(rig, silence(0.6), at)
    await rig.publish(UserTurnStarted(session_id=SESSION, turn_id=2, start_sample=start2,
                                      continues_turn=1, continues_from=int(0.1 * SR)))
    pause = await _frames(rig, second, start2)
    await rig.publish(SpeechPaused(session_id=SESSION, pause_sample=pause))
    if resume_first:  # the user goes on: what the pause started is of no use
        await rig.publish(SpeechResumed(session_id=SESSION))
        pause = await _frames(rig, rest, pause)
        await rig.publish(SpeechPaused(session_id=SESSION, pause_sample=pause))
    return pause, await _frames(rig, silence(0.3), pause)


async def _final_of_turn_2(rig: ManagerRig, pause: int) -> TranscriptFinalized:
    """End turn 2 at ``pause``; its final."""
    await rig.publish(UserTurnEnded(session_id=SESSION, turn_id=2, end_sample=pause))
    await wait_until(lambda: rig.seen(TranscriptFinalized) and
                     rig.seen(TranscriptFinalized)[-1].turn_id == 2, what="the final")
    return rig.seen(TranscriptFinalized)[-1]


async def test_the_decode_with_the_turn_before_starts_at_the_pause():
    asr = RecordingASR()
    rig = ManagerRig(ASRManager)
    rig.pipeline.asr_model = asr
    pause, _ = await _continuing_turn(rig, resume_first=False)
    # at the pause: the turn's own decode, then the one from turn 1's start
    await wait_until(lambda: len(asr.decoded) == 3, what="both speculative decodes")
    own, whole = asr.decoded[1:]
    assert own < whole and whole >= pause - int(0.1 * SR)
    final = await _final_of_turn_2(rig, pause)
    assert final.text == "for ten" and final.whole_text == "set a timer for ten"
    assert len(asr.decoded) == 3  # nothing decoded again after the turn ended


async def test_a_pause_the_user_went_on_from_is_decoded_afresh():
    asr = RecordingASR()
    rig = ManagerRig(ASRManager)
    rig.pipeline.asr_model = asr
    pause, _ = await _continuing_turn(rig, resume_first=True)
    final = await _final_of_turn_2(rig, pause)
    assert final.text == "for ten minutes"
    assert final.whole_text == "set a timer for ten minutes"


async def test_turns_too_long_for_one_decode_are_joined_as_texts():
    """Both turns together are longer than ``max_utterance_s`` (one decode would lose the
    start of the earlier one): the request is the two turns' texts joined, and nothing
    is decoded from the earlier turn's start."""
    asr = RecordingASR()
    rig = ManagerRig(ASRManager, {"asr": {"max_utterance_s": 1.2}})
    rig.pipeline.asr_model = asr
    pause, _ = await _continuing_turn(rig, resume_first=False)
    final = await _final_of_turn_2(rig, pause)
    assert final.text == "for ten" and final.whole_text == "set a timer for ten"
    assert len(asr.decoded) == 2  # turn 1's final and turn 2's own, nothing across both
    assert max(asr.decoded) <= 1.2 * SR
