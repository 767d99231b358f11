"""The browser client's Documents and Memory sections in a real headless Chromium.

The user's documents form a library (``GET /api/library``) that does not depend on the
conversation shown: a document uploaded without a conversation, or in one, stays listed
after switching conversations and after reloading the page, and is deleted from the page
(after a confirmation). Remembered facts (``GET /api/memory``) are added and deleted from
the page, and a fact the assistant was asked to remember appears after its reply. On a
phone-sized screen (390 × 844) nothing overflows horizontally, tap targets are at least
40 px and inputs use 16 px text. Screenshots go to the test's ``tmp_path``.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Iterator
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
    open_app,
    server_with_user,
)
from paths import tone_config

REPLY = "Hello! How can I help you?"
PHONE_WIDTH, PHONE_HEIGHT = 390, 844
Launch = Callable[[Path], str]  # the ``chromium`` fixture: fake microphone WAV → page URL

pytestmark = [pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM),
              pytest.mark.timeout(150)]


@pytest.fixture
def offline_server(tmp_path: Path) -> Iterator[str]:
    """The offline agent: it keeps "remember that …" in the user's memory."""
    config = tmp_path / "offline_config.json"
    config.write_text(json.dumps(tone_config(llm_agent="OfflineAgent")))
    with server_with_user(tmp_path, config) as base:
        yield base


