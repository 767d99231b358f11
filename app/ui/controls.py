"""The talk controls: hands-free toggle, push-to-talk (button and keyboard shortcut),
mute, and a text box to type instead of speaking."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

DEFAULT_SHORTCUT = "Space"
_MODIFIERS = (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier
              | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier)


def parse_shortcut(text: str | None) -> tuple[Qt.Key, Qt.KeyboardModifier] | None:
    """``"Space"``, ``"F9"``, ``"Ctrl+Space"`` → (key, modifiers); None when invalid."""
    sequence = QKeySequence.fromString(text or DEFAULT_SHORTCUT,
                                       QKeySequence.SequenceFormat.PortableText)
    if sequence.isEmpty():
        return None
    combo = sequence[0]
    key = combo.key()
    if key in (Qt.Key.Key_unknown, 0):
        return None
    return key, combo.keyboardModifiers() & _MODIFIERS


def is_text_input(widget: QWidget | None) -> bool:
    """Whether typing into ``widget`` must not trigger the push-to-talk key."""
    if widget is None:
        return False
    if isinstance(widget, QLineEdit | QTextEdit | QPlainTextEdit | QAbstractSpinBox):
        return True
    return isinstance(widget, QComboBox) and widget.isEditable()


class PushToTalkKey(QObject):
    """Holds push-to-talk while a key is held down in ``window`` (not while a text box has
    the focus). Installed as an application event filter.

    Signals:
        changed(bool): pressed / released.
    """

    changed = Signal(bool)

    def __init__(self, window: QWidget, shortcut: str = DEFAULT_SHORTCUT) -> None:
        super().__init__(window)
        self.window = window
        self.held = False
        self.shortcut = DEFAULT_SHORTCUT
        self._combo = parse_shortcut(DEFAULT_SHORTCUT)
        self._global: Any = None  # GlobalPushToTalk while a desktop-wide key is set
        self.set_shortcut(shortcut)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def set_shortcut(self, shortcut: str | None) -> bool:
        combo = parse_shortcut(shortcut)
        if combo is None:
            return False
        self.shortcut = shortcut or DEFAULT_SHORTCUT
        self._combo = combo
        return True

    def apply_settings(self, new: dict[str, Any], old: dict[str, Any] | None = None
                       ) -> list[tuple[str, str]]:
        """Take the keys of the settings ``new`` (``old``: the ones in use); the problems
        as (notice key, text)."""
        problems = []
        if not self.set_shortcut(new["push_to_talk_shortcut"]):
            problems.append(("settings", f"“{new['push_to_talk_shortcut']}” is not a key: "
                                         f"push-to-talk stays on {self.shortcut}."))
        desktop = new["global_push_to_talk"]
        if old is None or desktop != old["global_push_to_talk"]:
            problem = self.set_global_shortcut(desktop)
            if problem:
                problems.append(("push_to_talk",
                                 f"Push-to-talk from other windows is off: {problem}."))
        return problems

    def set_global_shortcut(self, shortcut: str | None) -> str | None:
        """Also hold push-to-talk while ``shortcut`` is held in any window (X11; empty:
        off). Returns why that is impossible, or ``None``."""
        from app.ui.global_hotkey import GlobalPushToTalk

        if self._global is not None:
            self._global.stop()
            self._global = None
        if not shortcut:
            return None
        desktop = GlobalPushToTalk(shortcut, parent=self)
        if not desktop.start():
            return desktop.error
        desktop.changed.connect(self._desktop_key)
        self._global = desktop
        return None

    def _desktop_key(self, down: bool) -> None:
        if down != self.held:
            self.held = down
            self.changed.emit(down)

    def detach(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self.set_global_shortcut(None)

    def release(self) -> None:
        if self.held:
            self.held = False
            self.changed.emit(False)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.ApplicationDeactivate:
            self.release()
            return False
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return False
        if not isinstance(obj, QWidget) or obj.window() is not self.window:
            return False
        assert isinstance(event, QKeyEvent)
        key, modifiers = self._combo
        if event.key() != key:
            return False
        if kind == QEvent.Type.KeyPress:
            if is_text_input(QApplication.focusWidget()) or is_text_input(obj):
                return False
            if (event.modifiers() & _MODIFIERS) != modifiers:
                return False
            if not event.isAutoRepeat() and not self.held:
                self.held = True
                self.changed.emit(True)
            return True
        if not self.held:
            return False
        if not event.isAutoRepeat():
            self.release()
        return True


class Controls(QWidget):
    """Hands-free, push-to-talk, mute, and the text box.

    Signals:
        text_submitted(str), push_to_talk(bool), mute_toggled(bool),
        hands_free_toggled(bool)
    """

    text_submitted = Signal(str)
    push_to_talk = Signal(bool)
    mute_toggled = Signal(bool)
    hands_free_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None, *, shortcut: str = DEFAULT_SHORTCUT,
                 hands_free: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("controls")

        self.hands_free = QCheckBox("Hands-free", self)
        self.hands_free.setChecked(hands_free)
        self.hands_free.setToolTip("Listen all the time and answer when you stop speaking")
        self.hands_free.toggled.connect(self.hands_free_toggled.emit)

        self.talk_button = QPushButton(self)
        self.talk_button.setObjectName("talkButton")
        self.talk_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.talk_button.pressed.connect(lambda: self.push_to_talk.emit(True))
        self.talk_button.released.connect(lambda: self.push_to_talk.emit(False))

        self.mute_button = QPushButton("Mute", self)
        self.mute_button.setObjectName("muteButton")
        self.mute_button.setCheckable(True)
        self.mute_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.mute_button.setToolTip("Mute the microphone (Ctrl+M)")
        self.mute_button.toggled.connect(self._mute_toggled)

        self.text = QLineEdit(self)
        self.text.setObjectName("messageBox")
        self.text.setPlaceholderText("Type a message and press Enter…")
        self.text.setClearButtonEnabled(True)
        self.text.returnPressed.connect(self.submit)
        self.send_button = QPushButton("Send", self)
        self.send_button.setObjectName("sendButton")
        self.send_button.clicked.connect(self.submit)
        self.text.textChanged.connect(
            lambda t: self.send_button.setEnabled(bool(t.strip())))
        self.send_button.setEnabled(False)

        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(self.talk_button, 1)
        top.addWidget(self.mute_button)
        top.addWidget(self.hands_free)
        bottom = QHBoxLayout()
        bottom.setSpacing(8)
        bottom.addWidget(self.text, 1)
        bottom.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addLayout(bottom)
        self.set_shortcut(shortcut)

    # ------------------------------------------------------------------ state
    def set_hands_free(self, on: bool) -> None:
        """Show hands-free on or off without announcing it."""
        self.hands_free.blockSignals(True)
        self.hands_free.setChecked(on)
        self.hands_free.blockSignals(False)

    def set_shortcut(self, shortcut: str) -> None:
        self.shortcut = shortcut or DEFAULT_SHORTCUT
        shown = QKeySequence.fromString(self.shortcut).toString(
            QKeySequence.SequenceFormat.NativeText) or self.shortcut
        self.talk_button.setText(f"Hold to talk  ({shown})")
        self.talk_button.setToolTip(
            f"Hold this button, or hold {shown} while the text box is not focused")

    def set_talking(self, held: bool) -> None:
        """Show the push-to-talk button pressed (also when the key holds it)."""
        self.talk_button.setProperty("held", bool(held))
        self.talk_button.style().unpolish(self.talk_button)
        self.talk_button.style().polish(self.talk_button)

    def set_muted(self, muted: bool) -> None:
        """Reflect the mute state without emitting ``mute_toggled``."""
        self.mute_button.blockSignals(True)
        self.mute_button.setChecked(bool(muted))
        self.mute_button.blockSignals(False)
        self.mute_button.setText("Unmute" if muted else "Mute")

    def set_voice_enabled(self, enabled: bool) -> None:
        """Enable the voice controls (off while loading or without a microphone)."""
        self.talk_button.setEnabled(enabled)
        self.mute_button.setEnabled(enabled)
        self.hands_free.setEnabled(enabled)

    def set_text_enabled(self, enabled: bool) -> None:
        self.text.setEnabled(enabled)
        self.send_button.setEnabled(enabled and bool(self.text.text().strip()))

    def _mute_toggled(self, muted: bool) -> None:
        self.mute_button.setText("Unmute" if muted else "Mute")
        self.mute_toggled.emit(muted)

    def submit(self) -> None:
        text = self.text.text().strip()
        if not text or not self.text.isEnabled():
            return
        self.text.clear()
        self.text_submitted.emit(text)
