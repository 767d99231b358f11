"""Settings → Language model (app/ui/llm_setup.py), offscreen, against a scripted Ollama
(tests/support/ollama_server.py; nothing is downloaded): what was found is shown with
Ollama's models, choosing one fills the fields and is saved, a download shows its progress
and ends with the model chosen, a failing or cancelled download shows why and leaves the
previous setting, and with nothing found the guide is shown."""

from __future__ import annotations

import json

import pytest
from llm_server import free_port
from ollama_server import PullFails, PullHangs, ScriptedOllamaServer
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from app.settings import normalize, settings_path

LLM_TAB = 2


@pytest.fixture
def no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture
def ollama(monkeypatch, no_key):
    """A scripted Ollama with two models, the only server the app probes."""
    with ScriptedOllamaServer(installed=["llama3.2:1b", "gemma2:2b"], version="0.5.7",
                              step_delay_s=0.05) as server:
        monkeypatch.setenv("XTALK_LLM_PROBE_URLS", str(server.port))
        yield server


@pytest.fixture
def open_dialog(qloop, qtbot, config_dir):
    """``open_dialog(llm=None)`` → a shown settings dialog on the Language model tab, once
    discovery has finished."""
    from app.ui.settings_dialog import SettingsDialog

    dialogs = []

    def make(llm: dict[str, str] | None = None) -> SettingsDialog:
        dialog = SettingsDialog(normalize({"llm": llm or {}}))
        qtbot.addWidget(dialog)
        dialogs.append(dialog)
        dialog.tabs.setCurrentIndex(LLM_TAB)
        dialog.show()
        qtbot.waitUntil(lambda: dialog.llm.refresh_button.isEnabled(), timeout=10000)
        return dialog

    yield make
    for dialog in dialogs:
        dialog.reject()


def items(combo) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def test_the_found_server_and_its_models_are_shown(open_dialog, ollama) -> None:
    panel = open_dialog().llm
    assert panel.found_label.text() == "✓ Ollama 0.5.7 is running — 2 models"
    assert panel.ollama_panel.isVisible() and not panel.guide.isVisible()
    assert items(panel.models_combo) == ["Choose a model…", "llama3.2:1b · 1.3 GB · 1.2B · Q8_0",
                                         "gemma2:2b · 1.6 GB · 2.6B · Q4_0"]
    # the recommendations not installed yet, smallest first
    assert items(panel.download_combo) == ["qwen2.5:1.5b · 986 MB", "llama3.2:3b · 2.0 GB"]
    assert panel.download_button.text() == "Download qwen2.5:1.5b"
    assert "986 MB" in panel.download_note.text()
    assert not panel.progress_widget.isVisible()


def test_choosing_a_model_fills_the_fields_and_is_saved(make_window, qtbot, ollama) -> None:
    window = make_window()
    dialog = window.open_settings(tab=LLM_TAB)
    panel = dialog.llm
    qtbot.waitUntil(lambda: panel.models_combo.count() == 3, timeout=10000)
    index = panel.models_combo.findData("gemma2:2b")
    panel.models_combo.setCurrentIndex(index)
    panel.models_combo.activated.emit(index)  # what a click on the item does
    assert dialog.base_url_edit.text() == ollama.base_url
    assert dialog.model_edit.text() == "gemma2:2b"
    save = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: settings_path().exists() and json.loads(
        settings_path().read_text())["llm"]["model"] == "gemma2:2b", timeout=10000)
    assert json.loads(settings_path().read_text())["llm"] == {
        "base_url": ollama.base_url, "model": "gemma2:2b", "api_key": ""}
    # opened again: the saved model is the one shown as chosen
    again = window.open_settings(tab=LLM_TAB)
    qtbot.waitUntil(lambda: again.llm.models_combo.count() == 3, timeout=10000)
    assert again.llm.models_combo.currentData() == "gemma2:2b"
    again.reject()


