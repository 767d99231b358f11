"""Microphone capture: a PortAudio input stream at the device's native rate, straight
into the engine.

The stream callback (PortAudio's thread) only copies the block and hands it on with
``call_soon_threadsafe`` (through ``EngineHost.submit_microphone``); resampling to 16 kHz
happens once, in the engine. The level meter reads the last block when asked.

Never silently deaf: when the device disappears (the stream fails to open, finishes
unexpectedly, or stops delivering blocks), the microphone reports ``lost`` and tries to
open the device again every ``retry_s`` seconds until it is back (``running``).

A device can also vanish behind a stream that keeps running: PortAudio reaches PulseAudio /
PipeWire through ALSA's ``pulse`` plugin, and when the Pulse source goes away the server
moves our stream to another source (often a sink monitor that only delivers zeros). A real
microphone always has a noise floor, so ``silent_s`` seconds of exact digital silence are
reported as ``lost`` too ("only digital silence: disconnected or muted?"): the stream is
reopened every ``retry_s`` seconds (which binds it to the named device again, or fails while
that device is missing) and the status is ``running`` again only once a block carries a
signal. The check samples the last block from the loop's side; the callback does nothing
more than hand the block over.

Status values (``on_status(status, detail)``, on the loop's thread): ``starting``,
``running``, ``lost``, ``unavailable`` (no PortAudio / no input device at all: retried
too), ``stopped``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from app.audio.devices import AudioDevice
from app.audio.supervised import (
    BLOCK_SECONDS,
    RETRY_SECONDS,
    DeviceStatus,
    StatusCallback,
    SupervisedDevice,
)

STALL_SECONDS = 2.0
SILENT_SECONDS = 3.0

Submit = Callable[[np.ndarray, int], None]


def meter_level(dbfs: float) -> float:
    """A level meter's value 0..1 for a level in dBFS: -60 dBFS → 0, 0 dBFS → 1."""
    return min(1.0, max(0.0, (float(dbfs) + 60.0) / 60.0))


class Microphone(SupervisedDevice):
    """Captures a microphone and submits its blocks.

    Args:
        submit: ``submit(block, sample_rate)`` — thread-safe, called from the PortAudio
            thread (``EngineHost.submit_microphone``).
        device: Device name / key / index; ``None``: the system default input.
        on_status: Called on the loop's thread when the status changes.
        retry_s: Seconds between attempts to (re)open a missing device.
        block_s: Block length asked from PortAudio.
        stall_s: No block for this long: the device is lost.
        silent_s: Only exact digital silence for this long: the device is lost (``0``
            turns the check off).
    """

    kind = "microphone"
    direction = "input"

    def __init__(self, submit: Submit, device: str | int | None = None, *,
                 on_status: StatusCallback | None = None, retry_s: float = RETRY_SECONDS,
                 block_s: float = BLOCK_SECONDS, stall_s: float = STALL_SECONDS,
                 silent_s: float = SILENT_SECONDS) -> None:
        super().__init__(device, on_status=on_status, retry_s=retry_s, block_s=block_s)
        self.submit = submit
        self.stall_s = float(stall_s)
        self.silent_s = float(silent_s)
        self.sample_rate: int | None = None
        self.blocks = 0
        self._rate = 0
        self._last_block: np.ndarray | None = None
        self._last_callback = 0.0
        self._last_signal = 0.0
        self._awaiting_signal = False

    # ------------------------------------------------------------------ meter
    @property
    def level_dbfs(self) -> float:
        """RMS level of the last captured block (-120 when silent or not running)."""
        block = self._last_block
        if block is None or block.size == 0 or self.status != DeviceStatus.RUNNING:
            return -120.0
        rms = float(np.sqrt(np.mean(np.square(block.astype(np.float64)))))
        return 20.0 * math.log10(rms) if rms > 1e-6 else -120.0

    @property
    def level(self) -> float:
        """The meter value 0..1 of the last block (:func:`meter_level`)."""
        return meter_level(self.level_dbfs)

    # ------------------------------------------------------------------ stream
    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio thread: copy the block and hand it on, nothing else."""
        block = indata.copy()
        self._last_block = block
        self._last_callback = time.monotonic()
        self.blocks += 1
        self.submit(block, self._rate)

    def _create_stream(self, sd: Any, device: AudioDevice, channels: int) -> Any:
        rate = int(device.default_samplerate or 48000)
        stream = sd.InputStream(
            device=device.index, samplerate=rate, channels=channels, dtype="float32",
            blocksize=max(1, round(rate * self.block_s)), callback=self._callback,
            finished_callback=self._finished_callback)
        self._rate = self.sample_rate = rate
        self._last_callback = self._last_signal = time.monotonic()
        self._last_block = None
        return stream

    def _opened(self) -> None:
        if not self._awaiting_signal:
            super()._opened()

    def _reset(self) -> None:
        self._awaiting_signal = False

    def _problem(self) -> str | None:
        if not self._healthy() or time.monotonic() - self._last_callback >= self.stall_s:
            return "stopped delivering audio"
        block = self._last_block
        now = time.monotonic()
        if block is not None and np.any(block):
            self._last_signal = now
            if self._awaiting_signal:
                self._awaiting_signal = False
                self._set_status(DeviceStatus.RUNNING, self.device_name)
        elif self.silent_s > 0 and now - self._last_signal > self.silent_s:
            self._awaiting_signal = True
            return "delivers only digital silence (disconnected or muted?)"
        return None


__all__ = ["Microphone", "meter_level"]