# --------------------------------------------------------------------------- helpers
async def api(cdp: CDP, server: str, path: str) -> Any:
    """``GET path`` with the page's own token."""
    token = await cdp.evaluate("sessionStorage.getItem('xtalk.token')")
    response = httpx.get(server + path, headers={"Authorization": f"Bearer {token}"},
                         timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


async def upload(cdp: CDP, path: Path) -> None:
    """Choose ``path`` in the page's file input."""
    root = await cdp.send("DOM.getDocument")
    node = await cdp.send("DOM.querySelector", nodeId=root["root"]["nodeId"],
                          selector="#upload-input")
    await cdp.send("DOM.setFileInputFiles", files=[str(path)], nodeId=node["nodeId"])


async def texts(cdp: CDP, selector: str) -> list[str]:
    return await cdp.evaluate(
        f"[...document.querySelectorAll({json.dumps(selector)})].map(e => e.textContent)")


def compact(value: Any) -> str:
    """``value`` as the page's ``JSON.stringify`` writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def wait_documents(cdp: CDP, names: list[str], what: str) -> None:
    """Wait until Documents lists exactly ``names`` (newest first), nothing uploading."""
    await cdp.wait_until(
        "JSON.stringify([...document.querySelectorAll('#document-list li.document "
        f".item-title')].map(e => e.textContent)) === {json.dumps(compact(names))}"
        " && !document.querySelector('#document-list li.pending')", 15, what)


async def wait_facts(cdp: CDP, facts: list[str], what: str) -> None:
    await cdp.wait_until(
        "JSON.stringify([...document.querySelectorAll('#memory-list .item-text')]"
        f".map(e => e.textContent)) === {json.dumps(compact(facts))}", 15, what)


async def say_by_typing(cdp: CDP, text: str, replies: int) -> None:
    """Type ``text`` and wait for the page's ``replies``-th reply."""
    await cdp.evaluate(f"document.getElementById('text-input').value = {json.dumps(text)}")
    await click(cdp, "#text-form button")
    await cdp.wait_until(f"window.xtalkDebug.replies.length >= {replies}", 15,
                         f"the reply to {text!r}")


async def click_with_dialog(cdp: CDP, selector: str, *, accept: bool) -> str:
    """Click ``selector``, answer the confirmation it opens; returns the question."""
    seen = len(cdp.events)
    # Clicked from a timer: Runtime.evaluate would wait for the open dialog.
    await cdp.evaluate(f"setTimeout(() => document.querySelector({json.dumps(selector)})"
                       ".click(), 0)", gesture=True)
    for _ in range(100):
        opened = [e for e in cdp.events[seen:]
                  if e["method"] == "Page.javascriptDialogOpening"]
        if opened:
            assert opened[0]["params"]["type"] == "confirm"
            await cdp.send("Page.handleJavaScriptDialog", accept=accept)
            return opened[0]["params"]["message"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"clicking {selector} opened no confirmation")


async def screenshot(cdp: CDP, path: Path) -> None:
    await asyncio.sleep(0.3)  # let the page settle
    shot = await cdp.send("Page.captureScreenshot", format="png")
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG")
    path.write_bytes(png)


async def assert_clean(cdp: CDP) -> None:
    debug = await debug_state(cdp)
    assert debug["errors"] == [], debug["errors"]
    assert not console_problems(cdp), console_problems(cdp)


# Elements wider than the viewport, boxes that scroll sideways...
OVERFLOW = """(() => {
  const width = window.innerWidth;
  const wide = [...document.querySelectorAll('body *')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && (r.right > width + 0.5 || r.left < -0.5)
      && !e.closest('.sr-only');
  }).map(e => `${e.tagName}#${e.id}.${e.className} ${e.getBoundingClientRect().right}`);
  const boxes = ['.topbar', '.sidebar', '#transcript', '.controls', '.login-card'].map(
    s => document.querySelector(s)).filter(e => e && e.getClientRects().length);
  const scrollers = boxes.filter(e => e.scrollWidth > e.clientWidth + 0.5)
    .map(e => e.className);
  // ...nor into a box's padding (overflow that no scroll width shows)
  const escaping = boxes.flatMap(box => {
    const r = box.getBoundingClientRect(), style = getComputedStyle(box);
    const left = r.left + box.clientLeft + parseFloat(style.paddingLeft);
    const right = r.left + box.clientLeft + box.clientWidth - parseFloat(style.paddingRight);
    return [...box.querySelectorAll('*')].filter(e => {
      const b = e.getBoundingClientRect();
      return b.width > 0 && b.height > 0 && !e.closest('.sr-only')
        && (b.left < left - 0.5 || b.right > right + 0.5);
    }).map(e => `${box.className} > ${e.tagName}.${e.className} ${Math.round(
      e.getBoundingClientRect().left)}-${Math.round(e.getBoundingClientRect().right)}`);
  });
  return {scrollWidth: document.documentElement.scrollWidth,
          bodyScrollWidth: document.body.scrollWidth, wide, scrollers, escaping};
})()"""

# Visible controls smaller than 40 × 40 px, and inputs with text under 16 px.
SMALL_TARGETS = """(() => {
  const visible = e => { const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && !e.closest('.sr-only'); };
  const small = [...document.querySelectorAll(
      'button, a[href], summary, .file-label, input:not([type=file])')]
    .filter(visible).filter(e => { const r = e.getBoundingClientRect();
      return r.width < 40 || r.height < 40; })
    .map(e => `${e.tagName}#${e.id}.${e.className} ${Math.round(
      e.getBoundingClientRect().width)}x${Math.round(e.getBoundingClientRect().height)}`);
  const tinyText = [...document.querySelectorAll('input:not([type=file])')]
    .filter(e => parseFloat(getComputedStyle(e).fontSize) < 16).map(e => e.id);
  return {small, tinyText};
})()"""


async def check_layout(cdp: CDP, width: int, what: str) -> None:
    """Nothing wider than the ``width`` px viewport or out of its box; tap targets and
    input text large enough."""
    assert await cdp.evaluate("window.innerWidth") == width
    layout = await cdp.evaluate(OVERFLOW)
    assert layout["scrollWidth"] <= width, (what, layout)
    assert layout["bodyScrollWidth"] <= width, (what, layout)
    assert layout["wide"] == layout["scrollers"] == layout["escaping"] == [], (what, layout)
    targets = await cdp.evaluate(SMALL_TARGETS)
    assert targets == {"small": [], "tinyText": []}, (what, targets)


# --------------------------------------------------------------------------- documents
async def test_documents_library(server: str, chromium: Launch, silence: Path,
                                 tmp_path: Path) -> None:
    """Uploads without and within a conversation are listed whatever the conversation
    shown and after a reload; deleting one (confirmed) removes it from the library."""
    cdp = await open_app(chromium(silence), server)
    try:
        await cdp.wait_until("window.xtalkDebug.libraryLoads >= 1 && "
                             "!document.getElementById('document-empty').hidden", 10,
                             "the empty library")

        # No conversation yet: the upload does not need one (and opens none).
        notes = tmp_path / "notes.md"
        notes.write_text("# Notes\n\nThe spare key is under the blue flower pot.\n")
        await upload(cdp, notes)
        await wait_documents(cdp, ["notes.md"], "the document listed")
        assert await cdp.evaluate("window.xtalkDebug.connected") is False
        meta = await texts(cdp, "#document-list .item-meta")
        assert meta[0].startswith(f"{len(notes.read_text())} characters · "), meta
        assert await cdp.evaluate(
            "document.getElementById('document-empty').hidden") is True
        assert await cdp.evaluate(
            "document.getElementById('document-count').textContent") == "1"
        library = await api(cdp, server, "/api/library")
        assert [(d["name"], d["session_id"]) for d in library] == [("notes.md", None)]

        # In a conversation: the upload names it.
        await say_by_typing(cdp, "hello", 1)
        first_session = await cdp.evaluate("window.xtalkDebug.sessionId")
        recipes = tmp_path / "recipes.txt"
        recipes.write_text("Pancakes: flour, milk, eggs and a pinch of salt.\n" * 40)
        await upload(cdp, recipes)
        await wait_documents(cdp, ["recipes.txt", "notes.md"], "both documents")
        library = await api(cdp, server, "/api/library")
        assert {d["name"]: d["session_id"] for d in library} == {
            "notes.md": None, "recipes.txt": first_session}
        size = f"{len(recipes.read_text()) / 1000:.1f}k characters"  # 1.96k
        assert (await texts(cdp, "#document-list .item-meta"))[0].startswith(size)

        # Another conversation, then back: the list does not change.
        await click(cdp, "#new-session")
        await cdp.wait_until("document.querySelectorAll('#transcript .message').length === 0"
                             " && !window.xtalkDebug.connected", 10, "a new conversation")
        await wait_documents(cdp, ["recipes.txt", "notes.md"], "documents kept (new)")
        await say_by_typing(cdp, "hello again", 2)
        assert await cdp.evaluate("window.xtalkDebug.sessionId") != first_session
        await cdp.wait_until("document.querySelectorAll('#session-list .session').length"
                             " === 2", 10, "two conversations listed")
        await click(cdp, "#session-list .session:not(.active)")
        await cdp.wait_until(
            f"window.xtalkDebug.sessionId === {json.dumps(first_session)} && "
            "document.querySelectorAll('#transcript .message.history').length === 2", 10,
            "the first conversation reopened")
        await wait_documents(cdp, ["recipes.txt", "notes.md"], "documents kept (reopened)")
        await check_layout(cdp, 1280, "desktop")
        await screenshot(cdp, tmp_path / "library-desktop.png")

        # A reload (the token stays in the tab's session storage).
        await cdp.send("Page.reload", ignoreCache=True)
        await cdp.wait_until("document.readyState === 'complete' && window.xtalkDebug && "
                             "window.xtalkDebug.libraryLoads >= 1 && "
                             "!document.getElementById('app-view').hidden", 15,
                             "the page reloaded")
        await wait_documents(cdp, ["recipes.txt", "notes.md"], "documents after a reload")

        # Deleting asks first; cancelled, nothing changes.
        delete_notes = "#document-list li.document:nth-child(2) .icon-button"
        assert await cdp.evaluate(
            f"document.querySelector({json.dumps(delete_notes)})"
            ".getAttribute('aria-label')") == "Delete notes.md"
        question = await click_with_dialog(cdp, delete_notes, accept=False)
        assert "notes.md" in question
        await asyncio.sleep(0.5)
        await wait_documents(cdp, ["recipes.txt", "notes.md"], "nothing deleted")
        assert len(await api(cdp, server, "/api/library")) == 2

        await click_with_dialog(cdp, delete_notes, accept=True)
        await wait_documents(cdp, ["recipes.txt"], "notes.md deleted")
        assert [d["name"] for d in await api(cdp, server, "/api/library")] == [
            "recipes.txt"]
        await cdp.wait_until("document.getElementById('sidebar-status').textContent"
                             " === 'notes.md deleted.'", 5, "the deletion announced")
        await click_with_dialog(cdp, "#document-list li.document .icon-button", accept=True)
        await wait_documents(cdp, [], "every document deleted")
        assert await api(cdp, server, "/api/library") == []
        assert await cdp.evaluate(
            "document.getElementById('document-empty').hidden") is False
        assert await cdp.evaluate(
            "document.getElementById('document-count').textContent") == ""
        await assert_clean(cdp)
    finally:
        await cdp.close()


# --------------------------------------------------------------------------- memory
async def test_memory_facts(offline_server: str, chromium: Launch, silence: Path,
                            tmp_path: Path) -> None:
    """A fact added in the page is stored; one the assistant was told to remember shows up
    after its reply; deleting one forgets it."""
    server = offline_server
    cdp = await open_app(chromium(silence), server)
    try:
        await cdp.wait_until("window.xtalkDebug.memoryLoads >= 1 && "
                             "!document.getElementById('memory-empty').hidden", 10,
                             "the empty memory")
        await cdp.evaluate("document.getElementById('memory-input').value ="
                           " 'my sister is called Ana'")
        await click(cdp, "#memory-form button")
        await wait_facts(cdp, ["My sister is called Ana."], "the added fact")
        assert await cdp.evaluate("document.getElementById('memory-input').value") == ""
        assert [f["text"] for f in await api(cdp, server, "/api/memory")] == [
            "My sister is called Ana."]

        # Told by voice (typed here): listed once the reply is there, without a reload.
        await say_by_typing(cdp, "remember that my locker number is 42", 1)
        reply = (await debug_state(cdp))["replies"][0]
        assert reply.startswith("Okay, I'll remember that."), reply
        await wait_facts(cdp, ["My sister is called Ana.", "My locker number is 42."],
                         "the fact remembered by the assistant")
        assert await cdp.evaluate(
            "document.getElementById('memory-count').textContent") == "2"
        await screenshot(cdp, tmp_path / "memory-desktop.png")

        label = await cdp.evaluate("document.querySelector('#memory-list .icon-button')"
                                   ".getAttribute('aria-label')")
        assert label == "Forget: My sister is called Ana."
        await click(cdp, "#memory-list .icon-button")
        await wait_facts(cdp, ["My locker number is 42."], "the fact deleted")
        assert [f["text"] for f in await api(cdp, server, "/api/memory")] == [
            "My locker number is 42."]
        # The keyboard focus stays in the list (on the next fact's button).
        assert await cdp.evaluate(
            "document.activeElement.getAttribute('aria-label')") == (
            "Forget: My locker number is 42.")
        await click(cdp, "#memory-list .icon-button")
        await wait_facts(cdp, [], "no facts left")
        assert await api(cdp, server, "/api/memory") == []
        assert await cdp.evaluate(
            "document.getElementById('memory-empty').hidden") is False
        await assert_clean(cdp)
    finally:
        await cdp.close()


# --------------------------------------------------------------------------- phone
async def sections_open(cdp: CDP) -> dict[str, bool]:
    return await cdp.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.sidebar .section')].map(s =>"
        " [s.dataset.section, s.querySelector('.section-toggle')"
        ".getAttribute('aria-expanded') === 'true'"
        " && !s.querySelector('.section-body').hidden]))")


