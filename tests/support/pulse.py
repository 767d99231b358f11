"""A private PulseAudio server for tests of the real audio path (PortAudio → ALSA → Pulse).

What works here (Debian 12, PortAudio 19.6 without a native PulseAudio host API): PortAudio
sees PulseAudio only through the ALSA ``pulse`` plugin (Debian ``libasound2-plugins``). Two
environment variables, set before PortAudio initialises (the import of ``sounddevice``, or
a re-initialisation), are all it takes:

* ``PULSE_SERVER=unix:<dir>/native`` — our private server. The ALSA hook
  ``/etc/alsa/conf.d/99-pulse.conf`` then routes ALSA's ``default`` to it as well.
* ``ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:<dir>/asound.conf`` — the system
  configuration plus two named PCMs bound to our Pulse devices: ``xtalk_mic`` (the pipe
  source) and ``xtalk_speaker`` (the null sink). PortAudio lists them as devices
  ``xtalk_mic`` / ``xtalk_speaker`` (host API ALSA).

The microphone is ``module-pipe-source``: :class:`MicFeeder` writes paced PCM16 (50 ms
chunks, silence when there is nothing to say — a pipe source without a writer never
delivers) into its FIFO. The speaker is ``module-null-sink``: :class:`SinkRecorder` runs
``parec`` on its monitor. The server runs as root with ``-n --daemonize=no
--exit-idle-time=-1 -F FILE`` (no default modules; the file loads ours).

Device loss: unloading the pipe source / null sink module (:meth:`PrivatePulse.unload_mic`
...) makes the Pulse device vanish. The ALSA PCMs stay defined, so PortAudio's device list
does not change then — the stream stops (and reopening fails) until the module is back.
Stopping the whole server (:meth:`PrivatePulse.stop` / :meth:`PrivatePulse.start` again)
makes every Pulse-backed device disappear from PortAudio's list (the plugin cannot connect).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

MIC_RATE = 16000
SINK_RATE = 48000
CHUNK_S = 0.05
MIC_DEVICE = "xtalk_mic"
SPEAKER_DEVICE = "xtalk_speaker"

ASOUND_CONF = """\
pcm.xtalk_mic {
    type pulse
    device "mic"
    hint { show on description "Xtalk test microphone (Pulse pipe source)" }
}
pcm.xtalk_speaker {
    type pulse
    device "speaker"
    hint { show on description "Xtalk test speaker (Pulse null sink)" }
}
"""


class PulseUnavailable(RuntimeError):
    """PulseAudio is not installed or does not start here (tests skip with this reason)."""


class PrivatePulse:
    """A PulseAudio server of our own in ``root`` (socket ``root/native``)."""

    def __init__(self, root: Path, *, mic_rate: int = MIC_RATE,
                 sink_rate: int = SINK_RATE) -> None:
        self.root = Path(root)
        self.mic_rate = mic_rate
        self.sink_rate = sink_rate
        self.socket = self.root / "native"
        self.fifo = self.root / "mic.fifo"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.root / "pulseaudio.log"
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "asound.conf").write_text(ASOUND_CONF)

    # ------------------------------------------------------------------ environment
    @property
    def env(self) -> dict[str, str]:
        """What a process needs so that PortAudio (and pactl/parec) use this server."""
        return {
            "PULSE_SERVER": f"unix:{self.socket}",
            "ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{self.root / 'asound.conf'}",
            # libpulse keeps its cookie and state under HOME/XDG_RUNTIME_DIR: keep ours apart
            "PULSE_RUNTIME_PATH": str(self.root / "runtime"),
            "PULSE_STATE_PATH": str(self.root / "state"),
        }

    def child_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    # ------------------------------------------------------------------ server
    def mic_module_args(self) -> str:
        return (f"source_name=mic file={self.fifo} format=s16le rate={self.mic_rate} "
                "channels=1 source_properties=device.description=XtalkTestMic")

    def speaker_module_args(self) -> str:
        return (f"sink_name=speaker rate={self.sink_rate} channels=1 "
                "sink_properties=device.description=XtalkTestSpeaker")

    def start(self, timeout: float = 15.0) -> None:
        """Start the server and wait until it answers (raises :class:`PulseUnavailable`)."""
        if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
            raise PulseUnavailable("pulseaudio / pulseaudio-utils are not installed")
        config = self.root / "server.pa"
        config.write_text(
            f"load-module module-native-protocol-unix auth-anonymous=1 socket={self.socket}\n"
            f"load-module module-null-sink {self.speaker_module_args()}\n"
            f"load-module module-pipe-source {self.mic_module_args()}\n"
            "set-default-sink speaker\nset-default-source mic\n")
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        env = {**self.child_env(), "HOME": str(self.root), "XDG_RUNTIME_DIR": str(self.root)}
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1",
                 "--disallow-exit", "--use-pid-file=no", "--log-target=stderr",
                 "-F", str(config)],
                env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise PulseUnavailable(f"pulseaudio cannot start: {exc}") from exc
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PulseUnavailable(
                    f"pulseaudio exited with {self.process.returncode}: {self._log_tail()}")
            if self.socket.exists() and self._pactl_ok("info"):
                return
            time.sleep(0.1)
        self.stop()
        raise PulseUnavailable(f"pulseaudio did not answer in {timeout} s: {self._log_tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def _log_tail(self, lines: int = 5) -> str:
        with contextlib.suppress(OSError):
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    # ------------------------------------------------------------------ pactl
    def pactl(self, *args: str) -> str:
        done = subprocess.run(["pactl", *args], env=self.child_env(), capture_output=True,
                              text=True, timeout=15, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def _pactl_ok(self, *args: str) -> bool:
        try:
            self.pactl(*args)
        except (RuntimeError, subprocess.SubprocessError):
            return False
        return True

    def _module_index(self, name: str) -> str | None:
        for line in self.pactl("list", "short", "modules").splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and parts[1] == name:
                return parts[0]
        return None

    def sources(self) -> list[str]:
        return [line.split("\t")[1] for line in
                self.pactl("list", "short", "sources").splitlines() if "\t" in line]

    def sinks(self) -> list[str]:
        return [line.split("\t")[1] for line in
                self.pactl("list", "short", "sinks").splitlines() if "\t" in line]

    def unload_mic(self) -> None:
        index = self._module_index("module-pipe-source")
        if index is not None:
            self.pactl("unload-module", index)

    def load_mic(self) -> None:
        self.pactl("load-module", "module-pipe-source", *self.mic_module_args().split())

    def unload_speaker(self) -> None:
        index = self._module_index("module-null-sink")
        if index is not None:
            self.pactl("unload-module", index)

    def load_speaker(self) -> None:
        self.pactl("load-module", "module-null-sink", *self.speaker_module_args().split())
        self.pactl("set-default-sink", "speaker")

    def __enter__(self) -> PrivatePulse:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class MicFeeder:
    """Writes PCM16 mono into the pipe source's FIFO in real time, 50 ms at a time; a
    microphone's noise floor when nothing is queued. Survives the FIFO going away (module
    unloaded) and coming back."""

    def __init__(self, pulse: PrivatePulse) -> None:
        self.pulse = pulse
        self.chunk = round(pulse.mic_rate * CHUNK_S)
        self._pending = np.zeros(0, np.int16)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mic-feeder", daemon=True)
        self._rng = np.random.default_rng(0)
        self.written = 0

    def play(self, pcm16: np.ndarray) -> float:
        """Queue ``pcm16`` (at the mic rate); returns its duration in seconds."""
        with self._lock:
            self._pending = np.concatenate([self._pending, pcm16.astype(np.int16)])
        return pcm16.shape[0] / self.pulse.mic_rate

    @property
    def queued_s(self) -> float:
        with self._lock:
            return self._pending.shape[0] / self.pulse.mic_rate

    def start(self) -> MicFeeder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _next_chunk(self) -> bytes:
        with self._lock:
            chunk, self._pending = self._pending[:self.chunk], self._pending[self.chunk:]
        if chunk.shape[0] < self.chunk:  # a microphone's noise floor (about -80 dBFS)
            floor = self._rng.integers(-3, 4, self.chunk - chunk.shape[0]).astype(np.int16)
            chunk = np.concatenate([chunk, floor])
        return chunk.astype("<i2").tobytes()

    def _open(self) -> int | None:
        try:  # non-blocking: fails (ENXIO) while nobody reads the FIFO
            return os.open(self.pulse.fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return None

    def _run(self) -> None:
        fd: int | None = None
        start = time.monotonic()
        n = 0
        while not self._stop.is_set():
            n += 1
            delay = start + n * CHUNK_S - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:  # fell far behind (CPU noise): do not burst, resync
                start, n = time.monotonic(), 0
            if fd is None:
                fd = self._open()
                if fd is None:
                    continue
                os.set_blocking(fd, True)
            data = self._next_chunk()
            try:
                os.write(fd, data)
                self.written += len(data)
            except OSError:  # the source was unloaded (EPIPE): reopen when it is back
                with contextlib.suppress(OSError):
                    os.close(fd)
                fd = None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


class SinkRecorder:
    """Records what is played on the null sink (``parec`` on its monitor), PCM16 mono at
    the sink rate."""

    def __init__(self, pulse: PrivatePulse) -> None:
        self.pulse = pulse
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SinkRecorder:
        self.process = subprocess.Popen(
            ["parec", "--device=speaker.monitor", "--raw", "--format=s16le",
             f"--rate={self.pulse.sink_rate}", "--channels=1", "--latency-msec=20"],
            env=self.pulse.child_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._thread = threading.Thread(target=self._read, args=(self.process.stdout,),
                                        name="sink-recorder", daemon=True)
        self._thread.start()
        return self

    def _read(self, stdout: IO[bytes]) -> None:
        """Collect what parec writes until it exits (``stop`` may clear ``process``)."""
        while True:
            data = stdout.read1(65536)
            if not data:
                return
            with self._lock:
                self._chunks.append(data)

    def audio(self) -> np.ndarray:
        with self._lock:
            raw = b"".join(self._chunks)
        return np.frombuffer(raw[:len(raw) // 2 * 2], dtype="<i2").astype(np.int16)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)


@contextlib.contextmanager
def portaudio_on(pulse: PrivatePulse, *, start: bool = True) -> Iterator[PrivatePulse]:
    """Point this process's PortAudio at ``pulse`` (environment + re-initialisation), and
    back to what it was afterwards. Starts the server if it is not running and ``start``
    (raises :class:`PulseUnavailable`); stops it at the end."""
    from app.audio.devices import rescan_portaudio

    if pulse.process is None and start:
        pulse.start()
    saved = {key: os.environ.get(key) for key in pulse.env}
    os.environ.update(pulse.env)
    try:
        rescan_portaudio()
        yield pulse
    finally:
        pulse.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        rescan_portaudio()


__all__ = ["MIC_DEVICE", "MIC_RATE", "SINK_RATE", "SPEAKER_DEVICE", "MicFeeder",
           "PrivatePulse", "PulseUnavailable", "SinkRecorder", "portaudio_on"]
