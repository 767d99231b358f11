"""RecordingManager: writes the session's canonical input audio to a WAV file.

Consumes: AudioFrameReceived, SessionStopping. Emits: RecordingSaved.
Switched off unless the service config names a ``"record_dir"``.
"""

from __future__ import annotations

import wave
from pathlib import Path

from xtalk.serving.events import AudioFrameReceived, RecordingSaved, SessionStopping
from xtalk.serving.interfaces import Manager


def _recording_enabled(manager: Manager) -> bool:
    return bool(manager.config.get("record_dir"))


class RecordingManager(Manager):
    """Streams input audio into ``<record_dir>/<session_id>.wav``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._wav: wave.Wave_write | None = None
        self.path: Path | None = None

    @Manager.event_handler(AudioFrameReceived, priority=10, enabled_if=_recording_enabled)
    def on_frame(self, event: AudioFrameReceived) -> None:
        if self._wav is None:
            directory = Path(self.config["record_dir"]).expanduser()
            directory.mkdir(parents=True, exist_ok=True)
            self.path = directory / f"{self.session_id}.wav"
            self._wav = wave.open(str(self.path), "wb")  # noqa: SIM115 - open for the session
            self._wav.setnchannels(1)
            self._wav.setsampwidth(2)
            self._wav.setframerate(16000)
        self._wav.writeframes(event.pcm.astype("<i2").tobytes())

    @Manager.event_handler(SessionStopping, enabled_if=_recording_enabled)
    async def on_stop(self, event: SessionStopping) -> None:
        if self._close() and self.path is not None:
            await self.publish(RecordingSaved(session_id=self.session_id, path=str(self.path)),
                               wait_for_completion=True)

    def _close(self) -> bool:
        if self._wav is None:
            return False
        self._wav.close()
        self._wav = None
        return True

    async def shutdown(self) -> None:
        self._close()
