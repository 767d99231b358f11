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
import json
import os
import shutil
from pathlib import Path

import httpx
import pytest
from browser import (
    HAVE_CHROMIUM,
    NO_CHROMIUM,
    click,
    console_problems,
    debug_state,
    open_app,
    write_mic_wav,
)
from paths import ROOT

SCREENSHOT = ROOT / "docs" / "web-client.png"
REPLY = "Hello! How can I help you?"
CONVERSATION_TIMEOUT = 30.0

pytestmark = [pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM),
              pytest.mark.timeout(120)]


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
    assert httpx.get(server + "/healthz", timeout=10).json()["status"] == "ok"


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

        # A document, through the file input: it joins the user's library.
        doc = tmp_path / "notes.md"
        doc.write_text("# Notes\n\nThe spare key is under the blue flower pot.\n")
        root = await cdp.send("DOM.getDocument")
        node = await cdp.send("DOM.querySelector", nodeId=root["root"]["nodeId"],
                              selector="#upload-input")
        await cdp.send("DOM.setFileInputFiles", files=[str(doc)], nodeId=node["nodeId"])
        uploaded = await cdp.wait_until(
            "(() => { const li = document.querySelector('#document-list li.document');"
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


LONG_REPLY = "once upon a time a little robot sang to the sun"


async def test_browser_barge_in(server: str, chromium, tmp_path: Path) -> None:
    """Speaking over the reply pauses it at once and, for a real utterance, stops it: the
    page drops the queued audio, marks the reply interrupted and plays the new one."""
    wav = tmp_path / "barge-in.wav"
    # the reply is ~3 s long; the barge-in comes 2 s after the first request, when it is
    # under way (sooner the new speech would be taken for more of that request)
    write_mic_wav(wav, 1.0, f"repeat after me {LONG_REPLY}", 2.0, "what time is it", 8.0)
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
        assert debug["transcripts"][:2] == [f"repeat after me {LONG_REPLY}",
                                            "what time is it"], debug
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


async def test_browser_going_on_after_a_pause(server: str, chromium, tmp_path: Path) -> None:
    """The user pauses mid-request, the assistant starts answering, the user goes on: the
    page ends with one request (the whole one) and one reply to it."""
    wav = tmp_path / "going-on.wav"
    first, rest = "what is the distance between", "the earth and the moon"
    write_mic_wav(wav, 1.0, first, 0.8, rest, 8.0)
    cdp = await open_app(chromium(wav), server)
    try:
        await click(cdp, "#mic")
        whole = f"{first} {rest}"
        await cdp.wait_until(
            "(() => { const users = [...document.querySelectorAll("
            "'#transcript .message.user .text')].map(e => e.textContent);"
            f" return users.length === 1 && users[0] === {json.dumps(whole)}"
            " && window.xtalkDebug.replies.some(r => r.includes('the moon')); })()",
            CONVERSATION_TIMEOUT, "one whole request and its reply")
        await click(cdp, "#mic")
        debug = await debug_state(cdp)
        assert debug["messages"].get("turn_merged", 0) == 1, debug["messages"]
        replies = await cdp.evaluate(
            "[...document.querySelectorAll('#transcript .message.assistant .text')]"
            ".map(e => e.textContent)")
        assert len(replies) == 1 and "the moon" in replies[0], replies
        assert not console_problems(cdp), console_problems(cdp)
    finally:
        await cdp.close()
