"""The Documents panel: the desktop user's library, which every conversation searches.

*Add document…* (or files dropped on the panel or the main window: :class:`FileDrops`)
reads each file in a worker thread (at most :data:`MAX_FILE_BYTES`), takes its text with
:func:`xtalk.retrieval.extract.document_text` (.txt, .md, .pdf with ``pypdf``) and stores
it with ``store.documents.add_document(None, ...)``; the engine embeds it when a session
starts. A file that cannot be added is named with the reason ("notes.pdf: PDF support
needs the pypdf package (pip install pypdf)"), never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.ui.store_panel import NO_STORE, Spawn, StorePanel, empty_or, when
from xtalk.retrieval.extract import PDF_TYPE, document_text, media_type

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 10 * 1024 * 1024
FILE_FILTER = "Documents (*.txt *.md *.markdown *.pdf);;All files (*)"
ID_ROLE = Qt.ItemDataRole.UserRole
INTRO = ("Your documents: the assistant looks things up in them in every conversation. "
         "Add .txt, .md or .pdf files, or drop them here or on the main window.")
EMPTY_TEXT = ("No documents yet.\n\nAdd manuals, notes or recipes (.txt, .md, .pdf) and "
              "ask about them: “how long is the warranty?”")
KIND = {"text/plain": "Text", "text/markdown": "Markdown", "text/x-markdown": "Markdown",
        PDF_TYPE: "PDF"}


def size_text(chars: int) -> str:
    """A document's size in characters of text: ``812 characters``, ``48 k characters``."""
    if chars < 10_000:
        return f"{chars:,} character{'s' if chars != 1 else ''}"
    if chars < 1_000_000:
        return f"{chars / 1000:,.0f} k characters"
    return f"{chars / 1_000_000:,.1f} M characters"


def read_document(path: Path) -> tuple[str, str, str]:
    """(name, media type, text) of the file at ``path`` (blocking: a worker thread).

    Raises:
        ValueError: What is wrong with the file, for the user (after its name): not a
            .txt / .md / .pdf, a folder, over :data:`MAX_FILE_BYTES`, unreadable, not
            UTF-8, binary, empty, a PDF without ``pypdf``.
    """
    name = path.name or str(path)
    if path.is_dir():
        raise ValueError("folders cannot be added; choose the files in it")
    media_type(name)  # refuse an unsupported file before reading it
    too_big = f"it is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB"
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError(too_big)
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"it cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(too_big)
    text, media = document_text(data, name)
    return name, media, text


def local_files(mime: Any) -> list[Path]:
    """The local files among a drag's URLs."""
    if mime is None or not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


class FileDrops(QObject):
    """An event filter that lets a widget take dropped files.

    Signals:
        dropped(list): the dropped local files (``pathlib.Path``).
    """

    dropped = Signal(list)

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        widget.setAcceptDrops(True)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            assert isinstance(event, QDragEnterEvent | QDropEvent)
            if local_files(event.mimeData()):
                event.acceptProposedAction()
                return True
            return False
        if kind == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            files = local_files(event.mimeData())
            if files:
                event.acceptProposedAction()
                self.dropped.emit(files)
                return True
        return False


class DocumentTree(QTreeWidget):
    """The library; the Delete key asks to delete the selected document."""

    def __init__(self, panel: DocumentsPanel) -> None:
        super().__init__(panel)
        self.panel = panel

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if (event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
                and self.currentItem() is not None):
            self.panel.delete_selected()
            event.accept()
            return
        super().keyPressEvent(event)


