"""The settings dialog and what hangs on it (offscreen, tone-code models): settings
persist and restart the engine, "test connection", audio devices that are missing or lost
are shown (typing still works), and the LAN toggle starts and stops a server that a
WebSocket client reaches."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from paths import tone_config
from pulse import SPEAKER_DEVICE
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from app.audio.devices import (
    AudioDevice,
    audio_unavailable_reason,
    list_devices,
    output_devices,
)
from app.settings import load_settings, merge_into_config, save_settings, settings_path


def save_button(dialog):
    return dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)


def test_settings_persist_and_restart_the_engine(make_window, qtbot, config_dir) -> None:
    window = make_window()
    first_engine = window.engine
    dialog = window.open_settings()
    assert dialog.isVisible()
    dialog.speed_spin.setValue(1.25)
    assert dialog.cue_check.isChecked()  # on by default
    dialog.cue_check.setChecked(False)
    dialog.prompt_edit.setPlainText("Answer in one short sentence.")
    dialog.base_url_edit.setText("http://127.0.0.1:9/v1")
    dialog.model_edit.setText("tiny")
    dialog.key_edit.setText("sk-secret")
    dialog.listening_combo.setCurrentIndex(dialog.listening_combo.findData("push_to_talk"))
    dialog.shortcut_edit.setText("F9")
    qtbot.mouseClick(save_button(dialog), Qt.MouseButton.LeftButton)
    # engine options changed: the engine restarts with them
    qtbot.waitUntil(lambda: window.engine is not None and window.engine is not first_engine
                    and window.status.state == "listening", timeout=30000)
    assert window.engine.config["service_config"]["tts_speed"] == 1.25
    assert window.engine.config["service_config"]["system_prompt"] == \
        "Answer in one short sentence."
    assert window.engine.config["service_config"]["thinking_cue"] is False
    saved = json.loads(settings_path().read_text())
    assert settings_path().parent == config_dir
    assert saved["speed"] == 1.25 and saved["hands_free"] is False
    assert saved["llm"] == {"base_url": "http://127.0.0.1:9/v1", "model": "tiny",
                            "api_key": "sk-secret"}
    assert saved["push_to_talk_shortcut"] == "F9"
    # applied live: hands-free off, push-to-talk on F9
    assert not window.controls.hands_free.isChecked()
    assert "F9" in window.controls.talk_button.text()
    window.view.setFocus()
    qtbot.keyPress(window.view, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: window.status.state == "hearing", timeout=5000)
    qtbot.keyRelease(window.view, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: window.status.state == "listening", timeout=10000)

    # a new window (the next launch) starts with them
    assert load_settings()["system_prompt"] == "Answer in one short sentence."
    again = make_window()
    assert again.settings == load_settings()
    assert not again.controls.hands_free.isChecked()
    dialog = again.open_settings()
    assert dialog.speed_spin.value() == 1.25
    assert not dialog.cue_check.isChecked()
    assert dialog.key_edit.text() == "sk-secret"
    assert dialog.key_edit.echoMode() == dialog.key_edit.EchoMode.Password
    # Cancel keeps the saved settings
    dialog.speed_spin.setValue(0.8)
    dialog.reject()
    qtbot.wait(100)
    assert load_settings()["speed"] == 1.25


def test_each_engine_option_alone_restarts_the_engine(make_window, qtbot, config_dir
                                                       ) -> None:
    """"Give me time to finish" makes the Smart Turn detector patient (a text policy is
    left alone), and it, like the thinking cue, applies the moment it is saved."""
    smart = {"type": "SmartTurnDetector", "params": {"patience": "quick", "max_silence_s": 1.6}}
    text = {"type": "TextEndpointPolicy", "params": {}}
    assert merge_into_config({"turn_detector": smart}, {})["turn_detector"] == smart
    assert merge_into_config({"turn_detector": smart}, {"patient": True})["turn_detector"] \
        == {"type": "SmartTurnDetector", "params": {"patience": "patient", "max_silence_s": 1.6}}
    assert merge_into_config({"turn_detector": text}, {"patient": True})["turn_detector"] == text
    window = make_window(tone_config(turn_detector=smart))
    for check, key, saved in (("patient_check", "patient", True),
                              ("cue_check", "thinking_cue", False)):
        engine = window.engine
        dialog = window.open_settings()
        box = getattr(dialog, check)
        box.setChecked(not box.isChecked())
        qtbot.mouseClick(save_button(dialog), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda e=engine: window.engine is not None and window.engine is not e
                        and window.status.state == "listening", timeout=30000)
        assert load_settings()[key] is saved
    config = window.engine.config
    assert config["turn_detector"]["params"]["patience"] == "patient"
    assert config["service_config"]["thinking_cue"] is False


def test_test_connection_reports_success_and_failure(make_window, qtbot, llm_server) -> None:
    window = make_window()
    dialog = window.open_settings(tab=2)
    dialog.base_url_edit.setText(llm_server.base_url)
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.test_result.text().startswith("✓"), timeout=10000)
    assert "Connected" in dialog.test_result.text()
    dialog.model_edit.setText("no-such-model")
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.test_result.text().startswith("✗"), timeout=10000)
    assert "no-such-model" in dialog.test_result.text()
    dialog.base_url_edit.setText("http://127.0.0.1:9/v1")  # nothing listens there
    dialog.key_edit.setText("sk-do-not-show")
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Cannot reach" in dialog.test_result.text(), timeout=10000)
    assert "sk-do-not-show" not in dialog.test_result.text()


def test_a_missing_microphone_is_shown_and_typing_still_works(make_window, qtbot,
                                                              config_dir) -> None:
    if audio_unavailable_reason():
        pytest.skip("needs the PortAudio library (libportaudio2)")
    save_settings({"input_device": "USB Headset"})
    window = make_window(audio="devices")
    qtbot.waitUntil(lambda: window.notices.text("input") is not None, timeout=10000)
    notice = window.notices.text("input")
    assert "Microphone “USB Headset” not found" in notice, notice  # never there: not "lost"
    assert window.mic_label.text() == "Mic not found"
    assert window.status.state == "listening"  # the engine is fine ...
    assert window.status.text == "Type to talk (no microphone)"  # ... but nothing can hear
    if not output_devices(list_devices()):
        assert "No speaker found" in window.notices.text("output")
    dialog = window.open_settings()
    assert dialog.input_combo.currentText() == "USB Headset (not connected)"
    assert dialog.input_status.isVisibleTo(dialog)
    assert dialog.input_status.text() == "⚠ Not working: no microphone found"
    dialog.reject()
    window.send_text("hello")
    qtbot.waitUntil(lambda: window.view.texts("assistant") == ["Hello! How can I help you?"],
                    timeout=20000)


def _stopped_monitor(window, qtbot):
    """The window's device monitor, stopped: the test feeds it device lists itself."""
    monitor = window.monitor
    assert monitor is not None
    stopped = asyncio.ensure_future(monitor.stop())  # no background polls in this test
    qtbot.waitUntil(stopped.done, timeout=10000)
    return monitor


