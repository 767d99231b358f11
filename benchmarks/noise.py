"""Noise benchmark: recognition of noisy speech with and without RNNoise, and its CPU cost.

    python benchmarks/noise.py [--snr 10 5 0]

Speech: 12 questions in the bundled Piper voice (three speeds) and the shared real
recordings (jfk.flac, both channels of stereo_diarization.wav). Noise, mixed at each
signal-to-noise ratio (speech level over its voiced 10 ms blocks): white, a fan (brown
noise low-passed at 1 kHz with a 50 Hz hum) and babble (four other Piper sentences at
once). Each mixture goes through the default recogniser (faster-whisper tiny.en) as is
and after RNNoise (streamed in 32 ms frames, as the engine does); the table gives the
corpus word error rate of each. CPU: process time of RNNoise per 32 ms frame.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import soundfile
import soxr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests" / "support"))

from speech_clips import SR, levels_db, piper_voice, to_pcm16  # noqa: E402
from wer import corpus_wer  # noqa: E402

from xtalk.models.asr.faster_whisper import FasterWhisperASR  # noqa: E402
from xtalk.models.enhancers.rnnoise import RNNoise  # noqa: E402

SPEECH_DIR = ROOT.parent / "shared" / "data" / "speech"
FRAME = 512
QUESTIONS = [
    "What time is it in Tokyo right now?", "Can you explain how a rainbow forms?",
    "Turn on the lights in the kitchen.", "How far away is the moon?",
    "Set a timer for ten minutes.", "What is the capital of Australia?",
    "Remind me to call my sister tomorrow.", "How do I say thank you in Japanese?",
    "Play some relaxing music, please.", "What year did the first person walk on the moon?",
    "Is it going to rain this weekend?", "How long does it take to boil an egg?"]
BABBLE = ["The committee announced the results of the election before lunch.",
          "My neighbour painted a story about two brothers in a quiet voice.",
          "A tired pilot measured the distance to the harbour without a map.",
          "The orchestra remembered the names of the rivers as the sun went down."]
REAL = {"jfk.flac": [("And so my fellow Americans, ask not what your country can do for "
                      "you, ask what you can do for your country.", 0)],
        "stereo_diarization.wav": [
            ("He began a confused complaint against the wizard, who had vanished behind "
             "the curtain on the left.", 0),
            ("The horizon seems extremely distant.", 1)]}


def real_clips() -> list[tuple[str, np.ndarray]]:
    out = []
    for name, items in REAL.items():
        audio, rate = soundfile.read(SPEECH_DIR / name, dtype="float32", always_2d=True)
        for text, channel in items:
            mono = audio[:, channel]
            out.append((text, to_pcm16(soxr.resample(mono, rate, SR) if rate != SR else mono)))
    return out


def speech_level(pcm: np.ndarray) -> float:
    levels = levels_db(pcm)
    return float(np.mean(levels[levels > levels.max() - 30]))


def white(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0, 1, n)


def fan(n: int, rng: np.random.Generator) -> np.ndarray:
    brown = np.cumsum(rng.normal(0, 1, n))
    brown -= np.convolve(brown, np.ones(801) / 801, mode="same")  # no DC drift
    spectrum = np.fft.rfft(brown)
    spectrum[np.fft.rfftfreq(n, 1 / SR) > 1000] = 0
    hum = 0.3 * np.sin(2 * np.pi * 50 * np.arange(n) / SR)
    low = np.fft.irfft(spectrum, n)
    return low / (np.std(low) + 1e-9) + hum


def babble_source() -> np.ndarray:
    voices = [piper_voice(1.0), piper_voice(0.9, pitch=1.2), piper_voice(1.1, pitch=0.85),
              piper_voice(1.0, pitch=1.1)]
    parts = [v.say(t).astype(np.float64) for v, t in zip(voices, BABBLE, strict=True)]
    size = max(p.size for p in parts)
    mix = sum(np.pad(p, (0, size - p.size)) for p in parts)
    return np.tile(mix, 8)


def mixed(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    pad = np.zeros(SR // 2)
    s = np.concatenate([pad, speech.astype(np.float64), pad])
    n = noise[:s.size] if noise.size >= s.size else np.resize(noise, s.size)
    target = speech_level(speech) - snr_db
    n = n / (np.sqrt(np.mean(n ** 2)) + 1e-12) * 32768 * 10 ** (target / 20)
    return np.clip(s + n, -32768, 32767).astype(np.int16)


def denoise(pcm: np.ndarray, cpu: list[float]) -> np.ndarray:
    enhancer = RNNoise()
    out = []
    padded = np.concatenate([pcm, np.zeros(enhancer.delay_samples + FRAME, np.int16)])
    for i in range(0, padded.size - FRAME + 1, FRAME):
        t0 = time.process_time()
        out.append(enhancer.enhance(padded[i:i + FRAME]))
        cpu.append((time.process_time() - t0) * 1000)
    return np.concatenate(out)[enhancer.delay_samples:enhancer.delay_samples + pcm.size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snr", type=float, nargs="+", default=[10.0, 5.0, 0.0])
    args = parser.parse_args()
    rng = np.random.default_rng(11)
    clips = [(q, v.say(q)) for v in (piper_voice(1.0), piper_voice(0.85), piper_voice(1.2))
             for q in QUESTIONS[:4]] + [(q, piper_voice(1.0).say(q)) for q in QUESTIONS[4:]]
    clips += real_clips()
    noises = {"white": white(SR * 120, rng), "fan": fan(SR * 120, rng),
              "babble": babble_source()}
    asr = FasterWhisperASR()
    cpu: list[float] = []

    def wer_of(pcms: list[np.ndarray]) -> float:
        heard = [asr.transcribe(p).text for p in pcms]
        return corpus_wer([(t, h) for (t, _), h in zip(clips, heard, strict=True)])

    print(f"{len(clips)} clips ({len(clips) - 3} Piper, 3 real); recogniser: tiny.en")
    clean = wer_of([p for _, p in clips])
    cleaned_clean = wer_of([denoise(p, cpu) for _, p in clips])
    print(f"clean speech: WER {clean:.3f}; after RNNoise {cleaned_clean:.3f}")
    real_only = clips[-3:]
    print("real recordings after RNNoise, level change: " + ", ".join(
        f"{speech_level(denoise(p, cpu)) - speech_level(p):+.1f} dB" for _, p in real_only))
    print(f"\n{'noise':8} {'SNR dB':>6} {'WER as is':>10} {'WER RNNoise':>12} {'ratio':>6}")
    for name, noise in noises.items():
        for snr in args.snr:
            noisy = [mixed(p, noise, snr) for _, p in clips]
            raw = wer_of(noisy)
            den = wer_of([denoise(p, cpu) for p in noisy])
            print(f"{name:8} {snr:6.0f} {raw:10.3f} {den:12.3f} "
                  f"{den / raw if raw else float('nan'):6.2f}", flush=True)
    print(f"\nRNNoise CPU per 32 ms frame: median {statistics.median(cpu):.2f} ms, mean "
          f"{statistics.fmean(cpu):.2f} ms ({100 * statistics.fmean(cpu) / 32:.1f} % of a "
          f"core; {len(cpu)} frames); output delay {RNNoise().delay_samples / 16:.0f} ms")


if __name__ == "__main__":
    main()
