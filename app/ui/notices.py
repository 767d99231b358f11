"""Notices: problems and hints above the conversation, one line each.

Each notice is keyed (``"input"``, ``"llm"``, ...), so a problem is replaced when it changes
and removed when it is solved; an ``info`` notice can clear itself after a while.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

LEVELS = ("error", "warning", "info")
ICONS = {"error": "⚠", "warning": "⚠", "info": "ℹ"}


class Notices(QWidget):
    """The notice lines, hidden when there are none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: dict[str, tuple[str, QFrame, QLabel]] = {}
        self._timers: dict[str, QTimer] = {}
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(16, 8, 16, 0)
        self._layout.setSpacing(6)
        self.hide()

    def set(self, key: str, level: str, text: str) -> None:
        """Show ``text`` (level ``error`` / ``warning`` / ``info``) under ``key``."""
        if key in self._rows:
            _level, frame, label = self._rows[key]
        else:
            frame = QFrame(self)
            frame.setObjectName("banner")
            label = QLabel(frame)
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
            close = QToolButton(frame)
            close.setText("✕")
            close.setAutoRaise(True)
            close.setToolTip("Dismiss")
            close.clicked.connect(lambda: self.clear(key))
            row = QHBoxLayout(frame)
            row.setContentsMargins(10, 6, 6, 6)
            row.addWidget(label, 1)
            row.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
            self._layout.addWidget(frame)
        icon = ICONS.get(level, "")
        label.setText(f"{icon}  {text}" if icon else text)
        frame.setProperty("level", level)
        frame.style().unpolish(frame)
        frame.style().polish(frame)
        self._rows[key] = (level, frame, label)
        self.show()

    def clear(self, key: str) -> None:
        row = self._rows.pop(key, None)
        if row is not None:
            self._layout.removeWidget(row[1])
            row[1].deleteLater()
        self.setVisible(bool(self._rows))

    def clear_problem(self, key: str) -> None:
        """Clear ``key`` if it shows an error or a warning (a hint stays)."""
        if self.level(key) in ("error", "warning"):
            self.clear(key)

    def clear_info_later(self, key: str, ms: int = 4000) -> None:
        """Clear ``key`` after ``ms`` if it is still a hint then."""
        timer = self._timers.get(key)
        if timer is None:
            timer = self._timers[key] = QTimer(self)
            timer.setSingleShot(True)
            timer.timeout.connect(lambda: self.clear(key) if self.level(key) == "info"
                                  else None)
        timer.start(ms)

    def stop_timers(self) -> None:
        for timer in self._timers.values():
            timer.stop()

    def level(self, key: str) -> str | None:
        row = self._rows.get(key)
        return row[0] if row is not None else None

    def text(self, key: str) -> str | None:
        row = self._rows.get(key)
        return row[2].text() if row is not None else None

    def texts(self) -> dict[str, str]:
        return {key: row[2].text() for key, row in self._rows.items()}


__all__ = ["LEVELS", "Notices"]
