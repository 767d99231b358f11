"""``xtalk-app`` with a window: the Qt application, the qasync loop and a clean quit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.ui.main_window import MainWindow
from app.ui.theme import app_icon

logger = logging.getLogger(__name__)


def open_store() -> Any:
    """The store the server uses by default (``XTALK_DATABASE_URL``, else SQLite in the
    user data folder); ``None`` (with a warning) when it cannot be opened."""
    from xtalk.store import Store, database_url_from_env

    try:
        return Store.open(database_url_from_env())
    except Exception as exc:
        logger.warning("conversation history is unavailable: %s", exc)
        return None


def run_gui(args: Any) -> int:
    """Run the window until the user quits (``args.engine_config``: the configuration;
    ``args.config``: set when it was given explicitly, so settings are not merged)."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    import qasync  # after PySide6 (qasync uses the binding already imported)

    assert isinstance(app, QApplication)
    app.setApplicationName("Xtalk")
    app.setDesktopFileName("xtalk")
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)
    explicit = getattr(args, "config", None) is not None
    base = dict(args.engine_config)
    store = open_store()

    async def main() -> int:
        window = MainWindow(base, store=store, merge_settings=not explicit)
        done = asyncio.Event()
        window.quit_requested.connect(done.set)
        app.aboutToQuit.connect(done.set)
        for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl+C / kill: quit cleanly
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, lambda *_: window.request_quit())
        # Python runs signal handlers only between bytecodes: a timer keeps it looking
        wake = QTimer(window)
        wake.timeout.connect(lambda: None)
        wake.start(250)
        window.show()
        window.start()
        await done.wait()
        await window.shutdown()
        return 0

    try:
        return int(qasync.run(main()) or 0)
    except KeyboardInterrupt:
        return 130
    finally:
        if store is not None:
            store.close()


__all__ = ["open_store", "run_gui"]