def test_the_device_monitor_reports_a_lost_and_returned_speaker(make_window, qtbot,
                                                                config_dir) -> None:
    save_settings({"output_device": "Desk Speakers"})
    window = make_window(audio="devices")
    monitor = _stopped_monitor(window, qtbot)
    speakers = AudioDevice(7, "Desk Speakers", "ALSA", 0, 2, 48000)
    window.notices.clear("output")
    monitor._diff([speakers])   # the speaker is plugged in ...
    dialog = window.open_settings()
    assert [dialog.output_combo.itemText(i) for i in range(dialog.output_combo.count())] \
        == ["System default", "Desk Speakers"]
    monitor._diff([])           # ... and unplugged
    assert "Speaker lost: Desk Speakers" in window.notices.text("output")
    assert [dialog.output_combo.itemText(i) for i in range(dialog.output_combo.count())] \
        == ["System default", "Desk Speakers (not connected)"]
    monitor._diff([speakers])   # back
    assert "Speaker is back: Desk Speakers" in window.notices.text("output")


def test_a_headset_lost_as_the_speaker_is_reported_as_the_speaker(make_window, qtbot,
                                                                   config_dir) -> None:
    """A duplex headset chosen as the output device (another microphone as the input):
    its loss is the speaker's, shown under the speaker's notice, not the microphone's."""
    save_settings({"input_device": "Desk Mic", "output_device": "USB Headset"})
    window = make_window(audio="devices")
    monitor = _stopped_monitor(window, qtbot)
    desk_mic = AudioDevice(3, "Desk Mic", "ALSA", 1, 0, 48000)
    headset = AudioDevice(5, "USB Headset", "ALSA", 1, 2, 48000)  # in and out channels
    monitor._diff([desk_mic, headset])  # both connected
    window.notices.clear("input")
    window.notices.clear("output")
    monitor._diff([desk_mic])           # the headset is unplugged
    assert window.notices.text("input") is None, window.notices.texts()
    notice = window.notices.text("output")
    assert notice is not None and "Speaker lost: USB Headset" in notice, notice
    monitor._diff([desk_mic, headset])  # back
    assert window.notices.text("input") is None, window.notices.texts()
    assert "Speaker is back: USB Headset" in window.notices.text("output")


