"""The window's look: one Qt style sheet (light, calm colours) and the app icon, drawn
with QPainter so no image files are needed."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

ACCENT = "#1f6feb"

STYLE_SHEET = f"""
QMainWindow, QDialog {{ background: #f6f7f9; }}
QWidget {{ font-size: 10pt; color: #1d2330; }}
#sidebar {{ background: #eef1f5; border-right: 1px solid #dde2e8; }}
#sidebarTitle, #panelTitle {{ font-weight: 600; color: #4a5261; }}
#sidebarEmpty, #placeholder, #noteLine {{ color: #8a8f98; }}
#sessionList {{ background: transparent; border: none; outline: none; }}
#sessionList::item {{ padding: 7px 8px; border-radius: 6px; margin: 1px 0; }}
#sessionList::item:selected {{ background: #dbe6fb; color: #123; }}
#sessionList::item:hover:!selected {{ background: #e4e8ee; }}
#sidebarRule {{ color: #dde2e8; }}
#factList, #documentList {{ background: white; border: 1px solid #dde2e8; border-radius: 6px;
                            outline: none; }}
#factList::item {{ padding: 7px 8px; border-bottom: 1px solid #eef1f5; }}
#documentList::item {{ padding: 5px 4px; }}
QPushButton#knowledgeButton {{ padding: 6px 6px; }}
#factList::item:selected, #documentList::item:selected {{ background: #dbe6fb; color: #123; }}
#header {{ background: white; border-bottom: 1px solid #e3e6eb; }}
#conversationView, #conversationContent {{ background: #f6f7f9; }}
#userBubble {{ background: {ACCENT}; border-radius: 12px; }}
#userBubble QLabel {{ color: white; }}
#userBubble[partial="true"] {{ background: #8fb3f5; }}
#assistantBubble {{ background: white; border: 1px solid #e1e4e9; border-radius: 12px; }}
#assistantBubble[partial="true"] {{ border: 1px dashed #b7bdc7; }}
#toolLine {{ color: #7a808a; font-size: 8.5pt; padding-left: 6px; }}
#banner {{ background: #fff6db; border: 1px solid #f0d98a; border-radius: 6px; }}
#banner[level="error"] {{ background: #fde8e8; border: 1px solid #f2b8b8; }}
#banner[level="info"] {{ background: #e8f1fd; border: 1px solid #bcd3f5; }}
#latencyPanel, #sidePanel {{ background: white; }}
#sidePanel {{ border-left: 1px solid #e3e6eb; }}
#latencyValue {{ font-family: "DejaVu Sans Mono", monospace; }}
#controlsBar {{ background: white; border-top: 1px solid #e3e6eb; }}
QPushButton {{ background: white; border: 1px solid #cfd5dd; border-radius: 6px;
              padding: 6px 12px; }}
QPushButton:hover {{ background: #f0f3f7; }}
QPushButton:disabled {{ color: #a7adb6; background: #f4f5f7; }}
QPushButton#talkButton {{ background: {ACCENT}; color: white; border: none;
                          font-weight: 600; padding: 8px 14px; }}
QPushButton#talkButton:disabled {{ background: #9db9ea; }}
QPushButton#talkButton[held="true"] {{ background: #0f4fb8; }}
QPushButton#muteButton:checked {{ background: #fde8e8; border-color: #e8a0a0;
                                  color: #a02828; }}
QPushButton#sendButton {{ font-weight: 600; }}
QPushButton#deleteButton:enabled {{ color: #a02828; }}
QLineEdit, QPlainTextEdit, QComboBox, QDoubleSpinBox {{ background: white;
    border: 1px solid #cfd5dd; border-radius: 6px; padding: 5px 7px; }}
QLineEdit:focus, QPlainTextEdit:focus {{ border-color: {ACCENT}; }}
QProgressBar {{ border: none; background: #e6e9ee; border-radius: 3px; max-height: 6px; }}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 3px; }}
QGroupBox {{ font-weight: 600; border: 1px solid #dde2e8; border-radius: 8px;
            margin-top: 14px; padding: 10px 8px 8px 8px; background: white; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 10px; padding: 0 4px; }}
"""


def app_icon(size: int = 64) -> QIcon:
    """A blue speech bubble with three sound bars."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = size / 64.0
    bubble = QPainterPath()
    bubble.addRoundedRect(QRectF(4 * s, 6 * s, 56 * s, 42 * s), 12 * s, 12 * s)
    tail = QPainterPath()
    tail.moveTo(16 * s, 44 * s)
    tail.lineTo(12 * s, 58 * s)
    tail.lineTo(28 * s, 46 * s)
    tail.closeSubpath()
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(ACCENT))
    p.drawPath(bubble.united(tail))
    p.setPen(QPen(QColor("white"), 5 * s, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    for x, half in ((22, 6), (32, 11), (42, 6)):
        p.drawLine(QRectF(x * s, (27 - half) * s, 0, 2 * half * s).topLeft(),
                   QRectF(x * s, (27 - half) * s, 0, 2 * half * s).bottomLeft())
    p.end()
    return QIcon(pixmap)


__all__ = ["ACCENT", "STYLE_SHEET", "app_icon"]
