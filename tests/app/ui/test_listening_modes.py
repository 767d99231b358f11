"""The app's listening modes (offscreen, tone-code models, a real openWakeWord model):
always, after a wake word, push-to-talk only. In wake-word mode the status says what to
say, nothing is heard before the phrase, and the phrase said by the bundled Piper voice
opens the conversation."""

from __future__ import annotations

import numpy as np
import pytest
import soxr
from harness import speech
from microphone_feed import MIC_RATE, feed_in_background
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from app.audio.earcon import wake_earcon
from app.settings import (
    active_wake_word,
    listening_mode,
    load_settings,
    merge_into_config,
    save_settings,
    with_listening_mode,
)

HELLO_REPLY = "Hello! How can I help you?"


@pytest.fixture(scope="module")
def hey_jarvis() -> np.ndarray:
    from xtalk.models.tts.piper import PiperTTS

    tts = PiperTTS()
    audio = np.concatenate(list(tts.synthesize("Hey Jarvis."))).astype(np.float32) / 32768
    return (soxr.resample(audio, tts.sample_rate, MIC_RATE) * 32767).astype(np.int16)


def test_the_modes_map_onto_the_engine_configuration() -> None:
    always = with_listening_mode({}, "always")
    wake = with_listening_mode({}, "wake_word", "alexa")
    ptt = with_listening_mode(wake, "push_to_talk")
    assert [listening_mode(s) for s in (always, wake, ptt)] == [
        "always", "wake_word", "push_to_talk"]
    assert (active_wake_word(always), active_wake_word(wake), active_wake_word(ptt)) == (
        None, "alexa", None)
    assert merge_into_config({}, wake)["wake_word"] == {
        "type": "OpenWakeWord", "params": {"model": "alexa"}}
    assert "wake_word" not in merge_into_config({}, always)
    assert "wake_word" not in merge_into_config({}, ptt)
    with pytest.raises(ValueError):
        with_listening_mode({}, "telepathy")


def test_wake_word_mode_hears_nothing_before_the_phrase(make_window, qtbot, config_dir,
                                                        hey_jarvis) -> None:
    save_settings(with_listening_mode({}, "wake_word", "hey_jarvis"))
    window = make_window(wait_ready=False)
    qtbot.waitUntil(lambda: window.ready and window.status.state == "waiting", timeout=30000)
    assert window.status.text == "Waiting for the wake word"
    assert window.status.detail == "Say “Hey Jarvis”"
    feed_in_background(window, speech("hello")).join()
    qtbot.wait(1500)
    assert window.view.texts("user") == [] and window.status.state == "waiting"
    pause = np.zeros(MIC_RATE // 2, dtype=np.int16)
    assert window.speaker.played_samples == 0
    # (tone code is no voice: it waits until the echo canceller has let the chime go)
    feed_in_background(window, np.concatenate([pause, hey_jarvis, pause, pause, pause,
                                               speech("hello")]))
    qtbot.waitUntil(lambda: window.status.state != "waiting", timeout=30000)
    chime = wake_earcon(window.speaker.sample_rate).size
    qtbot.waitUntil(lambda: window.speaker.played_samples >= chime, timeout=2000)  # earcon
    qtbot.waitUntil(lambda: window.view.texts("assistant") == [HELLO_REPLY], timeout=30000)
    assert window.view.texts("user") == ["hello"]  # the request, not the wake phrase


def test_the_settings_dialog_switches_listening_modes(make_window, qtbot, config_dir) -> None:
    window = make_window()
    first = window.engine
    dialog = window.open_settings()
    assert dialog.listening_combo.currentData() == "always"
    assert not dialog.wake_combo.isEnabled() and not dialog.wake_note.isVisibleTo(dialog)
    dialog.listening_combo.setCurrentIndex(dialog.listening_combo.findData("wake_word"))
    assert dialog.wake_combo.isEnabled() and dialog.wake_note.isVisibleTo(dialog)
    assert "non-commercial" in dialog.wake_note.text()
    dialog.wake_combo.setCurrentIndex(dialog.wake_combo.findData("alexa"))
    save = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.engine is not first and window.status.state == "waiting",
                    timeout=30000)
    assert window.status.detail == "Say “Alexa”"
    assert load_settings()["wake_word"] == "alexa"
    # hands-free off (the bar's toggle): push-to-talk only, no wake word any more
    second = window.engine
    window.controls.hands_free.setChecked(False)
    qtbot.waitUntil(lambda: window.engine is not second and window.ready
                    and window.status.state == "listening", timeout=30000)
    assert listening_mode(load_settings()) == "push_to_talk"
    assert "wake_word" not in window.engine.config


def test_noise_suppression_runs_rnnoise_after_the_echo_canceller(make_window, qtbot,
                                                                 config_dir,
                                                                 hey_jarvis) -> None:
    chain = {"type": "EnhancerChain", "params": {"stages": ["EchoGate", "RNNoise"]}}
    assert merge_into_config({}, {"noise_suppression": True})["speech_enhancer"] == chain
    own = {"speech_enhancer": "EchoGate"}  # a configuration's own choice is kept
    assert merge_into_config(own, {"noise_suppression": True})["speech_enhancer"] == "EchoGate"
    save_settings({"noise_suppression": True})
    window = make_window()
    assert window.engine.config["speech_enhancer"] == chain
    dialog = window.open_settings()
    assert dialog.noise_check.isEnabled() and dialog.noise_check.isChecked()
    dialog.reject()
    states: list[str] = []
    window.engine.add_listener(lambda m: states.append(getattr(m, "state", "")))
    # a fan's worth of noise, loud enough for the test VAD (-35 dBFS) ...
    noise = np.random.default_rng(5).normal(0, 32767 * 10 ** (-25 / 20), MIC_RATE * 2)
    feed_in_background(window, noise.astype(np.int16), speed=1.0).join()
    qtbot.wait(300)
    assert "hearing" not in states  # ... is not heard
    feed_in_background(window, hey_jarvis, speed=1.0)  # a voice is
    qtbot.waitUntil(lambda: "hearing" in states, timeout=10000)


def test_the_tray_icon_shows_the_state_as_a_coloured_dot(qapp) -> None:
    from PySide6.QtGui import QColor

    from app.ui.status import STATE_LOOK
    from app.ui.theme import app_icon
    from app.ui.tray import ICON_SIZE, Tray

    tray = Tray(app_icon())
    colours = {}
    for state in ("waiting", "listening", "muted"):
        tray.set_state(*STATE_LOOK[state])
        assert tray.icon.toolTip() == f"Xtalk — {STATE_LOOK[state][0]}"
        image = tray.icon.icon().pixmap(ICON_SIZE, ICON_SIZE).toImage()
        colours[state] = image.pixelColor(round(ICON_SIZE * 0.76), round(ICON_SIZE * 0.76))
    for state, colour in colours.items():
        assert colour.name() == QColor(STATE_LOOK[state][1]).name(), (state, colour.name())
