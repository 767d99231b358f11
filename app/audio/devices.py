"""Audio devices: listing, rescanning, and watching for devices that come and go.

PortAudio reads the device list once, when it is initialised; :func:`rescan` re-initialises
it (``sd._terminate(); sd._initialize()``). Re-initialising closes every open stream, so
while the app's streams are open the :class:`DeviceMonitor` lists the devices in a short
child process instead (same PortAudio, fresh list, nothing of ours closed).

sounddevice is imported lazily (:func:`sounddevice_module`): without PortAudio the app
still runs, with no audio devices (text input keeps working). Note that on Linux, importing
sounddevice without ``libasound2-data`` (alsa.conf) aborts the process; the Debian
packages are listed in ``.ci/run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any

logger = logging.getLogger(__name__)

POLL_SECONDS = 2.0

_PORTAUDIO_LOCK = threading.RLock()
_sd: ModuleType | None = None
_sd_error: str | None = None


def sounddevice_module() -> ModuleType | None:
    """The ``sounddevice`` module, or ``None`` when PortAudio is not available
    (:func:`audio_unavailable_reason` says why)."""
    global _sd, _sd_error
    if _sd is not None or _sd_error is not None:
        return _sd
    try:
        import sounddevice
    except OSError as exc:
        _sd_error = ("the PortAudio library is not installed (Debian/Ubuntu: apt-get install "
                     "libportaudio2)")
        logger.warning("no audio: %s: %s", _sd_error, exc)
        return None
    except ImportError as exc:
        _sd_error = "the sounddevice package is not installed (pip install sounddevice)"
        logger.warning("no audio: %s: %s", _sd_error, exc)
        return None
    _sd = sounddevice
    return _sd


def audio_unavailable_reason() -> str | None:
    sounddevice_module()
    return _sd_error


@dataclass(frozen=True)
class AudioDevice:
    """One PortAudio device."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: int
    is_default_input: bool = False
    is_default_output: bool = False

    @property
    def key(self) -> str:
        """A stable identity across rescans (indices change; names mostly do not)."""
        return f"{self.hostapi}: {self.name}"

    @property
    def is_input(self) -> bool:
        return self.max_input_channels > 0

    @property
    def is_output(self) -> bool:
        return self.max_output_channels > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _device_dicts(sd: ModuleType) -> list[dict[str, Any]]:
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
    except Exception:
        return []
    try:
        default_in, default_out = sd.default.device
    except Exception:
        default_in = default_out = -1
    result = []
    for info in devices:
        index = int(info["index"])
        hostapi = hostapis[info["hostapi"]]["name"] if info["hostapi"] < len(hostapis) else ""
        result.append({
            "index": index, "name": str(info["name"]), "hostapi": str(hostapi),
            "max_input_channels": int(info["max_input_channels"]),
            "max_output_channels": int(info["max_output_channels"]),
            "default_samplerate": round(float(info["default_samplerate"] or 0)),
            "is_default_input": index == default_in,
            "is_default_output": index == default_out,
        })
    return result


def list_devices(*, rescan: bool = False) -> list[AudioDevice]:
    """Every audio device (empty without PortAudio or without devices).

    Args:
        rescan: Re-initialise PortAudio first to see devices plugged in since (closes
            every open stream!).
    """
    sd = sounddevice_module()
    if sd is None:
        return []
    with _PORTAUDIO_LOCK:  # the microphone, speaker and monitor rescan from worker threads
        if rescan:
            rescan_portaudio()
        return [AudioDevice(**d) for d in _device_dicts(sd)]


def list_devices_out_of_process(timeout: float = 10.0) -> list[AudioDevice] | None:
    """The current device list from a child process (leaves our streams alone);
    ``None`` when the child fails."""
    script = ("import json, sounddevice as sd\nfrom typing import Any\nfrom types import "
              "ModuleType\n" + inspect.getsource(_device_dicts)
              + "print(json.dumps(_device_dicts(sd)))\n")
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True,
                              text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    try:
        return [AudioDevice(**d) for d in json.loads(done.stdout.strip().splitlines()[-1])]
    except (ValueError, IndexError, TypeError):
        return None


def rescan_portaudio() -> None:
    """Re-initialise PortAudio so that its device list is read again."""
    sd = sounddevice_module()
    if sd is None:
        return
    with _PORTAUDIO_LOCK:  # two threads re-initialising PortAudio at once crash it
        try:
            sd._terminate()
        finally:
            sd._initialize()


def input_devices(devices: list[AudioDevice] | None = None) -> list[AudioDevice]:
    return [d for d in (list_devices() if devices is None else devices) if d.is_input]


def output_devices(devices: list[AudioDevice] | None = None) -> list[AudioDevice]:
    return [d for d in (list_devices() if devices is None else devices) if d.is_output]


def find_device(name: str | int | None, kind: str,
                devices: list[AudioDevice] | None = None) -> AudioDevice | None:
    """The ``kind`` (``"input"``/``"output"``) device called ``name`` (its name, its
    ``key`` or its index); ``None`` for the system default. Returns ``None`` when there
    is no such device."""
    if kind not in ("input", "output"):
        raise ValueError("kind must be 'input' or 'output'")
    candidates = input_devices(devices) if kind == "input" else output_devices(devices)
    if name is None or name == "":
        for d in candidates:
            if (d.is_default_input if kind == "input" else d.is_default_output):
                return d
        return candidates[0] if candidates else None
    if isinstance(name, int):
        return next((d for d in candidates if d.index == name), None)
    for match in (lambda d: d.key == name, lambda d: d.name == name,
                  lambda d: d.name.startswith(name)):
        found = next((d for d in candidates if match(d)), None)
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------- open streams
_open_streams: set[int] = set()


