"""The conversation: user and assistant bubbles, the live partial transcript while the user
speaks, the reply text as it streams in, and discreet tool-call lines.

Feed it the engine's messages with :meth:`ConversationView.handle_message`; typed turns
are added with :meth:`ConversationView.add_user_text` (the protocol sends no transcript
for typed text).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any, ClassVar

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.engine.messages import EngineMessage, ReplySpoken, ServerMessage

BUBBLE_WIDTH = 0.74  # of the visible width
UNSPOKEN_COLOR = "#8a9099"  # reply text not heard (yet)


def _html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


class Bubble(QFrame):
    """One message: ``role`` user / assistant."""

    def __init__(self, role: str, text: str = "", *, partial: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self.partial = partial
        self.interrupted = False
        self.setObjectName("userBubble" if role == "user" else "assistantBubble")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addWidget(self.label)
        self._text = ""
        self._spoken: int | None = None  # characters heard so far; None: not tracked
        self.set_text(text, partial=partial)

    @property
    def text(self) -> str:
        return self._text

    def set_text(self, text: str, *, partial: bool | None = None) -> None:
        self._text = text
        if partial is not None:
            self.partial = partial
        shown = text if text else ("…" if self.partial else "")
        suffix = "  [interrupted]" if self.interrupted else ""
        if self._spoken is not None and text:
            # what has been heard in the normal colour, what is still to come (or was
            # never heard, after an interruption) greyed
            self.label.setTextFormat(Qt.TextFormat.RichText)
            heard, rest = text[:self._spoken], text[self._spoken:]
            self.label.setText(
                _html(heard)
                + (f'<span style="color:{UNSPOKEN_COLOR}">{_html(rest)}</span>' if rest else "")
                + _html(suffix))
        else:
            self.label.setTextFormat(Qt.TextFormat.PlainText)
            self.label.setText(shown + suffix)
        self._update_width()
        self.setProperty("partial", self.partial)
        self.style().unpolish(self)
        self.style().polish(self)

    def fit(self, max_width: int) -> None:
        """Let the bubble grow up to ``max_width`` pixels before wrapping."""
        self._max_width = max_width
        self.setMaximumWidth(max_width)
        self._update_width()

    def _update_width(self) -> None:
        # a word-wrapped QLabel asks for a narrow width; give it the width its text needs
        # (up to the maximum) so short messages stay on one line and long ones use the
        # whole bubble width
        inner = getattr(self, "_max_width", 0) - 24
        if inner <= 0:
            return
        self.label.ensurePolished()  # the style sheet's font, not the default one
        metrics = self.label.fontMetrics()
        natural = max((metrics.horizontalAdvance(line) for line in
                       (self._text or self.label.text()).splitlines() or [""]),
                      default=0) + 4
        width = min(natural, inner)
        self.label.setMinimumWidth(width)
        self.label.setMaximumWidth(inner)

    @property
    def spoken_text(self) -> str | None:
        """The part of the reply heard so far (``None`` until playback reports it)."""
        return None if self._spoken is None else self._text[:self._spoken]

    def mark_spoken(self, clause: str) -> None:
        """The speaker played ``clause``: advance the heard part past it."""
        clause = clause.strip()
        start = self._spoken or 0
        if not clause:
            return
        found = self._text.find(clause, start)
        if found < 0:
            if self._spoken is None:
                self._spoken = 0
            return
        self._spoken = found + len(clause)
        self.set_text(self._text)

    def mark_interrupted(self) -> None:
        if not self.interrupted:
            self.interrupted = True
            self.set_text(self._text, partial=False)


class _Row(QWidget):
    """A bubble aligned right (user) or left (assistant)."""

    def __init__(self, bubble: Bubble, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bubble = bubble
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        if bubble.role == "user":
            layout.addStretch(1)
            layout.addWidget(bubble)
        else:
            layout.addWidget(bubble)
            layout.addStretch(1)


class ConversationView(QScrollArea):
    """Scrolling list of the conversation's messages."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conversationView")
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._content = QWidget()
        self._content.setObjectName("conversationContent")
        self._layout = QVBoxLayout(self._content)
        self._layout.setContentsMargins(16, 16, 16, 16)
        self._layout.setSpacing(10)
        self._placeholder = QLabel(
            "Say something — or type below.\nThe conversation appears here.", self._content)
        self._placeholder.setObjectName("placeholder")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setSizePolicy(QSizePolicy.Policy.Preferred,
                                        QSizePolicy.Policy.Expanding)
        self._layout.addWidget(self._placeholder)
        self._layout.addStretch(1)
        self.setWidget(self._content)
        self._items: list[tuple[str, QWidget]] = []  # (kind, widget) in display order
        self._user: dict[int, Bubble] = {}
        self._assistant: dict[int, Bubble] = {}
        self._stick = True
        self.verticalScrollBar().rangeChanged.connect(self._on_range)
        self.verticalScrollBar().valueChanged.connect(self._on_scroll)

    # ------------------------------------------------------------------ queries (tests)
    def entries(self) -> list[tuple[str, str]]:
        """``(kind, text)`` in display order; kind is user / assistant / tool / note."""
        result = []
        for kind, widget in self._items:
            if isinstance(widget, _Row):
                result.append((kind, widget.bubble.text))
            elif isinstance(widget, QLabel):
                result.append((kind, widget.text()))
        return result

    def assistant_bubbles(self) -> list[Bubble]:
        """The assistant's bubbles of the current reply turns, oldest first."""
        return list(self._assistant.values())

    def texts(self, kind: str) -> list[str]:
        return [text for k, text in self.entries() if k == kind]

    def partial_text(self) -> str | None:
        """The live transcript being recognised, if any."""
        for bubble in self._user.values():
            if bubble.partial:
                return bubble.text
        return None

    # ------------------------------------------------------------------ building
    def clear(self) -> None:
        for _kind, widget in self._items:
            self._layout.removeWidget(widget)
            widget.deleteLater()
        self._items.clear()
        self._user.clear()
        self._assistant.clear()
        self._placeholder.show()
        self._stick = True

    def _append(self, kind: str, widget: QWidget) -> None:
        self._placeholder.hide()
        # before the trailing stretch
        self._layout.insertWidget(self._layout.count() - 1, widget)
        self._items.append((kind, widget))
        if isinstance(widget, _Row):
            self._fit(widget.bubble)

    def _bubble(self, role: str, text: str, *, partial: bool = False) -> Bubble:
        bubble = Bubble(role, text, partial=partial)
        self._append(role, _Row(bubble))
        return bubble

    def _line(self, kind: str, text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("toolLine" if kind == "tool" else "noteLine")
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        self._append(kind, label)
        return label

    def add_user_text(self, text: str) -> Bubble:
        """A typed turn (shown at once)."""
        return self._bubble("user", text)

    def add_note(self, text: str) -> QLabel:
        """A discreet line (errors, conversation events)."""
        return self._line("note", text)

    def load_messages(self, messages: list[dict[str, Any]]) -> None:
        """Show a stored conversation (``{"role", "content", "interrupted"?}`` dicts)."""
        self.clear()
        for m in messages:
            role = m.get("role")
            if role not in ("user", "assistant"):
                continue
            bubble = self._bubble(role, str(m.get("content") or ""))
            if m.get("interrupted"):
                bubble.mark_interrupted()
        self._stick = True

    # ------------------------------------------------------------------ engine messages
    def handle_message(self, message: EngineMessage) -> None:
        """Show what the engine said (other messages are ignored)."""
        if isinstance(message, ReplySpoken):
            bubble = self._assistant.get(message.turn_id)
            if bubble is not None:
                bubble.mark_spoken(message.text)
        elif isinstance(message, ServerMessage):
            handler = self._HANDLERS.get(message.action)
            if handler is not None:
                handler(self, message)

    def _on_session_attached(self, m: ServerMessage) -> None:
        self.load_messages(list(m.data.get("messages") or []))

    def _on_heard(self, m: ServerMessage) -> None:
        partial = m.action == "update_asr"
        bubble = self._user.get(m.turn_id)
        if bubble is None:
            self._user[m.turn_id] = self._bubble("user", m.text(), partial=partial)
        elif bubble.partial or not partial:
            bubble.set_text(m.text(), partial=partial)

    def _on_rejected(self, m: ServerMessage) -> None:
        bubble = self._user.pop(m.turn_id, None)
        if bubble is not None and bubble.partial:
            self._remove(bubble)

    def _on_backchannel(self, m: ServerMessage) -> None:
        # "mm-hmm" while the assistant spoke: not a request, the reply went on
        bubble = self._user.pop(m.turn_id, None)
        if bubble is not None:
            self._remove(bubble)
        self.add_note(f"“{m.text().strip()}” — the reply goes on")

    def _on_merged(self, m: ServerMessage) -> None:
        # the user went on after a pause: that turn and its reply give way to the whole
        # request (the next turn's transcript)
        for bubbles in (self._user, self._assistant):
            bubble = bubbles.pop(m.turn_id, None)
            if bubble is not None:
                self._remove(bubble)
        whole = self._user.get(m.data.get("into_turn_id"))
        if whole is not None and m.text():
            whole.set_text(m.text(), partial=False)

    def _on_reply_text(self, m: ServerMessage) -> None:
        partial = m.action == "update_resp"
        bubble = self._assistant.get(m.turn_id)
        if bubble is None:
            if m.text() or partial:
                self._assistant[m.turn_id] = self._bubble("assistant", m.text(),
                                                          partial=partial)
        elif not bubble.interrupted:
            bubble.set_text(m.text() or bubble.text, partial=partial)

    def _on_reply_stopped(self, m: ServerMessage) -> None:
        bubble = self._assistant.get(m.turn_id)
        if bubble is not None and bubble.partial:
            bubble.mark_interrupted()

    def _on_tool_called(self, m: ServerMessage) -> None:
        self._line("tool", f"⚙ {m.data.get('name', 'tool')}({_short_args(m.data.get('args'))})")

    def _on_error(self, m: ServerMessage) -> None:
        code = m.text("code") or "error"
        if code not in ("invalid_field", "unknown_action"):
            self.add_note(f"⚠ {m.text('message') or code}")

    _HANDLERS: ClassVar[dict[str, Callable[[ConversationView, ServerMessage], None]]] = {
        "session_attached": _on_session_attached,
        "update_asr": _on_heard,
        "finish_asr": _on_heard,
        "invalid_asr_result": _on_rejected,
        "backchannel": _on_backchannel,
        "turn_merged": _on_merged,
        "update_resp": _on_reply_text,
        "finish_resp": _on_reply_text,
        "stop_tts": _on_reply_stopped,
        "tool_called": _on_tool_called,
        "error": _on_error,
    }

    def _remove(self, bubble: Bubble) -> None:
        for i, (_kind, widget) in enumerate(self._items):
            if isinstance(widget, _Row) and widget.bubble is bubble:
                del self._items[i]
                self._layout.removeWidget(widget)
                widget.deleteLater()
                break
        if not self._items:
            self._placeholder.show()

    # ------------------------------------------------------------------ layout
    def _fit(self, bubble: Bubble) -> None:
        bubble.fit(max(200, int(self.viewport().width() * BUBBLE_WIDTH)))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        for _kind, widget in self._items:
            if isinstance(widget, _Row):
                self._fit(widget.bubble)

    def _on_scroll(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._stick = value >= bar.maximum() - 24

    def _on_range(self, _lo: int, hi: int) -> None:
        if self._stick:
            QTimer.singleShot(0, self, self.scroll_to_end)

    def scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())


def _short_args(args: Any, limit: int = 60) -> str:
    if args in (None, "", {}, []):
        return ""
    if isinstance(args, dict):
        text = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items())
    else:
        text = str(args)
    return text if len(text) <= limit else text[:limit - 1] + "…"
