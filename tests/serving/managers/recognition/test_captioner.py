"""The captioner manager: an utterance that was not speech gets a caption of exactly its
own audio (rewritten when the pipeline has a caption rewriter); speech gets none."""

from __future__ import annotations

import numpy as np
from manager_rig import SESSION, ManagerRig

from xtalk.models.interfaces import Captioner, Rewriter
from xtalk.serving.events import (
    AudioFrameReceived,
    CaptionUpdated,
    UserTurnEnded,
    UserTurnStarted,
    UtteranceRejected,
)
from xtalk.serving.managers.recognition.captioner import CaptionerManager


class Loudness(Captioner):
    """Captions what it hears by its first and last sample (the test writes the sample
    index into the audio)."""

    def __init__(self) -> None:
        self.heard: list[tuple[int, int]] = []

    def caption(self, audio: np.ndarray) -> str:
        self.heard.append((int(audio[0]), int(audio[-1])))
        return "applause"


class Shout(Rewriter):
    def rewrite(self, text: str) -> str:
        return f"[{text.upper()}]"


async def _audio(rig: ManagerRig, samples: int) -> None:
    audio = np.arange(samples, dtype=np.int16)  # each sample holds its own index
    for start in range(0, samples, 512):
        await rig.publish(AudioFrameReceived(session_id=SESSION, pcm=audio[start:start + 512],
                                             start_sample=start))


async def _utterance(rig: ManagerRig, turn_id: int, start: int, end: int) -> None:
    await rig.publish(UserTurnStarted(session_id=SESSION, turn_id=turn_id, start_sample=start))
    await rig.publish(UserTurnEnded(session_id=SESSION, turn_id=turn_id, end_sample=end))


async def test_a_rejected_utterance_is_captioned_from_its_own_audio() -> None:
    captioner = Loudness()
    rig = ManagerRig(CaptionerManager, captioner=captioner)
    await _audio(rig, 16000)
    await _utterance(rig, 1, 2000, 6000)
    await _utterance(rig, 2, 8000, 12000)
    await rig.publish(UtteranceRejected(session_id=SESSION, turn_id=2, reason="not speech"))
    assert captioner.heard == [(8000, 11999)]
    assert [(c.turn_id, c.text) for c in rig.seen(CaptionUpdated)] == [(2, "applause")]


async def test_the_caption_rewriter_has_the_last_word() -> None:
    rig = ManagerRig(CaptionerManager, captioner=Loudness(), caption_rewriter=Shout())
    await _audio(rig, 8000)
    await _utterance(rig, 1, 1000, 4000)
    await rig.publish(UtteranceRejected(session_id=SESSION, turn_id=1))
    assert [c.text for c in rig.seen(CaptionUpdated)] == ["[APPLAUSE]"]


async def test_speech_and_unfinished_utterances_get_no_caption() -> None:
    captioner = Loudness()
    rig = ManagerRig(CaptionerManager, captioner=captioner)
    await _audio(rig, 8000)
    await _utterance(rig, 1, 1000, 4000)  # accepted as speech: never rejected
    await rig.publish(UserTurnStarted(session_id=SESSION, turn_id=2, start_sample=5000))
    await rig.publish(UtteranceRejected(session_id=SESSION, turn_id=2))  # never ended
    assert captioner.heard == [] and rig.seen(CaptionUpdated) == []
