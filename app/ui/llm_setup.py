"""Settings → Language model: what this computer offers, Ollama's models in one click, a
download with progress, a guide when nothing is installed, and the manual fields.

:class:`LLMSetup` is the tab's page. The first time it is shown (and on Refresh) it runs
:func:`xtalk.models.agents.ollama.discover` in a worker thread (``asyncio.to_thread`` on
the app's qasync loop) and shows what answered. With Ollama running, choosing one of its
models fills the endpoint (``<ollama>/v1``) and model fields; "Download <model>" pulls a
recommended model in a worker thread whose progress reaches the GUI thread through Qt
signals (:class:`PullJob`), with Cancel; on success the model is listed and chosen, on
failure Ollama's message is shown and the fields are left as they were. The fields are
saved by the dialog (:meth:`LLMSetup.values`); :meth:`LLMSetup.shutdown` stops the work
when the dialog closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Coroutine, Mapping
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from xtalk.models.agents.ollama import (
    INSTALL_LINUX,
    INSTALL_URL,
    LLAMA_CPP_COMMAND,
    RECOMMENDED,
    Found,
    OllamaClient,
    PullCancelled,
    PullProgress,
    discover,
    format_bytes,
)

TEST_TIMEOUT_S = 5.0
PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress updates a second reach the GUI
OK_COLOR, ERROR_COLOR = "#1d7a45", "#a02828"
MIN_WIDTH = 560  # the model list and "Download <model>" side by side


def test_llm_connection(base_url: str, api_key: str = "", model: str = "",
                        timeout_s: float = TEST_TIMEOUT_S) -> tuple[bool, str]:
    """Ask ``base_url`` for its models (blocking: run it in a worker thread).

    Returns:
        ``(ok, message)``; the message never contains the API key.
    """
    from xtalk.models.agents.endpoints import fetch_model_ids

    base_url = base_url.strip()
    if not base_url:
        return False, "Enter the server's base URL (e.g. http://localhost:11434/v1)."
    if not base_url.startswith(("http://", "https://")):
        return False, "The base URL must start with http:// or https://."
    try:
        ids = fetch_model_ids(base_url, timeout_s, api_key=api_key.strip())
    except Exception as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            return False, f"The server refused the API key (HTTP {status})."
        if status is not None:
            return False, f"The server answered HTTP {status}."
        return False, f"Cannot reach {base_url} ({type(exc).__name__})."
    if not ids:
        return False, "Connected, but the server lists no models."
    if model and model not in ids:
        return False, (f"Connected, but model “{model}” is not offered "
                       f"(available: {', '.join(ids[:5])}).")
    return True, f"Connected: {len(ids)} model(s), e.g. {', '.join(ids[:3])}."


def guide_html() -> str:
    """What to do when no language model is found (rich text, meant to be copied)."""
    first = RECOMMENDED[0]
    return (
        "Without a language model Xtalk answers only the time, the date and help. To "
        "run one on this computer (free, nothing leaves it):<br><br>"
        "<b>1. Install Ollama</b><br>"
        f"Linux: <code>{INSTALL_LINUX}</code><br>"
        f"macOS, Windows: the installer from <a href='{INSTALL_URL}'>{INSTALL_URL}</a><br>"
        f"<b>2. Download a model:</b> <code>ollama pull {first.name}</code> "
        f"({first.download}), or press Refresh once Ollama runs and download it here.<br><br>"
        "<b>Or</b> run llama.cpp's server: "
        f"<code>{LLAMA_CPP_COMMAND}</code>, or enter any OpenAI-compatible server below.")


def _same_url(a: str, b: str) -> bool:
    def norm(url: str) -> str:
        return url.strip().rstrip("/").replace("://localhost", "://127.0.0.1")

    return bool(a.strip()) and norm(a) == norm(b)


class PullJob(QObject):
    """One ``ollama pull`` in a worker thread; reports through queued Qt signals.

    Signals: ``progress(PullProgress)`` (throttled to :data:`PROGRESS_INTERVAL_S`, every
    change of status and the last line always), ``finished(name, error)`` with ``error``
    ``None`` on success, else the exception (:class:`PullCancelled` when cancelled).
    """

    progress = Signal(object)
    finished = Signal(str, object)

    def __init__(self, ollama_url: str, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.client = OllamaClient(ollama_url)
        self._cancel = threading.Event()
        self._last: tuple[str, float] = ("", 0.0)
        self._thread = threading.Thread(target=self._run, name="xtalk-ollama-pull",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        """Stop the download (any thread); ``finished`` then reports PullCancelled."""
        self._cancel.set()
        self.client.cancel()

    def wait(self, timeout_s: float) -> bool:
        """Join the worker thread; ``True`` when it has ended."""
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _report(self, progress: PullProgress) -> None:
        status, stamp = self._last
        now = time.monotonic()
        if progress.done or progress.status != status or now - stamp >= PROGRESS_INTERVAL_S:
            self._last = (progress.status, now)
            with contextlib.suppress(RuntimeError):  # the dialog is gone
                self.progress.emit(progress)

    def _run(self) -> None:
        error: Exception | None = None
        try:
            self.client.pull(self.name, self._report, cancel=self._cancel)
        except Exception as exc:
            error = exc
        with contextlib.suppress(RuntimeError):
            self.finished.emit(self.name, error)


class LLMSetup(QWidget):
    """The Language model tab (see the module docstring). ``llm``: the saved
    ``{"base_url", "model", "api_key"}``; :meth:`values` returns them as edited."""

    def __init__(self, llm: Mapping[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.found: list[Found] = []
        self.ollama: Found | None = None
        self.job: PullJob | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._test_task: asyncio.Future[Any] | None = None
        self._discovered = False
        self._closed = False
        self.setMinimumWidth(MIN_WIDTH)
        layout = QVBoxLayout(self)
        layout.addWidget(self._found_box())
        layout.addWidget(self._manual_box(llm))
        layout.addStretch(1)

    # ------------------------------------------------------------------ layout
    def _found_box(self) -> QGroupBox:
        box = QGroupBox("Found on this computer", self)
        layout = QVBoxLayout(box)
        top = QHBoxLayout()
        self.found_label = QLabel("Looking…", box)
        self.found_label.setWordWrap(True)
        self.found_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refresh_button = QPushButton("Refresh", box)
        self.refresh_button.clicked.connect(lambda: self.refresh())
        top.addWidget(self.found_label, 1)
        top.addWidget(self.refresh_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top)
        self.order_note = QLabel("With the fields below empty, Xtalk uses the first of "
                                 "these.", box)
        self.order_note.setObjectName("noteLine")
        self.order_note.setWordWrap(True)
        layout.addWidget(self.order_note)

        self.ollama_panel = QWidget(box)
        form = QFormLayout(self.ollama_panel)
        form.setContentsMargins(0, 4, 0, 0)
        self.models_combo = QComboBox(self.ollama_panel)
        self.models_combo.activated.connect(self._model_chosen)
        form.addRow("Ollama model", self.models_combo)
        row = QHBoxLayout()
        self.download_combo = QComboBox(self.ollama_panel)
        self.download_combo.currentIndexChanged.connect(self._download_choice_changed)
        self.download_button = QPushButton("Download", self.ollama_panel)
        self.download_button.clicked.connect(lambda: self.start_download())
        row.addWidget(self.download_combo, 1)
        row.addWidget(self.download_button)
        form.addRow("Get a model", row)
        status = QWidget(self.ollama_panel)  # hidden parts take no room
        column = QVBoxLayout(status)
        column.setContentsMargins(0, 0, 0, 0)
        self.download_note = QLabel("", status)
        self.download_note.setObjectName("noteLine")
        self.download_note.setWordWrap(True)
        self.progress_widget = QWidget(status)
        progress_row = QHBoxLayout(self.progress_widget)
        progress_row.setContentsMargins(0, 0, 0, 0)
        self.progress_bar = QProgressBar(self.progress_widget)
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel", self.progress_widget)
        self.cancel_button.clicked.connect(self.cancel_download)
        progress_row.addWidget(self.progress_bar, 1)
        progress_row.addWidget(self.cancel_button)
        self.progress_label = QLabel("", status)
        self.progress_label.setWordWrap(True)
        self.download_result = QLabel("", status)
        self.download_result.setWordWrap(True)
        self.download_result.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        for widget in (self.download_note, self.progress_widget, self.progress_label,
                       self.download_result):
            column.addWidget(widget)
        column.addStretch(1)  # spare height below the text, not around it
        self.progress_widget.hide()
        self.progress_label.hide()
        self.download_result.hide()
        form.addRow("", status)
        layout.addWidget(self.ollama_panel)
        self.ollama_panel.hide()

        self.guide = QLabel(guide_html(), box)
        self.guide.setWordWrap(True)
        self.guide.setTextFormat(Qt.TextFormat.RichText)
        self.guide.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.guide.setOpenExternalLinks(True)
        layout.addWidget(self.guide)
        self.guide.hide()
        return box

    def _manual_box(self, llm: Mapping[str, str]) -> QGroupBox:
        box = QGroupBox("Connection", self)
        form = QFormLayout(box)
        intro = QLabel("Any OpenAI-compatible server (Ollama, llama.cpp, LM Studio, "
                       "OpenAI…). Leave empty to use what was found; without anything, a "
                       "small offline assistant answers.", box)
        intro.setWordWrap(True)
        intro.setObjectName("noteLine")
        form.addRow(intro)
        self.base_url_edit = QLineEdit(llm.get("base_url", ""), box)
        self.base_url_edit.setPlaceholderText("http://localhost:11434/v1")
        form.addRow("Endpoint", self.base_url_edit)
        self.model_edit = QLineEdit(llm.get("model", ""), box)
        self.model_edit.setPlaceholderText("e.g. llama3.2 (empty: the server's first model)")
        form.addRow("Model", self.model_edit)
        self.key_edit = QLineEdit(llm.get("api_key", ""), box)
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("only for servers that need one")
        form.addRow("API key", self.key_edit)
        self.test_button = QPushButton("Test connection", box)
        self.test_button.clicked.connect(self.test_connection)
        self.test_result = QLabel("", box)
        self.test_result.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.test_button)
        row.addWidget(self.test_result, 1)
        form.addRow(row)
        return box

    # ------------------------------------------------------------------ tasks
    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any] | None:
        """Run ``coro`` on the running (qasync) loop; ``None`` without one."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            return None
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._discovered:
            self.refresh()
        self.fit_window()

    def fit_window(self) -> None:
        """Grow the dialog to show all of the page (wrapped text needs more height than
        Qt's minimum size allows for), within the screen; once the layouts have taken
        the change in (next turn of the event loop)."""
        QTimer.singleShot(0, self, self._fit_now)

    def _fit_now(self) -> None:
        window = self.window()
        layout = window.layout() if window is not self else None
        if layout is None or not self.isVisible():
            return
        layout.activate()
        need = window.heightForWidth(window.width())
        if need <= 0:
            need = window.sizeHint().height()
        screen = window.screen()
        if screen is not None:
            need = min(need, screen.availableGeometry().height() - 40)
        if need > window.height():
            window.resize(window.width(), need)

    # ------------------------------------------------------------------ discovery
    def refresh(self, select: str | None = None) -> asyncio.Future[Any] | None:
        """Look again for language models (in a worker thread); ``select``: an Ollama
        model to choose once it is listed."""
        self._discovered = True
        self.refresh_button.setEnabled(False)
        task = self._spawn(self._refresh(select))
        if task is None:  # no event loop (never in the app)
            self.refresh_button.setEnabled(True)
        return task

    async def _refresh(self, select: str | None) -> None:
        try:
            found = await asyncio.to_thread(discover)
        except Exception:  # pragma: no cover - discover reports, never raises
            found = []
        if self._closed:
            return
        self.show_found(found)
        if select:
            self.choose_model(select)

    def show_found(self, found: list[Found]) -> None:
        """Show ``found`` (what :func:`discover` returned)."""
        self.found = list(found)
        self.ollama = next((f for f in found if f.kind == "ollama"), None)
        self.refresh_button.setEnabled(self.job is None)
        if found:
            self.found_label.setText("\n".join(f"✓ {f.describe()}" for f in found))
        else:
            self.found_label.setText("Nothing found: no local server answered, and "
                                     "OPENAI_API_KEY is not set.")
        self.order_note.setVisible(len(found) > 1)
        self.guide.setVisible(not found)
        self.ollama_panel.setVisible(self.ollama is not None)
        if self.ollama is not None:
            self._fill_models(self.ollama)
            self._fill_downloads(self.ollama)
        self.fit_window()

    def _fill_models(self, ollama: Found) -> None:
        combo = self.models_combo
        combo.clear()
        if not ollama.details:
            combo.addItem("No models yet: download one below", None)
            combo.setEnabled(False)
            return
        combo.setEnabled(True)
        combo.addItem("Choose a model…", None)
        for model in ollama.details:
            combo.addItem(model.label(), model.name)
        chosen = self.model_edit.text().strip()
        if chosen and _same_url(self.base_url_edit.text(), ollama.base_url):
            combo.setCurrentIndex(max(0, combo.findData(chosen)))

    def _fill_downloads(self, ollama: Found) -> None:
        combo = self.download_combo
        combo.blockSignals(True)
        combo.clear()
        for rec in RECOMMENDED:
            if rec.name not in ollama.models:
                combo.addItem(f"{rec.name} · {rec.download}", rec.name)
        if combo.count() == 0:
            combo.addItem("All recommended models are installed", None)
        combo.blockSignals(False)
        self._download_choice_changed()

    def _download_choice_changed(self) -> None:
        name = self.download_combo.currentData()
        rec = next((r for r in RECOMMENDED if r.name == name), None)
        busy = self.job is not None
        self.download_combo.setEnabled(rec is not None and not busy)
        self.download_button.setEnabled(rec is not None and not busy)
        if rec is None:
            self.download_button.setText("Download")
            self.download_note.setText("")
            return
        self.download_button.setText(f"Download {rec.name}")
        self.download_note.setText(f"{rec.reason[:1].upper()}{rec.reason[1:]} "
                                   f"({rec.parameters} parameters, {rec.download}).")
        self.download_note.setToolTip("Sizes as listed on ollama.com/library")

    # ------------------------------------------------------------------ choosing
    def _model_chosen(self, index: int) -> None:
        name = self.models_combo.itemData(index)
        if name and self.ollama is not None:
            self.base_url_edit.setText(self.ollama.base_url)
            self.model_edit.setText(str(name))

    def choose_model(self, name: str) -> bool:
        """Choose Ollama's model ``name`` (fills the fields); ``False`` if not listed."""
        index = self.models_combo.findData(name)
        if index < 0:
            return False
        self.models_combo.setCurrentIndex(index)
        self._model_chosen(index)
        return True

    # ------------------------------------------------------------------ download
    def start_download(self, name: str | None = None) -> PullJob | None:
        """Download ``name`` (default: the chosen recommendation) from Ollama."""
        name = name or self.download_combo.currentData()
        if not name or self.ollama is None or self.job is not None:
            return None
        job = PullJob(self.ollama.native_url, str(name), self)
        job.progress.connect(self._pull_progress, Qt.ConnectionType.QueuedConnection)
        job.finished.connect(self._pull_finished, Qt.ConnectionType.QueuedConnection)
        self.job = job
        self._result(None, "")
        self.progress_bar.setRange(0, 0)  # busy until the sizes are known
        self.progress_label.setText(f"Asking Ollama for {name}…")
        self.progress_widget.show()
        self.progress_label.show()
        self.cancel_button.setEnabled(True)
        self.refresh_button.setEnabled(False)
        self._download_choice_changed()
        self.fit_window()
        job.start()
        return job

    def cancel_download(self) -> None:
        if self.job is not None:
            self.cancel_button.setEnabled(False)
            self.progress_label.setText("Cancelling…")
            self.job.cancel()

    def _pull_progress(self, progress: PullProgress) -> None:
        if self._closed or self.job is None:
            return
        fraction = progress.fraction
        if fraction is None:
            self.progress_bar.setRange(0, 0)
        else:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(round(fraction * 1000))
        if progress.digest and fraction is not None:
            text = (f"Downloading {self.job.name}: {format_bytes(progress.overall_completed)}"
                    f" of {format_bytes(progress.overall_total)} ({fraction:.0%})")
        else:  # "pulling manifest", "verifying sha256 digest", ...
            text = progress.status[:1].upper() + progress.status[1:] + "…"
        self.progress_label.setText(text)

    def _pull_finished(self, name: str, error: object) -> None:
        job, self.job = self.job, None
        if self._closed:
            return
        if job is not None:
            job.deleteLater()
        self.progress_widget.hide()
        self.progress_label.hide()
        self.refresh_button.setEnabled(True)
        if error is None:
            self._result(True, f"{name} is downloaded and chosen (Save to use it).")
            self.refresh(select=name)
        elif isinstance(error, PullCancelled):
            self._result(None, "Download cancelled.")
            self._download_choice_changed()
        else:
            self._result(False, str(error))
            self._download_choice_changed()
        self.fit_window()

    def _result(self, ok: bool | None, text: str) -> None:
        color = "" if ok is None else f"color: {OK_COLOR if ok else ERROR_COLOR};"
        self.download_result.setStyleSheet(color)
        self.download_result.setText(("" if ok is None else "✓ " if ok else "✗ ") + text)
        self.download_result.setVisible(bool(text))

    # ------------------------------------------------------------------ manual test
    def test_connection(self) -> None:
        if self._test_task is not None and not self._test_task.done():
            return
        self.test_button.setEnabled(False)
        self.test_result.setStyleSheet("")
        self.test_result.setText("Testing…")
        self._test_task = self._spawn(self._test())
        if self._test_task is None:  # no event loop (never in the app)
            self.test_button.setEnabled(True)
            self.test_result.setText("")

    async def _test(self) -> None:
        try:
            ok, message = await asyncio.to_thread(
                test_llm_connection, self.base_url_edit.text(), self.key_edit.text(),
                self.model_edit.text().strip())
        except Exception as exc:  # pragma: no cover - defensive
            ok, message = False, f"Test failed: {type(exc).__name__}"
        if self._closed:
            return
        self.test_result.setStyleSheet(f"color: {OK_COLOR if ok else ERROR_COLOR};")
        self.test_result.setText(("✓ " if ok else "✗ ") + message)
        self.test_button.setEnabled(True)

    # ------------------------------------------------------------------ result
    def values(self) -> dict[str, str]:
        """``{"base_url", "model", "api_key"}`` as edited."""
        return {"base_url": self.base_url_edit.text().strip(),
                "model": self.model_edit.text().strip(),
                "api_key": self.key_edit.text().strip()}

    def shutdown(self) -> None:
        """Stop looking and downloading (the dialog is closing)."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        job = self.job
        if job is not None:
            job.cancel()
            job.wait(2.0)


__all__ = ["LLMSetup", "PullJob", "guide_html", "test_llm_connection"]
