"""RemoteTTS: what the HTTP speech adapters (IndexTTS, OpenAI-compatible) share.

* the connection (:class:`~xtalk.models.remote_audio.HttpConnection`), shared by clones and
  closed by :meth:`RemoteTTS.close`;
* the text of a call becomes requests: one request for a clause (the engine's TTSManager
  already hands a TTS one clause at a time), and only genuinely long text is cut, by the
  engine's own clause splitter (:func:`xtalk.text.clauses.split_long_text`); each piece is
  made speakable (English) unless ``speakable`` is off;
* answers: WAV decoding, soxr resampling to the declared :attr:`RemoteTTS.sample_rate` and,
  when the server does not apply the speed itself, WSOLA time-stretching;
* speed and output-rate settings, ``clone`` (own voice/speed, shared connection).

A subclass sets :attr:`RemoteTTS.service`, builds the JSON body in ``_payload`` and may
replace ``_speak`` / ``_aspeak`` (e.g. for streamed raw PCM).
"""

from __future__ import annotations

import copy
import math
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import numpy as np

from xtalk.audio.pcm import resample_int16
from xtalk.models.interfaces import TTS
from xtalk.models.remote_audio import HttpConnection, bad_audio, decode_wav, make_timeout
from xtalk.text.clauses import split_long_text
from xtalk.text.speakable import make_speakable


def check_rate(value: Any, what: str) -> int:
    """``value`` as a sample rate; ValueError unless it is an integer 8000..192000 Hz."""
    if isinstance(value, bool) or not isinstance(value, int) or not 8000 <= value <= 192000:
        raise ValueError(f"{what} must be an integer 8000..192000 Hz, got {value!r}")
    return value


class RemoteTTS(TTS):
    """Base class of the TTS models served over HTTP.

    Args:
        url: The endpoint every request is POSTed to.
        sample_rate: Output rate (Hz); received audio is resampled to it.
        timeout_s: Seconds to wait for each answer.
        connect_timeout_s: Seconds to wait for the connection.
        speakable: Rewrite Markdown/numbers into speakable English first.
        headers: Default request headers (an ``Authorization`` header is sent, never shown).

    Raises:
        ValueError: A bad rate or timeout.
    """

    #: The server's name in error messages.
    service = "remote TTS"
    #: The range :meth:`set_speed` accepts.
    min_speed, max_speed = 0.5, 2.0
    #: Text longer than this is cut into clauses, one request each.

    def __init__(self, url: str, sample_rate: int, timeout_s: float, connect_timeout_s: float,
                 speakable: bool, headers: Mapping[str, str] | None = None) -> None:
        self.url = url
        self._rate = check_rate(sample_rate, f"{type(self).__name__}: sample_rate")
        self._speed = 1.0
        self._speakable = bool(speakable)
        self._http = HttpConnection(self.service, make_timeout(timeout_s, connect_timeout_s),
                                    headers)

    # ------------------------------------------------------------------ settings
    @property  # type: ignore[override]
    def sample_rate(self) -> int:
        """Output rate (Hz) of :meth:`synthesize`; the server's audio is resampled to it."""
        return self._rate

    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float) -> None:
        """Speaking rate in ``min_speed..max_speed`` (1.0 is normal).

        Raises:
            ValueError: ``speed`` is not a number in that range.
        """
        if isinstance(speed, bool) or not isinstance(speed, int | float) \
                or not math.isfinite(speed) or not self.min_speed <= speed <= self.max_speed:
            raise ValueError(f"speed must be between {self.min_speed} and {self.max_speed}, "
                             f"got {speed!r}")
        self._speed = float(speed)

    @property
    def _stretches(self) -> bool:
        """Whether the received audio is time-stretched here (the server ignores speed)."""
        return True

    def clone(self) -> RemoteTTS:
        """Own voice/emotion/speed choice; the HTTP connection pool is shared."""
        return copy.copy(self)

    def close(self) -> None:
        """Close the pooled HTTP connections (they reopen on the next request)."""
        self._http.close()

    # ------------------------------------------------------------------ text
    def _texts(self, text: str) -> list[str]:
        """The texts of one request each for ``text`` (see the module docstring)."""
        pieces = split_long_text(text)
        if self._speakable:
            pieces = [make_speakable(piece) for piece in pieces]
        return [piece for piece in pieces if piece]

    def _payload(self, text: str) -> dict[str, Any]:
        """The JSON body of the request for ``text``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ audio
    def _finish(self, pcm: np.ndarray, rate: int) -> np.ndarray:
        """Received PCM16 at ``rate`` → :attr:`sample_rate`, stretched when needed."""
        pcm = resample_int16(pcm, rate, self._rate)
        if self._stretches and abs(self._speed - 1.0) > 1e-3 and pcm.size:
            from xtalk.models.speed.wsola import WSOLASpeedController

            pcm = WSOLASpeedController().apply(pcm, self._rate, self._speed)
        return pcm

    def _wav(self, body: bytes) -> np.ndarray:
        """A WAV answer as finished PCM16; a body that is not one is a RemoteModelError."""
        try:
            pcm, rate = decode_wav(body)
        except ValueError as exc:
            raise bad_audio(self._http.service, self.url, str(exc)) from exc
        return self._finish(pcm, rate)

    # ------------------------------------------------------------------ synthesis
    def _speak(self, text: str) -> Iterator[np.ndarray]:
        """One request (worker thread): the answer's audio as non-empty chunks."""
        pcm = self._wav(self._http.post(self.url, json=self._payload(text)).content)
        if pcm.size:
            yield pcm

    async def _aspeak(self, text: str) -> np.ndarray:
        """One request (asyncio): the answer's audio."""
        response = await self._http.apost(self.url, json=self._payload(text))
        return self._wav(response.content)

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Speak ``text`` (call from a worker thread): PCM16 mono at :attr:`sample_rate`,
        one request per clause of a long text, a short one in a single request.

        Raises:
            RemoteModelError: The server is down, timed out, answered an error status or
                a body that is not the requested audio.
        """
        state = copy.copy(self)  # a voice/speed change mid-call applies to the next call
        for piece in self._texts(text):
            yield from state._speak(piece)

    async def asynthesize(self, text: str) -> AsyncIterator[np.ndarray]:
        """:meth:`synthesize` for asyncio callers (``httpx.AsyncClient``)."""
        state = copy.copy(self)
        for piece in self._texts(text):
            pcm = await state._aspeak(piece)
            if pcm.size:
                yield pcm


__all__ = ["RemoteTTS", "check_rate"]
