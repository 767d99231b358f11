"""Driving the served browser client in a real headless Chromium (tests/web): a fake
microphone fed from a WAV file, the Chrome DevTools Protocol over ``websockets``, and the
page's login and controls."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import websockets
from paths import ROOT
from server_process import ServerProcess

from xtalk.models import tone_code

CHROMIUM = "/usr/bin/chromium"
USERNAME, PASSWORD = "alice", "secret"
MIC_RATE = 48000
HAVE_CHROMIUM = os.path.exists(CHROMIUM)
NO_CHROMIUM = "needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"


def spawn(command: list[str], log: Path, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start a process whose output goes to ``log`` (a pipe nobody reads could fill up and
    block a chatty process such as Chromium)."""
    with log.open("wb") as handle:
        return subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, **kwargs)


def write_mic_wav(path: Path, *parts: str | float) -> None:
    """A 48 kHz mono PCM16 WAV: tone-coded text for strings, silence (seconds) for
    numbers. Chromium's fake microphone loops it."""
    write_pcm_wav(path, np.concatenate([
        tone_code.encode(part, sample_rate=MIC_RATE) if isinstance(part, str)
        else np.zeros(round(part * MIC_RATE), dtype=np.int16) for part in parts]))


def stop_process(proc: subprocess.Popen[Any], *, group: bool = False) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(proc.pid, signal.SIGTERM)
            else:
                proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                if group:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.kill()
            proc.wait(timeout=10)


class CDP:
    """A minimal Chrome DevTools Protocol client for one page target."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str) -> CDP:
        ws = await websockets.connect(url, max_size=None, ping_interval=None)
        return cls(ws)

    async def _read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            future = self.pending.pop(message.get("id", -1), None)
            if future is not None:
                if not future.done():
                    future.set_result(message)
            elif "method" in message:
                self.events.append(message)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.ws.send(json.dumps({"id": self.next_id, "method": method,
                                       "params": params}))
        reply = await asyncio.wait_for(future, 15.0)
        if "error" in reply:
            raise AssertionError(f"{method} failed: {reply['error']}")
        return reply["result"]

    async def evaluate(self, expression: str, *, gesture: bool = False) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression,
                                 returnByValue=True, awaitPromise=True, userGesture=gesture)
        if "exceptionDetails" in result:
            raise AssertionError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_until(self, expression: str, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                debug = await self.evaluate("JSON.stringify(window.xtalkDebug || null)")
                raise AssertionError(f"timed out waiting for {what}; xtalkDebug={debug}; "
                                     f"console={self.console()}")
            await asyncio.sleep(0.2)

    def console(self) -> list[str]:
        lines = []
        for event in self.events:
            if event["method"] == "Runtime.exceptionThrown":
                details = event["params"]["exceptionDetails"]
                lines.append("exception: " + str(details.get("exception", {}).get(
                    "description") or details.get("text")))
            elif event["method"] == "Log.entryAdded":
                entry = event["params"]["entry"]
                lines.append(f"{entry['level']}: {entry['text']}")
            elif event["method"] == "Runtime.consoleAPICalled":
                params = event["params"]
                text = " ".join(str(a.get("value", a.get("description", "")))
                                for a in params.get("args", []))
                lines.append(f"console.{params['type']}: {text}")
        return lines

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.reader


@contextlib.contextmanager
def server_with_user(tmp_path: Path, config: Path | None = None) -> Iterator[str]:
    """``xtalk-server`` (tone-code models unless ``config``) with one user who must log
    in; yields its base URL."""
    db_url = f"sqlite:///{tmp_path / 'x.db'}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    created = subprocess.run(
        [sys.executable, "-m", "xtalk.server_cli", "--database", db_url, "user", "add",
         USERNAME, "--password", PASSWORD],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert created.returncode == 0, created.stderr
    kwargs = {"config": config} if config is not None else {}
    server = ServerProcess(db_url, tmp_path / "server.log", **kwargs)
    try:
        server.wait_listening(timeout=60)
        yield server.base
    finally:
        server.stop()


def write_pcm_wav(path: Path, pcm: np.ndarray, rate: int = MIC_RATE) -> None:
    """A mono PCM16 WAV of ``pcm`` (Chromium's fake microphone loops it)."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.asarray(pcm, dtype=np.int16).astype("<i2").tobytes())


def launch_chromium(tmp_path: Path, wav: Path, started: list[subprocess.Popen[bytes]]
                    ) -> str:
    """Start headless Chromium with a fake microphone playing ``wav``; returns the DevTools
    WebSocket URL of its page (the process is appended to ``started``)."""
    profile = tmp_path / f"profile-{len(started)}"
    profile.mkdir()
    log = tmp_path / f"chromium-{len(started)}.log"
    proc = spawn(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--disable-dev-shm-usage",  # containers (CI) often have a tiny /dev/shm
         "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions",
         "--mute-audio", f"--user-data-dir={profile}", "--window-size=1280,800",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
         "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
         f"--use-file-for-fake-audio-capture={wav}", "about:blank"],
        log, start_new_session=True)
    started.append(proc)
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text().strip()):
        if proc.poll() is not None:
            pytest.fail(f"chromium exited: {log.read_text(errors='replace')}")
        if time.monotonic() > deadline:
            pytest.fail("chromium did not open its DevTools port within 30 s")
        time.sleep(0.1)
    devtools_port = int(port_file.read_text().split()[0])
    while True:
        targets = httpx.get(f"http://127.0.0.1:{devtools_port}/json/list",
                            timeout=5).json()
        page = next((t["webSocketDebuggerUrl"] for t in targets
                     if t.get("type") == "page"), None)
        if page is not None:
            return page
        if time.monotonic() > deadline:
            pytest.fail("chromium opened no page")
        time.sleep(0.1)


