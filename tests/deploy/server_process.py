"""Real ``xtalk-server`` processes (tone-code test models) and a scripted voice turn."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from xtalk.models import tone_code

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "tone_config.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


class ServerProcess:
    """``python -m xtalk.server_cli`` on 127.0.0.1:``port``; output in ``log``."""

    def __init__(self, port: int, database: str, log: Path, *args: str,
                 env: dict[str, str] | None = None) -> None:
        self.port, self.log_path = port, log
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "xtalk.server_cli", "--config", str(FIXTURE),
             "--port", str(port), "--database", database, "--log-level", "warning", *args],
            stdout=self._log, stderr=subprocess.STDOUT, env=env)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
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

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


async def speak(ws: Any, text: str) -> str:
    """Say ``text`` in tone code on the session WebSocket ``ws``; return the recognised
    text once the reply's audio finished, after checking the reply decodes."""
    speech = tone_code.encode(text, 16000)
    audio = np.concatenate([np.zeros(4000, np.int16), speech, np.zeros(16000, np.int16)])
    for i in range(0, audio.size, 512):
        await ws.send(audio[i:i + 512].tobytes())
        await asyncio.sleep(0.008)
    recognised, pcm = None, []
    async with asyncio.timeout(30):
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                pcm.append(np.frombuffer(message, dtype=np.int16))
                continue
            data = json.loads(message)
            if data["action"] == "finish_asr":
                recognised = data["data"]["text"]
            if data["action"] == "tts_finished":
                break
    reply = soxr.resample(np.concatenate(pcm), 48000, 16000).astype(np.int16)
    decoded, _ = tone_code.decode(reply, 16000)
    assert decoded, "the reply audio did not decode"
    return recognised or ""


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
