"""QR codes for pairing phones (``segno``, pure Python), drawn as a ``QPixmap``."""

from __future__ import annotations

import segno
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

QUIET_ZONE = 4  # modules of white border the standard asks for


def qr_matrix(text: str) -> list[list[bool]]:
    """The QR code of ``text`` as rows of dark (True) / light modules, no border.

    Raises:
        ValueError: ``text`` is empty or too long for a QR code.
    """
    if not text:
        raise ValueError("nothing to encode")
    try:
        code = segno.make(text, error="m", micro=False)
    except segno.DataOverflowError as exc:
        raise ValueError(f"too long for a QR code: {exc}") from exc
    return [[bool(v) for v in row] for row in code.matrix]


def qr_pixmap(text: str, size: int = 180) -> QPixmap:
    """A square pixmap about ``size`` pixels wide (whole pixels per module, quiet zone
    included) showing the QR code of ``text``."""
    matrix = qr_matrix(text)
    modules = len(matrix) + 2 * QUIET_ZONE
    scale = max(1, size // modules)
    side = modules * scale
    image = QImage(side, side, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("black"))
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                painter.drawRect(QRect((x + QUIET_ZONE) * scale, (y + QUIET_ZONE) * scale,
                                       scale, scale))
    painter.end()
    return QPixmap.fromImage(image)


__all__ = ["qr_matrix", "qr_pixmap"]
