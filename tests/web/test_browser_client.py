"""The served browser client in a real headless Chromium with a fake microphone.

The server (``python -m xtalk.server_cli``, tone-code test models) runs as a subprocess with
one user, so the page has to log in. Chromium is started with a fake capture device fed
from a WAV file (tone-coded "hello", looped by Chromium) and driven over the Chrome
DevTools Protocol (``websockets``): the test fills in the login form, presses the
microphone button, and waits until the page shows the transcript and the assistant's
reply and has played the reply audio (counters on ``window.xtalkDebug``).

Set ``XTALK_UPDATE_SCREENSHOT=1`` to refresh ``docs/web-client.png`` (it is written when
missing).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import websockets
from server_process import ServerProcess

from xtalk.models import tone_code

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "web-client.png"
CHROMIUM = "/usr/bin/chromium"
USERNAME, PASSWORD = "alice", "secret"
REPLY = "Hello! How can I help you?"
MIC_RATE = 48000
CONVERSATION_TIMEOUT = 30.0

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason="needs Debian's chromium at /usr/bin/chromium "
                              "(apt-get install chromium)"),
    pytest.mark.timeout(120),
]


# --------------------------------------------------------------------------- helpers
def spawn(command: list[str], log: Path, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start a process whose output goes to ``log`` (a pipe nobody reads could fill up and
    block a chatty process such as Chromium)."""
    with log.open("wb") as handle:
        return subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, **kwargs)


def write_mic_wav(path: Path, *parts: str | float) -> None:
    """A 48 kHz mono PCM16 WAV: tone-coded text for strings, silence (seconds) for
    numbers. Chromium's fake microphone loops it."""
    pcm = np.concatenate([
        tone_code.encode(part, sample_rate=MIC_RATE) if isinstance(part, str)
        else np.zeros(round(part * MIC_RATE), dtype=np.int16) for part in parts])
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(MIC_RATE)
        wav.writeframes(pcm.astype("<i2").tobytes())


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


@pytest.fixture
def server(tmp_path: Path):
    db_url = f"sqlite:///{tmp_path / 'x.db'}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    created = subprocess.run(
        [sys.executable, "-m", "xtalk.server_cli", "--database", db_url, "user", "add",
         USERNAME, "--password", PASSWORD],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert created.returncode == 0, created.stderr
    server = ServerProcess(db_url, tmp_path / "server.log")
    try:
        server.wait_listening()
        yield server.base
    finally:
        server.stop()


