"""SileroVAD cost: time per 32 ms frame (512 samples at 16 kHz).

Usage::

    python benchmarks/vad_cost.py [--frames 2000] [--threads 1 2] [--model PATH]

For each onnxruntime thread count, runs ``--frames`` frames of real speech (the JFK
recording from ``../shared/data/speech/`` if present, else a synthetic voiced signal) through
one detector after a short warm-up, and prints the median, 90th percentile and mean time
per frame and the share of the 32 ms real-time budget the median uses. No thresholds:
figures depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xtalk.models.vad.silero import FRAME_SAMPLES, SAMPLE_RATE, SileroVAD  # noqa: E402

SPEECH = ROOT.parent / "shared" / "data" / "speech" / "jfk.flac"
WARMUP_FRAMES = 50


def _audio(n_samples: int) -> tuple[np.ndarray, str]:
    """PCM16 16 kHz mono audio of at least ``n_samples`` samples (looped), and its source."""
    pcm: np.ndarray | None = None
    source = "synthetic"
    try:
        import soundfile
        import soxr

        data, rate = soundfile.read(SPEECH, dtype="float32", always_2d=True)
        mono = soxr.resample(data.mean(axis=1), rate, SAMPLE_RATE)
        pcm = np.round(np.clip(mono, -1.0, 1.0) * 32767).astype(np.int16)
        source = SPEECH.name
    except Exception:  # file or optional package missing: fall back to a synthetic signal
        t = np.arange(SAMPLE_RATE * 4) / SAMPLE_RATE
        voiced = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140, 280, 420), 1))
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
        pcm = (voiced * envelope * 6000).astype(np.int16)
    repeats = -(-n_samples // pcm.size)
    return np.tile(pcm, repeats)[:n_samples], source


def measure(threads: int, frames: int, model_path: str | None) -> list[float]:
    """Seconds per ``speech_probability`` call, one per frame."""
    vad = SileroVAD(model_path=model_path, threads=threads)
    pcm, _ = _audio((frames + WARMUP_FRAMES) * FRAME_SAMPLES)
    chunks = pcm.reshape(-1, FRAME_SAMPLES)
    for frame in chunks[:WARMUP_FRAMES]:
        vad.speech_probability(frame)
    vad.reset()
    times = []
    clock = time.perf_counter
    for frame in chunks[WARMUP_FRAMES:]:
        start = clock()
        vad.speech_probability(frame)
        times.append(clock() - start)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--model", default=None, help="Silero VAD ONNX file (default: "
                        "the one faster-whisper ships)")
    args = parser.parse_args(argv)
    _, source = _audio(FRAME_SAMPLES)
    budget_ms = FRAME_SAMPLES / SAMPLE_RATE * 1000
    print(f"SileroVAD, {args.frames} frames of {FRAME_SAMPLES} samples ({budget_ms:.0f} ms) "
          f"from {source}")
    print(f"{'threads':>7}  {'median ms':>9}  {'p90 ms':>7}  {'mean ms':>7}  {'% of 32 ms':>10}")
    for threads in args.threads:
        times = measure(threads, args.frames, args.model)
        median = statistics.median(times) * 1000
        p90 = statistics.quantiles(times, n=10)[-1] * 1000
        mean = statistics.fmean(times) * 1000
        print(f"{threads:>7}  {median:>9.3f}  {p90:>7.3f}  {mean:>7.3f}  "
              f"{median / budget_ms * 100:>9.2f}%")


if __name__ == "__main__":
    main()
