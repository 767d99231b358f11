"""The state indicator (listening / hearing you / thinking / speaking / muted / error) and
the microphone level meter."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QWidget

# state -> (label shown, colour)
STATE_LOOK: dict[str, tuple[str, str]] = {
    "loading": ("Loading…", "#8a8f98"),
    "listening": ("Listening", "#2e9d5b"),
    "hearing": ("Hearing you", "#1f7ae0"),
    "thinking": ("Thinking…", "#c98a06"),
    "speaking": ("Speaking", "#7b4fd6"),
    "muted": ("Muted", "#6b7079"),
    "waiting": ("Waiting for the wake word", "#4d8f7a"),
    "typing": ("Type to talk (no microphone)", "#8a8f98"),
    "error": ("Error", "#d23c3c"),
}


class StateDot(QWidget):
    """A filled circle in the state's colour; pulses while hearing/speaking."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.color = QColor(STATE_LOOK["loading"][1])
        self.pulse = False
        self._phase = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(60)
        self._timer.timeout.connect(self._tick)
        self.setFixedSize(18, 18)

    def set_look(self, color: str, pulse: bool) -> None:
        self.color = QColor(color)
        self.pulse = pulse
        if pulse and not self._timer.isActive():
            self._timer.start()
        elif not pulse:
            self._timer.stop()
            self._phase = 0.0
        self.update()

    def _tick(self) -> None:
        self._phase = (self._phase + 0.12) % (2 * math.pi)
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(2, 2, -2, -2)
        if self.pulse:
            halo = QColor(self.color)
            halo.setAlphaF(0.25 + 0.2 * math.sin(self._phase))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(halo)
            p.drawEllipse(QRectF(self.rect()))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(self.color)
        p.drawEllipse(r.adjusted(2, 2, -2, -2))


class StatusIndicator(QWidget):
    """Shows the engine state with a coloured dot, a label and a detail line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = "loading"
        self.detail = ""
        self.hearing_possible = True
        self.dot = StateDot(self)
        self.label = QLabel(STATE_LOOK["loading"][0], self)
        self.label.setObjectName("stateLabel")
        font = self.label.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.label.setFont(font)
        self.detail_label = QLabel("", self)
        self.detail_label.setObjectName("stateDetail")
        self.detail_label.setSizePolicy(QSizePolicy.Policy.Ignored,
                                        QSizePolicy.Policy.Preferred)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.dot)
        layout.addWidget(self.label)
        layout.addWidget(self.detail_label, 1)
        self.set_state("loading", "")

    @property
    def text(self) -> str:
        return self.label.text()

    def set_hearing(self, possible: bool) -> None:
        """Whether a microphone is there: without one, "listening" reads "Type to talk"."""
        self.hearing_possible = possible
        self.set_state(self.state, self.detail)

    def set_state(self, state: str, detail: str = "") -> None:
        look = state
        if state in ("listening", "waiting") and not self.hearing_possible:
            look = "typing"
        text, color = STATE_LOOK.get(look, (state.capitalize(), "#8a8f98"))
        self.state = state
        self.detail = detail or ""
        self.label.setText(text)
        self.label.setStyleSheet(f"color: {color};")
        shown = self.detail if state in ("error", "loading", "muted", "waiting") or \
            self.detail == "push-to-talk" else ""
        self.detail_label.setText(shown)
        self.detail_label.setToolTip(self.detail)
        self.dot.set_look(color, state in ("hearing", "speaking"))


class LevelMeter(QWidget):
    """A horizontal microphone level bar (0..1) with a slow-falling peak mark."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.level = 0.0
        self.peak = 0.0
        self.active = True
        self.setMinimumSize(80, 10)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Microphone level")

    def sizeHint(self) -> QSize:
        return QSize(160, 10)

    def set_level(self, level: float) -> None:
        level = 0.0 if level != level else min(1.0, max(0.0, float(level)))
        # fast attack, slower release: readable without flicker
        self.level = level if level > self.level else self.level * 0.7 + level * 0.3
        self.peak = max(level, self.peak - 0.01)
        self.update()

    def set_active(self, active: bool) -> None:
        self.active = bool(active)
        if not active:
            self.level = self.peak = 0.0
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        p.setPen(QPen(QColor("#c9ced6"), 1))
        p.setBrush(QColor("#eef0f3"))
        p.drawRoundedRect(r, 4, 4)
        if not self.active:
            return
        width = (r.width() - 2) * self.level
        if width > 0.5:
            grad = QLinearGradient(r.left(), 0, r.right(), 0)
            grad.setColorAt(0.0, QColor("#4cc27a"))
            grad.setColorAt(0.75, QColor("#e0b325"))
            grad.setColorAt(1.0, QColor("#e0523a"))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(grad)
            p.drawRoundedRect(QRectF(r.left() + 1, r.top() + 1, width, r.height() - 2), 3, 3)
        if self.peak > 0.01:
            x = r.left() + 1 + (r.width() - 2) * self.peak
            p.setPen(QPen(QColor("#555a63"), 1.5))
            p.drawLine(int(x), int(r.top() + 2), int(x), int(r.bottom() - 2))