@pytest.fixture
def chromium(tmp_path: Path):
    """Starts headless Chromium with a fake microphone playing a WAV file; returns the
    DevTools WebSocket URL of its page. Every browser is stopped after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def launch(wav: Path) -> str:
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

    yield launch
    for proc in started:
        stop_process(proc, group=True)


# --------------------------------------------------------------------------- the test
def test_served_page_headers(server: str) -> None:
    """The API routes take precedence over the static mount; the page carries a CSP."""
    page = httpx.get(server + "/", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self' ws: wss:" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    for name in ("app.js", "audio-worklet.js"):
        script = httpx.get(f"{server}/{name}", timeout=10)
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]
    assert httpx.get(server + "/style.css", timeout=10).headers["content-type"].startswith(
        "text/css")
    assert httpx.get(server + "/api/sessions", timeout=10).status_code == 401
    assert httpx.get(server + "/healthz", timeout=10).json() == {"status": "ok"}


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


async def test_browser_conversation(server: str, chromium, tmp_path: Path) -> None:
    """Log in, talk through the fake microphone, get the transcript and the spoken reply;
    then upload a document, start a new conversation, re-attach the first one and type."""
    wav = tmp_path / "hello.wav"
    write_mic_wav(wav, 1.0, "hello", 8.0)
    cdp = await open_app(chromium(wav), server)
    try:
        await click(cdp, "#mic")
        await cdp.wait_until("window.xtalkDebug.connected && window.xtalkDebug.framesSent > 0",
                             10, "microphone frames on the WebSocket")
        await cdp.wait_until(
            "window.xtalkDebug.transcripts.includes('hello') && "
            f"window.xtalkDebug.replies.includes({json.dumps(REPLY)}) && "
            "window.xtalkDebug.chunksPlayed > 0 && "
            "window.xtalkDebug.playbackFinishedSent > 0 && "
            "window.xtalkDebug.lastMetrics !== null",
            CONVERSATION_TIMEOUT, "transcript, reply and played reply audio")

        debug = await debug_state(cdp)
        assert debug["micRate"] > 0
        assert debug["bytesSent"] == debug["framesSent"] * 1024  # 512-sample PCM16 frames
        assert debug["chunksReceived"] >= debug["chunksPlayed"] > 0
        assert debug["messages"].get("tts_chunk_meta", 0) == debug["chunksReceived"]
        assert debug["errors"] == [], debug["errors"]
        session_id = debug["sessionId"]
        assert session_id

        # What the user sees: the transcript, the reply and the latency line.
        page_text = await cdp.evaluate("document.getElementById('transcript').innerText")
        assert "hello" in page_text
        assert REPLY in page_text
        metrics = await cdp.evaluate("document.getElementById('metrics').innerText")
        assert "end-to-end" in metrics
        await cdp.wait_until("document.querySelectorAll('#session-list .session').length > 0",
                             10, "the conversation in the session list")
        assert await cdp.evaluate("window.xtalkDebug.state") == "listening"

        await asyncio.sleep(0.3)  # let the UI settle (state indicator, level meter)
        shot = await cdp.send("Page.captureScreenshot", format="png")
        png = base64.b64decode(shot["data"])
        assert png.startswith(b"\x89PNG")
        (tmp_path / "web-client.png").write_bytes(png)
        if os.environ.get("XTALK_UPDATE_SCREENSHOT") or not SCREENSHOT.exists():
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tmp_path / "web-client.png", SCREENSHOT)

        # Stop talking before the looped recording says "hello" again.
        await click(cdp, "#mic")
        assert await cdp.evaluate("window.xtalkDebug.state") == "ready"

        # A document for this session, through the file input.
        doc = tmp_path / "notes.md"
        doc.write_text("# Notes\n\nThe spare key is under the blue flower pot.\n")
        root = await cdp.send("DOM.getDocument")
        node = await cdp.send("DOM.querySelector", nodeId=root["root"]["nodeId"],
                              selector="#upload-input")
        await cdp.send("DOM.setFileInputFiles", files=[str(doc)], nodeId=node["nodeId"])
        uploaded = await cdp.wait_until(
            "(() => { const li = document.querySelector('#upload-list li.done');"
            " return li && li.textContent; })()", 10, "the uploaded document")
        assert "notes.md" in uploaded

        # A new conversation, then back to the first one: its history is restored.
        await click(cdp, "#new-session")
        await cdp.wait_until("document.querySelectorAll('#transcript .message').length === 0"
                             " && !window.xtalkDebug.connected", 10, "an empty transcript")
        await click(cdp, "#session-list li:nth-child(1) .session")
        await cdp.wait_until(f"window.xtalkDebug.connected && "
                             f"window.xtalkDebug.sessionId === '{session_id}'", 10,
                             "the first conversation attached")
        # Quickly away and back again (the server may still hold the session a moment).
        await cdp.evaluate("document.getElementById('new-session').click();"
                           "document.querySelector('#session-list .session').click()",
                           gesture=True)
        await cdp.wait_until(
            f"window.xtalkDebug.connected && window.xtalkDebug.sessionId === '{session_id}'"
            " && window.xtalkDebug.messages.session_attached === 2"
            " && document.querySelectorAll('#transcript .message.history').length === 2",
            10, "the restored conversation")
        page_text = await cdp.evaluate("document.getElementById('transcript').innerText")
        assert "hello" in page_text and REPLY in page_text

        # A typed message in the restored conversation.
        await cdp.evaluate("document.getElementById('text-input').value = 'hi there'")
        await click(cdp, "#text-form button")
        await cdp.wait_until("window.xtalkDebug.replies.length === 2", 10, "the typed reply")
        assert await cdp.evaluate(
            "document.querySelectorAll('#transcript .message.user').length") == 2
        debug = await debug_state(cdp)
        assert debug["errors"] == [], debug["errors"]
        assert not console_problems(cdp), console_problems(cdp)
    finally:
        await cdp.close()


async def test_browser_barge_in(server: str, chromium, tmp_path: Path) -> None:
    """Speaking over the reply pauses it at once and, for a real utterance, stops it: the
    page drops the queued audio, marks the reply interrupted and plays the new one."""
    wav = tmp_path / "barge-in.wav"
    write_mic_wav(wav, 1.0, "hello", 0.9, "what time is it", 8.0)
    cdp = await open_app(chromium(wav), server)
    try:
        await click(cdp, "#mic")
        await cdp.wait_until(
            "window.xtalkDebug.transcripts.includes('what time is it') && "
            "window.xtalkDebug.replies.some(r => r.startsWith('It is')) && "
            "window.xtalkDebug.playbackFinishedSent >= 2",
            CONVERSATION_TIMEOUT, "the second reply after a barge-in")
        await click(cdp, "#mic")
        debug = await debug_state(cdp)
        assert debug["transcripts"][:2] == ["hello", "what time is it"], debug
        assert debug["messages"].get("pause_tts", 0) >= 1, debug["messages"]
        assert debug["messages"].get("stop_tts", 0) >= 1, debug["messages"]
        assert debug["chunksDropped"] >= 1, debug
        assert debug["chunksPlayed"] + debug["chunksDropped"] <= debug["chunksReceived"]
        interrupted = await cdp.evaluate(
            "[...document.querySelectorAll('#transcript .message.assistant.interrupted')]"
            ".map(e => e.querySelector('.text').textContent)")
        assert len(interrupted) == 1, (interrupted, json.dumps(debug))
        assert not console_problems(cdp), console_problems(cdp)
    finally:
        await cdp.close()
