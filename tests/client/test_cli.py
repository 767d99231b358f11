"""``xtalk-client`` run as a user would: a real server process, the client as a subprocess.

Also: live mode in-process with a fake sound card. The client against a scripted server:
test_cli_fake_server.py.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import soxr
from pcm_wav import read_wav, write_wav
from server_process import ServerProcess, free_port

from xtalk.client import cli
from xtalk.client.session import ClientError, Console
from xtalk.models import tone_code

REPLY = "hello how can i help you"
TRACEBACK = "Traceback"


# --------------------------------------------------------------------------- helpers
def start_server(tmp: Path, *, user: tuple[str, str] | None = None) -> ServerProcess:
    database = f"sqlite:///{tmp / 'x.db'}"
    if user is not None:
        subprocess.run([sys.executable, "-m", "xtalk.server_cli", "user", "add", user[0],
                        "--password", user[1], "--database", database],
                       check=True, capture_output=True, timeout=60)
    server = ServerProcess(database, tmp / "server.log")
    server.wait_listening(timeout=60)
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("server"))
    yield server.port
    server.stop()


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("auth"), user=("alice", "s3cret-pw"))
    yield server.port
    server.stop()


def run_client(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xtalk.client.cli", *args],
                          capture_output=True, text=True, timeout=timeout)


def decode(pcm: np.ndarray, rate: int) -> str:
    if pcm.size == 0:
        return ""
    audio = soxr.resample(np.asarray(pcm, dtype=np.int16), rate, 16000).astype(np.int16)
    return tone_code.decode(audio, 16000)[0]


def hello_wav(path: Path, rate: int = 44100) -> Path:
    """Tone-coded "hello" at 44.1 kHz stereo, with silence around it."""
    speech = tone_code.encode("hello", rate)
    mono = np.concatenate([np.zeros(rate // 10, np.int16), speech,
                           np.zeros(rate // 2, np.int16)])
    write_wav(path, np.stack([mono, mono], axis=1), rate)
    return path


def assert_clean(result: subprocess.CompletedProcess) -> None:
    assert TRACEBACK not in result.stdout + result.stderr, result.stderr


# --------------------------------------------------------------------------- real server
def test_scripted_wav_turn_against_the_real_server(server, tmp_path):
    out = tmp_path / "out.wav"
    result = run_client(f"ws://127.0.0.1:{server}/ws", "--input-wav",
                        str(hello_wav(tmp_path / "in.wav")), "--output-wav", str(out),
                        "--speed", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert_clean(result)
    assert "You: hello" in result.stdout
    assert "Assistant: Hello! How can I help you?" in result.stdout
    assert "[latency] turn" in result.stdout and "e2e" in result.stdout
    pcm, rate = read_wav(out)
    assert rate in (24000, 48000)
    assert decode(pcm, rate) == REPLY


def test_text_mode_against_the_real_server(server, tmp_path):
    out = tmp_path / "out.wav"
    result = run_client(f"ws://127.0.0.1:{server}/ws", "--text", "hello", "--output-wav",
                        str(out), "--speed", "4", "--output-rate", "24000")
    assert result.returncode == 0, result.stdout + result.stderr
    assert_clean(result)
    assert "Assistant: Hello! How can I help you?" in result.stdout
    pcm, rate = read_wav(out)
    assert rate == 24000
    assert decode(pcm, rate) == REPLY


def test_two_turns_from_one_wav(server, tmp_path):
    rate = 22050
    speech = tone_code.encode("hello", rate)
    gap = np.zeros(rate, np.int16)
    mono = np.concatenate([gap[: rate // 10], speech, gap, speech, gap])
    write_wav(tmp_path / "in.wav", mono, rate)
    result = run_client(f"ws://127.0.0.1:{server}/ws", "--input-wav",
                        str(tmp_path / "in.wav"), "--turns", "2", "--speed", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("You: hello") == 2
    assert result.stdout.count("Assistant:") == 2


def test_timeout_is_reported(server, tmp_path):
    write_wav(tmp_path / "silence.wav", np.zeros(16000, np.int16), 16000)
    result = run_client(f"ws://127.0.0.1:{server}/ws", "--input-wav",
                        str(tmp_path / "silence.wav"), "--timeout", "1.5", "--speed", "4")
    assert result.returncode == cli.EXIT_TIMEOUT
    assert "timed out" in result.stderr
    assert_clean(result)


def test_an_empty_wav_is_a_clear_error(tmp_path):
    with wave.open(str(tmp_path / "empty.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    started = time.monotonic()
    result = run_client(f"ws://127.0.0.1:{free_port()}/ws", "--input-wav",
                        str(tmp_path / "empty.wav"))
    assert result.returncode == cli.EXIT_ERROR
    assert "empty.wav: contains no audio" in result.stderr
    assert time.monotonic() - started < 20  # not the 30 s reply timeout
    assert_clean(result)


def test_a_wav_without_speech_says_so(server, tmp_path):
    # a 0.1 s clip: before, the client waited 30 s and reported "timed out waiting for
    # the reply"
    write_wav(tmp_path / "click.wav", (np.ones(1600) * 3000).astype(np.int16), 16000)
    result = run_client(f"ws://127.0.0.1:{server}/ws", "--input-wav",
                        str(tmp_path / "click.wav"), "--speed", "4")
    assert result.returncode == cli.EXIT_ERROR, result.stdout + result.stderr
    assert "no speech was recognised in" in result.stderr and "0.10 s" in result.stderr
    assert "timed out" not in result.stderr
    assert_clean(result)


def test_login_then_talk(auth_server, tmp_path):
    result = run_client(f"ws://127.0.0.1:{auth_server}/ws", "--user", "alice", "--password",
                        "s3cret-pw", "--text", "hello")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Assistant: Hello! How can I help you?" in result.stdout
    assert "s3cret-pw" not in result.stdout + result.stderr


@pytest.mark.parametrize(("args", "expected"), [
    (["--user", "alice", "--password", "wrong"], "login failed: wrong user name or password"),
    ([], "authentication failed"),
    (["--token", "not-a-token"], "authentication failed"),
])
def test_auth_failures_are_clear(auth_server, args, expected):
    result = run_client(f"ws://127.0.0.1:{auth_server}/ws", "--text", "hello", *args)
    assert result.returncode == cli.EXIT_AUTH, result.stdout + result.stderr
    assert expected in result.stderr
    assert_clean(result)


def test_unknown_session_is_reported(server):
    result = run_client(f"ws://127.0.0.1:{server}/ws", "--text", "hello", "--session",
                        "no-such-session")
    assert result.returncode == 1
    assert "no such session" in result.stderr
    assert_clean(result)


# --------------------------------------------------------------------------- failures
def test_connection_refused(tmp_path):
    port = free_port()
    result = run_client(f"ws://127.0.0.1:{port}/ws", "--input-wav",
                        str(hello_wav(tmp_path / "in.wav")), "--output-wav",
                        str(tmp_path / "out.wav"))
    assert result.returncode == 1
    assert "cannot connect" in result.stderr and "connection refused" in result.stderr
    assert_clean(result)


def test_login_connection_refused():
    result = run_client(f"ws://127.0.0.1:{free_port()}/ws", "--user", "a", "--password", "b",
                        "--text", "hi")
    assert result.returncode == 1
    assert "connection refused" in result.stderr
    assert_clean(result)


def test_missing_input_file(tmp_path):
    result = run_client(f"ws://127.0.0.1:{free_port()}/ws", "--input-wav",
                        str(tmp_path / "nope.wav"))
    assert result.returncode == 1
    assert "no such file" in result.stderr
    assert_clean(result)


@pytest.mark.parametrize("args", [
    ["http://127.0.0.1:1/ws", "--text", "hi"],
    ["ws://127.0.0.1:1/ws", "--output-wav", "x.wav"],
    ["ws://127.0.0.1:1/ws", "--token", "t", "--user", "u", "--text", "hi"],
    ["ws://127.0.0.1:1/ws", "--text", "hi", "--speed", "0"],
])
def test_bad_arguments(args):
    result = run_client(*args)
    assert result.returncode == 2
    assert_clean(result)


def _sound_card_present() -> bool:
    probe = subprocess.run([sys.executable, "-c",
                            "import sounddevice as sd; print(len(sd.query_devices()))"],
                           capture_output=True, text=True, timeout=60)
    return probe.returncode == 0 and probe.stdout.strip() not in ("", "0")


def test_live_mode_without_a_sound_card_exits_2():
    if _sound_card_present():
        pytest.skip("this machine has an audio device")
    result = run_client(f"ws://127.0.0.1:{free_port()}/ws")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no audio" in result.stderr or "audio is unavailable" in result.stderr
    assert "--input-wav" in result.stderr  # points at scripted mode
    assert_clean(result)
    listing = run_client("--list-devices")
    assert listing.returncode == 2
    assert "no audio devices" in listing.stderr or "audio is unavailable" in listing.stderr
    assert_clean(listing)


# --------------------------------------------------------------------------- live mode
class FakeSoundDevice:
    """Stands in for the ``sounddevice`` module: one microphone that "says" some audio
    then silence, one speaker that records what it is given. Callbacks run on their own
    threads, like PortAudio's."""

    PortAudioError = type("PortAudioError", (Exception,), {})

    def __init__(self, speech: np.ndarray, in_rate: int, out_rate: int,
                 in_speed: float = 4.0) -> None:
        self.speech = speech.astype(np.float32) / 32768.0
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.in_speed = in_speed
        self.played: list[np.ndarray] = []
        self.streams: list[FakeStream] = []
        self.devices = [
            {"name": "fake mic", "max_input_channels": 2, "max_output_channels": 0,
             "default_samplerate": float(in_rate)},
            {"name": "fake speaker", "max_input_channels": 0, "max_output_channels": 2,
             "default_samplerate": float(out_rate)},
        ]
        self.default = type("Default", (), {"device": [0, 1]})()

    def query_devices(self, device=None, kind=None):
        if device is None and kind is None:
            return self.devices
        index = device if device is not None else (0 if kind == "input" else 1)
        return dict(self.devices[index], index=index)

    def InputStream(self, **kwargs):  # sounddevice's name
        stream = FakeStream(self, "input", **kwargs)
        self.streams.append(stream)
        return stream

    def OutputStream(self, **kwargs):
        stream = FakeStream(self, "output", **kwargs)
        self.streams.append(stream)
        return stream