async def test_phone_layout(server: str, chromium: Launch, silence: Path,
                            tmp_path: Path) -> None:
    """At 390 × 844: the login and the app fit the width (long names included), the
    Documents and Memory sections start collapsed and open on a tap (kept over a reload),
    tap targets are at least 40 px and inputs use 16 px text."""
    cdp = await CDP.connect(chromium(silence))
    try:
        for domain in ("Page", "Runtime", "Log", "DOM"):
            await cdp.send(f"{domain}.enable")
        await cdp.send("Emulation.setDeviceMetricsOverride", width=PHONE_WIDTH,
                       height=PHONE_HEIGHT, deviceScaleFactor=2, mobile=True)
        await cdp.send("Emulation.setTouchEmulationEnabled", enabled=True)
        await cdp.send("Page.navigate", url=server + "/")
        await cdp.wait_until("document.readyState === 'complete' && "
                             "!document.getElementById('login-view').hidden", 15,
                             "the login form")
        assert await cdp.evaluate("window.innerWidth") == PHONE_WIDTH
        await check_layout(cdp, PHONE_WIDTH, "login")
        await screenshot(cdp, tmp_path / "phone-login.png")

        await fill_login(cdp, USERNAME, PASSWORD)
        await cdp.wait_until("!document.getElementById('app-view').hidden && "
                             "window.xtalkDebug.libraryLoads >= 1 && "
                             "window.xtalkDebug.memoryLoads >= 1", 10, "the app view")
        assert await sections_open(cdp) == {
            "conversations": True, "documents": False, "memory": False}
        await click(cdp, '[aria-controls="documents-body"]')
        await click(cdp, '[aria-controls="memory-body"]')
        assert await sections_open(cdp) == {
            "conversations": True, "documents": True, "memory": True}

        long_name = "quarterly-household-budget-and-maintenance-schedule-2025-final.md"
        doc = tmp_path / long_name
        doc.write_text("The boiler is serviced every October by the same engineer.\n")
        await upload(cdp, doc)
        await wait_documents(cdp, [long_name], "the document with a long name")
        await cdp.evaluate("document.getElementById('memory-input').value = "
                           "'My favourite word is Donaudampfschifffahrtsgesellschafts"
                           "kapitänsmützenabzeichenherstellungsfabrik'")
        await click(cdp, "#memory-form button")
        await cdp.wait_until("document.querySelectorAll('#memory-list .item').length === 1",
                             10, "the long fact")
        await say_by_typing(cdp, "hello", 1)
        await cdp.wait_until("document.querySelectorAll('#session-list .session').length"
                             " === 1", 10, "the conversation listed")
        await check_layout(cdp, PHONE_WIDTH, "app")
        await screenshot(cdp, tmp_path / "phone-app.png")
        await cdp.evaluate("document.querySelector('.sidebar').scrollTop = 1e6")
        await screenshot(cdp, tmp_path / "phone-app-sidebar-end.png")

        # Closed sections stay closed over a reload.
        await click(cdp, '[aria-controls="conversations-body"]')
        await cdp.send("Page.reload", ignoreCache=True)
        await cdp.wait_until("document.readyState === 'complete' && window.xtalkDebug && "
                             "window.xtalkDebug.libraryLoads >= 1 && "
                             "!document.getElementById('app-view').hidden", 15,
                             "the page reloaded")
        assert await sections_open(cdp) == {
            "conversations": False, "documents": True, "memory": True}
        await check_layout(cdp, PHONE_WIDTH, "reloaded")
        await screenshot(cdp, tmp_path / "phone-reloaded.png")
        await assert_clean(cdp)
    finally:
        await cdp.close()
