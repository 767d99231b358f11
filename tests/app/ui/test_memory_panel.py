"""The Memory and Documents panels (offscreen, a real SQLite store in tmp_path): facts are
listed, added, edited in place and deleted, and are still there when the store is opened
again; documents are added by the button and by dropping files (on the dialog and on the
main window), listed and found by the store's search; bad files are refused with a
message and add nothing; without a store everything is disabled and says why."""

from __future__ import annotations

from pathlib import Path

import pytest
from paths import tone_config
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QLineEdit, QMessageBox

from app.ui.documents_panel import MAX_FILE_BYTES
from app.ui.knowledge import DOCUMENTS_TAB, KnowledgeDialog
from app.ui.theme import app_icon
from app.ui.tray import Tray
from xtalk.retrieval import extract
from xtalk.store import Store, sqlite_url

WARRANTY = ("# Kettle\n\nThe warranty of the Zephyr kettle lasts 24 months from the date "
            "of purchase. Keep the receipt.\n")


@pytest.fixture
def dialog(qloop, qtbot, gui_store):
    """The Memory and documents dialog over ``gui_store``, shown (so it has read it)."""
    window = KnowledgeDialog(gui_store)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.memory.pending() and not window.documents.pending(),
                    timeout=10000)
    return window


def reopened(tmp_path: Path) -> Store:
    return Store.open(sqlite_url(tmp_path / "xtalk.db"))


