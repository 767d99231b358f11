"""The Qt binding the app runs on must not corrupt Python's reference counts: PySide6
6.12.0 drops a reference to ``True`` / ``False`` for every bool a signal carries to a
Python slot, and after enough toggles the interpreter aborts ("bool_dealloc: deallocating
True or False") — the reason pyproject.toml excludes it."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Toggles(QObject):
    flag = Signal(bool)
    number = Signal(int)


def test_bools_through_signals_keep_their_reference_counts(qapp) -> None:
    emitter, received = _Toggles(), []

    def slot(value: object) -> None:
        received.append(type(value))

    emitter.flag.connect(slot)
    emitter.number.connect(slot)
    before = sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(200):
        emitter.flag.emit(True)
        emitter.flag.emit(False)
        emitter.number.emit(True)
    after = sys.getrefcount(True), sys.getrefcount(False)
    assert len(received) == 600
    assert after[0] >= before[0] - 5 and after[1] >= before[1] - 5, (before, after)
