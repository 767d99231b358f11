"""Past conversations (from the same store as the server): open, new, rename, delete."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.store_panel import when

logger = logging.getLogger(__name__)

ID_ROLE = Qt.ItemDataRole.UserRole
UNTITLED = "New conversation"


def _when(moment: datetime | None) -> str:
    return when(moment, today="%H:%M", this_year="%d %b")


class Sidebar(QWidget):
    """The list of the desktop's stored conversations (owner ``None``).

    Signals:
        new_requested(): the user wants a new conversation.
        open_requested(str): the user picked a conversation.
        deleted(str): a conversation was deleted from the store.
        renamed(str, str): a conversation got a new title.
    """

    new_requested = Signal()
    open_requested = Signal(str)
    deleted = Signal(str)
    renamed = Signal(str, str)

    def __init__(self, store: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.store = store
        self.current_id: str | None = None
        self._updating = False

        title = QLabel("Conversations", self)
        title.setObjectName("sidebarTitle")
        self.new_button = QPushButton("+ New", self)
        self.new_button.setObjectName("newButton")
        self.new_button.setToolTip("Start a new conversation (Ctrl+N)")
        self.new_button.clicked.connect(self.new_requested.emit)
        head = QHBoxLayout()
        head.addWidget(title, 1)
        head.addWidget(self.new_button)

        self.list = QListWidget(self)
        self.list.setObjectName("sessionList")
        self.list.setUniformItemSizes(True)
        self.list.setWordWrap(False)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.itemActivated.connect(self._activated)
        self.list.itemClicked.connect(self._activated)
        self.list.currentItemChanged.connect(self._selection_changed)

        self.rename_button = QPushButton("Rename", self)
        self.rename_button.clicked.connect(self._rename_clicked)
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.setObjectName("deleteButton")
        self.delete_button.clicked.connect(self._delete_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.rename_button)
        buttons.addWidget(self.delete_button)

        self.empty_label = QLabel("No saved conversations yet.", self)
        self.empty_label.setObjectName("sidebarEmpty")
        self.empty_label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 12, 10, 10)
        layout.setSpacing(8)
        layout.addLayout(head)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty_label)
        layout.addLayout(buttons)
        self._update_buttons()

    def add_footer(self, widget: QWidget) -> None:
        """Put ``widget`` (e.g. a button to another panel) at the bottom, under a line."""
        line = QFrame(self)
        line.setObjectName("sidebarRule")
        line.setFrameShape(QFrame.Shape.HLine)
        layout = self.layout()
        layout.addWidget(line)
        layout.addWidget(widget)

    # ------------------------------------------------------------------ data
    def set_store(self, store: Any) -> None:
        self.store = store
        self.refresh()

    def sessions(self) -> list[Any]:
        if self.store is None:
            return []
        try:
            return self.store.conversations.list_sessions(None)
        except Exception:
            logger.exception("cannot list conversations")
            return []

    async def reload(self) -> None:
        """Read the list in a worker thread (the store is blocking), then show it."""
        self.refresh(await asyncio.to_thread(self.sessions))

    def refresh(self, sessions: list[Any] | None = None) -> None:
        """Show ``sessions`` (default: read the store now), keeping the selection on the
        open conversation."""
        if sessions is None:
            sessions = self.sessions()
        self._updating = True
        try:
            self.list.clear()
            for info in sessions:
                if info.message_count == 0 and info.id != self.current_id:
                    continue  # an empty conversation is only shown while it is open
                title = info.title or UNTITLED
                item = QListWidgetItem(f"{title}\n{_when(info.updated_at)} · "
                                       f"{info.message_count} messages")
                item.setData(ID_ROLE, info.id)
                item.setToolTip(title)
                self.list.addItem(item)
                if info.id == self.current_id:
                    self.list.setCurrentItem(item)
        finally:
            self._updating = False
        self.empty_label.setVisible(self.list.count() == 0)
        self._update_buttons()

    def ids(self) -> list[str]:
        return [self.list.item(i).data(ID_ROLE) for i in range(self.list.count())]

    def titles(self) -> list[str]:
        return [self.list.item(i).text().split("\n", 1)[0] for i in range(self.list.count())]

    def selected_id(self) -> str | None:
        item = self.list.currentItem()
        return item.data(ID_ROLE) if item is not None else None

    # ------------------------------------------------------------------ actions
    def rename(self, session_id: str, title: str) -> bool:
        if self.store is None:
            return False
        try:
            ok = self.store.conversations.rename_session(None, session_id, title)
        except Exception:
            logger.exception("cannot rename conversation")
            return False
        if ok:
            self.renamed.emit(session_id, title)
        self.refresh()
        return ok

    def delete(self, session_id: str) -> bool:
        if self.store is None:
            return False
        try:
            ok = self.store.conversations.delete_session(None, session_id)
        except Exception:
            logger.exception("cannot delete conversation")
            return False
        self.refresh()
        if ok:
            self.deleted.emit(session_id)
        return ok

    def _activated(self, item: QListWidgetItem) -> None:
        session_id = item.data(ID_ROLE)
        if session_id and session_id != self.current_id:
            self.open_requested.emit(session_id)

    def _selection_changed(self, *_: Any) -> None:
        self._update_buttons()

    def _update_buttons(self) -> None:
        has = self.list.currentItem() is not None
        self.rename_button.setEnabled(has)
        self.delete_button.setEnabled(has)

    def _rename_clicked(self) -> None:
        session_id = self.selected_id()
        if session_id is None:
            return
        current = self.list.currentItem().text().split("\n", 1)[0]
        title, ok = QInputDialog.getText(self, "Rename conversation", "Title:",
                                         QLineEdit.EchoMode.Normal,
                                         "" if current == UNTITLED else current)
        if ok:
            self.rename(session_id, title)

    def _delete_clicked(self) -> None:
        session_id = self.selected_id()
        if session_id is None:
            return
        title = self.list.currentItem().text().split("\n", 1)[0]
        answer = QMessageBox.question(
            self, "Delete conversation",
            f"Delete “{title}” and its messages? This cannot be undone.")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(session_id)
