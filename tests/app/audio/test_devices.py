"""Audio devices coming and going, through real PortAudio and a private PulseAudio
(tests/support/pulse.py): the microphone and the speaker report ``lost`` (never silently deaf
or mute) and recover when the device returns; the device monitor reports devices that
disappear and return; with no audio at all the app says so and text input still works.

How PulseAudio shows up in PortAudio here: see tests/support/pulse.py. Unloading the pipe source
or the null sink makes the Pulse device vanish behind ALSA PCMs that stay defined, so the
streams notice it (the capture stream is moved by the server to a source of zeros, the
playback stream fails); PortAudio's device list changes when the server itself goes away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from paths import tone_config
from pulse import (
    MIC_DEVICE,
    SPEAKER_DEVICE,
    MicFeeder,
    PrivatePulse,
    SinkRecorder,
    portaudio_on,
)

from app.audio import devices as devices_module
from app.audio.capture import Microphone
from app.audio.devices import (
    AudioDevice,
    DeviceMonitor,
    audio_unavailable_reason,
    find_device,
    list_devices,
)
from app.audio.playback import Speaker
from app.engine import EngineHost


@pytest.fixture
def feeder(pulse: PrivatePulse) -> Iterator[MicFeeder]:
    f = MicFeeder(pulse).start()
    yield f
    f.stop()


@pytest.fixture
async def engine() -> Any:
    host = EngineHost(tone_config(), output_sample_rate=48000)
    await host.start()
    yield host
    await host.stop()


class Statuses:
    """Status changes of a microphone / speaker, in order."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, status: str, detail: str) -> None:
        self.seen.append((status, detail))

    def names(self) -> list[str]:
        return [s for s, _ in self.seen]

    async def wait(self, status: str, after: int = 0, timeout: float = 20.0) -> str:
        """Wait for ``status`` among the changes from index ``after``; returns its detail."""
        await wait_until(lambda: status in self.names()[after:], timeout,
                         f"no {status!r} status; saw {self.seen}")
        return next(d for s, d in self.seen[after:] if s == status)


