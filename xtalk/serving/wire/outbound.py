"""Events → wire messages, in one table.

Each entry maps an event class to a function returning the JSON message (or ``None`` to
send nothing). Audio chunks are special: a ``tts_chunk_meta`` message followed by one
binary message of PCM16 mono at the connection's output rate (48 kHz by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xtalk.serving import events as ev

Serializer = Callable[[Any], dict[str, Any] | None]


def _msg(action: str, **data: Any) -> dict[str, Any]:
    return {"action": action, "data": data}


def _ms(value: float | None) -> float:
    return round(value, 1) if value is not None else 0.0


OUTBOUND_TABLE: dict[type[ev.BaseEvent], Serializer] = {
    ev.OutboundMessageRequested: lambda e: e.message,
    ev.TranscriptPartial: lambda e: _msg(
        "update_asr", text=e.text, confidence=None, is_final=False, turn_id=e.turn_id),
    ev.TranscriptFinalized: lambda e: _msg(
        "finish_asr", text=e.text, confidence=e.confidence, is_final=True, turn_id=e.turn_id),
    ev.UtteranceRejected: lambda e: _msg("invalid_asr_result", turn_id=e.turn_id,
                                         reason=e.reason),
    ev.PlaybackStarted: lambda e: _msg("start_tts", turn_id=e.turn_id),
    ev.PlaybackPaused: lambda e: _msg("pause_tts", turn_id=e.turn_id),
    ev.PlaybackResumed: lambda e: _msg("resume_tts", turn_id=e.turn_id),
    ev.PlaybackStopped: lambda e: _msg("stop_tts", turn_id=e.turn_id),
    ev.PlaybackFinished: lambda e: _msg("tts_finished", turn_id=e.turn_id),
    ev.ReplyTextDelta: lambda e: None if e.speculative else _msg(
        "update_resp", text=e.text, turn_id=e.turn_id),
    ev.ReplyTextCompleted: lambda e: _msg("finish_resp", text=e.text, turn_id=e.turn_id),
    ev.LatencyMeasured: lambda e: _msg(
        "latency_metrics", turn_id=e.turn_id, network_ms=_ms(e.network_ms),
        endpoint_ms=_ms(e.endpoint_ms), asr_ms=_ms(e.asr_ms),
        llm_first_token_ms=_ms(e.llm_first_token_ms), llm_sentence_ms=_ms(e.llm_sentence_ms),
        tts_first_chunk_ms=_ms(e.tts_first_chunk_ms), e2e_ms=_ms(e.e2e_ms),
        speculation_saved_ms=_ms(e.speculation_saved_ms), cue_ms=_ms(e.cue_ms)),
    ev.ToolCalled: lambda e: _msg("tool_called", name=e.name, args=e.args, turn_id=e.turn_id),
    ev.VoiceChanged: lambda e: _msg("voice_changed", name=e.name),
    ev.EmotionChanged: lambda e: _msg("emotion_changed", name=e.name, vector=e.vector),
    ev.SpeedChanged: lambda e: _msg("speed_changed", speed=e.speed),
    ev.ModelChanged: lambda e: _msg("model_changed", kind=e.kind, name=e.name),
    ev.SpeakerIdentified: lambda e: _msg("speaker_updated", speaker_id=e.speaker_id,
                                         reason=e.reason),
    ev.CaptionUpdated: lambda e: _msg("caption_updated", text=e.text, is_final=e.is_final),
    ev.RetrievalUpdated: lambda e: None if e.speculative else _msg(
        "retrieval_updated", text=e.text, is_final=e.is_final),
    ev.BackchannelHeard: lambda e: _msg("backchannel", text=e.text, turn_id=e.turn_id),
    ev.UserTurnMerged: lambda e: _msg("turn_merged", turn_id=e.turn_id,
                                      into_turn_id=e.into_turn_id, text=e.text),
    ev.WakeWordDetected: lambda e: _msg("wake_word_detected", phrase=e.phrase,
                                        score=round(e.score, 3)),
    ev.WakeWordAwaited: lambda e: _msg("wake_word_waiting", phrase=e.phrase, reason=e.reason),
    ev.ThoughtUpdated: lambda e: _msg("thought_updated", text=e.text, is_final=e.is_final),
    ev.ErrorOccurred: lambda e: _msg("error", code=e.code, message=e.message),
}
