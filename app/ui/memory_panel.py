"""The Memory panel: the facts the assistant remembers about the desktop user.

Facts (``store.memories``, owner ``None``) go into every conversation's prompt, read again
before each turn, so a change here applies to the next turn. The list shows them oldest
first (a new fact appears at the bottom, next to the box that adds it); double-click, F2
or *Edit* changes one in place, *Delete* or the Delete key forgets it. Every store call
runs in a worker thread (:class:`app.ui.store_panel.StorePanel`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.store_panel import NO_STORE, Spawn, StorePanel, empty_or, when

logger = logging.getLogger(__name__)

ID_ROLE = Qt.ItemDataRole.UserRole
TEXT_ROLE = Qt.ItemDataRole.UserRole + 1  # the stored text (the shown one may be edited)
EMPTY_TEXT = ("Nothing remembered yet.\n\nSay “remember that my sister is called "
              "Annabel”, or add a fact below.")
INTRO = ("What the assistant remembers about you, in every conversation. Say “remember "
         "that …” or “forget …”, or edit the facts here.")


class FactList(QListWidget):
    """The facts; Delete / Backspace asks to forget the selected one."""

    def __init__(self, panel: MemoryPanel) -> None:
        super().__init__(panel)
        self.panel = panel

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if (event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
                and not self.editing() and self.currentItem() is not None):
            self.panel.delete_selected()
            event.accept()
            return
        super().keyPressEvent(event)

    def editing(self) -> bool:
        return self.state() == QAbstractItemView.State.EditingState


class MemoryPanel(StorePanel):
    """List, add, edit and delete the desktop user's facts (see the module docstring)."""

    what = "remembered facts"

    def __init__(self, store: Any, spawn: Spawn | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(store, spawn, parent)
        self._refresh_after_edit = False
        intro = QLabel(INTRO, self)
        intro.setObjectName("noteLine")
        intro.setWordWrap(True)

        self.list = FactList(self)
        self.list.setObjectName("factList")
        self.list.setWordWrap(True)  # a long fact takes two lines, never a side scroll
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.list.itemChanged.connect(self._item_edited)
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.list.itemDelegate().closeEditor.connect(self._editor_closed)
        self.empty_label, self.stack = empty_or(self.list, EMPTY_TEXT, self)

        self.count_label = QLabel("", self)
        self.count_label.setObjectName("noteLine")
        self.edit_button = QPushButton("Edit", self)
        self.edit_button.setToolTip("Change the selected fact (or double-click it, or F2)")
        self.edit_button.clicked.connect(self.edit_selected)
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.setObjectName("deleteButton")
        self.delete_button.setToolTip("Forget the selected fact (Delete key)")
        self.delete_button.clicked.connect(self.delete_selected)
        row = QHBoxLayout()
        row.addWidget(self.count_label, 1)
        row.addWidget(self.edit_button)
        row.addWidget(self.delete_button)

        self.input = QLineEdit(self)
        self.input.setPlaceholderText("A new fact, e.g. My sister is called Annabel.")
        self.input.setClearButtonEnabled(True)
        self.input.returnPressed.connect(self._add_clicked)
        self.add_button = QPushButton("Add", self)
        self.add_button.setObjectName("sendButton")
        self.add_button.clicked.connect(self._add_clicked)
        add_row = QHBoxLayout()
        add_row.addWidget(self.input, 1)
        add_row.addWidget(self.add_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(8)
        layout.addWidget(intro)
        layout.addWidget(self.stack, 1)
        layout.addLayout(row)
        layout.addLayout(add_row)
        layout.addWidget(self.message_line)
        if store is None:
            for widget in (self.input, self.add_button, self.list):
                widget.setEnabled(False)
                widget.setToolTip(NO_STORE)
            self.empty_label.setText(NO_STORE)
        self._update_buttons()

    # ------------------------------------------------------------------ reading
    def read_rows(self) -> list[Any]:
        return self.store.memories.list(None)

    def show_rows(self, rows: list[Any]) -> None:
        """Show the facts (oldest first), keeping the selection."""
        if self.list.editing():
            self._refresh_after_edit = True  # not under the user's fingers: after the edit
            return
        selected = self.selected_id()
        self.list.blockSignals(True)
        try:
            self.list.clear()
            for record in rows:
                item = QListWidgetItem(record.text)
                item.setData(ID_ROLE, record.id)
                item.setData(TEXT_ROLE, record.text)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                changed = (f", changed {when(record.updated_at)}"
                           if record.updated_at != record.created_at else "")
                item.setToolTip(f"Remembered {when(record.created_at)}{changed}. "
                                "Double-click to edit.")
                self.list.addItem(item)
                if record.id == selected:
                    self.list.setCurrentItem(item)
        finally:
            self.list.blockSignals(False)
        count = self.list.count()
        self.stack.setCurrentWidget(self.list if count else self.empty_label)
        self.count_label.setText(f"{count} fact{'s' if count != 1 else ''}" if count else "")
        self._update_buttons()

    def facts(self) -> list[str]:
        """The facts shown, in order."""
        return [self.list.item(i).text() for i in range(self.list.count())]

    def ids(self) -> list[int]:
        return [self.list.item(i).data(ID_ROLE) for i in range(self.list.count())]

    def selected_id(self) -> int | None:
        item = self.list.currentItem()
        return item.data(ID_ROLE) if item is not None else None

    def select(self, memory_id: int) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(ID_ROLE) == memory_id:
                self.list.setCurrentRow(i)
                self.list.scrollToItem(self.list.item(i))
                return

    # ------------------------------------------------------------------ changing
    def add_fact(self, text: str) -> asyncio.Future[Any] | None:
        """Remember ``text``; the list is read again afterwards."""
        if self.store is None or not text.strip():
            return None
        return self.run(self._add(text))

    async def _add(self, text: str) -> None:
        known = set(self.ids())
        try:
            record = await self.call(self.store.memories.add, None, text)
        except ValueError as exc:  # empty, too long, MemoryFullError
            self.say("warning", f"Not remembered: {exc}.")
            return
        except Exception:
            logger.exception("cannot add a fact")
            self.say("error", "The fact could not be stored.")
            return
        if self.input.text().strip() == text.strip():
            self.input.clear()
        if record.id in known:
            self.say("info", f"Already remembered: {record.text}")
        else:
            self.message_line.clear()
            self.changed.emit()
        await self._reload_and_select(record.id)

    def edit_fact(self, memory_id: int, text: str) -> asyncio.Future[Any] | None:
        """Change a fact to ``text``."""
        if self.store is None:
            return None
        return self.run(self._edit(memory_id, text))

    async def _edit(self, memory_id: int, text: str) -> None:
        try:
            record = await self.call(self.store.memories.update, None, memory_id, text)
        except ValueError as exc:
            self.say("warning", f"Not changed: {exc}. To forget a fact, delete it.")
            record = None
        except Exception:
            logger.exception("cannot change a fact")
            self.say("error", "The fact could not be changed.")
            record = None
        else:
            if record is None:
                self.say("warning", "That fact was already forgotten.")
            else:
                self.message_line.clear()
                self.changed.emit()
        await self._reload_and_select(memory_id)

    def delete_fact(self, memory_id: int) -> asyncio.Future[Any] | None:
        """Forget one fact."""
        if self.store is None:
            return None
        return self.run(self._delete(memory_id))

    async def _delete(self, memory_id: int) -> None:
        row = self.list.currentRow()
        try:
            await self.call(self.store.memories.delete, None, memory_id)
        except Exception:
            logger.exception("cannot delete a fact")
            self.say("error", "The fact could not be forgotten.")
            return
        self.message_line.clear()
        self.changed.emit()
        await self._reload_and_select(None)
        if self.list.count():
            self.list.setCurrentRow(min(max(row, 0), self.list.count() - 1))

    async def _reload_and_select(self, memory_id: int | None) -> None:
        task = self.reload()
        if task is not None:
            await task
        if memory_id is not None:
            self.select(memory_id)

    # ------------------------------------------------------------------ UI events
    def _add_clicked(self) -> None:
        self.add_fact(self.input.text())

    def edit_selected(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.list.setFocus()
            self.list.editItem(item)

    def delete_selected(self) -> None:
        memory_id = self.selected_id()
        if memory_id is not None:
            self.delete_fact(memory_id)

    def _item_edited(self, item: QListWidgetItem) -> None:
        stored = item.data(TEXT_ROLE)
        text = item.text()
        if " ".join(text.split()) == stored:
            return
        if not text.strip():  # an emptied fact: put it back, deleting is explicit
            self.list.blockSignals(True)
            item.setText(stored)
            self.list.blockSignals(False)
            self.say("warning", "A fact cannot be empty. To forget it, press Delete.")
            return
        self.edit_fact(item.data(ID_ROLE), text)

    def _editor_closed(self, *_: Any) -> None:
        if self._refresh_after_edit:
            self._refresh_after_edit = False
            self.reload()

    def _update_buttons(self) -> None:
        has = self.store is not None and self.list.currentItem() is not None
        self.edit_button.setEnabled(has)
        self.delete_button.setEnabled(has)


__all__ = ["EMPTY_TEXT", "MemoryPanel"]