class FakeStream:
    def __init__(self, sd: FakeSoundDevice, kind: str, *, device, samplerate, channels,
                 dtype, blocksize, callback) -> None:
        assert dtype == "float32" and blocksize > 0
        self.sd, self.kind = sd, kind
        self.rate, self.channels, self.blocksize = int(samplerate), channels, blocksize
        self.callback = callback
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.aborted = self.closed = False

    def start(self) -> None:
        self._thread.start()

    def abort(self) -> None:
        self.aborted = True
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def close(self) -> None:
        self.closed = True

    def _run(self) -> None:
        speed = self.sd.in_speed if self.kind == "input" else 1.0
        period = self.blocksize / self.rate / speed
        position = 0
        next_time = time.monotonic()
        while not self._stop.is_set():
            if self.kind == "input":
                block = self.sd.speech[position:position + self.blocksize]
                block = np.pad(block, (0, self.blocksize - block.size))
                position += self.blocksize
                self.callback(np.repeat(block[:, None], self.channels, axis=1),
                              self.blocksize, None, None)
            else:
                out = np.full((self.blocksize, self.channels), np.nan, np.float32)
                self.callback(out, self.blocksize, None, None)
                assert not np.isnan(out).any()
                self.sd.played.append(out[:, 0].copy())
            next_time += period
            self._stop.wait(max(0.0, next_time - time.monotonic()))


