"""Tone code: a tiny text <-> audio codec used by the test/demo models.

This is a **test/demo aid**, never a default model. It lets the engine be exercised end to
end (TTS -> resampling -> ASR) without any neural network: every character is one sine tone,
so "speech" produced by :class:`~xtalk.models.tts.testing.ToneCodeTTS` can be recognised
exactly by :class:`~xtalk.models.asr.testing.ToneCodeASR`.

Alphabet: index 0 is space, 1..26 are ``a``..``z``, 27 is the apostrophe and 28..37 are the
digits ``0``..``9``. Symbol ``i`` is a tone of :data:`SYMBOL_SECONDS` at ``400 + 50 * i`` Hz
with 5 ms raised-cosine fades, 0.3 of full scale.
"""

from __future__ import annotations

import unicodedata

import numpy as np

ALPHABET = " abcdefghijklmnopqrstuvwxyz'0123456789"
SYMBOL_SECONDS = 0.05
BASE_HZ = 400.0
STEP_HZ = 50.0
FADE_SECONDS = 0.005
AMPLITUDE = 0.3
MAX_OFFSET_HZ = 20.0

_INDEX = {ch: i for i, ch in enumerate(ALPHABET)}
_SEPARATORS = set("-_/\\|")
_APOSTROPHES = set("'\u2018\u2019\u02bc`")
_ENVELOPE_SECONDS = 0.0025  # short window for onset and symbol-boundary detection
_SILENCE_RATIO = 0.1  # relative to the peak envelope (-20 dB)
_ABS_FLOOR = 1e-4  # below this RMS (full scale = 1) the input is silence
_MIN_PROMINENCE = 0.5  # share of the spectrum's energy around the peak


def symbol_frequency(index: int) -> float:
    """Frequency in Hz of the symbol with alphabet position ``index``."""
    return BASE_HZ + STEP_HZ * index


def normalize_text(text: str) -> str:
    """Reduce ``text`` to the codec alphabet.

    Lowercases, strips accents, maps whitespace and word separators (``-_/``) to spaces,
    maps typographic apostrophes to ``'``, drops every other character, collapses runs of
    spaces and strips the result.

    Args:
        text: Any text.

    Returns:
        Text made only of characters in :data:`ALPHABET`.
    """
    decomposed = unicodedata.normalize("NFKD", text.lower())
    out: list[str] = []
    for ch in decomposed:
        if ch in _APOSTROPHES:
            out.append("'")
        elif ch.isspace() or ch in _SEPARATORS:
            out.append(" ")
        elif ch in _INDEX:
            out.append(ch)
    return " ".join("".join(out).split())