def test_a_speaker_plugged_in_while_the_app_starts_is_used(pulse, make_window, qtbot,
                                                           config_dir, monkeypatch) -> None:
    """No output device in the start-up listing (replies on the silent virtual speaker);
    a speaker is plugged in before the device monitor's first poll: the monitor reports
    it (its baseline is the start-up listing) and the app plays on it."""
    from app.audio.devices import DeviceMonitor, rescan_portaudio

    pulse.stop()
    rescan_portaudio()  # PortAudio starts with no device at all
    if output_devices(list_devices()):
        pytest.skip("this machine has speakers of its own: cannot test 'no speaker'")
    save_settings({"input_device": "Desk Mic"})  # a microphone that is not there
    start_monitor = DeviceMonitor.start

    def plug_in_then_start(monitor: DeviceMonitor) -> None:
        pulse.start()  # the user plugs the speaker in right after the start-up listing
        start_monitor(monitor)

    monkeypatch.setattr(DeviceMonitor, "start", plug_in_then_start)
    window = make_window(audio="devices")
    assert not output_devices(window.devices) and window.monitor is not None
    qtbot.waitUntil(lambda: window.speaker is not None and not window.speaker.virtual
                    and window.speaker.status == "running"
                    and window.notices.text("output") is None, timeout=30000)
    assert SPEAKER_DEVICE in [d.name for d in window.devices]
    dialog = window.open_settings()
    outputs = [dialog.output_combo.itemText(i) for i in range(dialog.output_combo.count())]
    assert SPEAKER_DEVICE in outputs, outputs


