"""The main window (offscreen, tone-code models): it opens at once and loads in the
background, typed and spoken turns are shown with their latency, push-to-talk and mute
change the state, conversations are listed, renamed, reopened and deleted."""

from __future__ import annotations

import re

import numpy as np
from harness import decode_wire_audio, speech
from microphone_feed import feed_in_background
from PySide6.QtCore import Qt


def test_the_window_opens_at_once_and_loads_in_the_background(make_window, qtbot) -> None:
    window = make_window(wait_ready=False)
    assert window.isVisible()
    assert window.status.state == "loading"
    assert not window.controls.text.isEnabled()  # nothing to talk to yet
    qtbot.waitUntil(lambda: window.status.state == "listening", timeout=30000)
    assert window.status.text == "Listening"
    assert window.progress.isHidden()
    assert window.controls.text.isEnabled() and window.controls.talk_button.isEnabled()
    assert window.engine is not None and window.engine.session_id


def test_a_typed_message_gets_a_reply(make_window, qtbot) -> None:
    window = make_window()
    states: list[str] = []
    window.engine.add_listener(
        lambda m: states.append(m.state) if m.action == "engine_state" else None)
    audio: list[np.ndarray] = []
    window.engine.add_listener(
        lambda m: audio.append(m.pcm) if m.action == "audio" else None)
    qtbot.keyClicks(window.controls.text, "what time is it")
    qtbot.keyClick(window.controls.text, Qt.Key.Key_Return)
    assert window.controls.text.text() == ""
    qtbot.waitUntil(lambda: len(window.view.texts("assistant")) == 1, timeout=20000)
    assert window.view.texts("user") == ["what time is it"]
    # the reply streams in; the virtual speaker plays it in real time, then the state
    # is back to listening
    qtbot.waitUntil(lambda: window.status.state == "listening", timeout=20000)
    [reply] = window.view.texts("assistant")
    assert re.fullmatch(r"It is \d\d:\d\d\.", reply), reply
    # the speaker reported every chunk it played: the whole reply was heard
    [bubble] = window.view.assistant_bubbles()
    qtbot.waitUntil(lambda: bubble.spoken_text == reply, timeout=5000)
    # the latency of a typed turn: no speech stages
    shown = window.latency.shown()
    assert shown["endpoint_ms"] == shown["asr_ms"] == "typed"
    assert shown["e2e_ms"].endswith(("ms", " s"))
    assert "thinking" in states and "speaking" in states
    assert decode_wire_audio(np.concatenate(audio), 48000).startswith("it is")


def test_a_spoken_turn_shows_the_partial_transcript_and_latency(make_window, qtbot) -> None:
    window = make_window()
    partials: list[str | None] = []
    window.engine.add_listener(
        lambda m: partials.append(window.view.partial_text())
        if m.action == "update_asr" else None)
    assert window.latency.shown()["e2e_ms"] == "—"
    feed_in_background(window, speech("hello there", tail_s=0.8))
    qtbot.waitUntil(lambda: len(window.view.texts("assistant")) == 1
                    and window.status.state == "listening", timeout=30000)
    assert window.view.texts("user") == ["hello there"]
    assert window.view.texts("assistant") == ["Hello! How can I help you?"]
    assert partials and partials[-1] is not None  # the live transcript was shown
    assert window.view.partial_text() is None
    shown = window.latency.shown()
    assert shown["e2e_ms"] != "—" and shown["asr_ms"] != "—"
    assert len(window.latency.history) == 1


def test_push_to_talk_and_mute_change_the_state(make_window, qtbot) -> None:
    window = make_window()
    # the button
    qtbot.mousePress(window.controls.talk_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.status.state == "hearing", timeout=5000)
    assert window.status.detail == "push-to-talk"
    qtbot.mouseRelease(window.controls.talk_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.status.state == "listening", timeout=10000)
    # the keyboard shortcut (Space, while the text box has no focus)
    window.view.setFocus()
    qtbot.keyPress(window.view, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.status.state == "hearing", timeout=5000)
    assert window.controls.talk_button.property("held") is True
    qtbot.keyRelease(window.view, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.status.state == "listening", timeout=10000)
    # Space typed into the text box is text, not push-to-talk
    window.controls.text.setFocus()
    qtbot.keyClick(window.controls.text, Qt.Key.Key_Space)
    qtbot.wait(200)
    assert window.status.state == "listening"
    # mute: the button, then Ctrl+M
    qtbot.mouseClick(window.controls.mute_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.status.state == "muted", timeout=5000)
    assert window.engine.muted and window.status.text == "Muted"
    assert window.controls.mute_button.text() == "Unmute"
    feeding = feed_in_background(window, speech("hello there", tail_s=0.8), speed=8.0)
    qtbot.waitUntil(lambda: not feeding.is_alive(), timeout=10000)
    qtbot.wait(300)
    assert window.view.texts("user") == []  # a muted microphone hears nothing
    window.view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.status.state == "listening", timeout=5000)
    assert not window.engine.muted and not window.controls.mute_button.isChecked()


