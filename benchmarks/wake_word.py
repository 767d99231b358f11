"""Wake-word benchmark: detection rate, false accepts per hour of speech, CPU per frame.

    python benchmarks/wake_word.py [--minutes 30] [--models OpenWakeWord MicroWakeWord]

Detection: "Hey Jarvis" alone and followed by a request, said by the bundled Piper voice
(three speeds, two pitches) and espeak-ng voices at several speeds, 0.5 s of silence
before, 1 s after; a clip counts when a frame's score reaches the model's threshold (the
engine's rule). False accepts: the shared real recordings, then ``--minutes`` of other
synthesised speech (sentences from a fixed-seed generator, voices in turn), streamed as one
session would hear them (the detector is reset after each accept, as the wake-word manager
does); near misses ("hey Travis", "a jar of this" ...) are counted apart. CPU: process time
of each 32 ms frame (the engine's frame), median and p90.
"""

from __future__ import annotations

import argparse
import random
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

from speech_clips import (  # noqa: E402
    SR,
    Voice,
    espeak_voice,
    have_espeak,
    natural_voices,
    to_pcm16,
)

from xtalk.models.wake import MicroWakeWord, OpenWakeWord  # noqa: E402

FRAME = 512
SPEECH_DIR = ROOT.parent / "shared" / "data" / "speech"
PHRASES = ["Hey Jarvis.", "Hey Jarvis, what time is it?", "Hey Jarvis, turn on the lights.",
           "Hey Jarvis, what is the weather like tomorrow?"]
NEAR_MISSES = ["Hey Travis, what time is it?", "Hey Charles, turn on the lights.",
               "Hey there, how are you?", "I found a jar of this jam.", "Harvest is in June.",
               "Hey, service was slow.", "Jarring noises all night.", "Hey Jarvik, hello."]
SUBJECTS = ["The old bridge", "My neighbour", "A small robot", "The committee", "Our teacher",
            "The weather report", "Every morning the baker", "The orchestra", "A tired pilot",
            "The city council", "My sister", "The museum guide", "A young engineer"]
VERBS = ["explained", "described", "forgot", "repeated", "announced", "questioned",
         "painted", "measured", "ignored", "celebrated", "counted", "remembered"]
OBJECTS = ["the history of the harbour", "a recipe for apple pie", "the rules of the game",
           "the distance to the moon", "the price of fresh bread", "the colour of the sky",
           "a story about two brothers", "the results of the election",
           "the names of the rivers", "the plan for next summer", "a song about the sea"]
TAILS = ["before lunch.", "in a quiet voice.", "to everyone in the room.", "without a map.",
         "during the long winter.", "with great patience.", "for the third time.",
         "while the rain kept falling.", "and then went home.", "as the sun went down."]

MODELS = {"OpenWakeWord": lambda: OpenWakeWord("hey_jarvis"),
          "MicroWakeWord": lambda: MicroWakeWord("hey_jarvis")}


def detection_voices() -> list[Voice]:
    voices = natural_voices()
    if have_espeak():
        voices += [espeak_voice("en-us", 130), espeak_voice("en-us", 160),
                   espeak_voice("en-us", 190), espeak_voice("en-gb", 175),
                   espeak_voice("en-us+f3", 150), espeak_voice("en-gb-scotland", 185),
                   espeak_voice("en-us+m3", 170)]
    return voices


def sentences(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
            f"{rng.choice(TAILS)}" for _ in range(n)]


def recordings() -> list[tuple[str, np.ndarray]]:
    out = []
    for path in sorted(SPEECH_DIR.glob("*")):
        if path.suffix not in (".flac", ".wav", ".mp3"):
            continue
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
        for channel in range(audio.shape[1]):
            mono = soxr.resample(audio[:, channel], rate, SR) if rate != SR else audio[:, channel]
            out.append((f"{path.name}[{channel}]", to_pcm16(mono)))
    return out


