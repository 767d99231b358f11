"""The tray icon: show/hide the window, mute, memory and documents, quit (only where the
desktop has a tray).

The icon carries a dot in the colour of the state the window shows (listening, waiting for
the wake word, hearing, muted ...), so the state is visible with the window hidden."""

from __future__ import annotations

from PySide6.QtCore import QObject, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget


class Tray(QObject):
    """Signals: ``toggle_window()``, ``mute_toggled(bool)``, ``knowledge_requested()``,
    ``quit_requested()``."""

    toggle_window = Signal()
    mute_toggled = Signal(bool)
    knowledge_requested = Signal()
    quit_requested = Signal()

    def __init__(self, icon: QIcon, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.base_icon = icon
        self.menu = QMenu(parent)
        self.show_action = QAction("Hide window", self.menu)
        self.show_action.triggered.connect(self.toggle_window.emit)
        self.mute_action = QAction("Mute microphone", self.menu)
        self.mute_action.setCheckable(True)
        self.mute_action.toggled.connect(self.mute_toggled.emit)
        self.knowledge_action = QAction("Memory and documents…", self.menu)
        self.knowledge_action.triggered.connect(self.knowledge_requested.emit)
        self.quit_action = QAction("Quit Xtalk", self.menu)
        self.quit_action.triggered.connect(self.quit_requested.emit)
        self.menu.addAction(self.show_action)
        self.menu.addAction(self.mute_action)
        self.menu.addAction(self.knowledge_action)
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

    def set_state(self, text: str, color: str | None = None) -> None:
        """Show the state: ``text`` in the tooltip, ``color`` as a dot on the icon."""
        self.icon.setToolTip(f"Xtalk — {text}")
        self.icon.setIcon(self.base_icon if color is None else state_icon(self.base_icon, color))

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger,
                      QSystemTrayIcon.ActivationReason.DoubleClick):
            self.toggle_window.emit()


ICON_SIZE = 64


def state_icon(base: QIcon, color: str) -> QIcon:
    """``base`` with a dot of ``color`` in its lower right corner."""
    pixmap = QPixmap(ICON_SIZE, ICON_SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    base.paint(painter, 0, 0, ICON_SIZE, ICON_SIZE)
    dot = QRectF(ICON_SIZE * 0.55, ICON_SIZE * 0.55, ICON_SIZE * 0.42, ICON_SIZE * 0.42)
    painter.setPen(QColor("white"))
    painter.setBrush(QColor(color))
    painter.drawEllipse(dot)
    painter.end()
    return QIcon(pixmap)


__all__ = ["Tray", "state_icon"]
