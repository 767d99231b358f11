"""Smoke test of the built one-folder binary (``dist/xtalk/xtalk``, see packaging/README.md).

Opt-in, because it needs a build (``python packaging/build.py``, about two minutes) and takes
a minute or two to run::

    XTALK_BINARY=dist/xtalk/xtalk python3 -m pytest -q tests/packaging/test_binary_smoke.py

1. One scripted turn, offscreen: a spoken question (espeak-ng, a voice none of our models
   made) goes in through ``--no-window --input-wav``; the language model is a scripted
   OpenAI-compatible server on loopback; the binary must exit 0, have sent the recognised
   question to the model, and written reply audio that our faster-whisper adapter
   transcribes back to the scripted reply.
2. ``--server`` with the bundled default configuration answers ``/healthz`` and serves the
   bundled browser client at ``/``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import wave
from pathlib import Path

import numpy as np
import pytest
import soxr
from llm_server import ScriptedLLMServer, Text, free_port
from paths import ROOT
from wer import wer

BINARY_ENV = "XTALK_BINARY"
BINARY = os.environ.get(BINARY_ENV, "")
HOW_TO_RUN = (f"smoke test of the built binary: opt-in. Build it (python packaging/build.py), "
              f"then run {BINARY_ENV}=dist/xtalk/xtalk python3 -m pytest -q "
              "tests/packaging/test_binary_smoke.py")

pytestmark = [pytest.mark.skipif(not BINARY, reason=HOW_TO_RUN), pytest.mark.timeout(900)]

QUESTION = "What is the capital of France?"
REPLY = "The capital of France is Paris, a large city on the river Seine."


@pytest.fixture(scope="module")
def binary() -> Path:
    path = Path(BINARY).expanduser().resolve()
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"{BINARY_ENV}={BINARY!r} is not an executable file ({HOW_TO_RUN})")
    return path


@pytest.fixture()
def isolated_env(tmp_path: Path) -> dict[str, str]:
    """The binary's environment: offscreen Qt, and the user's settings, data and database
    in a temporary folder (nothing of the machine's user leaks in or out)."""
    env = dict(os.environ)
    env.pop("XTALK_DATABASE_URL", None)
    home = tmp_path / "home"
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[name] = str(home / name.lower())
    env["HOME"] = str(home)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONPATH"] = ""  # the binary must not need the source tree
    return env


def speak(text: str, path: Path) -> None:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.fail("the smoke test needs espeak-ng for its spoken question "
                    "(apt-get install espeak-ng)")
    subprocess.run([espeak, "-v", "en-us", "-s", "150", "-w", str(path), text],
                   check=True, capture_output=True, timeout=60)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2, "expected PCM16"
        channels, rate = wav.getnchannels(), wav.getframerate()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    return pcm.reshape(-1, channels).mean(axis=1).astype(np.float32) / 32768.0, rate


def transcribe(path: Path) -> str:
    from xtalk.models.asr.faster_whisper import FasterWhisperASR

    audio, rate = read_wav(path)
    audio16 = soxr.resample(audio, rate, 16000) if rate != 16000 else audio
    return FasterWhisperASR().transcribe((np.clip(audio16, -1, 1) * 32767).astype(np.int16)).text


def test_one_scripted_spoken_turn_offscreen(binary: Path, isolated_env: dict[str, str],
                                            tmp_path: Path) -> None:
    question_wav, reply_wav = tmp_path / "question.wav", tmp_path / "reply.wav"
    speak(QUESTION, question_wav)
    config = json.loads((ROOT / "resources" / "default_config.json").read_text())
    with ScriptedLLMServer() as llm:
        llm.script(Text(REPLY))
        config["llm_agent"] = {"type": "DefaultAgent", "params": {"model": {
            "base_url": llm.base_url, "api_key": "sk-smoke-secret", "model": "scripted"}}}
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps(config))
        done = subprocess.run(
            [str(binary), "--no-window", "--config", str(config_file),
             "--input-wav", str(question_wav), "--output-wav", str(reply_wav),
             "--timeout", "180"],
            cwd=tmp_path, env=isolated_env, capture_output=True, text=True, timeout=600)
        requests = list(llm.requests)
    report = f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr[-3000:]}"
    assert done.returncode == 0, report
    assert "Traceback" not in done.stderr, report
    assert "sk-smoke-secret" not in done.stdout + done.stderr
    # the binary recognised the question (its bundled Whisper) and asked the model
    assert requests, report
    asked = requests[0]["messages"][-1]["content"]
    assert wer(QUESTION, asked) <= 0.3, asked
    assert f"assistant: {REPLY}" in done.stdout, report
    # the reply audio (its bundled Piper voice) is that reply, spoken
    audio, rate = read_wav(reply_wav)
    assert audio.size / rate > 2.0, f"only {audio.size / rate:.2f} s of reply audio"
    heard = transcribe(reply_wav)
    assert wer(REPLY, heard) <= 0.35, heard


def _get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode("utf-8", "replace")


def test_server_mode_answers_healthz_and_serves_the_web_client(
        binary: Path, isolated_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    database = f"sqlite:///{tmp_path / 'server.db'}"
    server = subprocess.Popen(
        [str(binary), "--server", "--port", str(port), "--database", database],
        cwd=tmp_path, env=isolated_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        deadline = time.monotonic() + 300
        health = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                health = _get(f"http://127.0.0.1:{port}/healthz")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        if health is None:
            server.kill()
            output = server.communicate(timeout=30)[0]
            pytest.fail(f"--server never answered /healthz (exit {server.returncode}):\n"
                        f"{output[-3000:]}")
        status, body = health
        assert status == 200 and json.loads(body)["status"] == "ok", body
        status, page = _get(f"http://127.0.0.1:{port}/")
        assert status == 200 and "<html" in page.lower(), page[:500]
        assert "app.js" in page, page[:500]
        status, script = _get(f"http://127.0.0.1:{port}/app.js")
        assert status == 200 and "WebSocket" in script, script[:500]
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT if sys.platform != "win32" else signal.SIGTERM)
            try:
                output = server.communicate(timeout=60)[0]
            except subprocess.TimeoutExpired:
                server.kill()
                output = server.communicate(timeout=30)[0]
        else:
            output = server.communicate(timeout=30)[0]
    assert "Traceback" not in output, output[-3000:]