def test_a_download_shows_progress_and_ends_chosen(open_dialog, qtbot, ollama) -> None:
    panel = open_dialog().llm
    values: list[int] = []
    texts: list[str] = []
    panel.progress_bar.valueChanged.connect(values.append)
    qtbot.mouseClick(panel.download_button, Qt.MouseButton.LeftButton)
    assert panel.job is not None and panel.job.name == "qwen2.5:1.5b"
    assert panel.progress_widget.isVisible() and panel.cancel_button.isEnabled()
    assert not panel.download_button.isEnabled() and not panel.refresh_button.isEnabled()
    qtbot.waitUntil(lambda: texts.append(panel.progress_label.text()) or panel.job is None,
                    timeout=20000)
    assert any(t.startswith("Downloading qwen2.5:1.5b: ") and " MB of 986 MB (" in t
               for t in texts), texts
    assert values and values == sorted(values) and max(values) == 1000
    assert panel.download_result.text() == \
        "✓ qwen2.5:1.5b is downloaded and chosen (Save to use it)."
    assert not panel.progress_widget.isVisible()
    # listed and chosen once Ollama lists it
    qtbot.waitUntil(lambda: panel.models_combo.currentData() == "qwen2.5:1.5b", timeout=10000)
    assert panel.found_label.text() == "✓ Ollama 0.5.7 is running — 3 models"
    assert panel.base_url_edit.text() == ollama.base_url
    assert panel.model_edit.text() == "qwen2.5:1.5b"
    assert "qwen2.5:1.5b · 986 MB" not in items(panel.download_combo)
    assert panel.values() == {"base_url": ollama.base_url, "model": "qwen2.5:1.5b",
                              "api_key": ""}


def test_a_failing_download_shows_the_error_and_keeps_the_setting(open_dialog, qtbot,
                                                                   ollama) -> None:
    before = {"base_url": "http://127.0.0.1:8080/v1", "model": "my-model", "api_key": ""}
    ollama.script_pull("qwen2.5:1.5b", PullFails(after_lines=3))
    dialog = open_dialog(before)
    panel = dialog.llm
    qtbot.mouseClick(panel.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.job is None, timeout=20000)
    text = panel.download_result.text()
    assert text.startswith("✗ Downloading qwen2.5:1.5b failed.")
    assert "no space left on device" in text
    assert not panel.progress_widget.isVisible()
    assert panel.download_button.isEnabled() and panel.refresh_button.isEnabled()
    assert dialog.values()["llm"] == before
    assert "qwen2.5:1.5b" not in ollama.installed_names


def test_a_download_can_be_cancelled(open_dialog, qtbot, ollama) -> None:
    ollama.script_pull("qwen2.5:1.5b", PullHangs(after_lines=2, seconds=30))
    panel = open_dialog().llm
    qtbot.mouseClick(panel.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Downloading qwen2.5:1.5b: " in panel.progress_label.text(),
                    timeout=10000)
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.job is None, timeout=5000)
    assert panel.download_result.text() == "Download cancelled."
    assert panel.model_edit.text() == ""
    qtbot.waitUntil(lambda: ollama.abandoned_pulls == 1, timeout=5000)


def test_closing_the_dialog_stops_a_download(open_dialog, qtbot, ollama) -> None:
    ollama.script_pull("qwen2.5:1.5b", PullHangs(after_lines=1, seconds=30))
    dialog = open_dialog()
    qtbot.mouseClick(dialog.llm.download_button, Qt.MouseButton.LeftButton)
    job = dialog.llm.job
    dialog.reject()
    assert job is not None and job.wait(0)  # the worker thread has ended
    qtbot.waitUntil(lambda: ollama.abandoned_pulls == 1, timeout=5000)


def test_with_nothing_found_the_guide_is_shown(open_dialog, monkeypatch, no_key) -> None:
    monkeypatch.setenv("XTALK_LLM_PROBE_URLS", str(free_port()))
    panel = open_dialog().llm
    assert panel.found_label.text().startswith("Nothing found")
    assert panel.guide.isVisible() and not panel.ollama_panel.isVisible()
    guide = panel.guide.text()
    assert "curl -fsSL https://ollama.com/install.sh | sh" in guide
    assert "https://ollama.com/download" in guide
    assert "ollama pull qwen2.5:1.5b" in guide
    assert "llama-server -m model.gguf --port 8080" in guide
    assert panel.guide.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    # the manual fields are still there for other providers
    assert panel.base_url_edit.isVisible() and panel.key_edit.isVisible()


def test_a_key_in_the_environment_is_reported_never_shown(open_dialog, monkeypatch,
                                                          ollama) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-show-me")
    panel = open_dialog().llm
    assert panel.found_label.text().splitlines() == [
        "✓ OPENAI_API_KEY is set", "✓ Ollama 0.5.7 is running — 2 models"]
    assert panel.order_note.isVisible()
    assert "sk-do-not-show" not in panel.found_label.text()