def test_the_lan_toggle_starts_and_stops_the_server(make_window, qtbot, gui_store,
                                                    config_dir) -> None:
    config = tone_config()
    config["service_config"] = {**config["service_config"], "max_frame_bytes": 512 * 1024}
    window = make_window(config, store=gui_store)
    dialog = window.open_settings(tab=3)
    assert not dialog.lan_check.isChecked() and dialog.qr_label.isHidden()
    dialog.lan_check.setChecked(True)
    qtbot.waitUntil(lambda: window.engine.lan_url is not None and window.lan_code is not None,
                    timeout=20000)
    url = window.engine.lan_url
    port = int(url.rsplit(":", 1)[1].strip("/"))
    assert window.lan_badge.isVisibleTo(window) and str(port) in window.lan_badge.text()
    assert url in dialog.lan_address.text()
    code = dialog.lan_code.text().removeprefix("Pairing code: ")
    assert code == window.lan_code and len(code) == 8
    assert not dialog.qr_label.pixmap().isNull()
    qtbot.waitUntil(lambda: load_settings()["lan_enabled"] is True, timeout=5000)

    # a phone pairs with the code shown and talks over the WebSocket
    response = httpx.post(f"http://127.0.0.1:{port}/api/auth/login/pairing",
                          json={"code": code}, timeout=10)
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    with ws_connect(f"ws://127.0.0.1:{port}/ws?token={token}", open_timeout=10) as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first["action"] == "session_info"
    # the hard message-size cap of xtalk-server, from the configured limits (4 × the
    # frame limit): a message at the cap is read (and rejected by the session, which goes
    # on), one byte more is refused by the WebSocket layer (1009) without being buffered
    cap = window.engine.xtalk.service_prototype.connection_limits.hard_frame_bytes
    assert cap == 2 * 1024 * 1024  # below uvicorn's default (16 MiB): the cap is ours
    with ws_connect(f"ws://127.0.0.1:{port}/ws?token={token}", open_timeout=10,
                    max_size=None) as ws:
        assert json.loads(ws.recv(timeout=10))["action"] == "session_info"
        ws.send(bytes(cap))
        reply = next(m for m in map(json.loads, iter(lambda: ws.recv(timeout=10), None))
                     if m["action"] == "error")
        assert reply["data"]["code"] == "frame_too_large", reply
        with pytest.raises(ConnectionClosed) as closed:
            # uncompressed (the server turns compression off), the server may close while
            # the 2 MiB frame is still going out: the send itself can see the close
            ws.send(bytes(cap + 1))
            while True:
                ws.recv(timeout=10)
        # the server refuses the frame from its header and closes with 1009 without
        # reading the payload; the unread bytes can make its TCP stack reset the
        # connection before the close frame is read here (then there is no code to see)
        if closed.value.rcvd is not None:
            assert closed.value.rcvd.code == 1009, closed.value.rcvd
    with ws_connect(f"ws://127.0.0.1:{port}/ws?token={token}", open_timeout=10) as ws:
        # the refused frame harmed nothing: the server still opens sessions
        assert json.loads(ws.recv(timeout=10))["action"] == "session_info"

    # a new code replaces the old one
    qtbot.mouseClick(dialog.new_code_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.lan_code != code, timeout=10000)
    assert window.lan_code in dialog.lan_code.text()

    dialog.lan_check.setChecked(False)
    qtbot.waitUntil(lambda: window.engine.lan_url is None and window.lan_badge.isHidden(),
                    timeout=20000)
    assert dialog.qr_label.isHidden() and "off" in dialog.lan_address.text()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    qtbot.waitUntil(lambda: load_settings()["lan_enabled"] is False, timeout=5000)
    assert window.status.state == "listening"  # the desktop conversation is unaffected


def test_lan_access_saved_on_starts_with_the_app_and_stops_on_quit(make_window, qtbot, gui_store,
                                                 config_dir) -> None:
    save_settings({"lan_enabled": True})
    window = make_window(store=gui_store)
    qtbot.waitUntil(lambda: window.engine.lan_url is not None and window.lan_badge.isVisible(),
                    timeout=20000)
    port = int(window.engine.lan_url.rsplit(":", 1)[1].strip("/"))
    assert httpx.get(f"http://127.0.0.1:{port}/api/sessions", timeout=5).status_code == 401
    # quitting stops the LAN server with the rest
    window.request_quit()
    done = asyncio.ensure_future(window.shutdown())
    qtbot.waitUntil(done.done, timeout=30000)
    done.result()
    assert window.engine is None and window.speaker is None
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_without_a_store_lan_access_explains_why_it_is_off(make_window, qtbot,
                                                           config_dir) -> None:
    window = make_window()  # no store
    dialog = window.open_settings(tab=3)
    dialog.lan_check.setChecked(True)
    qtbot.waitUntil(lambda: window.notices.text("lan") is not None, timeout=10000)
    assert "needs the conversation store" in window.notices.text("lan")
    assert window.engine.lan_url is None and not dialog.lan_check.isChecked()
    assert "needs the conversation store" in dialog.lan_help.text()
    qtbot.waitUntil(lambda: load_settings()["lan_enabled"] is False, timeout=5000)
