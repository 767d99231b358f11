"""Real ``xtalk-server`` processes for tests: ``python -m xtalk.server_cli`` on a free port of
127.0.0.1, by default with the tone-code test models, its output in a log file (a pipe
nobody reads would block a chatty server)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soxr
from llm_server import free_port
from paths import ROOT, TONE_CONFIG

from xtalk.models import tone_code


def http_get(url: str, headers: dict[str, str] | None = None,
             timeout: float = 10) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def http_post_json(url: str, body: dict[str, Any], timeout: float = 10) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@dataclass
class VoiceTurn:
    """What a client saw of one spoken turn."""

    recognised: str  # the finish_asr text ("" without one)
    actions: list[str]  # the JSON messages' actions, in order
    reply: str  # the reply audio (48 kHz PCM16) decoded from tone code


async def voice_turn(ws: Any, text: str, timeout: float = 30) -> VoiceTurn:
    """Say ``text`` in tone code on the session WebSocket ``ws`` (real time x 4) and read
    until the reply's ``tts_finished``."""
    speech = tone_code.encode(text, 16000)
    audio = np.concatenate([np.zeros(4000, np.int16), speech, np.zeros(16000, np.int16)])
    for i in range(0, audio.size, 512):
        await ws.send(audio[i:i + 512].tobytes())
        await asyncio.sleep(0.008)
    recognised, actions, pcm = "", [], []
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                pcm.append(np.frombuffer(message, dtype=np.int16))
                continue
            data = json.loads(message)
            actions.append(data["action"])
            if data["action"] == "finish_asr":
                recognised = data["data"]["text"]
            if data["action"] == "tts_finished":
                break
    reply = soxr.resample(np.concatenate(pcm), 48000, 16000).astype(np.int16) if pcm else \
        np.zeros(0, np.int16)
    decoded, _ = tone_code.decode(reply, 16000)
    return VoiceTurn(recognised, actions, decoded)


class ServerProcess:
    """``xtalk-server`` with ``database`` and ``args``; its output goes to ``log``.

    Its log level is ``warning``, or ``$XTALK_TEST_SERVER_LOG_LEVEL`` (``debug`` shows
    each turn's decisions in ``log``). Started at once; :meth:`wait_listening` (the port
    accepts connections) or :meth:`wait_ready` (``/readyz`` answers 200) before use,
    :meth:`stop` or :meth:`kill` after.
    """

    def __init__(self, database: str, log: Path, *args: str, config: Path = TONE_CONFIG,
                 port: int | None = None) -> None:
        self.port = port if port is not None else free_port()
        self.log_path = log
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "xtalk.server_cli", "--config", str(config),
             "--database", database, "--port", str(self.port), "--log-level",
             os.environ.get("XTALK_TEST_SERVER_LOG_LEVEL", "warning"),
             *args],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_listening(self, timeout: float = 30) -> None:
        """Until the port accepts connections; the test fails if the server exits or
        takes longer than ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    pytest.fail(f"server exited: {self.output()}")
                if time.monotonic() > deadline:
                    self.kill()
                    pytest.fail(f"server did not start within {timeout:.0f} s")
                time.sleep(0.1)

    def wait_ready(self, timeout: float = 60) -> None:
        """Until ``/readyz`` answers 200 (models loaded, store open)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"xtalk-server exited ({self.proc.returncode}):\n"
                                   f"{self.output()}")
            try:
                status, _ = http_get(f"{self.base}/readyz", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"xtalk-server not ready after {timeout} s:\n{self.output()}")

    def stop(self) -> None:
        """SIGTERM (a clean shutdown), SIGKILL after 15 s."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.kill()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self._log.close()


__all__ = ["TONE_CONFIG", "ServerProcess", "VoiceTurn", "free_port", "http_get",
           "http_post_json", "voice_turn"]


async def speak(ws: Any, text: str) -> str:
    """Say ``text`` in tone code on the session WebSocket ``ws``; return the recognised
    text once the reply's audio finished, after checking the reply decodes."""
    turn = await voice_turn(ws, text)
    assert turn.reply, "the reply audio did not decode"
    return turn.recognised


async def receive_until(ws: Any, action: str, timeout: float = 15) -> dict[str, Any]:
    """Skip messages until one with ``action``; return it."""
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                continue
            data = json.loads(message)
            if data["action"] == action:
                return data
