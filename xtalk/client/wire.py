"""What a client receives over the wire protocol (``docs/protocol.md``), decoded.

A :class:`WireDecoder` turns each received item — JSON text, an object already decoded
(an in-process connection hands those over without serialising), or a binary frame — into
a :class:`ServerMessage` or, for a binary frame, a :class:`ReplyAudio` that carries the
``tts_chunk_meta`` announcing it. The terminal client, the desktop app and the tests all
read the protocol through it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

#: The rate of reply audio when no ``tts_chunk_meta`` says otherwise (the server default).
DEFAULT_AUDIO_RATE = 48000


class WireFormatError(ValueError):
    """A received text message is not a JSON object."""


@dataclass(frozen=True)
class ServerMessage:
    """A JSON message: its ``action`` and its ``data`` (the fields at the top level for the
    few messages without ``data``, such as ``queue_position``)."""

    action: str
    data: dict[str, Any] = field(default_factory=dict)
    raw: Any = None  # the object as received

    @property
    def turn_id(self) -> int | None:
        value = self.data.get("turn_id")
        return value if isinstance(value, int) else None

    def text(self, key: str = "text") -> str:
        """``data[key]`` as a string (``""`` when missing)."""
        value = self.data.get(key)
        return "" if value is None else str(value)


@dataclass(frozen=True)
class ReplyAudio:
    """A chunk of reply audio: PCM16 mono at ``sample_rate``, and the clause it speaks.
    ``announced`` is false for a frame no ``tts_chunk_meta`` came before (a protocol slip:
    the rate is then assumed); ``cue``: a thinking cue ("Hmm."), not the reply's words."""

    pcm: np.ndarray
    sample_rate: int
    turn_id: int | None
    chunk_index: int | None
    text: str = ""
    announced: bool = True
    raw: bytes = b""
    cue: bool = False
    action: ClassVar[str] = "audio"


class WireDecoder:
    """Decodes one connection's messages, in order (it pairs audio with its announcement)."""

    def __init__(self, default_rate: int = DEFAULT_AUDIO_RATE) -> None:
        self.default_rate = int(default_rate)
        self._meta: dict[str, Any] | None = None

    def decode(self, item: str | bytes | bytearray | memoryview | dict[str, Any]
               ) -> ServerMessage | ReplyAudio:
        """The message ``item`` is (a ``tts_chunk_meta`` is returned too, and remembered
        for the audio frame that follows it).

        Raises:
            WireFormatError: Text that is not a JSON object.
        """
        if isinstance(item, bytes | bytearray | memoryview):
            return self._audio(bytes(item))
        if isinstance(item, str):
            try:
                obj = json.loads(item)
            except ValueError as exc:
                raise WireFormatError("the server sent a message that is not JSON") from exc
        else:
            obj = item
        if not isinstance(obj, dict):
            raise WireFormatError("the server sent JSON that is not an object")
        action = obj.get("action", obj.get("type"))
        data = obj.get("data")
        if not isinstance(data, dict):
            data = {k: v for k, v in obj.items() if k not in ("action", "type")}
        message = ServerMessage(str(action) if action is not None else "?", data, obj)
        if message.action == "tts_chunk_meta":
            self._meta = data
        return message

    def _audio(self, frame: bytes) -> ReplyAudio:
        meta, self._meta = self._meta, None
        body = frame[:len(frame) - len(frame) % 2]
        pcm = np.frombuffer(body, dtype="<i2").astype(np.int16)
        if meta is None:
            return ReplyAudio(pcm, self.default_rate, None, None, announced=False, raw=frame)
        rate = meta.get("sample_rate")
        index = meta.get("chunk_index")
        turn = meta.get("turn_id")
        return ReplyAudio(
            pcm,
            int(rate) if isinstance(rate, int | float) and rate > 0 else self.default_rate,
            turn if isinstance(turn, int) else None,
            index if isinstance(index, int) else None,
            str(meta.get("text") or ""), raw=frame, cue=meta.get("cue") is True)


__all__ = ["DEFAULT_AUDIO_RATE", "ReplyAudio", "ServerMessage", "WireDecoder",
           "WireFormatError"]
