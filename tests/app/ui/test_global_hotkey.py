"""Push-to-talk from any window (X11): the key is grabbed on the desktop of a private Xvfb
server and pressed there with XTest, as a user would press it while another program has
focus."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from app.ui.global_hotkey import GlobalPushToTalk, parse_shortcut


@pytest.fixture
def xvfb() -> Iterator[str]:
    if shutil.which("Xvfb") is None:
        pytest.skip("needs Xvfb (Debian: xvfb)")
    pytest.importorskip("Xlib", reason="needs python-xlib")
    from Xlib import display as xdisplay

    for number in range(120, 140):
        if not os.path.exists(f"/tmp/.X11-unix/X{number}"):
            break
    name = f":{number}"
    server = subprocess.Popen(["Xvfb", name, "-screen", "0", "640x480x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            xdisplay.Display(name).close()
            break
        except Exception:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.skip("Xvfb did not start")
            time.sleep(0.1)
    try:
        yield name
    finally:
        server.terminate()
        server.wait(10)


def press(display_name: str, key: str, down: bool) -> None:
    from Xlib import XK, X, display
    from Xlib.ext import xtest

    connection = display.Display(display_name)
    keycode = connection.keysym_to_keycode(XK.string_to_keysym(key))
    xtest.fake_input(connection, X.KeyPress if down else X.KeyRelease, keycode)
    connection.sync()
    connection.close()


def test_the_key_is_heard_while_another_program_has_focus(xvfb, qtbot) -> None:
    hotkey = GlobalPushToTalk("F9", display=xvfb)
    seen: list[bool] = []
    hotkey.changed.connect(seen.append)
    assert hotkey.start(), hotkey.error
    try:
        press(xvfb, "F9", True)
        qtbot.waitUntil(lambda: seen == [True], timeout=5000)
        press(xvfb, "F8", True)  # other keys are none of its business
        press(xvfb, "F8", False)
        press(xvfb, "F9", False)
        qtbot.waitUntil(lambda: seen == [True, False], timeout=5000)
    finally:
        hotkey.stop()
    press(xvfb, "F9", True)  # stopped: the key is free again
    press(xvfb, "F9", False)
    qtbot.wait(300)
    assert seen == [True, False]


def test_a_key_taken_by_another_program_is_reported(xvfb) -> None:
    first = GlobalPushToTalk("Ctrl+Alt+Space", display=xvfb)
    second = GlobalPushToTalk("Ctrl+Alt+Space", display=xvfb)
    assert first.start(), first.error
    try:
        assert not second.start()
        assert "already taken" in second.error
    finally:
        first.stop()
        second.stop()


def test_shortcuts_are_parsed_or_refused() -> None:
    pytest.importorskip("Xlib", reason="needs python-xlib")
    assert parse_shortcut("F9") == ("F9", [])
    assert parse_shortcut("Ctrl+Alt+Space") == ("space", ["ControlMask", "Mod1Mask"])
    assert parse_shortcut("Pause") == ("Pause", [])
    for bad in ("", "Hyper+F9", "NoSuchKey"):
        with pytest.raises(ValueError):
            parse_shortcut(bad)


def test_the_window_holds_push_to_talk_while_the_desktop_key_is_down(
        xvfb, make_window, qtbot, config_dir, monkeypatch) -> None:
    from app.settings import save_settings

    monkeypatch.setenv("DISPLAY", xvfb)
    save_settings({"global_push_to_talk": "F9", "hands_free": False})
    window = make_window()
    assert window.notices.text("push_to_talk") is None
    press(xvfb, "F9", True)
    qtbot.waitUntil(lambda: window.status.state == "hearing", timeout=5000)
    assert window.status.detail == "push-to-talk"
    press(xvfb, "F9", False)
    qtbot.waitUntil(lambda: window.status.state == "listening", timeout=10000)
    dialog = window.open_settings()
    assert dialog.global_edit.isEnabled() and dialog.global_edit.text() == "F9"
    dialog.reject()


def test_a_desktop_key_that_cannot_work_is_explained(make_window, config_dir,
                                                      monkeypatch) -> None:
    from app.settings import save_settings

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    save_settings({"global_push_to_talk": "F9"})
    window = make_window()
    assert "Wayland" in window.notices.text("push_to_talk")
    dialog = window.open_settings()
    assert not dialog.global_edit.isEnabled() and "Wayland" in dialog.global_edit.toolTip()
    dialog.reject()