class Stream:
    """One detector fed 32 ms frames as a session would; counts accepts and CPU."""

    def __init__(self, detector) -> None:
        self.detector = detector
        self.cpu_ms: list[float] = []

    def run(self, pcm: np.ndarray) -> tuple[int, float]:
        """Accepts in ``pcm`` (reset after each) and the highest score."""
        accepts, peak = 0, 0.0
        for i in range(0, pcm.size - FRAME + 1, FRAME):
            t0 = time.process_time()
            score = self.detector.process(pcm[i:i + FRAME])
            self.cpu_ms.append((time.process_time() - t0) * 1000)
            peak = max(peak, score)
            if score >= self.detector.threshold:
                accepts += 1
                self.detector.reset()
        return accepts, peak


def pad(pcm: np.ndarray, before: float, after: float) -> np.ndarray:
    return np.concatenate([np.zeros(int(before * SR), np.int16), pcm,
                           np.zeros(int(after * SR), np.int16)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0,
                        help="minutes of synthesised non-wake speech for false accepts")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()

    voices = detection_voices()
    print(f"voices: {', '.join(v.name for v in voices)}", flush=True)
    clips = [(v.name, p, pad(v.say(p), 0.5, 1.0)) for v in voices for p in PHRASES]
    misses = [(v.name, p, pad(v.say(p), 0.3, 0.3)) for v in voices for p in NEAR_MISSES]
    real = recordings()
    started, long_speech, seconds = time.monotonic(), [], 0.0
    for n, text in enumerate(sentences(100000)):
        if seconds >= args.minutes * 60:
            break
        pcm = pad(voices[n % len(voices)].say(text), 0.0, 0.3)
        long_speech.append(pcm)
        seconds += pcm.size / SR
    print(f"synthesised {len(clips)} wake clips, {len(misses)} near misses and "
          f"{seconds / 60:.1f} min of other speech in {time.monotonic() - started:.0f} s; "
          f"real recordings: {sum(p.size for _, p in real) / SR:.0f} s", flush=True)

    for name in args.models:
        stream = Stream(MODELS[name]())
        print(f"\n== {name} (phrase {stream.detector.phrase!r}, threshold "
              f"{stream.detector.threshold:g}) ==")
        per_voice: dict[str, list[bool]] = {}
        for voice, phrase, pcm in clips:
            stream.detector.reset()
            accepts, peak = stream.run(pcm)
            per_voice.setdefault(voice, []).append(accepts > 0)
            if not accepts:
                print(f"  missed: {voice}: {phrase!r} (peak {peak:.3f})")
        hits = sum(sum(v) for v in per_voice.values())
        print(f"detected {hits}/{len(clips)} ({100 * hits / len(clips):.1f} %; target >= 95 %)")
        print("  per voice: " + ", ".join(f"{v} {sum(h)}/{len(h)}" for v, h in per_voice.items()))
        near = 0
        for voice, phrase, pcm in misses:
            stream.detector.reset()
            accepts, _ = stream.run(pcm)
            if accepts:
                near += 1
                print(f"  near miss accepted: {voice}: {phrase!r}")
        print(f"near misses accepted: {near}/{len(misses)}")
        stream.detector.reset()
        false_real = sum(stream.run(pcm)[0] for _, pcm in real)
        stream.detector.reset()
        false_long = stream.run(np.concatenate(long_speech))[0]
        hours = (sum(p.size for _, p in real) + sum(p.size for p in long_speech)) / SR / 3600
        rate = (false_real + false_long) / hours
        print(f"false accepts: {false_real} in the real recordings, {false_long} in "
              f"{seconds / 60:.1f} min of other speech: {rate:.2f} per hour "
              f"(target <= 1; ratio {rate:.2f})")
        cpu = sorted(stream.cpu_ms)
        print(f"CPU per 32 ms frame: median {statistics.median(cpu):.2f} ms, p90 "
              f"{cpu[int(0.9 * len(cpu))]:.2f} ms, mean {statistics.fmean(cpu):.2f} ms "
              f"({len(cpu)} frames; {100 * statistics.fmean(cpu) / 32:.1f} % of one core)")


if __name__ == "__main__":
    main()
