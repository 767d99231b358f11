"""Turn signals offline: what the turn detector hears at a pause, and what its rules make of it.

Usage::

    python benchmarks/turn_signals.py [--voices 0 3 5] [--save signals.json]
    python benchmarks/turn_signals.py --load signals.json       # replay only (seconds)

Every request of ``hesitation_set.py`` — the benchmark's 24 + 24 and the held-out 24 + 24,
which no rule was chosen on — is rendered in every voice (``speech_clips.default_voices``:
Piper at three speeds and two pitches, four espeak-ng voices), cut 0.2 s into its pause
(hesitant requests: the pause inside; complete ones: the end, digital silence after), and
the signals the default turn detector decides on at that moment are recorded: the default
recogniser's final transcript with its certainty of the last word, and Smart Turn's
probability that the speaker has finished. Then the detector's rules (``TurnRules``: the
"quick" default, "patient", and a grid of their parameters) are replayed; the signals do
not depend on them:

* **taken early**: hesitant requests the rule ends at the first pause (the real-time
  benchmark ``hesitation.py`` counts these as cut off);
* **held**: complete requests the rule keeps open, i.e. answered after the detector's
  maximum silence (1.6 s) instead of at once.

Piper samples its voice (VITS noise), so each run renders new variants of the Piper
requests; espeak-ng is deterministic. No real time: the whole run takes ≈ 40 s per voice
on 2 cores, the replay well under a second. Smart Turn's separation of the two kinds on
its own is printed as an AUC (0.5 = chance, 1 = perfect).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from hesitation_set import (  # noqa: E402
    COMPLETE,
    COMPLETE_HELD_OUT,
    HESITANT,
    HESITANT_HELD_OUT,
    hesitant,
)
from speech_clips import SR, default_voices  # noqa: E402

from xtalk.models.asr.faster_whisper import FasterWhisperASR  # noqa: E402
from xtalk.models.turn.smart_turn import SmartTurnDetector  # noqa: E402
from xtalk.models.turn.turn_rules import PATIENCE, TurnRules  # noqa: E402

PAUSE_HEARD_S = 0.2  # the default VAD silence: where the detector first decides
SETS = {"benchmark": (HESITANT, COMPLETE), "held-out": (HESITANT_HELD_OUT, COMPLETE_HELD_OUT)}
#: The grid replayed: (threshold, unsure_word_probability, sure_question_probability).
GRID = list(itertools.product((0.6, 0.8, 0.9, 0.95, 0.98, 0.99), (0.0, 0.4, 0.6, 0.8),
                              (0.0, 0.8)))


@dataclass
class Signals:
    """What the detector hears at one pause."""

    set: str
    hesitant: bool
    voice: str
    text: str  # the request (a hesitant one with "|" at its pause)
    heard: str  # the recogniser's transcript of the audio up to 0.2 s into the pause
    last_word_probability: float | None
    voice_probability: float  # Smart Turn's "finished"


def record(voice_ids: list[int] | None) -> list[Signals]:
    """Render every request in every voice (or those chosen) and record its signals."""
    asr, detector = FasterWhisperASR(), SmartTurnDetector()
    voices = default_voices()
    chosen = [voices[i] for i in voice_ids] if voice_ids else voices
    silence = np.zeros(int(PAUSE_HEARD_S * SR), dtype=np.int16)
    out: list[Signals] = []
    for voice in chosen:
        started = time.perf_counter()
        for name, (hes, comp) in SETS.items():
            clips = [(True, marked, hesitant(voice, marked, 0.5)) for marked in hes]
            for is_hesitant, text, request in clips:
                assert request.pause is not None
                clip = request.pcm[: request.pause[0] + silence.size]
                out.append(_signals(asr, detector, name, is_hesitant, voice.name, text, clip))
            for text in comp:
                clip = np.concatenate([voice.say(text), silence])
                out.append(_signals(asr, detector, name, False, voice.name, text, clip))
        print(f"  {voice.name}: {time.perf_counter() - started:.0f} s", flush=True)
    return out


def _signals(asr: FasterWhisperASR, detector: SmartTurnDetector, name: str,
             is_hesitant: bool, voice: str, text: str, clip: np.ndarray) -> Signals:
    heard = asr.transcribe(clip)
    return Signals(name, is_hesitant, voice, text, heard.text, heard.last_word_probability,
                   detector.probability(clip))


def ends(rules: TurnRules, s: Signals) -> bool:
    """Whether ``rules`` end the turn at this pause."""
    return rules.decide(s.heard, PAUSE_HEARD_S, s.voice_probability,
                        s.last_word_probability).is_end


def rates(rules: TurnRules, signals: list[Signals]) -> tuple[float, float]:
    """(share of hesitant requests taken early, share of complete requests held)."""
    hes = [s for s in signals if s.hesitant]
    comp = [s for s in signals if not s.hesitant]
    early = sum(ends(rules, s) for s in hes) / max(1, len(hes))
    held = sum(not ends(rules, s) for s in comp) / max(1, len(comp))
    return early, held


def auc(signals: list[Signals]) -> float:
    """How well Smart Turn's probability alone ranks complete above hesitant requests."""
    hes = np.array([s.voice_probability for s in signals if s.hesitant])
    comp = np.array([s.voice_probability for s in signals if not s.hesitant])
    if not hes.size or not comp.size:
        return float("nan")
    greater = (comp[:, None] > hes[None, :]).mean()
    ties = (comp[:, None] == hes[None, :]).mean()
    return float(greater + ties / 2)


