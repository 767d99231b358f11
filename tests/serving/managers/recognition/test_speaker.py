"""The speaker manager: each turn's voice is compared with the voices heard before; a
change of speaker is announced, the same speaker again is not."""

from __future__ import annotations

import numpy as np
from manager_rig import SESSION, ManagerRig

from xtalk.models.interfaces import SpeakerEncoder
from xtalk.serving.events import (
    AudioFrameReceived,
    SpeakerIdentified,
    UserTurnEnded,
    UserTurnStarted,
)
from xtalk.serving.managers.recognition.speaker import SpeakerManager


class PitchEncoder(SpeakerEncoder):
    """A one-hot "voice" from the turn's constant sample value (the test's stand-in for a
    voice); records the length of what it embedded."""

    def __init__(self) -> None:
        self.lengths: list[int] = []

    def embed(self, audio: np.ndarray) -> np.ndarray:
        self.lengths.append(int(audio.size))
        vector = np.zeros(8)
        vector[int(audio[0]) % 8] = 1.0
        return vector


async def _turn(rig: ManagerRig, turn_id: int, voice: int, start: int) -> None:
    pcm = np.full(4000, voice, dtype=np.int16)
    await rig.publish(UserTurnStarted(session_id=SESSION, turn_id=turn_id, start_sample=start))
    for offset in range(0, pcm.size, 1000):
        await rig.publish(AudioFrameReceived(session_id=SESSION, pcm=pcm[offset:offset + 1000],
                                             start_sample=start + offset))
    await rig.publish(UserTurnEnded(session_id=SESSION, turn_id=turn_id,
                                    end_sample=start + pcm.size))


async def test_new_and_returning_speakers_are_announced_only_on_a_change() -> None:
    encoder = PitchEncoder()
    rig = ManagerRig(SpeakerManager, speaker_encoder=encoder)
    for turn_id, voice in enumerate([1, 1, 2, 1], start=1):
        await _turn(rig, turn_id, voice, start=turn_id * 8000)
    assert [(e.turn_id, e.speaker_id, e.reason) for e in rig.seen(SpeakerIdentified)] == [
        (1, "speaker_1", "new_speaker"), (3, "speaker_2", "new_speaker"),
        (4, "speaker_1", "matched")]
    assert encoder.lengths == [4000] * 4  # each turn's own audio, nothing else


async def test_the_similarity_threshold_comes_from_the_configuration() -> None:
    class Blend(SpeakerEncoder):
        def embed(self, audio: np.ndarray) -> np.ndarray:  # cos 0.8 between voices 1 and 2
            return np.array([1.0, 0.0]) if audio[0] == 1 else np.array([0.8, 0.6])

    strict = ManagerRig(SpeakerManager, {"speaker_threshold": 0.9}, speaker_encoder=Blend())
    lenient = ManagerRig(SpeakerManager, {"speaker_threshold": 0.7}, speaker_encoder=Blend())
    for rig in (strict, lenient):
        await _turn(rig, 1, 1, 0)
        await _turn(rig, 2, 2, 8000)
    assert [e.speaker_id for e in strict.seen(SpeakerIdentified)] == ["speaker_1", "speaker_2"]
    assert [e.speaker_id for e in lenient.seen(SpeakerIdentified)] == ["speaker_1"]
