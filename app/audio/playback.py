"""Speaker: plays the engine's reply audio on an output device.

The queue logic is :class:`xtalk.client.playback.PlaybackController` (the same one the CLI
client uses): reply chunks in, fixed-size blocks out, ``pause_tts`` takes back what the
device has not played yet (barge-in stops the sound within a block or two),
``resume_tts`` continues, ``stop_tts`` drops the queue. Played chunks and the drained
queue are reported to the engine (``tts_chunk_played`` / ``tts_playback_finished``), and
every played block is given to the echo gate as its reference.

The PortAudio stream runs at the device's native rate, and the engine is created with the
same ``output_sample_rate`` (:func:`output_rate`), so reply audio is resampled exactly
once, by the engine. The callback only pops a prepared block (``DeviceSink``).

Like the microphone, a lost device is reported (``on_status("lost", ...)``) and reopened
every ``retry_s`` seconds; what was queued plays when it is back. :meth:`abort` stops at
once (shutdown: ``stop()`` of PortAudio can hang on a vanished device).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from app.audio.devices import AudioDevice, cancel_task, find_device, list_devices
from app.audio.earcon import wake_earcon
from app.audio.supervised import (
    BLOCK_SECONDS,
    RETRY_SECONDS,
    DeviceStatus,
    StatusCallback,
    SupervisedDevice,
)
from xtalk.client.playback import DeviceSink, PlaybackController, VirtualSink
from xtalk.client.wire import ReplyAudio

if TYPE_CHECKING:
    from app.engine import EngineHost, EngineMessage

PREFILL_BLOCKS = 4
DEFAULT_RATE = 48000


def output_rate(device: str | int | None = None) -> int:
    """The native rate of output ``device`` (the engine's ``output_sample_rate``);
    48 kHz when there is no such device."""
    found = find_device(device, "output", list_devices())
    return found.default_samplerate if found is not None and found.default_samplerate \
        else DEFAULT_RATE


class Speaker(SupervisedDevice):
    """Plays reply audio from an :class:`~app.engine.EngineHost`.

    Args:
        engine: The engine; the speaker listens to its messages and reports playback.
        device: Output device name / key / index; ``None``: the system default.
        sample_rate: The stream's rate (default: the device's native rate, which should
            be the engine's ``output_sample_rate``).
        on_status: Status changes (``starting``, ``running``, ``lost``, ``unavailable``,
            ``stopped``), on the loop's thread.
        on_audio: Every played block (float32 mono at the stream rate) and when it
            sounds (``time.monotonic()`` seconds), e.g. to record.
        virtual: Play without a device, in real time (headless / tests).
        latency: PortAudio's output latency (``"low"``, ``"high"`` or seconds). Barge-in
            silences the speaker within one block plus this buffer (``pause_tts`` takes
            back the prefilled blocks), so it is ``"low"`` by default.
        earcons: Play a short chime when the engine heard the wake phrase.
    """

    kind = "speaker"
    direction = "output"

    def __init__(self, engine: EngineHost, device: str | int | None = None, *,
                 sample_rate: int | None = None, on_status: StatusCallback | None = None,
                 on_audio: Callable[[np.ndarray, float], None] | None = None,
                 virtual: bool = False, retry_s: float = RETRY_SECONDS,
                 block_s: float = BLOCK_SECONDS, latency: str | float = "low",
                 earcons: bool = True) -> None:
        super().__init__(device, on_status=on_status, retry_s=retry_s, block_s=block_s)
        self.engine = engine
        self.on_audio = on_audio
        self.virtual = virtual
        self.latency = latency
        self.earcons = earcons
        self.output_latency_s: float | None = None  # what PortAudio granted
        self.sample_rate = int(sample_rate or engine.output_sample_rate)
        self.controller = PlaybackController(self._send, output_rate=self.sample_rate,
                                             on_audio=self._played)
        self._sink: Any = None
        self._virtual_task: asyncio.Task[None] | None = None
        self.played_samples = 0

    @property
    def idle(self) -> bool:
        """Nothing queued or playing."""
        return self.controller.idle

    # ------------------------------------------------------------------ engine side
    def _send(self, message: dict[str, Any]) -> None:
        action = message.get("action")
        if action == "tts_chunk_played":
            self.engine.chunk_played(message["data"]["chunk_index"])
        elif action == "tts_playback_finished":
            self.engine.playback_drained()

    def _played(self, block: np.ndarray, start: float) -> None:
        self.played_samples += block.size
        self.engine.report_played(block, self.sample_rate, start)
        if self.on_audio is not None:
            self.on_audio(block, start)

    def _on_message(self, message: EngineMessage) -> None:
        c = self.controller
        if isinstance(message, ReplyAudio):
            c.chunk(message.pcm, message.sample_rate, turn_id=message.turn_id,
                    chunk_index=message.chunk_index)
            return
        if message.action == "wake_word_detected" and self.earcons:
            # played like a reply chunk without ids: the echo canceller hears it as played
            # audio, and no playback report goes to the engine
            c.chunk(wake_earcon(self.sample_rate), self.sample_rate)
            return
        handler = {"start_tts": c.start, "pause_tts": c.pause, "resume_tts": c.resume,
                   "stop_tts": c.stop, "tts_finished": c.tts_finished,
                   # a new conversation: nothing of the old one plays on
                   "session_info": c.stop, "session_attached": c.stop,
                   }.get(message.action)
        if handler is not None:
            handler()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Attach to the engine and open the device (retried until it works)."""
        if self._task is not None or self._virtual_task is not None:
            return
        self.engine.add_listener(self._on_message)
        self.engine.playback_attached = True
        if not self.virtual:
            await super().start()
            return
        sink = VirtualSink(self.controller, block_seconds=self.block_s)
        self.controller.sink = self._sink = sink
        self._virtual_task = asyncio.get_running_loop().create_task(sink.run(),
                                                                    name="virtual-speaker")
        self._set_status(DeviceStatus.RUNNING, "virtual")

    async def stop(self) -> None:
        """Detach from the engine and close the device (abort: immediate)."""
        self.engine.remove_listener(self._on_message)
        self.engine.playback_attached = False
        task, self._virtual_task = self._virtual_task, None
        await cancel_task(task)
        await super().stop()

    async def set_device(self, device: str | int | None) -> None:
        if self.virtual:
            self.device = device
            return
        await super().set_device(device)

    # ------------------------------------------------------------------ stream
    def _create_stream(self, sd: Any, device: AudioDevice, channels: int) -> Any:
        assert self._loop is not None
        block = max(1, round(self.sample_rate * self.block_s))
        sink = DeviceSink(self.controller, self._loop, block, prefill=PREFILL_BLOCKS)
        stream = sd.OutputStream(
            device=device.index, samplerate=self.sample_rate, channels=channels,
            dtype="float32", blocksize=block, callback=sink.callback,
            finished_callback=self._finished_callback, latency=self.latency)
        old = self._sink
        if isinstance(old, DeviceSink):  # what the lost stream held plays on the new one
            self.controller.queue.take_back(old.take_back())
        self._sink = self.controller.sink = sink
        return stream

    def _opened(self) -> None:
        with contextlib.suppress(Exception):
            self.output_latency_s = float(self._stream.latency)
        super()._opened()
        self.controller.sink.refill()

    def _problem(self) -> str | None:
        return None if self._healthy() else "stopped playing"

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued; ``False`` on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.idle:
            if deadline is not None and time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True


__all__ = ["Speaker", "output_rate"]
