"""Push-to-talk from any window: a key grabbed on the whole X11 desktop.

What each platform allows (also in the README, "Desktop app"):

* **X11** (and X11 sessions of every Linux desktop): the key is grabbed on the root window
  through its own X connection (python-xlib), so it works whichever window has focus; the
  key no longer reaches other programs while the app runs, so choose one nobody else
  needs (F9, Pause, Ctrl+Alt+Space).
* **Wayland**: programs cannot see keys outside their own windows by design; under
  XWayland the grab only works while an X11 window has focus. Use the in-window key.
* **Windows / macOS**: not available yet (the in-window key works).

The grab runs in a thread that waits on the X connection; key presses and releases reach
the Qt thread through the ``changed(bool)`` signal (queued).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import sys
import threading
from typing import Any

from PySide6.QtCore import QObject, Signal

logger = logging.getLogger(__name__)

MODIFIERS = {"ctrl": "ControlMask", "control": "ControlMask", "shift": "ShiftMask",
             "alt": "Mod1Mask", "super": "Mod4Mask", "meta": "Mod4Mask"}
KEY_NAMES = {"space": "space", "pause": "Pause", "scrolllock": "Scroll_Lock",
             "insert": "Insert", "menu": "Menu"}


def unavailable_reason() -> str | None:
    """Why a desktop-wide key cannot work here (``None``: it can)."""
    if not sys.platform.startswith("linux"):
        return "push-to-talk from other windows is only available on Linux (X11) so far"
    if not os.environ.get("DISPLAY"):
        if os.environ.get("WAYLAND_DISPLAY"):
            return "Wayland does not let programs see keys pressed in other windows"
        return "no X11 display"
    try:
        import Xlib  # noqa: F401
    except ImportError:
        return "python-xlib is not installed"
    return None


def parse_shortcut(text: str) -> tuple[str, list[str]]:
    """``"Ctrl+Alt+Space"`` → (keysym name ``"space"``, X modifier mask names).

    Raises:
        ValueError: Not a key X knows.
    """
    from Xlib import XK

    parts = [p.strip() for p in text.split("+") if p.strip()]
    if not parts:
        raise ValueError("no key given")
    *mods, key = parts
    masks = []
    for mod in mods:
        if mod.lower() not in MODIFIERS:
            raise ValueError(f"unknown modifier {mod!r} (Ctrl, Shift, Alt, Super)")
        masks.append(MODIFIERS[mod.lower()])
    name = KEY_NAMES.get(key.lower(), key if len(key) > 1 else key.lower())
    if XK.string_to_keysym(name) == 0:
        raise ValueError(f"{key!r} is not a key")
    return name, masks


class GlobalPushToTalk(QObject):
    """Holds ``shortcut`` grabbed on the X11 desktop while started.

    Signals: ``changed(bool)`` — the key went down (``True``) or up.
    """

    changed = Signal(bool)

    def __init__(self, shortcut: str, display: str | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.shortcut = shortcut
        self.display_name = display
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._down = False

    def start(self) -> bool:
        """Grab the key; ``False`` (and :attr:`error` says why) when that is impossible."""
        if self._thread is not None:
            return self.error is None
        reason = unavailable_reason() if self.display_name is None else None
        if reason is not None:
            self.error = reason
            return False
        self._stop.clear()
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="global-push-to-talk",
                                        daemon=True)
        self._thread.start()
        self._ready.wait(5.0)
        return self.error is None

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(2.0)

    # ------------------------------------------------------------------ the X thread
    def _run(self) -> None:
        try:
            display, root, keycode, masks = self._grab()
        except Exception as exc:  # no display, bad key, grabbed by another program
            self.error = str(exc) or type(exc).__name__
            logger.warning("push-to-talk from other windows is off: %s", self.error)
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop(display, keycode)
        finally:
            with contextlib.suppress(Exception):
                for mask in masks:
                    root.ungrab_key(keycode, mask)
                display.close()

    def _grab(self) -> tuple[Any, Any, int, list[int]]:
        from Xlib import XK, X, display, error

        name, modifier_names = parse_shortcut(self.shortcut)
        connection = display.Display(self.display_name)
        root = connection.screen().root
        keycode = connection.keysym_to_keycode(XK.string_to_keysym(name))
        if not keycode:
            connection.close()
            raise ValueError(f"no key on this keyboard makes {name!r}")
        base = 0
        for mask_name in modifier_names:
            base |= getattr(X, mask_name)
        # the same key with Caps Lock and / or Num Lock on
        masks = [base, base | X.LockMask, base | X.Mod2Mask, base | X.LockMask | X.Mod2Mask]
        failed: list[Exception] = []
        catcher = error.CatchError(error.BadAccess)
        for mask in masks:
            root.grab_key(keycode, mask, True, X.GrabModeAsync, X.GrabModeAsync,
                          onerror=catcher)
        connection.sync()
        if catcher.get_error():
            failed.append(catcher.get_error())
        if failed:
            connection.close()
            raise RuntimeError(f"{self.shortcut} is already taken by another program")
        return connection, root, keycode, masks

    def _loop(self, connection: Any, keycode: int) -> None:
        from Xlib import X

        fd = connection.fileno()
        while not self._stop.is_set():
            if not connection.pending_events():
                ready, _, _ = select.select([fd], [], [], 0.2)
                if not ready:
                    continue
            event = connection.next_event()
            if getattr(event, "detail", None) != keycode:
                continue
            if event.type == X.KeyPress and not self._down:
                self._down = True
                self.changed.emit(True)
            elif event.type == X.KeyRelease and self._down:
                if self._auto_repeat(connection, event):
                    continue
                self._down = False
                self.changed.emit(False)

    @staticmethod
    def _auto_repeat(connection: Any, release: Any) -> bool:
        """A release followed at once by a press of the same key is the key repeating."""
        from Xlib import X

        if not connection.pending_events():
            return False
        following = connection.next_event()
        if following.type == X.KeyPress and following.detail == release.detail \
                and following.time == release.time:
            return True
        connection.display.event_queue.insert(0, following)  # not ours: keep it
        return False


__all__ = ["GlobalPushToTalk", "parse_shortcut", "unavailable_reason"]