def encode(
    text: str, sample_rate: int = 16000, speed: float = 1.0, harmonics: bool = False,
    trailing_space: bool = False,
) -> np.ndarray:
    """Encode text as a sequence of tones.

    Args:
        text: Text to encode; it is passed through :func:`normalize_text` first.
        sample_rate: Output sample rate in Hz.
        speed: Tempo factor; symbols last ``SYMBOL_SECONDS / speed`` seconds.
        harmonics: Add a quieter second harmonic (a "warmer" voice); the fundamental stays
            the strongest component.
        trailing_space: End with a word-gap symbol, so that separately encoded clauses
            played back to back decode as separate words.

    Returns:
        PCM16 mono samples (empty when the normalised text is empty).
    """
    if speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    normalized = normalize_text(text)
    symbols = [_INDEX[ch] for ch in normalized]
    if trailing_space and symbols:
        symbols.append(_INDEX[" "])
    period = SYMBOL_SECONDS / speed * sample_rate
    bounds = np.round(np.arange(len(symbols) + 1) * period).astype(int)
    out = np.zeros(int(bounds[-1]), dtype=np.float64)
    fade = max(1, min(round(FADE_SECONDS * sample_rate), int(period) // 4))
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
    for index, start, stop in zip(symbols, bounds[:-1], bounds[1:], strict=True):
        t = np.arange(stop - start) / sample_rate
        freq = symbol_frequency(index)
        if harmonics and 2 * freq < 0.45 * sample_rate:
            tone = (2 / 3) * np.sin(2 * np.pi * freq * t) + (1 / 3) * np.sin(4 * np.pi * freq * t)
        else:
            tone = np.sin(2 * np.pi * freq * t)
        tone[:fade] *= ramp
        tone[-fade:] *= ramp[::-1]
        out[start:stop] = AMPLITUDE * tone
    return np.round(out * 32767).astype(np.int16)


def _envelope(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Centred moving RMS over a few milliseconds."""
    width = max(1, round(_ENVELOPE_SECONDS * sample_rate))
    csum = np.concatenate(([0.0], np.cumsum(x * x)))
    half = width // 2
    idx = np.arange(x.size)
    lo = np.clip(idx - half, 0, x.size)
    hi = np.clip(idx - half + width, 0, x.size)
    return np.sqrt(np.maximum(csum[hi] - csum[lo], 0.0) / width)


def _loud(pcm: np.ndarray, sample_rate: int
          ) -> tuple[np.ndarray, np.ndarray, float, np.ndarray] | None:
    """(samples as float, envelope, silence threshold, indices above it), or ``None`` when
    there is no tone at all."""
    x = np.asarray(pcm, dtype=np.float64).reshape(-1) / 32768.0
    if x.size == 0:
        return None
    env = _envelope(x, sample_rate)
    peak = float(env.max())
    if peak < _ABS_FLOOR:
        return None
    threshold = _SILENCE_RATIO * peak
    return x, env, threshold, np.flatnonzero(env > threshold)


def _refine_start(
    env: np.ndarray, onset: int, last: int, period: float, sample_rate: int
) -> float:
    """Align the symbol grid on the envelope dips at symbol boundaries.

    The onset alone can be off by a few ms (resampling, a truncated first symbol); every
    symbol fades to zero at its edges, so the grid is shifted (by less than half a symbol)
    to where the envelope at the interior boundaries is lowest. A first symbol that lost
    more than half of its length is thereby skipped. With fewer than two symbols the onset
    is kept.
    """
    count = round((last - onset) / period)
    if count < 2:
        return float(onset)
    step = max(1.0, sample_rate / 4000)
    shifts = np.arange(-0.5 * period + step, 0.5 * period + 1e-9, step)
    points = onset + shifts[:, None] + period * np.arange(1, count)[None, :]
    points = np.clip(np.round(points).astype(int), 0, env.size - 1)
    scores = env[points].mean(axis=1) + 1e-12 * np.abs(shifts)  # ties: smallest shift
    return float(onset + shifts[int(np.argmin(scores))])


def _classify(segment: np.ndarray, sample_rate: int) -> int | None:
    """Alphabet index of the tone in ``segment``, or ``None`` if it is not a clean tone."""
    n = segment.size
    nfft = 1 << max(13, int(np.ceil(np.log2(4 * n))))
    power = np.abs(np.fft.rfft(segment * np.hanning(n), nfft)) ** 2
    power[0] = 0.0
    total = power.sum()
    if total <= 0:
        return None
    peak = int(np.argmax(power))
    offset = 0.0
    if 0 < peak < power.size - 1:  # parabolic interpolation on the log spectrum
        a, b, c = np.log(power[peak - 1 : peak + 2] + 1e-30)
        denom = a - 2 * b + c
        offset = 0.5 * (a - c) / denom if denom != 0 else 0.0
    freq = (peak + offset) * sample_rate / nfft
    band = round(2.5 * nfft / n)  # bins: a little over the Hann main lobe half-width
    if power[max(0, peak - band) : peak + band + 1].sum() / total < _MIN_PROMINENCE:
        return None
    index = round((freq - BASE_HZ) / STEP_HZ)
    if not 0 <= index < len(ALPHABET) or abs(freq - symbol_frequency(index)) > MAX_OFFSET_HZ:
        return None
    return index


def decode(pcm: np.ndarray, sample_rate: int = 16000, speed: float = 1.0) -> tuple[str, float]:
    """Decode tone-coded audio back to text.

    The onset is found from a short-window envelope, refined on the symbol boundaries, and
    the central 60% of every symbol is classified from its spectrum. Decoding stops at the
    first silent symbol window.

    Args:
        pcm: PCM16 mono samples (leading/trailing silence is fine).
        sample_rate: Sample rate of ``pcm`` in Hz.
        speed: The tempo the audio was encoded with.

    Returns:
        ``(text, confidence)`` where confidence is the fraction of symbols that were clean
        tones on the alphabet's frequencies. Invalid symbols are dropped from the text;
        when fewer than half are valid the text is empty.
    """
    if speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    found = _loud(pcm, sample_rate)
    if found is None:
        return "", 0.0
    x, env, threshold, active = found
    period = SYMBOL_SECONDS / speed * sample_rate
    start = _refine_start(env, int(active[0]), int(active[-1]), period, sample_rate)
    indices: list[int | None] = []
    while True:
        symbol_start = start + len(indices) * period
        lo = max(0, round(symbol_start + 0.2 * period))
        hi = min(x.size, round(symbol_start + 0.8 * period))
        if hi - lo < 0.3 * period:
            break
        segment = x[lo:hi]
        if np.sqrt(np.mean(segment * segment)) < threshold:
            break
        indices.append(_classify(segment, sample_rate))
    if not indices:
        return "", 0.0
    valid = [i for i in indices if i is not None]
    confidence = len(valid) / len(indices)
    if len(valid) * 2 < len(indices):
        return "", confidence
    return " ".join("".join(ALPHABET[i] for i in valid).split()), confidence


PHRASE_GAP_SECONDS = 0.1  # silence that separates two phrases of one utterance


def decode_phrases(pcm: np.ndarray, sample_rate: int = 16000) -> tuple[str, float]:
    """Decode an utterance that may pause between phrases: every stretch of tones
    separated by at least :data:`PHRASE_GAP_SECONDS` of silence is decoded on its own.

    Returns:
        ``(text, confidence)``: the phrases' texts joined by spaces, and the lowest
        phrase confidence (0 when there is no tone at all).
    """
    found = _loud(pcm, sample_rate)
    if found is None:
        return "", 0.0
    active = found[3]
    gap = PHRASE_GAP_SECONDS * sample_rate
    cuts = np.flatnonzero(np.diff(active) > gap)
    starts = [int(active[0]), *(int(active[c + 1]) for c in cuts)]
    ends = [*(int(active[c]) + 1 for c in cuts), int(active[-1]) + 1]
    margin = int(0.02 * sample_rate)
    texts, confidences = [], []
    for start, end in zip(starts, ends, strict=True):
        text, confidence = decode(pcm[max(0, start - margin):end + margin], sample_rate)
        confidences.append(confidence)
        if text:
            texts.append(text)
    return " ".join(texts), min(confidences)


__all__ = [
    "ALPHABET", "SYMBOL_SECONDS", "decode", "decode_phrases", "encode", "normalize_text",
    "symbol_frequency",
]
