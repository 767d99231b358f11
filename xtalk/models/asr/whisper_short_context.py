"""Cheap Whisper decodes: encode the audio heard plus some silence, not a 30 s window.

faster-whisper pads every clip to Whisper's 30 s window, so a short utterance costs as
much to encode as a long one (tiny.en ≈ 0.35 s on 2 CPU cores, most of it in the
encoder). Here the encoder sees the clip plus ``pad_s`` of silence (CTranslate2 accepts a
shorter input) and the decoder runs greedily with a token budget proportional to the
audio, which also stops the repetition loops a short context can cause. Interim results
decode without timestamps; finals with them (timestamps keep Whisper going past a pause
between phrases) and with the probability of their last word. Accuracy and cost against
the full window: docs/models.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from xtalk.models.interfaces import Transcription

FRAMES_PER_SECOND = 100  # Whisper's mel hop: 10 ms
MAX_FRAMES = 3000  # the model's 30 s window
#: Token budget: ≈ 8 tokens per second of audio (fast speech is ≈ 4–5) plus a margin.
TOKENS_PER_SECOND = 8
TOKEN_MARGIN = 16


def short_context_decode(whisper_model: Any, pcm: np.ndarray, *, language: str | None,
                         pad_s: float, hotwords: str | None = None,
                         timestamps: bool = False) -> Transcription:
    """Greedy decode of ``pcm`` (float32 mono 16 kHz, at most 30 s) with an encoder
    window of the clip plus ``pad_s`` seconds.

    Args:
        whisper_model: A loaded ``faster_whisper.WhisperModel``.
        pcm: The audio, as :func:`~xtalk.models.asr.faster_whisper.prepare_audio` gives it.
        language: Language code; ``None`` detects it from this clip.
        pad_s: Silence after the clip inside the encoder window.
        hotwords: Hint phrases for the decoder.
    """
    import ctranslate2
    from faster_whisper.tokenizer import Tokenizer

    features = whisper_model.feature_extractor(pcm)[:, :MAX_FRAMES]
    frames = features.shape[-1]
    window = min(MAX_FRAMES, frames + round(pad_s * FRAMES_PER_SECOND))
    window += window % 2  # the encoder's convolution halves the length
    features = np.pad(features, ((0, 0), (0, window - frames)))
    encoded = whisper_model.model.encode(
        ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None],
                                                                dtype=np.float32)))
    multilingual = whisper_model.model.is_multilingual
    if multilingual and language is None:
        detected = whisper_model.model.detect_language(encoded)[0][0][0]  # "<|xx|>"
        language = detected[2:-2]
    tokenizer = Tokenizer(whisper_model.hf_tokenizer, multilingual, task="transcribe",
                          language=language if multilingual else "en")
    prompt = whisper_model.get_prompt(tokenizer, [], without_timestamps=not timestamps,
                                      hotwords=hotwords)
    seconds = pcm.size / 16000
    budget = int(seconds * TOKENS_PER_SECOND) + TOKEN_MARGIN
    if timestamps:  # two timestamp tokens per segment, a segment every few seconds
        budget += 2 * (int(seconds) + 2)
    result = whisper_model.model.generate(
        encoded, [prompt], beam_size=1, suppress_blank=True, return_scores=True,
        return_no_speech_prob=True, return_logits_vocab=timestamps, max_length=budget)[0]
    steps = result.sequences_ids[0]
    tokens = [t for t in steps if t < tokenizer.eot]
    text = tokenizer.decode(tokens).strip()
    score = result.scores[0] if result.scores else -math.inf
    confidence = min(1.0, max(0.0, math.exp(score))) if text else 0.0
    last_word = _last_word_probability(tokenizer, steps, result.logits[0]) \
        if text and timestamps else None  # finals only: interim results do not need it
    return Transcription(text=text, confidence=confidence, language=language,
                         no_speech_prob=float(result.no_speech_prob),
                         last_word_probability=last_word)


def _last_word_probability(tokenizer: Any, steps: list[int], logits: list[Any]
                           ) -> float | None:
    """The lowest probability among the tokens of the transcript's last word and the
    punctuation after it (``logits[i]`` are the scores of step ``i``). What does not change
    where the sentence ends is not doubt: a full stop, question mark or exclamation mark is
    as likely as the three together, a word's first token as it and its other-case twin
    ("spanish" / "Spanish")."""
    ends = {t[0] for t in (tokenizer.encode(mark) for mark in (".", "?", "!")) if len(t) == 1}
    lowest: float | None = None
    for i in range(min(len(steps), len(logits)) - 1, -1, -1):
        token = steps[i]
        if token >= tokenizer.eot:
            if lowest is None:
                continue  # timestamps after the text
            break
        scores = np.asarray(logits[i], dtype=np.float64).reshape(-1)
        probs = np.exp(scores - scores.max())
        probs /= probs.sum()
        piece = tokenizer.decode([token])
        starts_word = piece.startswith(" ") or i == 0 or steps[i - 1] >= tokenizer.eot
        alike = {token}
        if token in ends:
            alike = ends
        elif starts_word:
            word = piece.lstrip()
            twin = tokenizer.encode(piece[:len(piece) - len(word)] + word[:1].swapcase()
                                    + word[1:]) if word else []
            alike.update(twin if len(twin) == 1 else ())
        p = float(sum(probs[t] for t in alike))
        lowest = p if lowest is None else min(lowest, p)
        if starts_word and any(c.isalnum() for c in piece):
            break
    return lowest


__all__ = ["short_context_decode"]
