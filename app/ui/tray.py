"""The tray icon: show/hide the window, mute, quit (only where the desktop has a tray)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget


class Tray(QObject):
    """Signals: ``toggle_window()``, ``mute_toggled(bool)``, ``quit_requested()``."""

    toggle_window = Signal()
    mute_toggled = Signal(bool)
    quit_requested = Signal()

    def __init__(self, icon: QIcon, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.menu = QMenu(parent)
        self.show_action = QAction("Hide window", self.menu)
        self.show_action.triggered.connect(self.toggle_window.emit)
        self.mute_action = QAction("Mute microphone", self.menu)
        self.mute_action.setCheckable(True)
        self.mute_action.toggled.connect(self.mute_toggled.emit)
        self.quit_action = QAction("Quit Xtalk", self.menu)
        self.quit_action.triggered.connect(self.quit_requested.emit)
        self.menu.addAction(self.show_action)
        self.menu.addAction(self.mute_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.icon = QSystemTrayIcon(icon, self)
        self.icon.setToolTip("Xtalk")
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    @property
    def visible(self) -> bool:
        return self.icon.isVisible()

    def set_window_visible(self, visible: bool) -> None:
        self.show_action.setText("Hide window" if visible else "Show window")

    def set_muted(self, muted: bool) -> None:
        self.mute_action.blockSignals(True)
        self.mute_action.setChecked(muted)
        self.mute_action.blockSignals(False)

    def set_state(self, text: str) -> None:
        self.icon.setToolTip(f"Xtalk — {text}")

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger,
                      QSystemTrayIcon.ActivationReason.DoubleClick):
            self.toggle_window.emit()


__all__ = ["Tray"]
