"""The recording manager: the session's input, as everyone heard it, in one 16 kHz WAV
file, announced when the session stops; nothing without a ``record_dir``."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
from manager_rig import SESSION, ManagerRig

from xtalk.serving.events import AudioFrameReceived, RecordingSaved, SessionStopping
from xtalk.serving.managers.audio_in.recording import RecordingManager


def _read(path: Path) -> tuple[np.ndarray, int, int]:
    with wave.open(str(path)) as wav:
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return pcm, wav.getframerate(), wav.getnchannels()


async def _frames(rig: ManagerRig, count: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    audio = rng.integers(-8000, 8000, size=count * 512, dtype=np.int16)
    for i in range(count):
        await rig.publish(AudioFrameReceived(session_id=SESSION, pcm=audio[i * 512:(i + 1) * 512],
                                             start_sample=i * 512))
    return audio


async def test_the_input_is_recorded_and_announced_when_the_session_stops(tmp_path) -> None:
    rig = ManagerRig(RecordingManager, {"record_dir": str(tmp_path / "rec")})
    audio = await _frames(rig, 5)
    assert rig.seen(RecordingSaved) == []  # not before the session ends
    await rig.publish(SessionStopping(session_id=SESSION, reason="closed"))
    [saved] = rig.seen(RecordingSaved)
    assert Path(saved.path) == tmp_path / "rec" / f"{SESSION}.wav"
    pcm, rate, channels = _read(Path(saved.path))
    assert (rate, channels) == (16000, 1)
    assert np.array_equal(pcm, audio)


async def test_shutdown_without_stopping_still_leaves_a_complete_file(tmp_path) -> None:
    rig = ManagerRig(RecordingManager, {"record_dir": str(tmp_path)})
    audio = await _frames(rig, 3)
    await rig.manager.shutdown()
    await rig.manager.shutdown()  # twice: nothing more happens
    pcm, _, _ = _read(tmp_path / f"{SESSION}.wav")
    assert np.array_equal(pcm, audio)
    await rig.publish(SessionStopping(session_id=SESSION))
    assert rig.seen(RecordingSaved) == []  # the file was already closed


async def test_no_record_dir_no_file(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    rig = ManagerRig(RecordingManager)
    await _frames(rig, 2)
    await rig.publish(SessionStopping(session_id=SESSION))
    assert rig.seen(RecordingSaved) == []
    assert list(tmp_path.iterdir()) == []
