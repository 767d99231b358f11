"""The wire decoder (xtalk/client/wire.py): JSON text and objects, audio paired with the
tts_chunk_meta before it, and protocol slips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xtalk.client.wire import (
    DEFAULT_AUDIO_RATE,
    ReplyAudio,
    ServerMessage,
    WireDecoder,
    WireFormatError,
)


def test_text_and_objects_decode_alike() -> None:
    decoder = WireDecoder()
    message = {"action": "finish_asr", "data": {"text": "hello", "turn_id": 2}}
    for item in (json.dumps(message), message):
        decoded = decoder.decode(item)
        assert isinstance(decoded, ServerMessage)
        assert (decoded.action, decoded.text(), decoded.turn_id) == ("finish_asr", "hello", 2)
        assert decoded.raw == message


def test_messages_without_data_keep_their_fields() -> None:
    decoded = WireDecoder().decode({"type": "queue_position", "position": 3})
    assert isinstance(decoded, ServerMessage)
    assert decoded.action == "queue_position" and decoded.data == {"position": 3}
    assert decoded.turn_id is None and decoded.text("missing") == ""


def test_audio_carries_its_announcement_once() -> None:
    decoder = WireDecoder()
    meta = decoder.decode({"action": "tts_chunk_meta", "data": {
        "turn_id": 4, "chunk_index": 1, "sample_rate": 24000, "text": "Hi."}})
    assert isinstance(meta, ServerMessage) and meta.action == "tts_chunk_meta"
    pcm = np.array([1, -2, 300], dtype=np.int16)
    audio = decoder.decode(pcm.astype("<i2").tobytes())
    assert isinstance(audio, ReplyAudio) and audio.action == "audio"
    assert (audio.turn_id, audio.chunk_index, audio.sample_rate, audio.text) == (4, 1, 24000,
                                                                                 "Hi.")
    assert audio.announced and np.array_equal(audio.pcm, pcm)
    second = decoder.decode(pcm.astype("<i2").tobytes() + b"\x01")  # odd byte dropped
    assert isinstance(second, ReplyAudio) and not second.announced
    assert second.sample_rate == DEFAULT_AUDIO_RATE and second.turn_id is None
    assert np.array_equal(second.pcm, pcm)


@pytest.mark.parametrize("item", ["not json", "[1, 2]", "3"])
def test_text_that_is_no_json_object_is_refused(item: str) -> None:
    with pytest.raises(WireFormatError):
        WireDecoder().decode(item)