def register_stream(owner: object) -> None:
    """``owner`` (a Microphone / Speaker) has a stream open."""
    _open_streams.add(id(owner))


def unregister_stream(owner: object) -> None:
    _open_streams.discard(id(owner))


def streams_open(exclude: object | None = None) -> bool:
    """Whether any of our streams (other than ``exclude``'s) is open."""
    return bool(_open_streams - ({id(exclude)} if exclude is not None else set()))


def locate(name: str | int | None, kind: str, owner: object | None = None,
           ) -> tuple[AudioDevice | None, list[AudioDevice]]:
    """Find a device that may have been plugged in since PortAudio started.

    The current list is tried first; if the device is not in it, PortAudio is
    re-initialised — right away when no other stream is open, else only when a child
    process sees the device (re-initialising closes the other streams, which reopen
    themselves).
    """
    devices = list_devices()
    device = find_device(name, kind, devices)
    if device is not None or sounddevice_module() is None:
        return device, devices
    if streams_open(exclude=owner):
        fresh = list_devices_out_of_process()
        if not fresh or find_device(name, kind, fresh) is None:
            return None, fresh or devices
    devices = list_devices(rescan=True)
    return find_device(name, kind, devices), devices


DeviceCallback = Callable[[str, AudioDevice, str | None], None]


async def cancel_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (if any) and wait until it has ended."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class DeviceMonitor:
    """Polls the device list every ``interval`` seconds and reports changes.

    ``callback(kind, device, role)``: ``kind`` ``"added"`` or ``"removed"`` for any device
    (``role`` ``None``), and ``"lost"`` / ``"returned"`` for the device of a role named in
    :meth:`watch` (the devices in use), with that role: a duplex headset used as the
    output device is lost as ``"output"``, whatever channels it also has. Runs on the
    asyncio loop; the listing runs in a worker thread.

    Args:
        callback: Called on the loop's thread.
        interval: Seconds between polls.
        streams_open: Returns whether audio streams are open: then the list is read in a
            child process, since re-initialising PortAudio would close them.
        devices: The listing the caller already acted on (e.g. the app's start-up
            listing): the first poll reports what changed since. Without it the first
            poll is the baseline and reports no added / removed devices.
    """

    def __init__(self, callback: DeviceCallback, *, interval: float = POLL_SECONDS,
                 streams_open: Callable[[], bool] | None = None,
                 devices: list[AudioDevice] | None = None) -> None:
        self.callback = callback
        self.interval = float(interval)
        self.streams_open = streams_open or globals()["streams_open"]
        self.devices: list[AudioDevice] = list(devices or [])
        self._watched: dict[str, tuple[str, str | None]] = {}  # role -> (kind, name)
        self._lost: set[str] = set()
        self._has_baseline = devices is not None
        self._task: asyncio.Task[None] | None = None

    def watch(self, role: str, kind: str, name: str | None) -> None:
        """Report ``role``'s device (``kind`` input/output; ``None``: the default) as
        ``lost`` when it disappears and ``returned`` when it is back."""
        self._watched[role] = (kind, name)
        self._lost.discard(role)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                name="device-monitor")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_task(task)

    async def poll(self) -> list[AudioDevice]:
        """Read the list once now and report what changed."""
        if self.streams_open():
            fresh = await asyncio.to_thread(list_devices_out_of_process)
            if fresh is None:
                return self.devices
        else:
            fresh = await asyncio.to_thread(list_devices, rescan=True)
        self._diff(fresh)
        return fresh

    def _diff(self, fresh: list[AudioDevice]) -> None:
        old = {d.key: d for d in self.devices}
        new = {d.key: d for d in fresh}
        baseline, self._has_baseline = self._has_baseline, True
        self.devices = fresh
        if baseline:  # else this first list is the baseline: no change to report
            for key, device in new.items():
                if key not in old:
                    self._report("added", device)
            for key, device in old.items():
                if key not in new:
                    self._report("removed", device)
        for role, (kind, name) in self._watched.items():
            present = find_device(name, kind, fresh)
            if present is None and role not in self._lost:
                self._lost.add(role)
                gone = find_device(name, kind, list(old.values()))
                missing = str(name) if name else f"the system default {kind}"
                self._report("lost", gone or AudioDevice(-1, missing, "", 0, 0, 0), role)
            elif present is not None and role in self._lost:
                self._lost.discard(role)
                self._report("returned", present, role)

    def _report(self, kind: str, device: AudioDevice, role: str | None = None) -> None:
        try:
            self.callback(kind, device, role)
        except Exception:
            logger.exception("device monitor callback failed")

    async def _run(self) -> None:
        while True:
            try:
                await self.poll()
            except Exception:
                logger.exception("device poll failed")
            await asyncio.sleep(self.interval)


__all__ = [
    "AudioDevice", "DeviceMonitor", "audio_unavailable_reason", "find_device", "input_devices",
    "list_devices", "list_devices_out_of_process", "locate", "output_devices",
    "register_stream", "rescan_portaudio", "sounddevice_module", "streams_open",
    "unregister_stream",
]
