"""Fixtures of the desktop app's GUI tests (pytest-qt, offscreen).

The GUI tests are synchronous: the qasync loop wraps the QApplication that pytest-qt made
(``already_running=True``), so asyncio tasks run whenever Qt processes events, e.g. in
``qtbot.waitUntil``. (Async tests must never call ``qtbot.waitUntil``: it hangs.)
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from paths import tone_config

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest


@pytest.fixture(scope="session")
def _session_qloop(qapp):
    """One qasync loop for the whole run: a closed loop's Qt timers outlive it, and if
    the garbage collector then frees the loop on another thread, Qt crashes later."""
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.events._set_running_loop(None)
    yield loop
    # at the end, here on the main thread: stop the executor's QThreads (not loop.stop(),
    # which calls QApplication.exit())
    loop._QEventLoop__is_running = False
    loop.close()


@pytest.fixture
def qloop(_session_qloop):
    """The qasync loop, running (for asyncio) while the test runs; set aside afterwards
    so that other tests can run their own loops."""
    asyncio.set_event_loop(_session_qloop)
    asyncio.events._set_running_loop(_session_qloop)
    try:
        yield _session_qloop
    finally:
        asyncio.events._set_running_loop(None)
        asyncio.set_event_loop(None)


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private settings folder (``XTALK_CONFIG_DIR``)."""
    folder = tmp_path / "config"
    monkeypatch.setenv("XTALK_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def gui_store(tmp_path: Path):
    """A temporary conversation store (fast password hashing)."""
    from argon2 import PasswordHasher

    from xtalk.store import Store, sqlite_url

    store = Store.open(sqlite_url(tmp_path / "xtalk.db"),
                       password_hasher=PasswordHasher(time_cost=1, memory_cost=8,
                                                      parallelism=1))
    yield store
    store.close()


@pytest.fixture
def make_window(qloop, qtbot, config_dir):
    """``make_window(**kwargs)`` → a started, shown :class:`MainWindow` (tone-code models,
    virtual audio unless asked otherwise); every window is shut down after the test."""
    from app.ui.main_window import MainWindow

    windows: list[MainWindow] = []

    def make(config: dict[str, Any] | None = None, *, wait_ready: bool = True,
             **kwargs: Any) -> MainWindow:
        kwargs.setdefault("audio", "virtual")
        kwargs.setdefault("use_tray", False)
        window = MainWindow(config or tone_config(), **kwargs)
        windows.append(window)
        window.show()
        window.start()
        if wait_ready:
            qtbot.waitUntil(lambda: window.ready and window.status.state == "listening",
                            timeout=30000)
        return window

    yield make
    for window in windows:
        done = asyncio.ensure_future(window.shutdown())
        qtbot.waitUntil(done.done, timeout=30000)
        done.result()
        window.deleteLater()


@pytest.fixture
def pulse(tmp_path: Path):
    """A private PulseAudio server with PortAudio bound to its devices (tests/support/pulse.py);
    the test is skipped when pulseaudio cannot start here."""
    from pulse import PrivatePulse, PulseUnavailable, portaudio_on

    from app.audio.devices import audio_unavailable_reason

    if audio_unavailable_reason():
        pytest.skip("needs the PortAudio library (libportaudio2)")
    server = PrivatePulse(tmp_path / "pulse")
    try:
        server.start()
    except PulseUnavailable as exc:
        pytest.skip(f"PulseAudio cannot start here: {exc}")
    with portaudio_on(server):
        yield server
