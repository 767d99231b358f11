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

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from app.audio.devices import (
    AudioDevice,
    audio_unavailable_reason,
    locate,
    register_stream,
    sounddevice_module,
    unregister_stream,
)

logger = logging.getLogger(__name__)

RETRY_SECONDS = 2.0
STALL_SECONDS = 2.0
SILENT_SECONDS = 3.0
BLOCK_SECONDS = 0.02

Submit = Callable[[np.ndarray, int], None]
StatusCallback = Callable[[str, str], None]


def meter_level(dbfs: float) -> float:
    """A level meter's value 0..1 for a level in dBFS: -60 dBFS → 0, 0 dBFS → 1."""
    return min(1.0, max(0.0, (float(dbfs) + 60.0) / 60.0))


class Microphone:
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

    def __init__(self, submit: Submit, device: str | int | None = None, *,
                 on_status: StatusCallback | None = None, retry_s: float = RETRY_SECONDS,
                 block_s: float = BLOCK_SECONDS, stall_s: float = STALL_SECONDS,
                 silent_s: float = SILENT_SECONDS) -> None:
        self.submit = submit
        self.device = device
        self.on_status = on_status
        self.retry_s = float(retry_s)
        self.block_s = float(block_s)
        self.stall_s = float(stall_s)
        self.silent_s = float(silent_s)
        self.status = "stopped"
        self.detail = ""
        self.sample_rate: int | None = None
        self.active_device: AudioDevice | None = None
        self.blocks = 0
        self._stream: Any = None
        self._last_block: np.ndarray | None = None
        self._last_callback = 0.0
        self._last_signal = 0.0
        self._awaiting_signal = False
        self._finished = False
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ status / meter
    def _set_status(self, status: str, detail: str = "") -> None:
        if (status, detail) == (self.status, self.detail):
            return
        self.status, self.detail = status, detail
        if status in ("lost", "unavailable"):
            logger.warning("microphone %s: %s", status, detail)
        if self.on_status is not None:
            try:
                self.on_status(status, detail)
            except Exception:
                logger.exception("microphone status callback failed")

    @property
    def level_dbfs(self) -> float:
        """RMS level of the last captured block (-120 when silent or not running)."""
        block = self._last_block
        if block is None or block.size == 0 or self.status != "running":
            return -120.0
        rms = float(np.sqrt(np.mean(np.square(block.astype(np.float64)))))
        return 20.0 * math.log10(rms) if rms > 1e-6 else -120.0

    @property
    def level(self) -> float:
        """The meter value 0..1 of the last block (:func:`meter_level`)."""
        return meter_level(self.level_dbfs)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Open the device (now if possible) and keep it open until :meth:`stop`."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._set_status("starting")
        await self._try_open()
        self._task = self._loop.create_task(self._supervise(), name="microphone")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(self._close)
        self._awaiting_signal = False
        self._set_status("stopped")

    async def set_device(self, device: str | int | None) -> None:
        """Switch to another device (reopened at once)."""
        self.device = device
        await asyncio.to_thread(self._close)
        self._awaiting_signal = False
        if self._task is not None:
            self._set_status("starting")
            await self._try_open()

    # ------------------------------------------------------------------ stream
    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio thread: copy the block and hand it on, nothing else."""
        block = indata.copy()
        self._last_block = block
        self._last_callback = time.monotonic()
        self.blocks += 1
        self.submit(block, self._rate)

    def _finished_callback(self) -> None:
        self._finished = True

    async def _try_open(self) -> bool:
        try:
            await asyncio.to_thread(self._open)
        except _NoDevice as exc:
            self._set_status("unavailable" if exc.unavailable else "lost", str(exc))
            return False
        except Exception as exc:  # PortAudioError, ValueError (invalid device)...
            self._set_status("lost", f"cannot open the microphone: {exc}")
            await asyncio.to_thread(self._close)
            return False
        if not self._awaiting_signal:
            self._set_status("running", self.active_device.name if self.active_device else "")
        return True

    def _open(self) -> None:
        sd = sounddevice_module()
        if sd is None:
            raise _NoDevice(audio_unavailable_reason() or "no audio", unavailable=True)
        device, devices = locate(self.device, "input", owner=self)
        if device is None:
            if not any(d.is_input for d in devices):
                raise _NoDevice("no microphone found", unavailable=self.device is None)
            raise _NoDevice(f"microphone {self.device!r} is not connected")
        rate = device.default_samplerate or 48000
        self._rate = int(rate)
        errors = []
        for channels in dict.fromkeys((1, min(2, device.max_input_channels))):
            try:
                stream = sd.InputStream(
                    device=device.index, samplerate=rate, channels=channels, dtype="float32",
                    blocksize=max(1, round(rate * self.block_s)), callback=self._callback,
                    finished_callback=self._finished_callback)
                break
            except Exception as exc:
                errors.append(exc)
        else:
            raise errors[-1]
        self._finished = False
        self._last_callback = self._last_signal = time.monotonic()
        self._last_block = None
        stream.start()
        self._stream = stream
        register_stream(self)
        self.sample_rate = int(rate)
        self.active_device = device

    def _close(self) -> None:
        stream, self._stream = self._stream, None
        unregister_stream(self)
        if stream is None:
            return
        # abort(), not stop(): stop() waits for the device, which may be gone.
        with contextlib.suppress(Exception):
            stream.abort()
        with contextlib.suppress(Exception):
            stream.close()

    def _healthy(self) -> bool:
        stream = self._stream
        if stream is None or self._finished:
            return False
        with contextlib.suppress(Exception):
            if not stream.active:
                return False
        return time.monotonic() - self._last_callback < self.stall_s

    def _check_signal(self) -> str | None:
        """Loop side: why the open stream counts as lost (``None``: it does not)."""
        if not self._healthy():
            return "stopped delivering audio"
        block = self._last_block
        now = time.monotonic()
        if block is not None and np.any(block):
            self._last_signal = now
            if self._awaiting_signal:
                self._awaiting_signal = False
                self._set_status("running",
                                 self.active_device.name if self.active_device else "")
        elif self.silent_s > 0 and now - self._last_signal > self.silent_s:
            self._awaiting_signal = True
            return "delivers only digital silence (disconnected or muted?)"
        return None

    async def _supervise(self) -> None:
        while True:
            if self._stream is not None:
                await asyncio.sleep(0.25)
                problem = self._check_signal()
                if problem is not None:
                    name = self.active_device.name if self.active_device else "microphone"
                    await asyncio.to_thread(self._close)
                    self._set_status("lost", f"{name} {problem}")
                continue
            await asyncio.sleep(self.retry_s)
            await self._try_open()


class _NoDevice(Exception):
    def __init__(self, message: str, *, unavailable: bool = False) -> None:
        super().__init__(message)
        self.unavailable = unavailable


__all__ = ["Microphone"]
