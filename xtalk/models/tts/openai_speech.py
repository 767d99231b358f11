"""OpenAI-compatible speech synthesis (``POST /v1/audio/speech``) as an Xtalk TTS model.

Served by OpenAI itself and by local servers such as Kokoro-FastAPI or speaches. The request
is JSON ``{"model", "input", "voice", "response_format", "speed"}``; the answer is the audio:

* ``response_format="pcm"`` (default): raw 16-bit little-endian mono samples at
  ``pcm_sample_rate`` (24 kHz for OpenAI and Kokoro-FastAPI), read as they stream in and
  handed on every ``chunk_s`` seconds, so playback can start before a clause is done;
* ``response_format="wav"``: a WAV file, parsed when complete.

Text is made speakable (English; ``speakable=False`` turns it off) and sent as one request:
the engine already hands a TTS one clause at a time, and only genuinely long text is cut into
clauses by the engine's clause splitter (:mod:`xtalk.models.tts.remote`). Audio is
resampled with soxr to the declared :attr:`sample_rate`. Speed is the server's own
(``speed`` field, 0.25..4.0); for a server that ignores it set ``server_speed=False`` and
the received audio is time-stretched with WSOLA instead. The API key is sent as
``Authorization: Bearer ...`` and never appears in messages, logs or ``repr``.

:meth:`synthesize` runs in the engine's worker thread (pooled ``httpx.Client``);
:meth:`asynthesize` is the asyncio equivalent. Failures raise
:class:`~xtalk.models.remote_audio.RemoteModelError`; the model stays usable.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import numpy as np

from xtalk.models.interfaces import UnsupportedFeatureError
from xtalk.models.remote_audio import (
    RemoteModelError,
    bad_audio,
    bearer_headers,
    check_url,
    error_from_response,
    error_from_transport,
)
from xtalk.models.tts.remote import RemoteTTS, check_rate

_FORMATS = ("pcm", "wav")


class OpenAISpeechTTS(RemoteTTS):
    """Speech from an OpenAI-compatible ``/v1/audio/speech`` endpoint.

    Args:
        base_url: API base including ``/v1`` (e.g. ``http://gpu-box:8880/v1``); the
            request goes to ``<base_url>/audio/speech``.
        model: Model name sent to the server (``"kokoro"``, ``"tts-1"``...).
        voice: Voice name sent to the server (``"af_heart"``, ``"alloy"``...).
        api_key: Bearer token; empty: ``OPENAI_API_KEY`` from the environment when
            ``base_url`` is OpenAI's, else no ``Authorization`` header.
        voices: The voice names :meth:`set_voice` accepts (default: any name, checked by
            the server on the next request).
        response_format: ``"pcm"`` (streamed) or ``"wav"``.
        pcm_sample_rate: Rate of the server's ``pcm`` output (Hz).
        sample_rate: Output rate (Hz) of this model (default: ``pcm_sample_rate``).
        server_speed: The server applies ``speed``; False: stretch with WSOLA here.
        chunk_s: Streamed ``pcm`` is handed on in pieces of about this many seconds.
        timeout_s: Seconds to wait for each answer (and between streamed pieces).
        connect_timeout_s: Seconds to wait for the connection.
        speakable: Rewrite Markdown/numbers into speakable English first.
        extra_body: More JSON fields for the server (e.g. ``{"lang_code": "a"}``).

    Raises:
        ValueError: A bad URL, model, voice, format, rate or timeout.
    """

    service = "speech (OpenAI-compatible)"
    min_speed, max_speed = 0.25, 4.0

    def __init__(
        self,
        base_url: str,
        model: str,
        voice: str,
        api_key: str = "",
        voices: Sequence[str] | None = None,
        response_format: str = "pcm",
        pcm_sample_rate: int = 24000,
        sample_rate: int | None = None,
        server_speed: bool = True,
        chunk_s: float = 0.2,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        speakable: bool = True,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        self.base_url = check_url(base_url, "OpenAISpeechTTS base_url")
        for what, value in (("model", model), ("voice", voice)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"OpenAISpeechTTS: {what} must be a non-empty string")
        if response_format not in _FORMATS:
            raise ValueError(f"OpenAISpeechTTS: response_format must be one of {_FORMATS}, "
                             f"got {response_format!r}")
        check_rate(pcm_sample_rate, "OpenAISpeechTTS: pcm_sample_rate")
        if isinstance(chunk_s, bool) or not isinstance(chunk_s, int | float) \
                or not 0.02 <= chunk_s <= 10:
            raise ValueError(f"OpenAISpeechTTS: chunk_s must be 0.02..10 s, got {chunk_s!r}")
        if extra_body is not None and not isinstance(extra_body, dict):
            raise ValueError("OpenAISpeechTTS: extra_body must be an object")
        self._voice_names = [str(v) for v in voices] if voices else None
        if self._voice_names is not None and voice.strip() not in self._voice_names:
            raise ValueError(f"OpenAISpeechTTS: voice {voice!r} is not among voices "
                             f"{self._voice_names}")
        super().__init__(self.base_url + "/audio/speech",
                         pcm_sample_rate if sample_rate is None else sample_rate,
                         timeout_s, connect_timeout_s, speakable,
                         bearer_headers(api_key, self.base_url))
        self.model = model.strip()
        self._voice = voice.strip()
        self.response_format = response_format
        self.pcm_sample_rate = pcm_sample_rate
        self.server_speed = bool(server_speed)
        self.chunk_s = float(chunk_s)
        self.extra_body = dict(extra_body or {})

    def __repr__(self) -> str:
        return (f"OpenAISpeechTTS(base_url={self.base_url!r}, model={self.model!r}, "
                f"voice={self._voice!r})")

    # ------------------------------------------------------------------ settings
    @property
    def voices(self) -> list[str]:
        return list(self._voice_names) if self._voice_names else [self._voice]

    @property
    def voice(self) -> str:
        return self._voice

    def set_voice(self, name: str) -> None:
        """Use voice ``name`` from the next request on.

        Raises:
            ValueError: Empty, or not among the configured ``voices``.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError("voice must be a non-empty string")
        if self._voice_names is not None and name.strip() not in self._voice_names:
            raise ValueError(f"unknown voice {name!r}; available voices: "
                             f"{', '.join(self._voice_names)}")
        self._voice = name.strip()

    @property
    def _stretches(self) -> bool:
        """Speed (0.25..4.0) is the server's ``speed`` field, or WSOLA here when
        ``server_speed=False``."""
        return not self.server_speed

    def set_emotion(self, name: str, vector: Sequence[float] | None = None) -> None:
        raise UnsupportedFeatureError(
            "the OpenAI-compatible speech API has no emotion control, so emotion "
            f"{name!r} was not applied")

    # ------------------------------------------------------------------ synthesis
    def _payload(self, text: str) -> dict[str, Any]:
        body: dict[str, Any] = {**self.extra_body, "model": self.model, "input": text,
                                "voice": self._voice, "response_format": self.response_format}
        body["speed"] = self._speed if self.server_speed else 1.0
        return body

    def _pcm_step(self) -> int:
        return max(2, int(self.chunk_s * self.pcm_sample_rate) * 2)

    def _check_pcm_start(self, head: bytes, content_type: str) -> None:
        """A body that is plainly not raw PCM (JSON, HTML, a WAV/MP3 file) is an error."""
        lowered = content_type.lower()
        if lowered.startswith(("application/json", "text/")) or head[:4] in (b"RIFF", b"ID3\x03",
                                                                            b"OggS", b"fLaC"):
            raise bad_audio(self._http.service, self.url,
                            f"expected raw PCM but got {content_type or 'unknown content'} "
                            f"starting with {head[:12]!r}")

    def _speak(self, text: str) -> Iterator[np.ndarray]:
        """One request: a WAV answer whole, a ``pcm`` answer as it streams in."""
        if self.response_format == "wav":
            yield from super()._speak(text)
            return
        import soxr

        body = self._payload(text)
        resampler = (soxr.ResampleStream(self.pcm_sample_rate, self._rate, 1, dtype="int16")
                     if self.pcm_sample_rate != self._rate else None)
        try:
            with self._http.stream(self.url, json=body) as response:
                if response.status_code != 200:
                    response.read()
                    raise error_from_response(self._http.service, self.url,
                                              response.status_code, response.content,
                                              response.headers)
                pending = b""
                checked = False
                stretched: list[np.ndarray] = []  # WSOLA here: the whole clause at once
                stretch = self._stretches and abs(self._speed - 1.0) > 1e-3
                for block in response.iter_bytes():
                    pending += block
                    if not checked and pending:
                        self._check_pcm_start(pending, response.headers.get("content-type", ""))
                        checked = True
                    step = self._pcm_step()
                    while len(pending) >= step:
                        piece, pending = pending[:step], pending[step:]
                        pcm = self._pcm_piece(piece, resampler, last=False)
                        if stretch:
                            stretched.append(pcm)
                        else:
                            yield from _nonempty(pcm)
                pending = pending[:len(pending) - len(pending) % 2]
                pcm = self._pcm_piece(pending, resampler, last=True)
                if stretch:
                    pcm = self._finish(np.concatenate([*stretched, pcm]), self._rate)
                yield from _nonempty(pcm)
        except httpx.HTTPError as exc:
            raise error_from_transport(self._http.service, self.url, exc,
                                       self._http.timeout) from exc

    def _pcm_piece(self, data: bytes, resampler: Any, last: bool) -> np.ndarray:
        pcm = np.frombuffer(data, dtype="<i2").astype(np.int16)
        if resampler is not None:
            pcm = np.asarray(resampler.resample_chunk(pcm, last=last), dtype=np.int16)
        return pcm

    async def _aspeak(self, text: str) -> np.ndarray:
        """One request for asyncio callers (a ``pcm`` answer is read whole)."""
        if self.response_format == "wav":
            return await super()._aspeak(text)
        response = await self._http.apost(self.url, json=self._payload(text))
        data = response.content
        self._check_pcm_start(data, response.headers.get("content-type", ""))
        data = data[:len(data) - len(data) % 2]
        return self._finish(np.frombuffer(data, dtype="<i2").astype(np.int16),
                            self.pcm_sample_rate)


def _nonempty(pcm: np.ndarray) -> Iterator[np.ndarray]:
    if pcm.size:
        yield pcm


__all__ = ["OpenAISpeechTTS", "RemoteModelError"]
