"""OpenAI-compatible speech recognition (``POST /v1/audio/transcriptions``) as an Xtalk ASR.

The API shape OpenAI defines and faster-whisper servers such as speaches implement: a
multipart form with the utterance as ``file`` (we send a 16 kHz PCM16 mono WAV), ``model``,
``language`` (when set), ``response_format`` (``json`` or ``verbose_json``), optional
``prompt`` and ``temperature``; the answer is JSON with ``text`` (``verbose_json`` adds
``language`` and ``segments`` with ``avg_logprob`` / ``no_speech_prob``, which give the
confidence and no-speech probability).

**No interim results.** That API recognises a finished recording; it has no streaming
partials. :meth:`OpenAITranscriptionASR.transcribe_partial` therefore returns an empty
transcription without contacting the server, and the engine shows the user's words once
the turn ends (the final, from :meth:`~OpenAITranscriptionASR.transcribe`). The engine's
speculative final (started when a pause begins) still overlaps the endpoint silence.

The API key is sent as ``Authorization: Bearer ...`` and never appears in messages, logs or
``repr``. Failures raise :class:`~xtalk.models.remote_audio.RemoteModelError` (the engine
rejects that utterance and keeps listening); the model stays usable.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from xtalk.models.interfaces import ASR, INPUT_SAMPLE_RATE, Transcription
from xtalk.models.remote_audio import (
    HttpConnection,
    RemoteModelError,
    bearer_headers,
    check_url,
    encode_wav,
    make_timeout,
    safe_url,
)

_FORMATS = ("json", "verbose_json")


class OpenAITranscriptionASR(ASR):
    """Recognition by an OpenAI-compatible ``/v1/audio/transcriptions`` endpoint.

    Args:
        base_url: API base including ``/v1`` (e.g. ``http://gpu-box:8000/v1``); requests go
            to ``<base_url>/audio/transcriptions``.
        model: Model name sent to the server (``"Systran/faster-whisper-small"``,
            ``"whisper-1"``...).
        api_key: Bearer token; empty: ``OPENAI_API_KEY`` when ``base_url`` is OpenAI's,
            else no ``Authorization`` header.
        language: ISO-639-1 code sent as ``language`` (``None``: the server detects it).
        response_format: ``"json"`` (text only) or ``"verbose_json"`` (with segment
            confidences; speaches and OpenAI's whisper-1 support it).
        prompt: Optional prompt (vocabulary hints).
        temperature: Optional decoding temperature.
        timeout_s: Seconds to wait for the answer.
        connect_timeout_s: Seconds to wait for the connection.

    Raises:
        ValueError: A bad URL, model, format, temperature or timeout.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        language: str | None = None,
        response_format: str = "json",
        prompt: str | None = None,
        temperature: float | None = None,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.base_url = check_url(base_url, "OpenAITranscriptionASR base_url")
        self.url = self.base_url + "/audio/transcriptions"
        if not isinstance(model, str) or not model.strip():
            raise ValueError("OpenAITranscriptionASR: model must be a non-empty string")
        if language is not None and (not isinstance(language, str) or not language.strip()):
            raise ValueError("OpenAITranscriptionASR: language must be a code such as 'en' "
                             "or None")
        if response_format not in _FORMATS:
            raise ValueError(f"OpenAITranscriptionASR: response_format must be one of "
                             f"{_FORMATS}, got {response_format!r}")
        if temperature is not None and (isinstance(temperature, bool) or not isinstance(
                temperature, int | float) or not 0 <= temperature <= 1):
            raise ValueError(f"OpenAITranscriptionASR: temperature must be 0..1, "
                             f"got {temperature!r}")
        self.model = model.strip()
        self.language = language.strip() if language else None
        self.response_format = response_format
        self.prompt = prompt
        self.temperature = temperature
        self._http = HttpConnection("transcription (OpenAI-compatible)",
                                    make_timeout(timeout_s, connect_timeout_s),
                                    bearer_headers(api_key, self.base_url))

    def __repr__(self) -> str:
        return f"OpenAITranscriptionASR(base_url={self.base_url!r}, model={self.model!r})"

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ requests
    def form(self) -> dict[str, str]:
        """The multipart form fields sent with the audio file."""
        fields = {"model": self.model, "response_format": self.response_format}
        if self.language:
            fields["language"] = self.language
        if self.prompt:
            fields["prompt"] = self.prompt
        if self.temperature is not None:
            fields["temperature"] = str(self.temperature)
        return fields

    def _files(self, audio: np.ndarray) -> dict[str, tuple[str, bytes, str]]:
        pcm = np.asarray(audio)
        if pcm.dtype != np.int16:
            raise ValueError(f"audio must be PCM16 (int16) at {INPUT_SAMPLE_RATE} Hz, "
                             f"got {pcm.dtype}")
        return {"file": ("utterance.wav", encode_wav(pcm.reshape(-1), INPUT_SAMPLE_RATE),
                         "audio/wav")}

    def transcribe(self, audio: np.ndarray) -> Transcription:
        """Recognise a finished utterance (PCM16 mono 16 kHz; call from a worker thread).

        Raises:
            RemoteModelError: The server is down, timed out, answered an error status or
                something that is not a transcription.
            ValueError: ``audio`` is not PCM16.
        """
        if np.asarray(audio).size == 0:
            return Transcription(text="", confidence=0.0, language=self.language,
                                 no_speech_prob=1.0)
        response = self._http.post(self.url, data=self.form(), files=self._files(audio))
        return self._parse(response.content)

    async def atranscribe(self, audio: np.ndarray) -> Transcription:
        """:meth:`transcribe` for asyncio callers (``httpx.AsyncClient``)."""
        if np.asarray(audio).size == 0:
            return Transcription(text="", confidence=0.0, language=self.language,
                                 no_speech_prob=1.0)
        response = await self._http.apost(self.url, data=self.form(),
                                          files=self._files(audio))
        return self._parse(response.content)

    def transcribe_partial(self, audio: np.ndarray) -> Transcription:
        """No interim results: the API only recognises finished recordings, so this returns
        an empty transcription (confidence 0) without a request; finals come at the end of
        speech."""
        return Transcription(text="", confidence=0.0, language=self.language)

    def _parse(self, body: bytes) -> Transcription:
        import json

        try:
            data: Any = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            start = body[:60].decode("utf-8", "replace")
            raise RemoteModelError(
                f"the {self._http.service} server at {safe_url(self.url)} answered with "
                f"something that is not a transcription (expected JSON with \"text\", got "
                f"{start!r})", "bad_response")
        language = data.get("language") if isinstance(data.get("language"), str) else None
        confidence, no_speech = _segment_scores(data.get("segments"))
        return Transcription(text=data["text"].strip(), confidence=confidence,
                             language=_language_code(language) or self.language,
                             no_speech_prob=no_speech)


def _segment_scores(segments: Any) -> tuple[float, float]:
    """(confidence, no-speech probability) from verbose_json segments; (1, 0) without."""
    if not isinstance(segments, list) or not segments:
        return 1.0, 0.0
    logprobs, no_speech = [], []
    for segment in segments:
        if not isinstance(segment, dict):
            continue
        value = segment.get("avg_logprob")
        if isinstance(value, int | float) and math.isfinite(value):
            logprobs.append(float(value))
        value = segment.get("no_speech_prob")
        if isinstance(value, int | float) and math.isfinite(value):
            no_speech.append(float(value))
    confidence = math.exp(sum(logprobs) / len(logprobs)) if logprobs else 1.0
    return min(1.0, max(0.0, confidence)), (min(no_speech) if no_speech else 0.0)


_LANGUAGE_NAMES = {"english": "en", "chinese": "zh", "german": "de", "french": "fr",
                   "spanish": "es", "japanese": "ja", "italian": "it", "portuguese": "pt",
                   "russian": "ru", "korean": "ko", "dutch": "nl"}


def _language_code(language: str | None) -> str | None:
    """OpenAI's verbose_json names the language ("english"); speaches gives the code."""
    if not language:
        return None
    return _LANGUAGE_NAMES.get(language.strip().lower(), language.strip().lower())


__all__ = ["OpenAITranscriptionASR", "RemoteModelError"]
