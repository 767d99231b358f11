"""Validation of client messages (xtalk.serving.wire.inbound)."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest

from xtalk.serving import events as ev
from xtalk.serving.wire.inbound import (
    DEFAULT_MAX_FRAME_BYTES,
    DEFAULT_MAX_TEXT_BYTES,
    INBOUND_ACTIONS,
    InboundLimits,
    WireError,
    parse_audio_frame,
    parse_text_message,
)

SID = "s-1"
LIMITS = InboundLimits()

# Text that would betray a Python exception leaking into a client-facing message.
EXCEPTION_MARKERS = re.compile(
    r"Traceback|Error\b|Exception|Expecting|line \d+ column|object has no attribute|"
    r"not supported between|unhashable|NoneType|<class|invalid literal|too large to convert|"
    r"codec can't",
)


def parse(message: Any, limits: InboundLimits = LIMITS) -> ev.BaseEvent | None:
    text = message if isinstance(message, str) else json.dumps(message)
    return parse_text_message(SID, text, limits)


def rejected(message: Any, limits: InboundLimits = LIMITS) -> WireError:
    with pytest.raises(WireError) as info:
        parse(message, limits)
    error = info.value
    assert error.message
    assert str(error) == error.message
    assert not EXCEPTION_MARKERS.search(error.message), error.message
    return error


# --------------------------------------------------------------------------- valid messages
# action -> (data, expected event class, expected attributes)
VALID: dict[str, tuple[dict[str, Any], type[ev.BaseEvent], dict[str, Any]]] = {
    "ping": ({"timestamp": 1234.5}, ev.OutboundMessageRequested, {}),
    "clock_sync": ({"client_send_ts": 10.0, "server_recv_ts": 10.6, "client_recv_ts": 11.0},
                   ev.ClockSynced, {}),
    "vad_speech_start": ({"timestamp": 1.0}, ev.ClientVADSignalled,
                         {"kind": "start", "reason": ""}),
    "vad_speech_end": ({"timestamp": 2.0, "reason": "muted"}, ev.ClientVADSignalled,
                       {"kind": "end", "reason": "muted"}),
    "tts_chunk_played": ({"chunk_index": 3}, ev.ChunkPlayed, {"chunk_index": 3}),
    "tts_playback_finished": ({"timestamp": 5}, ev.PlaybackDrained, {}),
    "conversation_start": ({"timestamp": 1, "mode": "voice"}, ev.ClientMessageReceived,
                           {"action": "conversation_start",
                            "data": {"timestamp": 1, "mode": "voice"}}),
    "conversation_end": ({"timestamp": 2}, ev.ClientMessageReceived,
                         {"action": "conversation_end", "data": {"timestamp": 2}}),
    "change_voice": ({"voice_name": "warm"}, ev.VoiceChangeRequested, {"voice_name": "warm"}),
    "change_emotion": ({"emotion_name": "happy", "emotion_vector": [0.1, 1, 0]},
                       ev.EmotionChangeRequested,
                       {"emotion_name": "happy", "emotion_vector": [0.1, 1.0, 0.0]}),
    "change_tts_speed": ({"speed": 1.25}, ev.SpeedChangeRequested, {"speed": 1.25}),
    "change_tts_model": ({"model_type": "ToneCodeTTS", "config": {}},
                         ev.ModelChangeRequested,
                         {"kind": "tts",
                          "params": {"model_type": "ToneCodeTTS", "config": {}}}),
    "change_llm_model": ({"model_name": "m", "base_url": "http://x"}, ev.ModelChangeRequested,
                         {"kind": "llm",
                          "params": {"model": "m", "base_url": "http://x", "api_key": "",
                                     "extra_body": {}}}),
    "text_input": ({"text": "  hello there  "}, ev.UserTextSubmitted, {"text": "hello there"}),
    "interrupt": ({}, ev.PlaybackStopRequested, {"reason": "client"}),
}


def test_every_inbound_action_is_covered() -> None:
    assert set(VALID) == set(INBOUND_ACTIONS)


def check_event(event: Any, action: str) -> None:
    _, cls, attrs = VALID[action]
    assert isinstance(event, cls)
    assert event.session_id == SID
    for name, value in attrs.items():
        assert getattr(event, name) == value, name


@pytest.mark.parametrize("action", sorted(VALID))
def test_valid_message_under_data(action: str) -> None:
    data = VALID[action][0]
    check_event(parse({"action": action, "data": data}), action)


@pytest.mark.parametrize("action", sorted(VALID))
def test_type_key_alias(action: str) -> None:
    data = VALID[action][0]
    check_event(parse({"type": action, "data": data}), action)


@pytest.mark.parametrize("action", sorted(VALID))
def test_fields_at_top_level(action: str) -> None:
    data = VALID[action][0]
    check_event(parse({"action": action, **data}), action)


def test_type_alias_with_top_level_fields() -> None:
    event = parse({"type": "change_tts_speed", "speed": 0.75})
    assert isinstance(event, ev.SpeedChangeRequested)
    assert event.speed == 0.75


def test_null_data_falls_back_to_top_level_fields() -> None:
    event = parse({"action": "change_voice", "data": None, "voice_name": "sine"})
    assert isinstance(event, ev.VoiceChangeRequested)
    assert event.voice_name == "sine"


def test_ping_builds_a_pong() -> None:
    event = parse({"action": "ping", "data": {"timestamp": 1234.5}})
    assert event.message["action"] == "pong"
    assert event.message["client_timestamp"] == 1234.5
    assert isinstance(event.message["server_recv_timestamp"], float)
    bare = parse({"action": "ping"})
    assert bare.message["client_timestamp"] is None


def test_clock_sync_offset_and_rtt() -> None:
    event = parse({"action": "clock_sync", "data": {
        "client_send_ts": 10.0, "server_recv_ts": 10.6, "client_recv_ts": 11.0}})
    assert event.rtt_s == pytest.approx(1.0)
    assert event.offset_s == pytest.approx(10.5 - 10.6)


def test_speed_bounds_are_inclusive() -> None:
    assert parse({"action": "change_tts_speed", "speed": 0.5}).speed == 0.5
    assert parse({"action": "change_tts_speed", "speed": 1.5}).speed == 1.5


def test_emotion_vector_optional() -> None:
    event = parse({"action": "change_emotion", "data": {"emotion_name": "calm"}})
    assert event.emotion_vector is None
    event = parse({"action": "change_emotion", "data": {"emotion_vector": [0.5]}})
    assert event.emotion_name == ""
    assert event.emotion_vector == [0.5]


def test_vad_reason_is_truncated() -> None:
    event = parse({"action": "vad_speech_end", "data": {"reason": "x" * 100}})
    assert event.reason == "x" * 40


def test_client_message_data_is_copied() -> None:
    data = {"timestamp": 1}
    event = INBOUND_ACTIONS["conversation_start"](SID, data)
    data["timestamp"] = 2
    assert event.data == {"timestamp": 1}


# --------------------------------------------------------------------------- message errors
@pytest.mark.parametrize("text", ["{", "not json", "", "{'action': 'ping'}", "[1,",
                                  '{"action": "ping"} trailing'])
def test_invalid_json(text: str) -> None:
    assert rejected(text).code == "invalid_json"


def test_deeply_nested_json_is_invalid_json() -> None:
    assert rejected("[" * 100_000 + "]" * 100_000,
                    InboundLimits(max_text_bytes=10**6)).code == "invalid_json"


@pytest.mark.parametrize("obj", [[], ["ping"], "ping", 3, None, True])
def test_non_object_is_invalid_message(obj: Any) -> None:
    assert rejected(json.dumps(obj)).code == "invalid_message"


@pytest.mark.parametrize("data", [[], "x", 3, True, [{"timestamp": 1}]])
def test_data_not_an_object_is_invalid_message(data: Any) -> None:
    error = rejected({"action": "ping", "data": data})
    assert error.code == "invalid_message"
    assert "data" in error.message


@pytest.mark.parametrize("obj", [{}, {"data": {}}, {"action": ""}, {"action": 3},
                                 {"action": None}, {"type": ["ping"]}, {"action": {"a": 1}}])
def test_missing_action(obj: Any) -> None:
    assert rejected(obj).code == "missing_action"


@pytest.mark.parametrize("action", ["pingg", "PING", "session_info", "__class__", "get",
                                    "x" * 1000])
def test_unknown_action(action: str) -> None:
    error = rejected({"action": action})
    assert error.code == "unknown_action"
    assert len(error.message) < 200  # the echoed action is truncated


def test_message_too_large() -> None:
    limits = InboundLimits(max_text_bytes=100)
    text = json.dumps({"action": "text_input", "data": {"text": "a" * 200}})
    assert rejected(text, limits).code == "message_too_large"
    # Bytes, not characters, are counted.
    text = json.dumps({"action": "text_input", "data": {"text": "é" * 40}},
                      ensure_ascii=False)
    assert len(text) < 100 < len(text.encode("utf-8"))
    assert rejected(text, limits).code == "message_too_large"
    assert DEFAULT_MAX_TEXT_BYTES == 64 * 1024
    assert LIMITS.max_text_bytes == DEFAULT_MAX_TEXT_BYTES


def test_message_too_large_with_lone_surrogate_does_not_crash() -> None:
    limits = InboundLimits(max_text_bytes=10)
    assert rejected('{"action": "\ud800"}' + " " * 20, limits).code == "message_too_large"


# --------------------------------------------------------------------------- field errors
INVALID_FIELDS = [
    ("ping", {"timestamp": "now"}),
    ("ping", {"timestamp": True}),
    ("ping", {"timestamp": [1]}),
    ("clock_sync", {"client_send_ts": 1, "server_recv_ts": 2}),
    ("clock_sync", {"client_send_ts": "1", "server_recv_ts": 2, "client_recv_ts": 3}),
    ("vad_speech_start", {"timestamp": {"t": 1}}),
    ("vad_speech_end", {"reason": 3}),
    ("vad_speech_end", {"reason": ["muted"]}),
    ("tts_chunk_played", {}),
    ("tts_chunk_played", {"chunk_index": "3"}),
    ("tts_chunk_played", {"chunk_index": -1}),
    ("tts_chunk_played", {"chunk_index": None}),
    ("change_voice", {}),
    ("change_voice", {"voice_name": ""}),
    ("change_voice", {"voice_name": "   "}),
    ("change_voice", {"voice_name": 7}),
    ("change_voice", {"voice_name": "v" * 201}),
    ("change_emotion", {"emotion_name": 3}),
    ("change_emotion", {"emotion_name": "x" * 201}),
    ("change_emotion", {"emotion_vector": "happy"}),
    ("change_emotion", {"emotion_vector": [1, "2"]}),
    ("change_emotion", {"emotion_vector": [True, 0.5]}),
    ("change_emotion", {"emotion_vector": [None]}),
    ("change_emotion", {"emotion_vector": [[0.1]]}),
    ("change_emotion", {"emotion_vector": {"happy": 1}}),
    ("change_emotion", {"emotion_vector": [0.1] * 17}),
    ("change_tts_speed", {}),
    ("change_tts_speed", {"speed": "fast"}),
    ("change_tts_speed", {"speed": True}),
    ("change_tts_speed", {"speed": 0.49}),
    ("change_tts_speed", {"speed": 1.51}),
    ("change_tts_speed", {"speed": 0}),
    ("change_tts_speed", {"speed": -1}),
    ("change_tts_speed", {"speed": 100}),
    ("text_input", {}),
    ("text_input", {"text": ""}),
    ("text_input", {"text": "  \n "}),
    ("text_input", {"text": 42}),
    ("text_input", {"text": ["hi"]}),
    ("text_input", {"text": "a" * 4001}),
]


@pytest.mark.parametrize(("action", "data"), INVALID_FIELDS)
def test_invalid_field(action: str, data: dict[str, Any]) -> None:
    error = rejected({"action": action, "data": data})
    assert error.code == "invalid_field"
    assert "'" in error.message  # the field is named


@pytest.mark.parametrize(("action", "data"), INVALID_FIELDS)
def test_invalid_field_at_top_level(action: str, data: dict[str, Any]) -> None:
    assert rejected({"action": action, **data}).code == "invalid_field"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_invalid_fields(literal: str) -> None:
    text = '{"action": "change_tts_speed", "data": {"speed": ' + literal + "}}"
    assert rejected(text).code == "invalid_field"
    text = '{"action": "ping", "data": {"timestamp": ' + literal + "}}"
    assert rejected(text).code == "invalid_field"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_emotion_vector_is_invalid_field(literal: str) -> None:
    text = '{"action": "change_emotion", "data": {"emotion_vector": [0.5, ' + literal + "]}}"
    assert rejected(text).code == "invalid_field"


@pytest.mark.parametrize(
    "text",
    [
        '{"action": "change_tts_speed", "data": {"speed": 1%s}}' % ("0" * 400),
        '{"action": "ping", "data": {"timestamp": 1%s}}' % ("0" * 400),
        '{"action": "tts_chunk_played", "data": {"chunk_index": 1%s}}' % ("0" * 400),
        '{"action": "clock_sync", "data": {"client_send_ts": 1%s, "server_recv_ts": 1,'
        ' "client_recv_ts": 2}}' % ("0" * 400),
        '{"action": "change_emotion", "data": {"emotion_vector": [1%s]}}' % ("0" * 400),
    ],
    ids=["speed", "ping", "chunk_index", "clock_sync", "emotion_vector"],
)
def test_huge_integers_are_invalid_fields_not_crashes(text: str) -> None:
    assert rejected(text).code == "invalid_field"


def test_wire_error_attributes() -> None:
    error = WireError("invalid_field", "Field 'speed' must be a number.")
    assert error.code == "invalid_field"
    assert error.message == "Field 'speed' must be a number."
    assert isinstance(error, Exception)


# --------------------------------------------------------------------------- audio frames
def test_audio_frame_valid() -> None:
    samples = np.array([0, 1, -1, 32767, -32768], dtype="<i2")
    out = parse_audio_frame(samples.tobytes(), LIMITS)
    assert out.dtype == np.int16
    assert out.tolist() == [0, 1, -1, 32767, -32768]


def test_audio_frame_typical_and_maximum_sizes() -> None:
    assert parse_audio_frame(b"\x00\x00" * 512, LIMITS).size == 512
    assert parse_audio_frame(b"\x01\x00" * (DEFAULT_MAX_FRAME_BYTES // 2), LIMITS).size == \
        DEFAULT_MAX_FRAME_BYTES // 2
    assert DEFAULT_MAX_FRAME_BYTES == 64 * 1024


def test_audio_frame_accepts_bytearray_and_memoryview() -> None:
    data = np.arange(4, dtype="<i2").tobytes()
    assert parse_audio_frame(bytearray(data), LIMITS).tolist() == [0, 1, 2, 3]
    assert parse_audio_frame(memoryview(data), LIMITS).tolist() == [0, 1, 2, 3]


def frame_error(data: bytes, limits: InboundLimits = LIMITS) -> WireError:
    with pytest.raises(WireError) as info:
        parse_audio_frame(data, limits)
    assert not EXCEPTION_MARKERS.search(info.value.message), info.value.message
    return info.value


def test_empty_frame() -> None:
    assert frame_error(b"").code == "empty_frame"


@pytest.mark.parametrize("size", [1, 3, 1023])
def test_misaligned_frame(size: int) -> None:
    error = frame_error(b"\x00" * size)
    assert error.code == "misaligned_frame"
    assert str(size) in error.message


def test_frame_too_large() -> None:
    error = frame_error(b"\x00" * (DEFAULT_MAX_FRAME_BYTES + 2))
    assert error.code == "frame_too_large"
    assert str(DEFAULT_MAX_FRAME_BYTES) in error.message
    small = InboundLimits(max_frame_bytes=8)
    assert frame_error(b"\x00" * 10, small).code == "frame_too_large"
    assert parse_audio_frame(b"\x00" * 8, small).size == 4


def test_oversized_odd_frame_reports_size_first() -> None:
    assert frame_error(b"\x00" * (DEFAULT_MAX_FRAME_BYTES + 1)).code == "frame_too_large"