def drop(widget, files: list[Path]) -> tuple[bool, bool]:
    """Drag ``files`` over ``widget`` and drop them: (enter accepted, drop accepted)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(f)) for f in files])
    action = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(QPoint(20, 20), action, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    event = QDropEvent(QPointF(20, 20), action, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return enter.isAccepted(), event.isAccepted()


def editor_of(panel) -> QLineEdit:
    [editor] = [e for e in panel.list.viewport().findChildren(QLineEdit) if e.isVisible()]
    return editor


# --------------------------------------------------------------------------- memory
def test_facts_are_listed_added_edited_and_deleted(dialog, qtbot, gui_store,
                                                   tmp_path) -> None:
    memory = dialog.memory
    assert dialog.tabs.currentWidget() is memory
    # nothing yet: the empty state says what memory is
    assert memory.stack.currentWidget() is memory.empty_label
    assert "remember that" in memory.empty_label.text()

    # a fact the assistant stored shows up when the list is read again
    gui_store.memories.add(None, "My sister is called Annabel")
    memory.reload()
    qtbot.waitUntil(lambda: memory.facts() == ["My sister is called Annabel."], timeout=5000)
    assert memory.stack.currentWidget() is memory.list

    # add by typing (Enter) and by the button: oldest first, cleaned up by the store
    qtbot.keyClicks(memory.input, "i take my tea without sugar")
    qtbot.keyClick(memory.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(memory.facts()) == 2, timeout=5000)
    assert memory.facts()[1] == "I take my tea without sugar."
    assert memory.input.text() == ""
    memory.input.setText("The car is parked on level 3")
    qtbot.mouseClick(memory.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(memory.facts()) == 3, timeout=5000)
    assert memory.count_label.text() == "3 facts"
    assert memory.selected_id() == memory.ids()[2]  # the new fact is selected
    # the same fact again is not added twice; an overlong one is refused
    memory.add_fact("my sister is called annabel!")
    qtbot.waitUntil(lambda: "Already remembered" in memory.message_text(), timeout=5000)
    memory.add_fact("x" * 600)
    qtbot.waitUntil(lambda: "at most 500 characters" in memory.message_text(), timeout=5000)
    assert len(memory.facts()) == 3

    # edit in place: double-click the fact, type, Enter
    item = memory.list.item(2)
    rect = memory.list.visualItemRect(item)
    qtbot.mouseClick(memory.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(memory.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    editor = editor_of(memory)
    editor.selectAll()
    qtbot.keyClicks(editor, "the car is parked on level 4")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: memory.facts()[2] == "The car is parked on level 4.",
                    timeout=5000)
    # the Edit button opens the same editor; emptying a fact does not delete it
    memory.list.setCurrentRow(1)
    qtbot.mouseClick(memory.edit_button, Qt.MouseButton.LeftButton)
    editor = editor_of(memory)
    editor.clear()
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "cannot be empty" in memory.message_text(), timeout=5000)
    assert memory.facts()[1] == "I take my tea without sugar."

    # delete with the Delete key, then with the button
    memory.list.setCurrentRow(0)
    qtbot.keyClick(memory.list, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: len(memory.facts()) == 2, timeout=5000)
    assert memory.facts() == ["I take my tea without sugar.", "The car is parked on level 4."]
    memory.list.setCurrentRow(0)
    qtbot.mouseClick(memory.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: memory.facts() == ["The car is parked on level 4."],
                    timeout=5000)
    qtbot.waitUntil(lambda: not memory.pending(), timeout=5000)

    # it is all in the database
    with reopened(tmp_path) as again:
        assert [m.text for m in again.memories.list(None)] == ["The car is parked on level 4."]


# --------------------------------------------------------------------------- documents
def test_documents_are_added_by_the_button_and_by_dropping(dialog, qtbot, gui_store,
                                                          tmp_path, monkeypatch) -> None:
    documents = dialog.documents
    dialog.tabs.setCurrentIndex(DOCUMENTS_TAB)
    assert documents.stack.currentWidget() is documents.empty_label
    manual = tmp_path / "kettle manual.md"
    manual.write_text(WARRANTY, encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileNames",
                        lambda *args, **kwargs: ([str(manual)], ""))
    qtbot.mouseClick(documents.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: documents.names() == ["kettle manual.md"], timeout=10000)
    [[_name, size, added]] = documents.rows()
    assert size == f"{len(WARRANTY)} characters" and added.startswith("today")
    assert "Added kettle manual.md" in documents.message_text()
    assert any("24 months" in hit for hit in gui_store.documents.search(None, "warranty"))

    # two files dropped on the dialog (on the Memory tab: it switches to Documents)
    dialog.tabs.setCurrentIndex(0)
    recipe = tmp_path / "recipe.txt"
    recipe.write_text("Pancakes need two eggs and 250 ml of milk.", encoding="utf-8")
    wifi = tmp_path / "wifi.md"
    wifi.write_text("The guest wifi password is marmalade7.", encoding="utf-8")
    assert drop(dialog, [recipe, wifi]) == (True, True)
    assert dialog.tabs.currentIndex() == DOCUMENTS_TAB
    qtbot.waitUntil(lambda: documents.names() == ["kettle manual.md", "recipe.txt",
                                                  "wifi.md"], timeout=10000)
    assert "Added 2 documents" in documents.message_text()
    assert gui_store.documents.search(None, "wifi password")[0].startswith("The guest wifi")

    # delete (asked first)
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    documents.tree.setCurrentItem(documents.tree.topLevelItem(1))
    qtbot.mouseClick(documents.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: documents.names() == ["kettle manual.md", "wifi.md"],
                    timeout=10000)
    assert not any("Pancakes" in hit
                   for hit in gui_store.documents.search(None, "pancakes eggs milk"))
    qtbot.waitUntil(lambda: not documents.pending(), timeout=5000)
    with reopened(tmp_path) as again:
        assert [d.name for d in again.documents.list_documents(None)] == [
            "kettle manual.md", "wifi.md"]


def test_bad_files_are_refused_with_a_reason(dialog, qtbot, gui_store, tmp_path,
                                             monkeypatch) -> None:
    documents = dialog.documents
    dialog.tabs.setCurrentIndex(DOCUMENTS_TAB)
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\xff")
    empty = tmp_path / "empty.md"
    empty.write_text("   \n\n", encoding="utf-8")
    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ\x90\x00" * 64)
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    folder = tmp_path / "folder"
    folder.mkdir()
    pdf = tmp_path / "notes.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    monkeypatch.setattr(extract, "pdf_supported", lambda: False)

    documents.add_files([binary, empty, program, huge, folder, pdf])
    qtbot.waitUntil(lambda: documents.message_line.level == "error"
                    and not documents.pending(), timeout=10000)
    lines = documents.message_text().splitlines()
    assert lines == [
        "photo.txt: it is not a text file (binary data)",
        "empty.md: it contains no text",
        "setup.exe: only .txt, .md and .pdf files can be added",
        "huge.txt: it is larger than 10 MB",
        "folder: folders cannot be added; choose the files in it",
        "notes.pdf: PDF support needs the pypdf package (pip install pypdf)",
    ]
    assert "Traceback" not in documents.message_text()
    assert documents.message_line.isVisible()
    assert gui_store.documents.list_documents(None) == []
    assert documents.names() == []


def test_without_a_store_everything_is_disabled_and_says_why(qloop, qtbot) -> None:
    dialog = KnowledgeDialog(None)
    qtbot.addWidget(dialog)
    dialog.show()
    for widget in (dialog.memory.input, dialog.memory.add_button,
                   dialog.documents.add_button):
        assert not widget.isEnabled() and "store" in widget.toolTip()
    assert "store" in dialog.memory.empty_label.text()
    assert dialog.memory.reload() is None and dialog.documents.add_files([Path("a.md")]) is None


# --------------------------------------------------------------------------- window
def test_the_window_opens_the_panel_refreshes_it_after_turns_and_takes_drops(
        make_window, qtbot, gui_store, tmp_path) -> None:
    window = make_window(tone_config(llm_agent={"type": "OfflineAgent", "params": {}}),
                         store=gui_store)
    assert window.knowledge.button.isEnabled()
    qtbot.mouseClick(window.knowledge.button, Qt.MouseButton.LeftButton)
    dialog = window.knowledge.dialog
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    # the assistant remembers something: the open panel shows it after the turn
    window.send_text("remember that my sister is called Annabel")
    qtbot.waitUntil(lambda: dialog.memory.facts() == ["My sister is called Annabel."],
                    timeout=20000)

    # a file dropped on the main window while the panel is closed: a notice says so
    dialog.close()
    notes = tmp_path / "boiler.txt"
    notes.write_text("Bleed the radiators every October; the boiler code is E119.",
                     encoding="utf-8")
    assert drop(window, [notes]) == (True, True)
    qtbot.waitUntil(lambda: "Added boiler.txt" in (window.notices.text("documents") or ""),
                    timeout=10000)
    assert any("E119" in hit for hit in gui_store.documents.search(None, "boiler code"))
    bad = tmp_path / "slides.pptx"
    bad.write_bytes(b"PK\x03\x04")
    drop(window, [bad])
    qtbot.waitUntil(lambda: window.notices.level("documents") == "error", timeout=10000)
    assert "slides.pptx: only .txt, .md and .pdf files" in window.notices.text("documents")
    # the tray menu opens it too (here on the tab it was left on)
    tray = Tray(app_icon(), window)
    window.knowledge.attach_tray(tray)
    assert tray.knowledge_action.isEnabled()
    dialog.tabs.setCurrentIndex(DOCUMENTS_TAB)
    tray.knowledge_action.trigger()
    assert dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.documents.names() == ["boiler.txt"], timeout=10000)


def test_the_window_without_a_store_disables_the_button(make_window, qtbot, tmp_path) -> None:
    window = make_window(wait_ready=False)
    assert not window.knowledge.button.isEnabled()
    assert "store" in window.knowledge.button.toolTip()
    assert window.knowledge.open() is None
    tray = Tray(app_icon(), window)
    window.knowledge.attach_tray(tray)
    assert not tray.knowledge_action.isEnabled()
    notes = tmp_path / "notes.md"
    notes.write_text("hello", encoding="utf-8")
    assert drop(window, [notes]) == (False, False)
