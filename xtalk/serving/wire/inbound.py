"""Validate client messages and turn them into events.

Every malformed input becomes a :class:`WireError` with a stable ``code``; the session
answers with an ``error`` message and lives on. See ``docs/protocol.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from xtalk.serving import events as ev

DEFAULT_MAX_FRAME_BYTES = 64 * 1024  # 2 s of 16 kHz PCM16
DEFAULT_MAX_TEXT_BYTES = 64 * 1024


class WireError(Exception):
    """A client message was rejected; ``message`` is safe to send to the client."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class InboundLimits:
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES


def parse_audio_frame(data: bytes, limits: InboundLimits) -> np.ndarray:
    """Check a binary frame is PCM16 mono within limits and return its samples."""
    if len(data) == 0:
        raise WireError("empty_frame", "Binary frames must contain PCM16 audio.")
    if len(data) > limits.max_frame_bytes:
        raise WireError(
            "frame_too_large",
            f"Audio frame of {len(data)} bytes exceeds the limit of "
            f"{limits.max_frame_bytes} bytes; send 16 kHz PCM16 mono in frames of about 32 ms.",
        )
    if len(data) % 2:
        raise WireError(
            "misaligned_frame",
            f"Audio frame of {len(data)} bytes is not PCM16-aligned (odd length).",
        )
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def _is_finite_number(value: Any) -> bool:
    """A JSON number (not a bool) that fits a finite float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _number(data: dict[str, Any], key: str, *, required: bool = False,
            lo: float | None = None, hi: float | None = None) -> float | None:
    value = data.get(key)
    if value is None:
        if required:
            raise WireError("invalid_field", f"Field {key!r} is required.")
        return None
    if not _is_finite_number(value):
        raise WireError("invalid_field", f"Field {key!r} must be a number.")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise WireError("invalid_field", f"Field {key!r} must be between {lo} and {hi}.")
    return float(value)


def _string(data: dict[str, Any], key: str, *, required: bool = True,
            max_len: int = 200) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise WireError("invalid_field", f"Field {key!r} must be a non-empty string.")
    if len(value) > max_len:
        raise WireError("invalid_field", f"Field {key!r} is longer than {max_len} characters.")
    return value


Builder = Callable[[str, dict[str, Any]], ev.BaseEvent | None]


def _ping(sid: str, d: dict[str, Any]) -> ev.BaseEvent:
    import time

    return ev.OutboundMessageRequested(session_id=sid, message={
        "action": "pong", "client_timestamp": _number(d, "timestamp"),
        "server_recv_timestamp": time.time() * 1000.0,
    })


def _clock_sync(sid: str, d: dict[str, Any]) -> ev.BaseEvent:
    t0 = _number(d, "client_send_ts", required=True)
    t1 = _number(d, "server_recv_ts", required=True)
    t2 = _number(d, "client_recv_ts", required=True)
    assert t0 is not None and t1 is not None and t2 is not None
    return ev.ClockSynced(session_id=sid, offset_s=t0 + (t2 - t0) / 2 - t1, rtt_s=t2 - t0)


def _vad(kind: str) -> Builder:
    def build(sid: str, d: dict[str, Any]) -> ev.BaseEvent:
        _number(d, "timestamp")
        reason = d.get("reason") or ""
        if not isinstance(reason, str):
            raise WireError("invalid_field", "Field 'reason' must be a string.")
        return ev.ClientVADSignalled(session_id=sid, kind=kind, reason=reason[:40])
    return build


def _chunk_played(sid: str, d: dict[str, Any]) -> ev.BaseEvent:
    index = _number(d, "chunk_index", required=True, lo=0)
    assert index is not None
    return ev.ChunkPlayed(session_id=sid, chunk_index=int(index))


def _emotion(sid: str, d: dict[str, Any]) -> ev.BaseEvent:
    vector = d.get("emotion_vector")
    if vector is not None and (
        not isinstance(vector, list) or len(vector) > 16
        or not all(_is_finite_number(x) for x in vector)
    ):
        raise WireError("invalid_field", "Field 'emotion_vector' must be a list of numbers.")
    return ev.EmotionChangeRequested(
        session_id=sid, emotion_name=_string(d, "emotion_name", required=False),
        emotion_vector=[float(x) for x in vector] if vector is not None else None,
    )


def _speed(sid: str, d: dict[str, Any]) -> ev.BaseEvent:
    speed = _number(d, "speed", required=True, lo=0.5, hi=1.5)
    assert speed is not None
    return ev.SpeedChangeRequested(session_id=sid, speed=speed)


def _text_input(sid: str, d: dict[str, Any]) -> ev.BaseEvent:
    return ev.UserTextSubmitted(session_id=sid, text=_string(d, "text", max_len=4000).strip())


def _tts_model(sid: str, d: dict[str, Any]) -> ev.BaseEvent:
    config = d.get("config") or {}
    if not isinstance(config, dict):
        raise WireError("invalid_field", "Field 'config' must be an object.")
    return ev.ModelChangeRequested(session_id=sid, kind="tts", params={
        "model_type": _string(d, "model_type", max_len=64), "config": config})


def _llm_model(sid: str, d: dict[str, Any]) -> ev.BaseEvent:
    extra = d.get("extra_body") or {}
    if not isinstance(extra, dict):
        raise WireError("invalid_field", "Field 'extra_body' must be an object.")
    return ev.ModelChangeRequested(session_id=sid, kind="llm", params={
        "model": _string(d, "model_name", max_len=200),
        "base_url": _string(d, "base_url", required=False, max_len=500),
        "api_key": _string(d, "api_key", required=False, max_len=500),
        "extra_body": extra})


def _client_message(action: str) -> Builder:
    def build(sid: str, d: dict[str, Any]) -> ev.BaseEvent:
        return ev.ClientMessageReceived(session_id=sid, action=action, data=dict(d))
    return build


INBOUND_ACTIONS: dict[str, Builder] = {
    "ping": _ping,
    "clock_sync": _clock_sync,
    "vad_speech_start": _vad("start"),
    "vad_speech_end": _vad("end"),
    "tts_chunk_played": _chunk_played,
    "tts_playback_finished": lambda sid, d: ev.PlaybackDrained(session_id=sid),
    "conversation_start": _client_message("conversation_start"),
    "conversation_end": _client_message("conversation_end"),
    "change_voice": lambda sid, d: ev.VoiceChangeRequested(
        session_id=sid, voice_name=_string(d, "voice_name")),
    "change_emotion": _emotion,
    "change_tts_speed": _speed,
    "change_tts_model": _tts_model,
    "change_llm_model": _llm_model,
    # Xtalk extensions (docs/protocol.md)
    "text_input": _text_input,
    "interrupt": lambda sid, d: ev.PlaybackStopRequested(session_id=sid, reason="client"),
}


def parse_text_message(session_id: str, text: str, limits: InboundLimits) -> ev.BaseEvent | None:
    """Validate one JSON text message and build the event it stands for."""
    if len(text.encode("utf-8", "surrogatepass")) > limits.max_text_bytes:
        raise WireError("message_too_large",
                        f"Text message exceeds the limit of {limits.max_text_bytes} bytes.")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        raise WireError("invalid_json", "Message is not valid JSON.") from None
    if not isinstance(obj, dict):
        raise WireError("invalid_message", "Message must be a JSON object.")
    action = obj.get("action", obj.get("type"))
    if not isinstance(action, str) or not action:
        raise WireError("missing_action", "Message needs an 'action' (or 'type') string.")
    builder = INBOUND_ACTIONS.get(action)
    if builder is None:
        raise WireError("unknown_action", f"Unknown action {action[:64]!r}.")
    data = obj.get("data")
    if data is None:
        data = {k: v for k, v in obj.items() if k not in ("action", "type")}
    if not isinstance(data, dict):
        raise WireError("invalid_message", "Field 'data' must be a JSON object.")
    return builder(session_id, data)