async def wait_until(predicate: Callable[[], bool], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        await asyncio.sleep(0.05)


def tone(seconds: float, rate: int = 16000, freq: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


class Loudness:
    """What the microphone submitted: a thread-safe record of each block's peak."""

    def __init__(self) -> None:
        self.peaks: list[float] = []
        self.rates: set[int] = set()

    def __call__(self, block: np.ndarray, rate: int) -> None:  # PortAudio's thread
        self.peaks.append(float(np.max(np.abs(block))) if block.size else 0.0)
        self.rates.add(rate)

    def loud_blocks(self, since: int = 0) -> int:
        return sum(1 for p in self.peaks[since:] if p > 0.1)


# --------------------------------------------------------------------------- listing
def test_portaudio_lists_the_private_pulse_devices(pulse: PrivatePulse) -> None:
    devices = list_devices()
    mic = find_device(MIC_DEVICE, "input", devices)
    speaker = find_device(SPEAKER_DEVICE, "output", devices)
    assert mic is not None and mic.is_input and mic.hostapi == "ALSA", devices
    assert speaker is not None and speaker.is_output, devices
    assert mic.default_samplerate > 0


# --------------------------------------------------------------------------- microphone
async def test_microphone_is_lost_when_its_source_goes_and_hears_again_when_it_returns(
        pulse: PrivatePulse, feeder: MicFeeder) -> None:
    statuses, heard = Statuses(), Loudness()
    mic = Microphone(heard, MIC_DEVICE, on_status=statuses, retry_s=0.5, silent_s=1.5)
    await mic.start()
    try:
        assert mic.status == "running", statuses.seen
        assert mic.sample_rate == mic.active_device.default_samplerate  # native, not 16k
        feeder.play(tone(1.0))
        await wait_until(lambda: heard.loud_blocks() >= 10, 10, "the tone was not heard")

        pulse.unload_mic()
        mark = len(statuses.seen)
        detail = await statuses.wait("lost", mark)
        assert MIC_DEVICE in detail or "microphone" in detail
        # while the source is gone the microphone stays lost (no "running" on zeros)
        await asyncio.sleep(2.0)
        assert "running" not in statuses.names()[mark:], statuses.seen
        assert mic.status == "lost"

        pulse.load_mic()
        await statuses.wait("running", mark)
        since = len(heard.peaks)
        feeder.play(tone(1.0))
        await wait_until(lambda: heard.loud_blocks(since) >= 10, 10,
                         "the microphone came back deaf")
    finally:
        await mic.stop()
    assert mic.status == "stopped"
    assert heard.rates == {mic.sample_rate}


async def test_a_microphone_that_is_not_there_is_reported_then_found(
        pulse: PrivatePulse, feeder: MicFeeder) -> None:
    pulse.unload_mic()
    statuses, heard = Statuses(), Loudness()
    mic = Microphone(heard, MIC_DEVICE, on_status=statuses, retry_s=0.5, silent_s=1.5)
    await mic.start()
    try:
        assert mic.status == "not_found", statuses.seen  # it never worked: not "lost"
        assert "cannot open the microphone" in mic.detail
        pulse.load_mic()
        await statuses.wait("running")
        feeder.play(tone(1.0))
        await wait_until(lambda: heard.loud_blocks() >= 10, 10, "deaf after the device came")
    finally:
        await mic.stop()


# --------------------------------------------------------------------------- speaker
async def test_speaker_is_lost_when_its_sink_goes_and_plays_again_when_it_returns(
        pulse: PrivatePulse, engine: EngineHost) -> None:
    statuses = Statuses()
    speaker = Speaker(engine, SPEAKER_DEVICE, on_status=statuses, retry_s=0.5)
    await speaker.start()
    try:
        assert speaker.status == "running", statuses.seen
        pulse.unload_speaker()
        detail = await statuses.wait("lost")
        assert SPEAKER_DEVICE in detail or "speaker" in detail
        pulse.load_speaker()
        mark = len(statuses.seen)
        await statuses.wait("running", mark)

        recorder = SinkRecorder(pulse).start()
        try:
            await asyncio.sleep(0.5)
            before = speaker.played_samples
            await engine.send_text("hello")
            await wait_until(lambda: speaker.played_samples > before + 4800 and speaker.idle,
                             20, "no reply was played after the speaker returned")
            await asyncio.sleep(0.5)
            played = recorder.audio()
        finally:
            recorder.stop()
        assert played.size and np.max(np.abs(played)) > 1000, "the sink heard nothing"
    finally:
        await speaker.stop()


# --------------------------------------------------------------------------- monitor
@pytest.mark.parametrize("streams_open", [False, True], ids=["rescan", "child-process"])
async def test_monitor_reports_devices_that_go_and_return(
        pulse: PrivatePulse, streams_open: bool) -> None:
    events: list[tuple[str, str, str | None]] = []
    monitor = DeviceMonitor(lambda kind, device, role: events.append((kind, device.name, role)),
                            interval=0.3, streams_open=lambda: streams_open)
    monitor.watch("input", "input", MIC_DEVICE)
    monitor.watch("output", "output", SPEAKER_DEVICE)
    first = await monitor.poll()
    assert MIC_DEVICE in [d.name for d in first] and not events
    monitor.start()
    try:
        pulse.stop()  # every Pulse-backed device disappears from PortAudio's list
        await wait_until(lambda: ("lost", MIC_DEVICE, "input") in events
                         and ("lost", SPEAKER_DEVICE, "output") in events, 30,
                         f"events: {events}")
        assert ("removed", MIC_DEVICE, None) in events
        assert ("removed", SPEAKER_DEVICE, None) in events
        mark = len(events)
        pulse.start()
        await wait_until(lambda: ("returned", MIC_DEVICE, "input") in events[mark:]
                         and ("returned", SPEAKER_DEVICE, "output") in events[mark:], 30,
                         f"events: {events}")
        assert ("added", MIC_DEVICE, None) in events[mark:]
    finally:
        await monitor.stop()


@pytest.mark.parametrize("change", ["plugged-in", "unplugged"])
async def test_a_change_before_the_first_poll_is_reported(pulse: PrivatePulse,
                                                          change: str) -> None:
    """The monitor starts from the listing the app used at start-up: a device plugged in
    or unplugged between that listing and the monitor's first poll is reported."""
    if change == "plugged-in":
        pulse.stop()
    startup = await asyncio.to_thread(list_devices, rescan=True)
    assert (find_device(MIC_DEVICE, "input", startup) is None) == (change == "plugged-in")
    if change == "plugged-in":
        pulse.start()
    else:
        pulse.stop()
    events: list[tuple[str, str, str | None]] = []
    monitor = DeviceMonitor(lambda kind, d, role: events.append((kind, d.name, role)),
                            streams_open=lambda: False, devices=startup)
    monitor.watch("input", "input", MIC_DEVICE)
    await monitor.poll()
    if change == "plugged-in":
        assert ("added", MIC_DEVICE, None) in events, events
        assert ("added", SPEAKER_DEVICE, None) in events, events
    else:
        assert ("removed", MIC_DEVICE, None) in events, events
        assert ("lost", MIC_DEVICE, "input") in events, events


@pytest.mark.parametrize("role", ["output", "input"])
def test_a_lost_duplex_headset_is_reported_for_the_role_it_plays(role: str) -> None:
    """A headset has input and output channels: it is lost as the output when it is the
    output device (and as the input when it is the input device), never guessed from its
    channels."""
    desk = [AudioDevice(3, "Desk Mic", "ALSA", 1, 0, 48000),
            AudioDevice(4, "Desk Speakers", "ALSA", 0, 2, 48000)]
    headset = AudioDevice(5, "USB Headset", "ALSA", 1, 2, 48000)
    events: list[tuple[str, str, str | None]] = []
    monitor = DeviceMonitor(lambda kind, d, r: events.append((kind, d.name, r)),
                            streams_open=lambda: False)
    monitor.watch("input", "input", "USB Headset" if role == "input" else "Desk Mic")
    monitor.watch("output", "output", "USB Headset" if role == "output" else "Desk Speakers")
    monitor._diff([*desk, headset])
    events.clear()
    monitor._diff(desk)  # unplugged
    assert [e for e in events if e[0] == "lost"] == [("lost", "USB Headset", role)], events
    monitor._diff([*desk, headset])  # back
    assert [e for e in events if e[0] == "returned"] == [("returned", "USB Headset", role)]


# --------------------------------------------------------------------------- no audio
async def _text_still_works(engine: EngineHost) -> None:
    replies: list[dict[str, Any]] = []
    engine.add_listener(lambda m: replies.append(m) if m.action == "finish_resp" else None)
    await engine.send_text("hello")
    await wait_until(lambda: bool(replies), 20, "typed message got no reply")
    assert replies[0].data["text"]


async def test_no_portaudio_at_all_is_reported_and_text_input_works(
        monkeypatch: pytest.MonkeyPatch, engine: EngineHost) -> None:
    monkeypatch.setattr(devices_module, "_sd", None)
    monkeypatch.setattr(devices_module, "_sd_error",
                        "PortAudio is not available (libportaudio2 missing)")
    assert list_devices() == []
    mic_statuses, speaker_statuses = Statuses(), Statuses()
    mic = Microphone(lambda b, r: None, on_status=mic_statuses, retry_s=0.3)
    speaker = Speaker(engine, on_status=speaker_statuses, retry_s=0.3)
    await mic.start()
    await speaker.start()
    try:
        assert mic.status == "unavailable" and "PortAudio is not available" in mic.detail
        assert speaker.status == "unavailable"
        await asyncio.sleep(1.0)  # retries keep the status, and do not crash
        assert mic.status == "unavailable" and speaker.status == "unavailable"
        await _text_still_works(engine)
    finally:
        await mic.stop()
        await speaker.stop()


async def test_no_audio_device_at_all_is_reported_and_text_input_works(
        tmp_path: Path, engine: EngineHost) -> None:
    if audio_unavailable_reason():
        pytest.skip("needs the PortAudio library (libportaudio2); without it: "
                    "test_no_portaudio_at_all_is_reported_and_text_input_works")
    server = PrivatePulse(tmp_path / "pulse")  # never started: its devices do not exist
    with portaudio_on(server, start=False):
        if list_devices():
            pytest.skip("this machine has sound cards of its own: cannot test 'no device'")
        events: list[tuple[str, AudioDevice, str | None]] = []
        monitor = DeviceMonitor(lambda kind, d, role: events.append((kind, d, role)),
                                interval=0.3, streams_open=lambda: False)
        monitor.watch("input", "input", None)
        assert await monitor.poll() == []
        [(kind, missing, role)] = events  # the default input is missing
        assert (kind, missing.name, role) == ("lost", "the system default input", "input")
        mic_statuses = Statuses()
        mic = Microphone(lambda b, r: None, on_status=mic_statuses, retry_s=0.3)
        speaker = Speaker(engine, on_status=Statuses(), retry_s=0.3)
        await mic.start()
        await speaker.start()
        try:
            assert (mic.status, mic.detail) == ("unavailable", "no microphone found")
            assert (speaker.status, speaker.detail) == ("unavailable", "no speaker found")
            await _text_still_works(engine)
        finally:
            await mic.stop()
            await speaker.stop()


def test_meter_levels_are_read_in_dbfs() -> None:
    """The microphone's level and the engine's ``speech_level`` "rms" are both dBFS."""
    from app.audio.capture import meter_level

    assert meter_level(-120.0) == 0.0 and meter_level(-60.0) == 0.0
    assert meter_level(-30.0) == 0.5 and meter_level(0.0) == 1.0
