"""PiperTTS latency: load time, time to first chunk, total synthesis time and real-time factor.

Usage::

    python benchmarks/tts_latency.py [--runs 5] [--threads 1 2] [--voice PATH_OR_NAME]

For 3-, 10- and 25-word sentences and each onnxruntime thread count, prints the median
over ``--runs`` runs (after one warm-up run) of the time to the first audio chunk, the
total synthesis time, the audio duration and the real-time factor (synthesis time / audio
duration; below 1 is faster than real time). No thresholds: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SENTENCES = {
    3: "Hello there, friend.",
    10: "The meeting has been moved to Thursday afternoon at three.",
    25: ("After reviewing the quarterly report, the team decided to expand the project, "
         "hire two more engineers, and launch the new product next spring in Europe."),
}


def _measure(tts, text: str) -> tuple[float, float, float, int]:
    """(seconds to first chunk, total seconds, audio seconds, chunks)."""
    start = time.perf_counter()
    first = None
    samples = chunks = 0
    for pcm in tts.synthesize(text):
        if first is None:
            first = time.perf_counter() - start
        samples += pcm.size
        chunks += 1
    total = time.perf_counter() - start
    return (first if first is not None else total), total, samples / tts.sample_rate, chunks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case (median)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="onnxruntime thread counts to compare")
    parser.add_argument("--voice", default=None, help="Piper voice name or .onnx path")
    args = parser.parse_args(argv)

    for words, text in SENTENCES.items():
        assert len(text.split()) == words, (words, len(text.split()))

    start = time.perf_counter()
    from xtalk.models.tts import piper as piper_module  # imports piper-tts, onnxruntime

    piper_module._import_piper()
    print(f"import piper-tts + onnxruntime: {time.perf_counter() - start:.2f} s")

    rows = []
    for threads in args.threads:
        piper_module.clear_voice_cache()
        start = time.perf_counter()
        tts = piper_module.PiperTTS(voice=args.voice, threads=threads)
        load = time.perf_counter() - start
        print(f"load voice {tts.voice} with {threads} thread(s): {load:.2f} s "
              f"({tts.sample_rate} Hz)")
        for words, text in SENTENCES.items():
            _measure(tts, text)  # warm-up
            results = [_measure(tts, text) for _ in range(args.runs)]
            first = statistics.median(r[0] for r in results)
            total = statistics.median(r[1] for r in results)
            audio = statistics.median(r[2] for r in results)
            chunks = results[-1][3]
            rows.append((threads, words, first, total, audio, total / audio if audio else 0.0,
                         chunks))

    print()
    header = ("threads", "words", "first chunk s", "total s", "audio s", "RTF", "chunks")
    print("{:>7} {:>5} {:>13} {:>8} {:>8} {:>6} {:>6}".format(*header))
    for threads, words, first, total, audio, rtf, chunks in rows:
        print(f"{threads:>7} {words:>5} {first:>13.3f} {total:>8.3f} {audio:>8.2f} "
              f"{rtf:>6.3f} {chunks:>6}")
    print(f"\nmedians of {args.runs} runs after one warm-up; RTF = synthesis time / audio "
          "duration. Piper yields one chunk per sentence, so split long text into clauses "
          "for earlier first audio.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