async def test_live_mode_with_a_fake_sound_card(server):
    in_rate, out_rate = 44100, 22050
    speech = np.concatenate([np.zeros(in_rate // 10, np.int16),
                             tone_code.encode("hello", in_rate)])
    sd = FakeSoundDevice(speech, in_rate, out_rate)
    url = f"ws://127.0.0.1:{server}/ws"
    args = cli.parse_args([url])
    out, err = io.StringIO(), io.StringIO()
    stop = asyncio.Event()
    task = asyncio.create_task(cli.run_live(
        args, Console(out, err, inline=False), url, sd, cli.pick_device(sd, None, "input"),
        cli.pick_device(sd, None, "output"), stop=stop))
    heard = ""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not task.done():
        await asyncio.sleep(0.2)
        if sd.played:
            pcm = (np.concatenate(sd.played) * 32768).astype(np.int16)
            heard = decode(pcm, out_rate)
            if heard == REPLY:
                break
    stop.set()
    assert await asyncio.wait_for(task, 10) == 0, err.getvalue()
    assert heard == REPLY, (heard, out.getvalue(), err.getvalue())
    assert "You: hello" in out.getvalue()
    assert all(s.aborted and s.closed for s in sd.streams)


def test_pick_device_without_devices_is_a_clear_error():
    sd = FakeSoundDevice(np.zeros(1, np.int16), 16000, 16000)
    sd.devices = []
    with pytest.raises(ClientError) as info:
        cli.pick_device(sd, None, "input")
    assert info.value.exit_code == 2 and "no audio device" in str(info.value)