async def open_app(chromium_url: str, server: str) -> CDP:
    """Load the page, check that it asks for a login, log in (a wrong password first)."""
    cdp = await CDP.connect(chromium_url)
    for domain in ("Page", "Runtime", "Log", "DOM"):
        await cdp.send(f"{domain}.enable")
    await cdp.send("Emulation.setDeviceMetricsOverride", width=1280, height=800,
                   deviceScaleFactor=1, mobile=False)
    await cdp.send("Page.navigate", url=server + "/")
    await cdp.wait_until("document.readyState === 'complete' && "
                         "!document.getElementById('login-view').hidden", 15, "the login form")
    assert await cdp.evaluate("window.xtalkDebug.authRequired") is True
    assert await cdp.evaluate("document.getElementById('app-view').hidden") is True

    await fill_login(cdp, USERNAME, "wrong")
    error = await cdp.wait_until(
        "(() => { const e = document.getElementById('login-error');"
        " return !e.hidden && e.textContent; })()", 10, "the login error")
    assert "wrong username or password" in error.lower()

    await fill_login(cdp, USERNAME, PASSWORD)
    await cdp.wait_until("!document.getElementById('app-view').hidden && "
                         "!!sessionStorage.getItem('xtalk.token')", 10, "the app view")
    assert await cdp.evaluate("document.getElementById('user-name').textContent") == USERNAME
    return cdp


async def fill_login(cdp: CDP, username: str, password: str) -> None:
    await cdp.evaluate(
        "(() => {"
        f" document.getElementById('login-username').value = {json.dumps(username)};"
        f" document.getElementById('login-password').value = {json.dumps(password)};"
        " document.getElementById('login-submit').click(); })()", gesture=True)


async def click(cdp: CDP, selector: str) -> None:
    await cdp.evaluate(f"document.querySelector({json.dumps(selector)}).click()", gesture=True)


async def debug_state(cdp: CDP) -> dict[str, Any]:
    return await cdp.evaluate("JSON.parse(JSON.stringify(window.xtalkDebug))")


def console_problems(cdp: CDP) -> list[str]:
    return [line for line in cdp.console()
            if "Content Security Policy" in line or line.startswith("exception")]


