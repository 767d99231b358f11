"""What a new user meets in the browser client (headless Chromium, 390 × 844 and 1280 × 800).

* A fresh visit asks the server nothing it would refuse: no 401 (or any other error) in
  the console before signing in, and the sign-in page shows no connection pill (there is
  no connection to be "offline" from); the pill appears once a session connects.
* The conversation list's message count follows the turns without a reload.
* The latency footer of a typed turn shows no speech stages ("end of speech",
  "recognition"); its segments add up to the end-to-end figure it shows, for typed and for
  spoken turns.

Screenshots go to the test's ``tmp_path`` (``--basetemp`` to keep them).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import (
    CDP,
    HAVE_CHROMIUM,
    NO_CHROMIUM,
    PASSWORD,
    USERNAME,
    click,
    console_problems,
    debug_state,
    fill_login,
    server_with_user,
    write_mic_wav,
)
from paths import tone_config
from server_process import ServerProcess

PHONE = (390, 844)
DESKTOP = (1280, 800)
TURN_TIMEOUT = 20.0

pytestmark = [pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM),
              pytest.mark.timeout(150)]


# --------------------------------------------------------------------------- helpers
def console_errors(cdp: CDP) -> list[str]:
    """Every console line of level error: failed requests (a 401 shows as "Failed to
    load resource"), console.error calls, uncaught exceptions."""
    lines = []
    for event in cdp.events:
        if event["method"] == "Log.entryAdded":
            entry = event["params"]["entry"]
            if entry["level"] == "error":
                lines.append(f"{entry.get('source')}: {entry['text']} {entry.get('url', '')}")
        elif event["method"] == "Runtime.consoleAPICalled":
            if event["params"]["type"] in ("error", "assert"):
                lines.append(f"console.error: {event['params'].get('args')}")
        elif event["method"] == "Runtime.exceptionThrown":
            lines.append(f"exception: {event['params']['exceptionDetails']}")
    return lines


async def open_page(chromium_url: str, server: str, size: tuple[int, int]) -> CDP:
    cdp = await CDP.connect(chromium_url)
    for domain in ("Page", "Runtime", "Log", "DOM"):
        await cdp.send(f"{domain}.enable")
    width, height = size
    phone = size == PHONE
    await cdp.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                   deviceScaleFactor=2 if phone else 1, mobile=phone)
    if phone:
        await cdp.send("Emulation.setTouchEmulationEnabled", enabled=True)
    await cdp.send("Page.navigate", url=server + "/")
    await cdp.wait_until("document.readyState === 'complete' && "
                         "!document.getElementById('login-view').hidden", 15, "the login form")
    return cdp


async def sign_in(cdp: CDP) -> None:
    await fill_login(cdp, USERNAME, PASSWORD)
    await cdp.wait_until("!document.getElementById('app-view').hidden && "
                         "window.xtalkDebug.libraryLoads >= 1 && "
                         "window.xtalkDebug.memoryLoads >= 1", 10, "the app view")


PILL_SHOWN = """(() => { const s = document.getElementById('state');
  return s.getClientRects().length > 0 && getComputedStyle(s).visibility !== 'hidden'; })()"""


async def screenshot(cdp: CDP, path: Path) -> None:
    await asyncio.sleep(0.3)  # let the page settle
    shot = await cdp.send("Page.captureScreenshot", format="png")
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG")
    path.write_bytes(png)


async def type_turn(cdp: CDP, text: str, replies: int) -> None:
    """Type ``text``; wait until the page has its ``replies``-th reply, played."""
    played = await cdp.evaluate("window.xtalkDebug.playbackFinishedSent")
    await cdp.evaluate(f"document.getElementById('text-input').value = {json.dumps(text)}")
    await click(cdp, "#text-form button")
    await cdp.wait_until(f"window.xtalkDebug.replies.length >= {replies} && "
                         f"window.xtalkDebug.playbackFinishedSent > {played} && "
                         "!document.getElementById('metrics').hidden",
                         TURN_TIMEOUT, f"the reply to {text!r}, played")


