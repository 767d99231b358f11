"""A PortAudio stream that is never silently gone: the common base of the microphone and
the speaker.

A :class:`SupervisedDevice` opens its device (now if possible), checks the open stream
every ``CHECK_SECONDS`` and, when it fails to open, finishes or a subclass finds a problem
with it (:meth:`SupervisedDevice._problem`), reports ``lost`` and tries again every
``retry_s`` seconds until the device is back. Status changes reach ``on_status(status,
detail)`` on the loop's thread; PortAudio's callbacks never block and never touch the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from app.audio.devices import (
    AudioDevice,
    audio_unavailable_reason,
    cancel_task,
    locate,
    register_stream,
    sounddevice_module,
    unregister_stream,
)

logger = logging.getLogger(__name__)

RETRY_SECONDS = 2.0
CHECK_SECONDS = 0.25
BLOCK_SECONDS = 0.02


class DeviceStatus(StrEnum):
    """Where a device stands; compares equal to its string value."""

    STARTING = "starting"
    RUNNING = "running"
    LOST = "lost"  # worked, and does not now
    NOT_FOUND = "not_found"  # asked for and not there since it was chosen (never worked)
    UNAVAILABLE = "unavailable"  # no PortAudio, or no device of this kind at all
    STOPPED = "stopped"


StatusCallback = Callable[[str, str], None]


class NoDevice(Exception):
    """The device cannot be opened because it is not there."""

    def __init__(self, message: str, *, unavailable: bool = False) -> None:
        super().__init__(message)
        self.unavailable = unavailable


class SupervisedDevice:
    """One PortAudio stream kept open until :meth:`stop`.

    Subclasses set ``kind`` ("microphone" / "speaker") and ``direction`` ("input" /
    "output") and implement :meth:`_create_stream`; they may refine :meth:`_problem`
    (why an open stream counts as lost) and :meth:`_opened` (what follows a good open).
    """

    kind = "device"
    direction = "input"

    def __init__(self, device: str | int | None = None, *,
                 on_status: StatusCallback | None = None, retry_s: float = RETRY_SECONDS,
                 block_s: float = BLOCK_SECONDS) -> None:
        self.device = device
        self.on_status = on_status
        self.retry_s = float(retry_s)
        self.block_s = float(block_s)
        self.status = DeviceStatus.STOPPED
        self.detail = ""
        self.active_device: AudioDevice | None = None
        self._stream: Any = None
        self._finished = False
        self._has_run = False  # since this device was chosen
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ status
    def _set_status(self, status: DeviceStatus, detail: str = "") -> None:
        self._has_run = self._has_run or status is DeviceStatus.RUNNING
        if (status, detail) == (self.status, self.detail):
            return
        self.status, self.detail = status, detail
        if status in (DeviceStatus.LOST, DeviceStatus.NOT_FOUND, DeviceStatus.UNAVAILABLE):
            logger.warning("%s %s: %s", self.kind, status, detail)
        if self.on_status is not None:
            try:
                self.on_status(status, detail)
            except Exception:
                logger.exception("%s status callback failed", self.kind)

    @property
    def device_name(self) -> str:
        """The open device's name ("" when none is open)."""
        return self.active_device.name if self.active_device else ""

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Open the device (now if possible) and keep it open until :meth:`stop`."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._set_status(DeviceStatus.STARTING)
        await self._try_open()
        self._task = self._loop.create_task(self._supervise(), name=self.kind)

    async def stop(self) -> None:
        """Stop supervising and close the stream at once."""
        task, self._task = self._task, None
        await cancel_task(task)
        await asyncio.to_thread(self.abort)
        self._reset()
        self._set_status(DeviceStatus.STOPPED)

    async def set_device(self, device: str | int | None) -> None:
        """Switch to another device (reopened at once when running)."""
        self.device = device
        self._has_run = False
        await asyncio.to_thread(self.abort)
        self._reset()
        if self._task is not None:
            self._set_status(DeviceStatus.STARTING)
            await self._try_open()

    def abort(self) -> None:
        """Close the stream at once, dropping what it holds (thread-safe, idempotent).

        ``abort()``, not ``stop()``: PortAudio's stop waits for a device that may be gone.
        """
        stream, self._stream = self._stream, None
        unregister_stream(self)
        if stream is None:
            return
        with contextlib.suppress(Exception):
            stream.abort()
        with contextlib.suppress(Exception):
            stream.close()

    # ------------------------------------------------------------------ subclass hooks
    def _create_stream(self, sd: Any, device: AudioDevice, channels: int) -> Any:
        """A started-to-be PortAudio stream on ``device`` with ``channels`` channels."""
        raise NotImplementedError

    def _problem(self) -> str | None:
        """Loop side: why the open stream counts as lost (``None``: it does not)."""
        return None if self._healthy() else "stopped working"

    def _opened(self) -> None:
        """Loop side, after a successful open: report ``running``."""
        self._set_status(DeviceStatus.RUNNING, self.device_name)

    def _reset(self) -> None:
        """Forget per-stream state when the stream is closed on purpose."""

    def _max_channels(self, device: AudioDevice) -> int:
        return device.max_input_channels if self.direction == "input" \
            else device.max_output_channels

    @property
    def _missing(self) -> DeviceStatus:
        """A device that cannot be opened: lost if it worked, else not found."""
        return DeviceStatus.LOST if self._has_run else DeviceStatus.NOT_FOUND

    # ------------------------------------------------------------------ stream
    def _finished_callback(self) -> None:
        self._finished = True

    async def _try_open(self) -> bool:
        try:
            await asyncio.to_thread(self._open)
        except NoDevice as exc:
            self._set_status(DeviceStatus.UNAVAILABLE if exc.unavailable else self._missing,
                             str(exc))
            return False
        except Exception as exc:  # PortAudioError, ValueError (invalid device)...
            self._set_status(self._missing, f"cannot open the {self.kind}: {exc}")
            await asyncio.to_thread(self.abort)
            return False
        self._opened()
        return True

    def _open(self) -> None:
        sd = sounddevice_module()
        if sd is None:
            raise NoDevice(audio_unavailable_reason() or "no audio", unavailable=True)
        device, devices = locate(self.device, self.direction, owner=self)
        if device is None:
            has_kind = any(d.is_input if self.direction == "input" else d.is_output
                           for d in devices)
            if not has_kind:
                raise NoDevice(f"no {self.kind} found", unavailable=self.device is None)
            raise NoDevice(f"{self.kind} {self.device!r} is not connected")
        errors: list[Exception] = []
        for channels in dict.fromkeys((1, min(2, self._max_channels(device)))):
            try:
                stream = self._create_stream(sd, device, channels)
                break
            except Exception as exc:  # some devices refuse mono
                errors.append(exc)
        else:
            raise errors[-1]
        self._finished = False
        stream.start()
        self._stream = stream
        register_stream(self)
        self.active_device = device

    def _healthy(self) -> bool:
        stream = self._stream
        if stream is None or self._finished:
            return False
        with contextlib.suppress(Exception):
            return bool(stream.active)
        return False

    async def _supervise(self) -> None:
        while True:
            if self._stream is not None:
                await asyncio.sleep(CHECK_SECONDS)
                problem = self._problem()
                if problem is not None:
                    name = self.device_name or self.kind
                    await asyncio.to_thread(self.abort)
                    self._set_status(DeviceStatus.LOST, f"{name} {problem}")
                continue
            await asyncio.sleep(self.retry_s)
            await self._try_open()


__all__ = [
    "BLOCK_SECONDS",
    "RETRY_SECONDS",
    "DeviceStatus",
    "NoDevice",
    "StatusCallback",
    "SupervisedDevice",
]
