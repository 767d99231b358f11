"""The desktop app gets the engine's turn-taking (offscreen, tone-code models): the
latency panel shows what preparing the reply during the user's pause saved and when a
slow model's reply opened with "Hmm.", and a
backchannel leaves the reply going instead of becoming a question, and a merged turn
gives way to the whole request."""

from __future__ import annotations

from harness import speech
from microphone_feed import feed_in_background
from paths import tone_config

from app.engine import ServerMessage
from app.ui.conversation_view import ConversationView


def test_the_latency_panel_shows_what_speculation_saved(make_window, qtbot) -> None:
    window = make_window(tone_config(
        turn_detector={"type": "TextEndpointPolicy", "params": {"extra_wait_s": 0.7}}))
    assert window.latency.shown()["speculation_saved_ms"] == "—"
    feed_in_background(window, speech("hello there", tail_s=0.9), speed=1.0)
    qtbot.waitUntil(lambda: len(window.view.texts("assistant")) == 1
                    and window.status.state == "listening", timeout=30000)
    saved = window.latency.shown()["speculation_saved_ms"]
    assert saved.endswith(" ms") and int(saved.split()[0]) > 0, window.latency.shown()


def test_the_latency_panel_shows_the_thinking_cue_of_a_slow_model(make_window, qtbot
                                                                  ) -> None:
    window = make_window(tone_config(
        llm_agent={"type": "RuleAgent", "params": {"first_token_delay_s": 1.0}},
        service_config={"vad": {"min_silence_s": 0.25},
                        "thinking_cue": {"after_s": 0.1, "phrases": ["Hmm."]}}))
    assert window.latency.shown()["cue_ms"] == "—"
    feed_in_background(window, speech("hello there", tail_s=0.9), speed=1.0)
    qtbot.waitUntil(lambda: len(window.view.texts("assistant")) == 1
                    and window.status.state == "listening", timeout=30000)
    shown = window.latency.shown()
    cue = shown["cue_ms"]
    assert cue.endswith(" ms") and int(cue.split()[0]) > 0, shown
    assert "Hmm" not in window.view.texts("assistant")[0]  # a cue is no words of the reply


def test_a_backchannel_is_a_note_not_a_question(qtbot) -> None:
    view = ConversationView()
    qtbot.addWidget(view)
    view.handle_message(ServerMessage("finish_asr", {"turn_id": 1, "text": "story"}))
    view.handle_message(ServerMessage("update_resp", {"turn_id": 1, "text": "Once"}))
    view.handle_message(ServerMessage("finish_asr", {"turn_id": 2, "text": "Yeah."}))
    view.handle_message(ServerMessage("backchannel", {"turn_id": 2, "text": "Yeah."}))
    assert view.texts("user") == ["story"]
    assert view.texts("assistant") == ["Once"]


def test_a_merged_turn_gives_way_to_the_whole_request(qtbot) -> None:
    view = ConversationView()
    qtbot.addWidget(view)
    view.handle_message(ServerMessage("finish_asr", {"turn_id": 1, "text": "Set a timer for"}))
    view.handle_message(ServerMessage("update_resp", {"turn_id": 1, "text": "For how"}))
    view.handle_message(ServerMessage("finish_asr", {"turn_id": 2, "text": "ten minutes"}))
    view.handle_message(ServerMessage("turn_merged", {
        "turn_id": 1, "into_turn_id": 2, "text": "Set a timer for ten minutes"}))
    view.handle_message(ServerMessage("update_resp", {"turn_id": 2, "text": "Timer set."}))
    assert view.texts("user") == ["Set a timer for ten minutes"]
    assert view.texts("assistant") == ["Timer set."]
