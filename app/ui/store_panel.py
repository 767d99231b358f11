"""What the Memory and Documents panels share: the store, running its (blocking) calls in
worker threads from the qasync loop, the message line under the panel, and dates.

A panel never calls the store on the GUI thread: :meth:`StorePanel.run` schedules a
coroutine that awaits ``asyncio.to_thread(...)``; :meth:`StorePanel.reload` reads the list
again, and only the newest read is shown (an older one finishing late is dropped).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QToolButton,
    QWidget,
)

from app.ui.notices import ICONS

logger = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Future[Any]"]
NO_STORE = ("The conversation store could not be opened, so nothing can be remembered or "
            "added (see the log for why).")


def when(moment: datetime | None, *, today: str = "today %H:%M",
         this_year: str = "%d %b %H:%M", older: str = "%d %b %Y") -> str:
    """``moment`` in local time, formatted by how long ago it was (``strftime``
    patterns; by default ``today 14:05``, ``12 Mar 14:05``, ``12 Mar 2025``)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone()
    now = datetime.now().astimezone()
    if local.date() == now.date():
        return local.strftime(today)
    return local.strftime(this_year if local.year == now.year else older)


class MessageLine(QFrame):
    """One dismissable line (``error`` / ``warning`` / ``info``), hidden when empty."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        close = QToolButton(self)
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.clear)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 6, 6)
        row.addWidget(self.label, 1)
        row.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.text = ""
        self.level = ""
        self.hide()

    def set(self, level: str, text: str) -> None:
        self.level, self.text = level, text
        icon = ICONS.get(level, "")
        self.label.setText(f"{icon}  {text}" if icon else text)
        self.setProperty("level", level)
        self.style().unpolish(self)
        self.style().polish(self)
        self.show()

    def clear(self) -> None:
        self.level = self.text = ""
        self.hide()


def empty_or(view: QWidget, text: str, parent: QWidget) -> tuple[QLabel, QStackedWidget]:
    """A stack showing ``text`` (centred, wrapped) while there is nothing, else ``view``;
    the label is page 0, the view page 1."""
    label = QLabel(text, parent)
    label.setObjectName("placeholder")
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setMargin(24)
    stack = QStackedWidget(parent)
    stack.addWidget(label)
    stack.addWidget(view)
    return label, stack


class StorePanel(QWidget):
    """Base of a panel over the store (owner ``None``, the desktop user).

    Args:
        store: The :class:`xtalk.store.Store`, or None (the panel is disabled, saying why).
        spawn: Runs a coroutine on the loop (the main window's, so that shutdown cancels
            it); default: ``asyncio.ensure_future`` with failures logged.

    Signals:
        message(str, str): (level, text) of what the user should know; also shown in
            :attr:`message_line`.
        changed(): the panel changed the store.
    """

    message = Signal(str, str)
    changed = Signal()

    def __init__(self, store: Any, spawn: Spawn | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._spawn = spawn
        self._tasks: set[asyncio.Future[Any]] = set()
        self._generation = 0
        self.message_line = MessageLine(self)

    # ------------------------------------------------------------------ running
    def run(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
        """Schedule ``coro``; the returned future is done when it is."""
        task = self._spawn(coro) if self._spawn is not None else asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self._spawn is None:
            logger.error("panel task failed", exc_info=task.exception())

    def pending(self) -> bool:
        """Work (a store call, a file being read) is still running."""
        return bool(self._tasks)

    async def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in a worker thread (store calls block)."""
        return await asyncio.to_thread(function, *args)

    def reload(self) -> asyncio.Future[Any] | None:
        """Read the list again in a worker thread and show it (None without a store)."""
        if self.store is None:
            return None
        self._generation += 1
        return self.run(self._reload(self._generation))

    async def _reload(self, generation: int) -> None:
        try:
            rows = await self.call(self.read_rows)
        except Exception:
            logger.exception("cannot read the %s", self.what)
            self.say("error", f"The {self.what} could not be read from the store.")
            return
        if generation == self._generation:  # a newer read is on its way otherwise
            self.show_rows(rows)

    # ------------------------------------------------------------------ subclass
    what = "list"

    def read_rows(self) -> list[Any]:
        """The rows to show (runs in a worker thread)."""
        raise NotImplementedError

    def show_rows(self, rows: list[Any]) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ messages
    def say(self, level: str, text: str) -> None:
        """Show ``text`` in the panel's message line and emit :attr:`message`."""
        self.message_line.set(level, text)
        self.message.emit(level, text)

    def message_text(self) -> str:
        return self.message_line.text


__all__ = ["NO_STORE", "MessageLine", "StorePanel", "when"]