async def footer(cdp: CDP) -> dict[str, Any]:
    """The latency footer: its text, the total and the segments (label, ms) it shows."""
    return await cdp.evaluate("""(() => {
      const box = document.getElementById('metrics');
      const ms = e => Number(e.dataset.ms);
      const total = box.querySelector('.metric-total');
      return {
        text: box.innerText,
        total: total ? ms(total) : null,
        totalText: total ? total.innerText : null,
        parts: [...box.querySelectorAll('.metric-part')].map(e => ({
          key: e.dataset.key, ms: ms(e), text: e.innerText})),
        turn: Number(box.dataset.turn),
      };
    })()""")


def assert_adds_up(shown: dict[str, Any]) -> None:
    """The segments add up to the total, and each says the figure it stands for."""
    assert shown["total"] is not None and shown["parts"], shown
    assert sum(p["ms"] for p in shown["parts"]) == shown["total"], shown
    assert f"{shown['total']} ms" in shown["totalText"], shown
    for part in shown["parts"]:
        assert part["ms"] >= 0, shown
        assert re.search(rf"\b{part['ms']} ms", part["text"]), shown


async def active_count(cdp: CDP) -> str:
    return await cdp.evaluate(
        "(() => { const m = document.querySelector('#session-list .session.active "
        ".session-meta'); return m ? m.textContent : ''; })()")


async def wait_count(cdp: CDP, count: int, what: str) -> None:
    await cdp.wait_until(
        "(() => { const m = document.querySelector('#session-list .session.active "
        f".session-meta'); return !!m && m.textContent.endsWith(' {count} messages'); }})()",
        10, what)


# --------------------------------------------------------------------------- tests
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_fresh_visit(server: str, chromium, silence: Path, tmp_path: Path,
                           size: tuple[int, int]) -> None:
    """The sign-in page: no console error, no "offline" pill; after signing in the pill
    stays away until a session connects, then shows its state."""
    cdp = await open_page(chromium(silence), server, size)
    try:
        assert await cdp.evaluate("window.xtalkDebug.authRequired") is True
        await asyncio.sleep(0.5)  # anything late (a refused request) would show by now
        assert console_errors(cdp) == [], console_errors(cdp)
        assert await cdp.evaluate(PILL_SHOWN) is False
        assert "offline" not in await cdp.evaluate("document.body.innerText")
        name = "phone" if size == PHONE else "desktop"
        await screenshot(cdp, tmp_path / f"{name}-login.png")

        await sign_in(cdp)
        assert await cdp.evaluate(PILL_SHOWN) is False  # nothing connected yet
        await type_turn(cdp, "hello", 1)
        assert await cdp.evaluate(PILL_SHOWN) is True
        assert await cdp.evaluate("window.xtalkDebug.state") == "ready"
        assert await cdp.evaluate("document.getElementById('state-label').textContent"
                                  ) == "ready"
        await wait_count(cdp, 2, "the conversation listed with its 2 messages")
        await screenshot(cdp, tmp_path / f"{name}-app.png")

        # A reload with the token: still no error, and straight into the app.
        await cdp.send("Page.reload", ignoreCache=True)
        await cdp.wait_until("document.readyState === 'complete' && window.xtalkDebug && "
                             "window.xtalkDebug.libraryLoads >= 1 && "
                             "!document.getElementById('app-view').hidden", 15,
                             "the page reloaded")
        assert await cdp.evaluate(PILL_SHOWN) is False
        assert console_errors(cdp) == [], console_errors(cdp)
        debug = await debug_state(cdp)
        assert debug["errors"] == [], debug["errors"]
    finally:
        await cdp.close()


