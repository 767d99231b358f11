"""Memory and documents in the window: the dialog with both panels, and what the main
window wires to it (:class:`Knowledge`): the sidebar's button, the tray entry, files dropped
on the window, and a refresh after the assistant's turns (it may have remembered or
forgotten something).

The dialog is not modal: the user can keep talking while it is open. Without a store the
button and the tray entry are disabled, and their tooltip says why.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.ui.documents_panel import DocumentsPanel, FileDrops
from app.ui.memory_panel import MemoryPanel
from app.ui.notices import Notices
from app.ui.store_panel import NO_STORE, Spawn
from app.ui.theme import STYLE_SHEET

MEMORY_TAB, DOCUMENTS_TAB = 0, 1
BUTTON_TIP = ("What the assistant remembers about you, and your documents (drop .txt, .md "
              "or .pdf files on the window to add them)")


class KnowledgeDialog(QDialog):
    """Two tabs, *Memory* (:class:`MemoryPanel`) and *Documents*
    (:class:`DocumentsPanel`); both read the store again whenever the dialog is shown.
    Files dropped anywhere on it are added to the documents."""

    def __init__(self, store: Any, spawn: Spawn | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Memory and documents")
        self.setStyleSheet(STYLE_SHEET)
        self.setModal(False)
        self.resize(640, 540)
        self.setMinimumSize(460, 380)
        self.memory = MemoryPanel(store, spawn, self)
        self.documents = DocumentsPanel(store, spawn, self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.memory, "Memory")
        self.tabs.addTab(self.documents, "Documents")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)
        if store is not None:
            self.drops = FileDrops(self)
            self.drops.dropped.connect(self.add_files)

    def add_files(self, paths: list[Path]) -> asyncio.Future[Any] | None:
        """Show the Documents tab and add ``paths`` to the library."""
        self.tabs.setCurrentIndex(DOCUMENTS_TAB)
        return self.documents.add_files(paths)

    def reload(self) -> None:
        """Read facts and documents again (in worker threads)."""
        self.memory.reload()
        self.documents.reload()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.reload()


class Knowledge(QObject):
    """The main window's memory and documents.

    Args:
        window: The main window (files dropped on it are added to the documents).
        host: The parent of :attr:`button` (the sidebar), which the window lays out.
        store: The store, or None (everything disabled, the tooltip says why).
        notices: Where results are shown while the dialog is closed.
        spawn: The window's task runner (shutdown cancels what is still running).
    """

    def __init__(self, window: QWidget, host: QWidget, *, store: Any, notices: Notices,
                 spawn: Spawn) -> None:
        super().__init__(window)
        self.window = window
        self.store = store
        self.notices = notices
        self.spawn = spawn
        self.dialog: KnowledgeDialog | None = None
        self.button = QPushButton("Memory and documents", host)
        self.button.setObjectName("knowledgeButton")
        self.button.setToolTip(BUTTON_TIP if store is not None else NO_STORE)
        self.button.setEnabled(store is not None)
        self.button.clicked.connect(lambda: self.open())
        self.drops: FileDrops | None = None
        if store is not None:
            self.drops = FileDrops(window)
            self.drops.dropped.connect(self.add_files)
        quit_requested = getattr(window, "quit_requested", None)
        if quit_requested is not None:
            quit_requested.connect(self.close)

    def attach_tray(self, tray: Any) -> None:
        """Add the tray menu's *Memory and documents…* entry."""
        if tray is None:
            return
        action = tray.knowledge_action
        action.setEnabled(self.store is not None)
        action.setToolTip(BUTTON_TIP if self.store is not None else NO_STORE)
        tray.knowledge_requested.connect(lambda: self.open())

    def panel(self) -> KnowledgeDialog:
        """The dialog (made on first use, hidden until :meth:`open`)."""
        if self.dialog is None:
            self.dialog = KnowledgeDialog(self.store, self.spawn, self.window)
            for panel, key in ((self.dialog.memory, "memory"),
                               (self.dialog.documents, "documents")):
                panel.message.connect(lambda level, text, key=key:
                                      self._message(key, level, text))
                panel.changed.connect(lambda key=key: self.notices.clear(key))
        return self.dialog

    def open(self, tab: int | None = None) -> KnowledgeDialog | None:
        """Show the dialog (on ``tab`` when given); None without a store."""
        if self.store is None:
            return None
        dialog = self.panel()
        if tab is not None:
            dialog.tabs.setCurrentIndex(tab)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def add_files(self, paths: list[Path]) -> asyncio.Future[Any] | None:
        """Add dropped files to the documents (the result is a notice while the dialog
        is closed)."""
        return self.panel().add_files(paths)

    def refresh(self) -> None:
        """After a turn: read the lists again if the dialog is open."""
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.reload()

    def close(self) -> None:
        if self.dialog is not None:
            self.dialog.close()

    def _message(self, key: str, level: str, text: str) -> None:
        if self.dialog is not None and self.dialog.isVisible():
            return  # the panel shows it
        self.notices.set(key, level, text)
        if level == "info":
            self.notices.clear_info_later(key, 6000)


__all__ = ["DOCUMENTS_TAB", "MEMORY_TAB", "Knowledge", "KnowledgeDialog"]