def test_hands_free_off_listens_only_while_push_to_talk_is_held(make_window, qtbot) -> None:
    window = make_window()
    window.controls.hands_free.setChecked(False)
    feeding = feed_in_background(window, speech("hello there", tail_s=0.8), speed=8.0)
    qtbot.waitUntil(lambda: not feeding.is_alive(), timeout=10000)
    qtbot.wait(300)
    assert window.view.texts("user") == []
    window.set_push_to_talk(True)
    feeding = feed_in_background(window, speech("hi", tail_s=0.1), speed=8.0)
    qtbot.waitUntil(lambda: not feeding.is_alive(), timeout=10000)
    window.set_push_to_talk(False)
    qtbot.waitUntil(lambda: window.view.texts("user") == ["hi"], timeout=20000)


def test_conversations_in_the_sidebar(make_window, qtbot, gui_store) -> None:
    window = make_window(store=gui_store)
    first = window.engine.session_id
    window.send_text("hello")
    qtbot.waitUntil(lambda: window.sidebar.ids() == [first], timeout=20000)
    qtbot.waitUntil(lambda: "2 messages" in window.sidebar.list.item(0).text(),
                    timeout=20000)
    # new conversation: an empty view, the first stays listed
    qtbot.mouseClick(window.sidebar.new_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.engine.session_id != first
                    and window.view.entries() == [], timeout=20000)
    second = window.engine.session_id
    # the empty new conversation is listed (selected) while it is open
    qtbot.waitUntil(lambda: window.sidebar.ids() == [second, first], timeout=20000)
    assert window.sidebar.titles()[0] == "New conversation"
    assert window.sidebar.selected_id() == second
    # reopen the first: its messages are shown again
    window.sidebar.open_requested.emit(first)
    qtbot.waitUntil(lambda: window.engine.session_id == first
                    and window.view.texts("assistant") == ["Hello! How can I help you?"],
                    timeout=20000)
    assert window.view.texts("user") == ["hello"]
    # the empty conversation left was not kept
    qtbot.waitUntil(lambda: window.sidebar.ids() == [first], timeout=20000)
    # rename, then delete the open conversation: a new one starts
    assert window.sidebar.rename(first, "Greetings")
    assert window.sidebar.titles() == ["Greetings"]
    assert gui_store.conversations.get_session(None, first).title == "Greetings"
    assert window.sidebar.delete(first)
    qtbot.waitUntil(lambda: window.engine.session_id not in (None, first), timeout=20000)
    assert gui_store.conversations.get_session(None, first) is None
    qtbot.waitUntil(lambda: window.sidebar.ids() == [window.engine.session_id],
                    timeout=20000)
    assert window.view.entries() == []


def test_the_latency_panel_shows_only_the_open_conversation(make_window, qtbot,
                                                             gui_store) -> None:
    """A new conversation, or another one reopened, starts with an empty latency panel:
    no last-turn figures and no bars of the previous conversation's turns."""
    window = make_window(store=gui_store)
    empty = {key: "—" for key in window.latency.shown()}
    first = window.engine.session_id

    def turn(text: str) -> None:
        window.send_text(text)
        qtbot.waitUntil(lambda: len(window.latency.history) == 1
                        and window.status.state == "listening", timeout=20000)
        assert window.latency.shown()["e2e_ms"] != "—"
        assert len(window.latency.chart.history) == 1

    turn("hello")
    qtbot.mouseClick(window.sidebar.new_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.engine.session_id != first
                    and window.view.entries() == [], timeout=20000)
    assert window.latency.shown() == empty
    assert window.latency.history == [] and window.latency.chart.history == []
    assert window.engine.latency_history == []
    turn("what time is it")  # this conversation's first turn is bar 1
    # reopening the first conversation: its messages, not the second one's latency
    window.sidebar.open_requested.emit(first)
    qtbot.waitUntil(lambda: window.engine.session_id == first
                    and window.view.texts("user") == ["hello"], timeout=20000)
    assert window.latency.shown() == empty
    assert window.latency.history == [] and window.latency.chart.history == []


def test_reply_text_follows_what_was_heard(qtbot) -> None:
    """Reply text not yet heard is greyed; after an interruption the unheard rest stays
    grey, so the user sees what the assistant did not get to say."""
    from app.engine import ReplySpoken, ServerMessage
    from app.ui.conversation_view import UNSPOKEN_COLOR, ConversationView

    view = ConversationView()
    qtbot.addWidget(view)
    reply = "Sure. First, preheat the oven. Then mix the flour and the eggs."
    view.handle_message(ServerMessage("update_resp", {"turn_id": 1, "text": reply}))
    [bubble] = view.assistant_bubbles()
    assert bubble.spoken_text is None and UNSPOKEN_COLOR not in bubble.label.text()
    for clause in ("Sure.", "First, preheat the oven."):
        view.handle_message(ReplySpoken(1, 0, clause))
    assert bubble.spoken_text == "Sure. First, preheat the oven."
    shown = bubble.label.text()
    assert UNSPOKEN_COLOR in shown and shown.index("oven") < shown.index(UNSPOKEN_COLOR)
    assert "Then mix the flour" in shown.split(UNSPOKEN_COLOR, 1)[1]
    view.handle_message(ServerMessage("stop_tts", {"turn_id": 1}))
    assert bubble.interrupted and "[interrupted]" in bubble.label.text()
    assert bubble.spoken_text == "Sure. First, preheat the oven."
    # a clause that is not in the text (e.g. rewritten) does not move the mark
    bubble.mark_spoken("Something else entirely.")
    assert bubble.spoken_text == "Sure. First, preheat the oven."