async def test_expired_token_shows_sign_in_quietly(server: str, chromium, silence: Path
                                                   ) -> None:
    """A stored token the server no longer accepts: the sign-in form with a note, no 401
    in the console."""
    cdp = await open_page(chromium(silence), server, DESKTOP)
    try:
        await cdp.evaluate("sessionStorage.setItem('xtalk.token', 'not-a-valid-token')")
        await cdp.send("Page.reload", ignoreCache=True)
        await cdp.wait_until("document.readyState === 'complete' && window.xtalkDebug && "
                             "!document.getElementById('login-view').hidden && "
                             "!document.getElementById('login-error').hidden", 15,
                             "the sign-in form with a note")
        assert "expired" in await cdp.evaluate(
            "document.getElementById('login-error').textContent")
        assert await cdp.evaluate("sessionStorage.getItem('xtalk.token')") is None
        await asyncio.sleep(0.5)
        assert console_errors(cdp) == [], console_errors(cdp)
        assert await cdp.evaluate(PILL_SHOWN) is False
    finally:
        await cdp.close()


async def test_no_sign_in_without_users(chromium, silence: Path, tmp_path: Path) -> None:
    """The desktop case (loopback, no users in the store): no sign-in, straight into the
    app, and still nothing in the console."""
    server = ServerProcess(f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "server.log")
    try:
        server.wait_listening(timeout=60)
        cdp = await CDP.connect(chromium(silence))
        try:
            for domain in ("Page", "Runtime", "Log", "DOM"):
                await cdp.send(f"{domain}.enable")
            await cdp.send("Page.navigate", url=server.base + "/")
            await cdp.wait_until("document.readyState === 'complete' && window.xtalkDebug &&"
                                 " !document.getElementById('app-view').hidden && "
                                 "window.xtalkDebug.libraryLoads >= 1", 15, "the app view")
            assert await cdp.evaluate("window.xtalkDebug.authRequired") is False
            assert await cdp.evaluate("document.getElementById('login-view').hidden") is True
            assert await cdp.evaluate("document.getElementById('logout').hidden") is True
            assert await cdp.evaluate(PILL_SHOWN) is False
            await type_turn(cdp, "hello", 1)
            assert await cdp.evaluate(PILL_SHOWN) is True
            await wait_count(cdp, 2, "the conversation listed with its 2 messages")
            assert console_errors(cdp) == [], console_errors(cdp)
        finally:
            await cdp.close()
    finally:
        server.stop()


async def test_typed_turns_count_and_footer(server: str, chromium, silence: Path,
                                            tmp_path: Path) -> None:
    """Typed turns: the list's message count follows each turn, the footer shows only the
    stages a typed turn has, and they add up to its end-to-end figure; signing out right
    after a turn leaves nothing behind."""
    cdp = await open_page(chromium(silence), server, DESKTOP)
    try:
        await sign_in(cdp)
        await type_turn(cdp, "hello", 1)
        await wait_count(cdp, 2, "2 messages after the first turn")

        shown = await footer(cdp)
        assert shown["turn"] == (await debug_state(cdp))["lastMetrics"]["turn_id"]
        assert "end of speech" not in shown["text"] and "recognition" not in shown["text"]
        keys = [p["key"] for p in shown["parts"]]
        assert "endpoint_ms" not in keys and "asr_ms" not in keys, shown
        assert "llm_first_token_ms" in keys and "tts_first_chunk_ms" in keys, shown
        assert_adds_up(shown)
        assert "end-to-end" in shown["text"]

        # The second turn: the count changes without a reload, and the store agrees.
        await type_turn(cdp, "what time is it", 2)
        await wait_count(cdp, 4, "4 messages after the second turn")
        token = await cdp.evaluate("sessionStorage.getItem('xtalk.token')")
        sessions = httpx.get(server + "/api/sessions", timeout=10,
                             headers={"Authorization": f"Bearer {token}"}).json()
        assert [s["message_count"] for s in sessions] == [4], sessions
        second = await footer(cdp)
        assert second["turn"] != shown["turn"]
        assert "end of speech" not in second["text"]
        assert_adds_up(second)
        await screenshot(cdp, tmp_path / "desktop-typed-footer.png")
        debug = await debug_state(cdp)
        assert debug["errors"] == [], debug["errors"]

        # Signing out right after a turn: the list's pending refreshes do not ask the
        # server without a token, and the list is gone.
        await type_turn(cdp, "hello", 3)
        await click(cdp, "#logout")
        await cdp.wait_until("!document.getElementById('login-view').hidden", 10,
                             "the sign-in form")
        await asyncio.sleep(3.5)  # past the list's last refresh
        assert await cdp.evaluate(
            "document.querySelectorAll('#session-list .session').length") == 0
        assert await cdp.evaluate(PILL_SHOWN) is False
        assert console_errors(cdp) == [], console_errors(cdp)
        assert not console_problems(cdp), console_problems(cdp)
    finally:
        await cdp.close()