class DocumentsPanel(StorePanel):
    """The library: name, size and date of each document; add (button, drops), delete."""

    what = "documents"

    def __init__(self, store: Any, spawn: Spawn | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(store, spawn, parent)
        self._adding = 0
        intro = QLabel(INTRO, self)
        intro.setObjectName("noteLine")
        intro.setWordWrap(True)

        self.tree = DocumentTree(self)
        self.tree.setObjectName("documentList")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Name", "Size", "Added"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.empty_label, self.stack = empty_or(self.tree, EMPTY_TEXT, self)

        self.add_button = QPushButton("Add document…", self)
        self.add_button.setObjectName("sendButton")
        self.add_button.setToolTip("Add .txt, .md or .pdf files (up to 10 MB each)")
        self.add_button.clicked.connect(self.choose_files)
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.setObjectName("deleteButton")
        self.delete_button.setToolTip("Delete the selected document (Delete key)")
        self.delete_button.clicked.connect(self.delete_selected)
        self.count_label = QLabel("", self)
        self.count_label.setObjectName("noteLine")
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.count_label, 1)
        row.addWidget(self.delete_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(8)
        layout.addWidget(intro)
        layout.addWidget(self.stack, 1)
        layout.addLayout(row)
        layout.addWidget(self.message_line)
        self.drops = FileDrops(self)
        self.drops.dropped.connect(self.add_files)
        if store is None:
            self.add_button.setEnabled(False)
            self.add_button.setToolTip(NO_STORE)
            self.setAcceptDrops(False)
            self.empty_label.setText(NO_STORE)
        self._update_buttons()

    # ------------------------------------------------------------------ reading
    def read_rows(self) -> list[Any]:
        return self.store.documents.list_documents(None)

    def show_rows(self, rows: list[Any]) -> None:
        """Show the documents (oldest first), keeping the selection."""
        selected = self.selected_id()
        self.tree.clear()
        for info in rows:
            item = QTreeWidgetItem([info.name, size_text(info.chars), when(info.created_at)])
            item.setData(0, ID_ROLE, info.id)
            kind = KIND.get(info.content_type, info.content_type)
            item.setToolTip(0, f"{info.name}\n{kind}, {info.chunk_count} passage"
                               f"{'s' if info.chunk_count != 1 else ''} searched")
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight
                                  | Qt.AlignmentFlag.AlignVCenter)
            self.tree.addTopLevelItem(item)
            if info.id == selected:
                self.tree.setCurrentItem(item)
        count = self.tree.topLevelItemCount()
        self.stack.setCurrentWidget(self.tree if count else self.empty_label)
        self.count_label.setText(f"{count} document{'s' if count != 1 else ''}"
                                 if count else "")
        self._update_buttons()

    def names(self) -> list[str]:
        """The documents' names shown, in order."""
        return [self.tree.topLevelItem(i).text(0)
                for i in range(self.tree.topLevelItemCount())]

    def rows(self) -> list[list[str]]:
        """Each row's cells (name, size, date)."""
        return [[self.tree.topLevelItem(i).text(c) for c in range(3)]
                for i in range(self.tree.topLevelItemCount())]

    def selected_id(self) -> int | None:
        item = self.tree.currentItem()
        return item.data(0, ID_ROLE) if item is not None else None

    # ------------------------------------------------------------------ adding
    def choose_files(self) -> None:
        """Ask for files (.txt, .md, .pdf) and add them."""
        paths, _ = QFileDialog.getOpenFileNames(self, "Add documents", "", FILE_FILTER)
        if paths:
            self.add_files([Path(p) for p in paths])

    def add_files(self, paths: Iterable[Path | str]) -> asyncio.Future[Any] | None:
        """Read and store each file (worker threads), then report what happened."""
        files = [Path(p) for p in paths]
        if self.store is None:
            self.say("error", NO_STORE)
            return None
        if not files:
            return None
        return self.run(self._add_files(files))

    async def _add_files(self, files: list[Path]) -> None:
        self._adding += 1
        names = ", ".join(p.name for p in files)
        self.say("info", f"Adding {names}…")
        added: list[str] = []
        problems: list[str] = []
        try:
            for path in files:
                try:
                    info = await self.call(self._store_file, path)
                except ValueError as exc:
                    problems.append(f"{path.name}: {exc}")
                except Exception:
                    logger.exception("cannot add %s", path)
                    problems.append(f"{path.name}: it could not be stored (see the log)")
                else:
                    added.append(info.name)
        finally:
            self._adding -= 1
        if added:
            self.changed.emit()
            await self._reload_now()
        if problems:
            self.say("error", "\n".join(([f"Added {', '.join(added)}."] if added else [])
                                        + problems))
        elif len(added) == 1:
            self.say("info", f"Added {added[0]}: the assistant can look things up in it "
                     "now.")
        elif added:
            self.say("info", f"Added {len(added)} documents: {', '.join(added)}.")

    async def _reload_now(self) -> None:
        task = self.reload()
        if task is not None:
            await task

    def _store_file(self, path: Path) -> Any:
        name, media, text = read_document(path)
        return self.store.documents.add_document(None, name, media, text)

    @property
    def adding(self) -> bool:
        """Files are being read or stored."""
        return self._adding > 0

    # ------------------------------------------------------------------ deleting
    def delete_selected(self) -> None:
        item = self.tree.currentItem()
        if item is None or self.store is None:
            return
        answer = QMessageBox.question(
            self, "Delete document",
            f"Delete “{item.text(0)}” from your documents? The assistant will no longer "
            "find anything in it.")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_document(item.data(0, ID_ROLE))

    def delete_document(self, document_id: int) -> asyncio.Future[Any] | None:
        """Delete one document from the library."""
        if self.store is None:
            return None
        return self.run(self._delete(document_id))

    async def _delete(self, document_id: int) -> None:
        try:
            await self.call(self.store.documents.delete_document, None, document_id)
        except Exception:
            logger.exception("cannot delete document %s", document_id)
            self.say("error", "The document could not be deleted.")
            return
        self.message_line.clear()
        self.changed.emit()
        await self._reload_now()

    def _update_buttons(self) -> None:
        self.delete_button.setEnabled(self.store is not None
                                      and self.tree.currentItem() is not None)


__all__ = ["MAX_FILE_BYTES", "DocumentsPanel", "FileDrops", "read_document", "size_text"]
