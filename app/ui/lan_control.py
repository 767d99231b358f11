"""LAN access from the window: start / stop it, new pairing codes, and what the user sees
(the header badge, the settings dialog's LAN tab, a notice when it cannot start)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QPushButton

from app.ui.notices import Notices

if TYPE_CHECKING:
    from app.engine import EngineHost
    from app.ui.settings_dialog import SettingsDialog


class LanControl:
    """Drives the engine's LAN server for the window.

    Args:
        badge: The header badge showing the address while LAN access is on.
        host: The address LAN mode binds to.
        engine: The running engine (``None`` while it loads or restarts).
        dialog: The open settings dialog, if any.
    """

    def __init__(self, *, badge: QPushButton, notices: Notices, host: str, has_store: bool,
                 engine: Callable[[], EngineHost | None],
                 dialog: Callable[[], SettingsDialog | None]) -> None:
        self.badge = badge
        self.notices = notices
        self.host = host
        self.has_store = has_store
        self._engine = engine
        self._dialog = dialog
        self.code: str | None = None

    @property
    def url(self) -> str | None:
        engine = self._engine()
        return engine.lan_url if engine is not None else None

    async def start(self, engine_ready: bool) -> str | None:
        """Start serving; returns why it did not (shown too), ``None`` when it runs."""
        engine = self._engine()
        error = None
        if not self.has_store:
            error = "LAN access needs the conversation store."
        elif engine is None or not engine_ready:
            error = "The engine is still loading; LAN access starts when it is ready."
        elif engine.lan_url is None:
            try:
                _url, self.code = await engine.start_lan_server(self.host, 0)
            except Exception as exc:
                error = f"LAN access could not start: {exc}"
        self.show(error)
        return error

    async def stop(self) -> None:
        engine = self._engine()
        if engine is not None:
            await engine.stop_lan_server()
        self.forget()

    def forget(self) -> None:
        """The server is gone (stopped, or the engine restarts)."""
        self.code = None
        self.show(None)

    async def new_code(self) -> None:
        engine = self._engine()
        if engine is None or engine.lan_url is None:
            return
        self.code = await engine.new_pairing_code()
        self.show(None)

    def fill(self, dialog: SettingsDialog) -> None:
        """Put the LAN state into a newly opened settings dialog."""
        dialog.set_lan_enabled(self.url is not None)
        dialog.set_lan_info(self.url, self.code)

    def show(self, error: str | None) -> None:
        url = self.url
        if url:
            self.badge.setText(f"● LAN  {url.removeprefix('http://').rstrip('/')}")
            self.badge.show()
        else:
            self.badge.hide()
        dialog = self._dialog()
        if dialog is not None:
            dialog.set_lan_info(url, self.code, error)
        if error:
            self.notices.set("lan", "warning", error)
        else:
            self.notices.clear("lan")


__all__ = ["LanControl"]

