"""Tone-code TTS: a **test/demo** synthesiser, never a default model.

It renders text as the tone code of :mod:`xtalk.models.tone_code`, which
:class:`~xtalk.models.asr.testing.ToneCodeASR` decodes back exactly; handy for deterministic
end-to-end tests of the engine without a neural network.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from xtalk.models import tone_code
from xtalk.models.interfaces import TTS

_VOICES = ("sine", "warm")
_MIN_SPEED, _MAX_SPEED = 0.5, 1.5


class ToneCodeTTS(TTS):
    """Synthesises tone-coded audio in chunks (test/demo model).

    Voice and speed are per-session state: :meth:`clone` returns a new object.

    Args:
        sample_rate: Output sample rate in Hz.
        chunk_seconds: Maximum duration of each yielded chunk.
        voice: ``"sine"`` (pure tones) or ``"warm"`` (with a quieter second harmonic).
        realtime_factor: When positive, sleep ``realtime_factor`` times each chunk's duration
            before yielding it, to simulate synthesis cost.
    """

    def __init__(
        self,
        sample_rate: int = 24000,
        chunk_seconds: float = 0.5,
        voice: str = "sine",
        realtime_factor: float = 0.0,
    ) -> None:
        if sample_rate < 8000:
            raise ValueError(f"sample_rate must be at least 8000, got {sample_rate}")
        if chunk_seconds <= 0:
            raise ValueError(f"chunk_seconds must be positive, got {chunk_seconds}")
        if realtime_factor < 0:
            raise ValueError(f"realtime_factor must not be negative, got {realtime_factor}")
        self.sample_rate = int(sample_rate)
        self.chunk_seconds = float(chunk_seconds)
        self.realtime_factor = float(realtime_factor)
        self.speed = 1.0
        self._voice = _VOICES[0]
        self.set_voice(voice)

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Yield PCM16 chunks of at most ``chunk_seconds`` at :attr:`sample_rate`.

        Args:
            text: Text to speak; characters outside the tone-code alphabet are dropped.

        Yields:
            PCM16 mono chunks; nothing for empty or whitespace-only text.
        """
        pcm = tone_code.encode(text, self.sample_rate, speed=self.speed,
                               harmonics=self._voice == "warm", trailing_space=True)
        step = max(1, round(self.chunk_seconds * self.sample_rate))
        for start in range(0, pcm.size, step):
            chunk = pcm[start : start + step]
            if self.realtime_factor > 0:
                time.sleep(self.realtime_factor * chunk.size / self.sample_rate)
            yield chunk

    @property
    def voices(self) -> list[str]:
        """Names of the selectable voices."""
        return list(_VOICES)

    @property
    def voice(self) -> str:
        """The current voice."""
        return self._voice

    def set_voice(self, name: str) -> None:
        """Select a voice.

        Raises:
            ValueError: ``name`` is not one of :attr:`voices`.
        """
        if name not in _VOICES:
            raise ValueError(f"unknown voice {name!r}; available voices: {', '.join(_VOICES)}")
        self._voice = name

    def set_speed(self, speed: float) -> None:
        """Set the tempo (symbols last ``SYMBOL_SECONDS / speed``).

        Raises:
            ValueError: ``speed`` is outside 0.5..1.5.
        """
        if not _MIN_SPEED <= speed <= _MAX_SPEED:
            raise ValueError(f"speed must be between {_MIN_SPEED} and {_MAX_SPEED}, got {speed}")
        self.speed = float(speed)

    def clone(self) -> ToneCodeTTS:
        """A new synthesiser with the same settings (voice and speed included)."""
        other = ToneCodeTTS(self.sample_rate, self.chunk_seconds, self._voice,
                            self.realtime_factor)
        other.speed = self.speed
        return other


__all__ = ["ToneCodeTTS"]
