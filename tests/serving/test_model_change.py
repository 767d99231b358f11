"""Client model changes: refused by default (tested in test_turn_flow), applied when the
server allows them."""

from __future__ import annotations

from harness import build_xtalk


async def test_allowed_tts_model_change_switches_this_session_only(transport):
    xtalk = build_xtalk(service={"allow_client_model_changes": True})
    a = await transport.open_session(xtalk)
    b = await transport.open_session(xtalk)
    await a.send_json({"action": "change_tts_model",
                       "data": {"model_type": "ToneCodeTTS", "config": {"sample_rate": 16000}}})
    changed = await a.wait_for("model_changed")
    assert changed.data == {"kind": "tts", "name": "ToneCodeTTS"}
    rate_a = xtalk.sessions[a.session_id].pipeline.get_tts_model().sample_rate
    rate_b = xtalk.sessions[b.session_id].pipeline.get_tts_model().sample_rate
    assert (rate_a, rate_b) == (16000, 24000)


async def test_unknown_model_type_is_a_clear_error(transport):
    xtalk = build_xtalk(service={"allow_client_model_changes": True})
    client = await transport.open_session(xtalk)
    await client.send_json({"action": "change_tts_model",
                            "data": {"model_type": "NoSuchTTS", "config": {}}})
    error = await client.wait_for("error")
    assert error.data["code"] == "invalid_model"
    assert "NoSuchTTS" in error.data["message"]


async def test_the_sessions_speed_carries_over_to_a_new_tts_model(transport):
    xtalk = build_xtalk(service={"allow_client_model_changes": True})
    client = await transport.open_session(xtalk)
    await client.send_json({"action": "change_tts_speed", "data": {"speed": 1.25}})
    await client.wait_for("speed_changed")
    await client.send_json({"action": "change_tts_model", "data": {
        "model_type": "ToneCodeTTS", "config": {"sample_rate": 16000}}})
    await client.wait_for("model_changed")
    model = xtalk.sessions[client.session_id].pipeline.get_tts_model()
    assert model.sample_rate == 16000 and model.speed == 1.25


async def test_the_configured_speaking_rate_reaches_every_voice(transport):
    """``service_config.tts_speed`` (the desktop app's speed setting) is the session's
    rate from its start, for any voice; the prototype's model keeps its own."""
    xtalk = build_xtalk(service={"tts_speed": 1.25})
    client = await transport.open_session(xtalk)
    changed = await client.wait_for("speed_changed")
    assert changed.data["speed"] == 1.25
    assert xtalk.sessions[client.session_id].pipeline.get_tts_model().speed == 1.25
    assert xtalk.service_prototype.pipeline.get_tts_model().speed == 1.0


async def test_a_bad_configured_speaking_rate_is_a_clear_error(transport):
    client = await transport.open_session(build_xtalk(service={"tts_speed": 3.0}))
    error = await client.wait_for("error")
    assert error.data["code"] == "unsupported" and "Speed" in error.data["message"]
    await client.say("hello")  # the session goes on at the voice's own rate
    await client.wait_for("tts_finished")
