"""Latency of FasterWhisperASR on this machine (no thresholds, just figures).

Loads the model (prints the load time), then decodes jfk.flac and 1 s / 3 s / 10 s clips
cut from it, ``--repeats`` times each, and prints the median seconds per decode, the
real-time factor (decode time / audio time) and the peak RSS of the process.

    python benchmarks/asr_latency.py [--model tiny.en|base] [--model-path DIR]
                                     [--repeats 5] [--beam-size 1] [--cpu-threads 0]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xtalk.models.asr.faster_whisper import FasterWhisperASR  # noqa: E402

SR = 16000
DEFAULT_AUDIO = ROOT.parent / "shared" / "data" / "speech" / "jfk.flac"


def load_pcm16(path: Path) -> np.ndarray:
    """Any sound file → 16 kHz mono PCM16 (jfk.flac is 44.1 kHz stereo)."""
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    if rate != SR:
        mono = soxr.resample(mono, rate, SR)
    return (np.clip(mono, -1.0, 1.0) * 32767).astype(np.int16)


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--model-path", default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--beam-size", type=int, default=1)
    parser.add_argument("--cpu-threads", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--audio", type=Path, default=DEFAULT_AUDIO)
    args = parser.parse_args(argv)

    print(f"peak RSS before load: {peak_rss_mb():.0f} MB")
    started = time.perf_counter()
    asr = FasterWhisperASR(model=args.model, model_path=args.model_path, device=args.device,
                           beam_size=args.beam_size, cpu_threads=args.cpu_threads)
    print(f"model {asr.model_dir} on {asr.device}/{asr.compute_type}: "
          f"load {time.perf_counter() - started:.2f} s, peak RSS {peak_rss_mb():.0f} MB")

    speech = load_pcm16(args.audio)
    clips = {args.audio.name: speech}
    for seconds in (1, 3, 10):
        clips[f"{seconds} s clip"] = speech[: seconds * SR]

    asr.transcribe(speech[:SR])  # warm-up (first call allocates buffers)
    print(f"{'clip':<14}{'audio s':>8}{'median s':>10}{'RTF':>7}{'partial s':>11}  text")
    for name, pcm in clips.items():
        finals, partials, text = [], [], ""
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            text = asr.transcribe(pcm).text
            finals.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            asr.transcribe_partial(pcm)
            partials.append(time.perf_counter() - t0)
        audio_s = pcm.size / SR
        median = statistics.median(finals)
        print(f"{name:<14}{audio_s:>8.2f}{median:>10.3f}{median / audio_s:>7.2f}"
              f"{statistics.median(partials):>11.3f}  {text[:60]!r}")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