async def test_spoken_turn_footer(server: str, chromium, tmp_path: Path) -> None:
    """A spoken turn's footer has the speech stages too, and still adds up; at 390 px it
    fits the width."""
    wav = tmp_path / "hello.wav"
    write_mic_wav(wav, 1.0, "hello", 8.0)
    cdp = await open_page(chromium(wav), server, PHONE)
    try:
        await sign_in(cdp)
        await click(cdp, "#mic")
        await cdp.wait_until("window.xtalkDebug.transcripts.includes('hello') && "
                             "window.xtalkDebug.playbackFinishedSent > 0 && "
                             "!document.getElementById('metrics').hidden",
                             TURN_TIMEOUT + 10, "the spoken turn, played")
        await click(cdp, "#mic")  # before the looped recording says "hello" again
        shown = await footer(cdp)
        keys = [p["key"] for p in shown["parts"]]
        assert keys[:2] == ["endpoint_ms", "asr_ms"], shown
        assert "end of speech" in shown["text"] and "recognition" in shown["text"]
        assert_adds_up(shown)
        metrics = (await debug_state(cdp))["lastMetrics"]
        if metrics["speculation_saved_ms"] > 0:
            # prepared during the pause: its generation stages overlapped the end of
            # speech, so they are shown apart from the sum
            assert keys[2:] in ([], ["reply"]), shown
            assert "prepared while you paused: first token" in shown["text"], shown
        else:
            assert keys[2:4] == ["llm_first_token_ms", "tts_first_chunk_ms"], shown
        await wait_count(cdp, 2, "2 messages after the spoken turn")
        width = await cdp.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE[0]
        await screenshot(cdp, tmp_path / "phone-spoken-footer.png")
        assert console_errors(cdp) == [], console_errors(cdp)
    finally:
        await cdp.close()


async def test_a_slow_models_hmm_is_heard_and_shown(chromium, silence: Path,
                                                   tmp_path: Path) -> None:
    """A model slow to begin: the reply opens with the thinking cue, which the page plays
    (as audio of the turn) but does not write into the reply, and the footer says when
    it came beside the end-to-end figure, which still adds up."""
    config = tone_config(llm_agent={"type": "RuleAgent", "params": {
        "first_token_delay_s": 1.2, "default_reply": "It is ten past nine."}})
    config["service_config"]["thinking_cue"] = {"after_s": 0.1, "phrases": ["Hmm."]}
    config_path = tmp_path / "slow.json"
    config_path.write_text(json.dumps(config))
    with server_with_user(tmp_path, config=config_path) as server:
        cdp = await open_page(chromium(silence), server, DESKTOP)
        try:
            await sign_in(cdp)
            await type_turn(cdp, "what time is it", 1)
            debug = await debug_state(cdp)
            assert debug["lastMetrics"]["cue_ms"] > 0, debug["lastMetrics"]
            assert debug["chunksReceived"] >= 2  # the cue, then the words
            assert "Hmm" not in debug["replies"][-1], debug["replies"]
            shown = await footer(cdp)
            assert "“hmm” after" in shown["text"], shown
            assert "cue_ms" not in [p["key"] for p in shown["parts"]]
            assert_adds_up(shown)
            await screenshot(cdp, tmp_path / "desktop-thinking-cue.png")
            assert console_errors(cdp) == [], console_errors(cdp)
        finally:
            await cdp.close()