def report(signals: list[Signals], show: bool) -> None:
    for name in SETS:
        part = [s for s in signals if s.set == name]
        print(f"\n{name} set ({sum(s.hesitant for s in part)} hesitant, "
              f"{sum(not s.hesitant for s in part)} complete): Smart Turn alone AUC "
              f"{auc(part):.2f}")
        for patience, rules in PATIENCE.items():
            early, held = rates(rules, part)
            print(f"    {patience!r} rules take {early:.1%} early and hold {held:.1%}")
        if show:
            for s in part:
                if s.hesitant == ends(PATIENCE["quick"], s):
                    word = "-" if s.last_word_probability is None \
                        else f"{s.last_word_probability:.2f}"
                    print(f"    {'EARLY' if s.hesitant else 'HELD '} {s.voice:22s} "
                          f"{s.heard!r} (last word {word}, p {s.voice_probability:.2f})")
    print("\nthe grid on both sets together: threshold, unsure below, sure question from "
          "-> taken early / held")
    rows = []
    for threshold, unsure, question in GRID:
        rules = TurnRules(threshold=threshold, unpunctuated_threshold=max(0.8, threshold),
                          unsure_word_probability=unsure, sure_question_probability=question)
        rows.append((threshold, unsure, question, *rates(rules, signals)))
    frontier = []
    for row in sorted(rows, key=lambda r: (r[3], r[4])):
        if not frontier or row[4] < frontier[-1][4]:
            frontier.append(row)
    for threshold, unsure, question, early, held in frontier:
        print(f"    {threshold:.2f}  {unsure:.1f}  {question:.1f}  ->  {early:5.1%} / {held:5.1%}")
    print("  (only the rows no other row beats on both counts)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voices", type=int, nargs="*", help="indexes into default_voices()")
    parser.add_argument("--save", type=Path, help="write the recorded signals (JSON)")
    parser.add_argument("--load", type=Path, help="replay signals recorded before")
    parser.add_argument("--show", action="store_true", help="list what the default rules "
                        "take early or hold")
    args = parser.parse_args(argv)
    if args.load:
        signals = [Signals(**row) for row in json.loads(args.load.read_text())]
    else:
        signals = record(args.voices)
    if args.save:
        args.save.write_text(json.dumps([asdict(s) for s in signals], indent=0))
    report(signals, args.show)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
