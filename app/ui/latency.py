"""Per-turn latency: the last turn's breakdown (end of speech → transcript → first token →
first audio, and what preparing the reply while the user paused saved) and a small
stacked-bar chart over the session (QPainter, no plotting library). A reply prepared
early starts its stages before the end of speech, so its bar is taller than its total."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

# (key in latency_metrics, label, colour): the stages of one turn, in order
STAGES: tuple[tuple[str, str, str], ...] = (
    ("endpoint_ms", "End of speech", "#9aa5b1"),
    ("asr_ms", "Transcript", "#1f7ae0"),
    ("llm_first_token_ms", "First token", "#c98a06"),
    ("tts_first_chunk_ms", "First audio", "#7b4fd6"),
)
MAX_BARS = 30
#: how much sooner the reply was ready because it was prepared while the user paused
SAVED_KEY = "speculation_saved_ms"
#: end of speech → the "Hmm." that opened a reply the language model was slow to begin
CUE_KEY = "cue_ms"
CUE_COLOR = "#4a3f00"


def _ms(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def format_ms(value: Any) -> str:
    ms = _ms(value)
    if ms is None:
        return "—"
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"


def is_typed(metrics: dict[str, Any]) -> bool:
    """A typed turn: no speech to detect or transcribe (both stages are 0)."""
    return not (_ms(metrics.get("endpoint_ms")) or _ms(metrics.get("asr_ms")))


def stage_text(metrics: dict[str, Any], key: str) -> str:
    """What the panel shows for one stage (``typed`` for the speech stages of a typed
    turn; ``—`` for a reply not prepared early)."""
    if key in ("endpoint_ms", "asr_ms") and is_typed(metrics):
        return "typed"
    if key in (SAVED_KEY, CUE_KEY) and not _ms(metrics.get(key)):
        return "—"
    return format_ms(metrics.get(key))


class LatencyChart(QWidget):
    """Stacked bars, one per turn (the stages' times); the e2e time as a dot."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history: list[dict[str, Any]] = []
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("Latency per turn: stacked stages; the dot is end of speech → "
                        "the reply's first words, the tick a “Hmm” heard before them")

    def sizeHint(self) -> QSize:
        return QSize(240, 120)

    def set_history(self, history: list[dict[str, Any]]) -> None:
        self.history = list(history)[-MAX_BARS:]
        self.update()

    def _total(self, metrics: dict[str, Any]) -> float:
        parts = sum(_ms(metrics.get(key)) or 0.0 for key, _label, _color in STAGES)
        return max(parts, _ms(metrics.get("e2e_ms")) or 0.0)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = QRectF(self.rect()).adjusted(46, 6, -6, -16)
        p.setPen(QPen(QColor("#d5d9df"), 1))
        p.drawLine(area.bottomLeft(), area.bottomRight())
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, small.pointSizeF() * 0.8))
        p.setFont(small)
        if not self.history:
            p.setPen(QColor("#8a8f98"))
            p.drawText(area, Qt.AlignmentFlag.AlignCenter, "No turns yet")
            return
        top = max(self._total(m) for m in self.history) or 1.0
        scale = _nice(top)
        # grid: 0, half, full
        for frac in (0.5, 1.0):
            y = area.bottom() - area.height() * frac
            p.setPen(QPen(QColor("#eceef1"), 1, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            p.setPen(QColor("#8a8f98"))
            p.drawText(QRectF(0, y - 7, 42, 14),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       format_ms(scale * frac).replace(" ", ""))
        n = len(self.history)
        slot = area.width() / max(n, 6)
        bar = max(3.0, min(22.0, slot * 0.62))
        for i, metrics in enumerate(self.history):
            x = area.left() + slot * i + (slot - bar) / 2
            y = area.bottom()
            p.setPen(Qt.PenStyle.NoPen)
            for key, _label, color in STAGES:
                ms = _ms(metrics.get(key)) or 0.0
                h = area.height() * ms / scale
                if h <= 0:
                    continue
                p.setBrush(QColor(color))
                p.drawRect(QRectF(x, y - h, bar, h))
                y -= h
            cue = _ms(metrics.get(CUE_KEY))
            if cue:  # the "Hmm." the user heard before the words: a tick across the bar
                cy = area.bottom() - area.height() * cue / scale
                p.setPen(QPen(QColor(CUE_COLOR), 2))
                p.drawLine(QPointF(x - 2, cy), QPointF(x + bar + 2, cy))
            e2e = _ms(metrics.get("e2e_ms"))
            if e2e is not None:
                ey = area.bottom() - area.height() * e2e / scale
                p.setBrush(QColor("#2e9d5b"))
                p.setPen(QPen(QColor("white"), 1))
                p.drawEllipse(QPointF(x + bar / 2, ey), 3.2, 3.2)
            if n <= 12 or i % max(1, n // 8) == 0:
                p.setPen(QColor("#8a8f98"))
                p.drawText(QRectF(x - 8, area.bottom() + 1, bar + 16, 14),
                           Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                           str(i + 1))  # turns of this session, in order


def _nice(value: float) -> float:
    """A round axis maximum ≥ value (ms)."""
    for step in (100, 200, 250, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 7500, 10000,
                 15000, 20000, 30000, 60000):
        if value <= step:
            return float(step)
    return float(value)


class LatencyPanel(QWidget):
    """The last turn's numbers and the chart of the open conversation's turns."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("latencyPanel")
        self.history: list[dict[str, Any]] = []
        title = QLabel("Latency — last turn", self)
        title.setObjectName("panelTitle")
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(3)
        self.values: dict[str, QLabel] = {}
        rows = [*STAGES, ("e2e_ms", "Total to the answer", "#2e9d5b"),
                (SAVED_KEY, "Saved by preparing early", "#2aa3a3"),
                (CUE_KEY, "Heard “Hmm” after (slow model)", CUE_COLOR)]
        for row, (key, label, color) in enumerate(rows):
            swatch = QLabel(self)
            swatch.setFixedSize(10, 10)
            swatch.setStyleSheet(f"background: {color}; border-radius: 2px;")
            name = QLabel(label, self)
            value = QLabel("—", self)
            value.setObjectName("latencyValue")
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if key == "e2e_ms":
                font = value.font()
                font.setBold(True)
                value.setFont(font)
                name.setFont(font)
            grid.addWidget(swatch, row, 0)
            grid.addWidget(name, row, 1)
            grid.addWidget(value, row, 2)
            self.values[key] = value
        grid.setColumnStretch(1, 1)
        self.chart = LatencyChart(self)
        chart_title = QLabel("This session", self)
        chart_title.setObjectName("panelTitle")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(title)
        layout.addLayout(grid)
        layout.addSpacing(6)
        layout.addWidget(chart_title)
        layout.addWidget(self.chart, 1)

    def clear(self) -> None:
        """Forget the turns shown: another conversation is open (a new or a reopened
        one), so neither the last turn nor the chart shows the previous one's figures."""
        self.history = []
        for label in self.values.values():
            label.setText("—")
        self.chart.set_history(self.history)

    def add_metrics(self, metrics: dict[str, Any]) -> None:
        """One ``latency_metrics`` message's data."""
        self.history.append(dict(metrics))
        for key, label in self.values.items():
            label.setText(stage_text(metrics, key))
        self.chart.set_history(self.history)

    def shown(self) -> dict[str, str]:
        """What the panel shows now (tests)."""
        return {key: label.text() for key, label in self.values.items()}


class SidePanel(QWidget):
    """The window's right-hand panel: :attr:`latency` (a :class:`LatencyPanel`) and
    :attr:`engine_label`, one line on the language model in use."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidePanel")
        self.latency = LatencyPanel(self)
        self.engine_label = QLabel("", self)
        self.engine_label.setObjectName("noteLine")
        self.engine_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 14, 14, 14)
        layout.addWidget(self.latency, 1)
        layout.addWidget(self.engine_label)
        self.setMinimumWidth(230)
