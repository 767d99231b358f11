"""The window's microphone, speaker and device monitor, and what the user is told
about them (notices, the mic label, the level meter, the settings dialog's device rows).

Audio modes: ``"devices"`` opens the real devices (no output device: a silent virtual
speaker in real time, so the state stays truthful, until one is plugged in; no microphone:
text input still works); ``"virtual"`` opens none (tests and scripted demos feed audio to
the window themselves).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QLabel

from app.audio.supervised import DeviceStatus
from app.ui.notices import Notices
from app.ui.status import LevelMeter, StatusIndicator

if TYPE_CHECKING:
    import numpy as np

    from app.audio.capture import Microphone
    from app.audio.devices import AudioDevice, DeviceMonitor
    from app.audio.playback import Speaker
    from app.engine import EngineHost
    from app.ui.settings_dialog import SettingsDialog

AUDIO_MODES = ("devices", "virtual")
DEVICE_ROLES = {"input": "Microphone", "output": "Speaker"}  # watched role → what it is
PROBLEMS = (DeviceStatus.LOST, DeviceStatus.NOT_FOUND, DeviceStatus.UNAVAILABLE)


class AudioDevices:
    """Opens, watches and reopens the window's audio devices.

    Args:
        mode: ``"devices"`` or ``"virtual"``.
        settings: The user's current settings (``input_device``, ``output_device``).
        submit: Where captured blocks go (any thread).
        muted: Whether the user muted the microphone.
        dialog: The open settings dialog, if any.
        spawn: Runs a coroutine in the window's task set.
    """

    def __init__(self, mode: str, *, notices: Notices, mic_label: QLabel, meter: LevelMeter,
                 settings: Callable[[], dict[str, Any]],
                 submit: Callable[[np.ndarray, int], None], muted: Callable[[], bool],
                 dialog: Callable[[], SettingsDialog | None],
                 spawn: Callable[[Coroutine[Any, Any, Any]], Any],
                 status: Callable[[], StatusIndicator]) -> None:
        if mode not in AUDIO_MODES:
            raise ValueError(f"audio must be one of {AUDIO_MODES}")
        self.mode = mode
        self.notices = notices
        self.mic_label = mic_label
        self.meter = meter
        self._settings = settings
        self._submit = submit
        self._muted = muted
        self._dialog = dialog
        self._spawn = spawn
        self._status = status
        self.engine: EngineHost | None = None
        self.microphone: Microphone | None = None
        self.speaker: Speaker | None = None
        self.monitor: DeviceMonitor | None = None
        self.devices: list[AudioDevice] = []

    async def output_rate(self) -> int:
        """The rate the engine's reply audio should have (the output device's)."""
        if self.mode == "virtual":
            return 48000
        from app.audio.playback import output_rate

        return await asyncio.to_thread(output_rate, self._settings()["output_device"])

    # ------------------------------------------------------------------ lifecycle
    async def start(self, engine: EngineHost) -> None:
        """Open the speaker and the microphone for ``engine`` (reported, never raised,
        when missing)."""
        from app.audio.playback import Speaker

        self.engine = engine
        settings = self._settings()
        if self.mode == "virtual":
            self.speaker = Speaker(engine, virtual=True, on_status=self._speaker_status)
            await self.speaker.start()
            self.mic_label.setText("Mic")
            return
        from app.audio.capture import Microphone
        from app.audio.devices import DeviceMonitor, list_devices, output_devices

        self.devices = await asyncio.to_thread(list_devices)
        virtual = not output_devices(self.devices)
        self.speaker = Speaker(engine, settings["output_device"], virtual=virtual,
                               on_status=self._speaker_status)
        if virtual:
            self.notices.set("output", "warning",
                             "No speaker found: replies are shown as text only. Xtalk "
                             "uses a speaker as soon as one is plugged in.")
        await self.speaker.start()
        self.microphone = Microphone(self._submit, settings["input_device"],
                                     on_status=self._mic_status)
        await self.microphone.start()
        if self.monitor is None:
            # compared with the listing used here: a device plugged in or out before
            # the monitor's first poll is reported too
            self.monitor = DeviceMonitor(self._device_event, devices=self.devices)
            self.monitor.start()
        self.watch(settings)
        self.refresh_dialog()

    async def stop(self) -> None:
        """Close the microphone and the speaker (the monitor keeps watching)."""
        mic, self.microphone = self.microphone, None
        speaker, self.speaker = self.speaker, None
        if mic is not None:
            await mic.stop()
        if speaker is not None:
            await speaker.stop()
        self.meter.set_active(False)
        self.engine = None

    async def close(self) -> None:
        """Stop the monitor and close the devices."""
        if self.monitor is not None:
            await self.monitor.stop()
            self.monitor = None
        await self.stop()

    async def apply(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Switch to the devices of the settings ``new``."""
        self.watch(new)
        if self.microphone is not None and old["input_device"] != new["input_device"]:
            await self.microphone.set_device(new["input_device"])
        if self.speaker is not None and old["output_device"] != new["output_device"]:
            await self.speaker.set_device(new["output_device"])

    def watch(self, settings: dict[str, Any]) -> None:
        if self.monitor is not None:
            self.monitor.watch("input", "input", settings["input_device"])
            self.monitor.watch("output", "output", settings["output_device"])

    # ------------------------------------------------------------------ status
    def update_meter(self) -> None:
        mic = self.microphone
        if mic is not None and mic.status == DeviceStatus.RUNNING and not self._muted():
            self.meter.set_active(True)
            self.meter.set_level(mic.level)

    def show_problems(self, dialog: SettingsDialog) -> None:
        """Put the devices and their problems into a newly opened settings dialog."""
        self.refresh_dialog()
        for role, device in (("input", self.microphone), ("output", self.speaker)):
            if device is not None and device.status in PROBLEMS:
                dialog.set_device_problem(role, device.detail)

    def refresh_dialog(self) -> None:
        dialog = self._dialog()
        if dialog is not None:
            dialog.set_devices([d.name for d in self.devices if d.is_input],
                               [d.name for d in self.devices if d.is_output])

    def _problem_in_dialog(self, role: str, status: str, detail: str) -> None:
        dialog = self._dialog()
        if dialog is not None:
            dialog.set_device_problem(role, detail if status in PROBLEMS else None)

    def _mic_status(self, status: str, detail: str) -> None:
        if status == DeviceStatus.RUNNING:
            if self.notices.text("input") is not None:
                self.notices.set("input", "info", f"Microphone connected: {detail}.")
                self.notices.clear_info_later("input")
            self.mic_label.setText("Mic")
            self.meter.set_active(not self._muted())
        elif status == DeviceStatus.LOST:
            which = self._which("input", status)
            self.notices.set("input", "error",
                             f"{which}: {detail}. Xtalk reconnects as soon as it is back; "
                             "you can type meanwhile.")
            self.mic_label.setText("Mic lost")
            self.meter.set_active(False)
        elif status in (DeviceStatus.NOT_FOUND, DeviceStatus.UNAVAILABLE):
            which = self._which("input", status)
            self.notices.set("input", "warning",
                             f"{which}: {detail}. Type your messages below; Xtalk "
                             "starts listening when a microphone is plugged in.")
            self.mic_label.setText("Mic not found" if status == DeviceStatus.NOT_FOUND
                                   else "No mic")
            self.meter.set_active(False)
        self._status().set_hearing(status == DeviceStatus.RUNNING)
        self._problem_in_dialog("input", status, detail)

    def _which(self, role: str, status: str) -> str:
        """"Microphone “USB Headset” lost", "Speaker not found", "No microphone" ..."""
        what = DEVICE_ROLES[role]
        name = self._settings()[f"{role}_device"]
        named = f"{what} “{name}”" if name else what
        if status == DeviceStatus.LOST:
            return f"{named} lost"
        if status == DeviceStatus.NOT_FOUND and name:
            return f"{named} not found"
        return f"No {what.lower()}"

    def _speaker_status(self, status: str, detail: str) -> None:
        if status == DeviceStatus.RUNNING and detail != "virtual":
            self.notices.clear_problem("output")
        elif status == DeviceStatus.LOST:
            self.notices.set("output", "error", f"{self._which('output', status)}: {detail}. "
                             "Replies continue when it is back.")
        elif status in PROBLEMS:
            self.notices.set("output", "warning",
                             f"{self._which('output', status)}: {detail}. Replies are shown "
                             "as text; they are heard when a speaker is plugged in.")
        self._problem_in_dialog("output", status, detail)

    def _device_event(self, kind: str, device: AudioDevice, role: str | None) -> None:
        """The device monitor: lists changed, or the device of a role ("input": the
        microphone, "output": the speaker) was lost / returned. Notices are keyed by that
        role, not by the device's channels (a headset is both)."""
        if self.monitor is not None:
            self.devices = list(self.monitor.devices)
        self.refresh_dialog()
        if kind in ("lost", "returned") and role in DEVICE_ROLES:
            what, name = DEVICE_ROLES[role], device.name
            if kind == "lost":
                self.notices.set(role, "error", f"{what} lost: {name}. Xtalk reconnects as "
                                 "soon as it is back" + ("; you can type meanwhile."
                                                         if role == "input" else "."))
            else:
                self.notices.set(role, "info", f"{what} is back: {name}.")
                self.notices.clear_info_later(role)
        elif kind == "added" and device.is_output and self.speaker is not None \
                and self.speaker.virtual and self.engine is not None:
            self._spawn(self._use_real_speaker())

    async def _use_real_speaker(self) -> None:
        from app.audio.playback import Speaker

        engine = self.engine
        if engine is None or self.speaker is None or not self.speaker.virtual:
            return
        await self.speaker.stop()
        self.speaker = Speaker(engine, self._settings()["output_device"],
                               on_status=self._speaker_status)
        await self.speaker.start()  # its status clears "No speaker found", or says why not


__all__ = ["AUDIO_MODES", "AudioDevices"]
