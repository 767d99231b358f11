"""Hesitation benchmark: does the assistant wait through a pause inside a request, and
still answer at once when the request is complete?

Usage::

    python benchmarks/hesitation.py [--detectors smart text] [--hesitant 24] [--complete 24]

Needs ``pip install -e ".[bench]"`` (the ``onnx`` package, to place Piper's pauses with its
phoneme alignments) and ``espeak-ng`` for the espeak-ng voices (without it only Piper).

Requests (``benchmarks/hesitation_set.py``): 24 hesitant ones, each synthesised as one
sentence with a pause of 0.5 / 0.7 / 0.9 / 1.2 s at a word boundary where people hesitate
("I would like to book a table … for four people tonight"), and 24 complete ones; voices
taken in turn: the bundled Piper voice at speed 1.0 / 0.85 / 1.2 and four espeak-ng voices
(en-us 160 wpm, en-gb 175, en-us+f3 150, en-gb-scotland 185).

Each configuration runs ONE session over a real WebSocket with the default offline models
and a scripted language model that answers at once; the microphone streams in real time.
Per request: the audio, then silence until its reply finished, the client's playback
drained, 0.4 s.

* **cut off** (hesitant requests): the assistant took the turn inside the pause — a
  transcript arrived before the speaker went on, or the request became more than one turn;
  **recovered**: cut off, but the speaker's going on merged the turns (``turn_merged``),
  so the whole request was answered as one; "heard" is how much of the premature reply
  was out before the speaker went on (the client pauses it at their first word);
* **felt** (complete requests): end of the voice → first reply audio at the client;
* the turn detector's CPU time per decision (thread CPU of its model, which the
  session runs while the pause is decoded, and of its ``decide`` calls).

Configurations: ``smart`` = resources/default_config.json (SmartTurnDetector, VAD silence
0.2 s); ``text`` = the previous default (TextEndpointPolicy with 0.7 s extra wait, VAD
silence 0.35 s); ``smart-1.0`` = the default with a 1.0 s maximum wait instead of 1.6 s;
``smart-no-word`` = the default without the recogniser's certainty of the last word (no
unsure-word rule, no sure-question rule); ``patient`` = the detector's "patient" rules. Each
verdict is printed with the text judged, that certainty and Smart Turn's probability.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests" / "support"))

from hesitation_set import Request, build  # noqa: E402
from live_session import SR, LiveSession  # noqa: E402
from llm_server import ScriptedLLMServer  # noqa: E402
from speech_clips import default_voices  # noqa: E402

from xtalk import Xtalk  # noqa: E402

CONFIG_PATH = ROOT / "resources" / "default_config.json"
REPLY = "Sure. Here is what I found for you."
SETTLE_S = 2.4
TIMEOUT_S = 20.0
CONFIGS = {
    "smart": None,  # the default configuration as it is
    "text": {"turn_detector": {"type": "TextEndpointPolicy", "params": {"extra_wait_s": 0.7}},
             "min_silence_s": 0.35},
    # the default detector with a shorter maximum wait (merging catches what it cuts)
    "smart-1.0": {"turn_detector": {"type": "SmartTurnDetector",
                                    "params": {"threshold": 0.6, "max_silence_s": 1.0}},
                  "min_silence_s": 0.2},
    # the default detector as it was until December 8 (threshold 0.6, unsure below 0.3)
    "smart-0.6": {"turn_detector": {"type": "SmartTurnDetector",
                                    "params": {"threshold": 0.6, "max_silence_s": 1.6,
                                               "unsure_word_probability": 0.3}},
                  "min_silence_s": 0.2},
    # the patient rules (fewer hesitations taken for the end, slower finished requests)
    "patient": {"turn_detector": {"type": "SmartTurnDetector",
                                  "params": {"patience": "patient"}},
                "min_silence_s": 0.2},
    # the default detector without the recogniser's certainty of the last word
    "smart-no-word": {"turn_detector": {"type": "SmartTurnDetector",
                                        "params": {"unsure_word_probability": 0.0,
                                                   "sure_question_probability": 0.0}},
                      "min_silence_s": 0.2},
}


def config_for(name: str, base_url: str) -> dict[str, Any]:
    config = json.loads(CONFIG_PATH.read_text())
    config["llm_agent"] = {"type": "DefaultAgent", "params": {"model": {
        "base_url": base_url, "api_key": "sk-bench", "model": "scripted-model"}}}
    change = CONFIGS[name]
    if change is not None:
        config["turn_detector"] = change["turn_detector"]
        config["service_config"]["vad"]["min_silence_s"] = change["min_silence_s"]
    return config


class DecisionClock:
    """Times the turn detector in the session (thread CPU and wall): its model, which the
    session runs on the pause's audio while the pause is decoded (``voice_probability``),
    and its verdicts (``decide``: the rules, or the model too when it was not run ahead)."""

    def __init__(self, detector: Any) -> None:
        self.detector = detector
        self.cpu_ms: list[float] = []  # per decision: the model's time plus the verdict's
        self.wall_ms: list[float] = []
        self.model_cpu_ms: list[float] = []  # per model call
        #: (judged text, the recogniser's certainty of its last word, verdict)
        self.verdicts: list[tuple[str, float | None, Any]] = []
        self._pending_cpu = self._pending_wall = 0.0  # model time not yet given a verdict
        decide_first, probability_first = detector.decide, detector.voice_probability

        def timed(call: Any, *args: Any, **kwargs: Any) -> tuple[Any, float, float]:
            cpu, wall = time.thread_time(), time.perf_counter()
            result = call(*args, **kwargs)
            return result, (time.thread_time() - cpu) * 1000, \
                (time.perf_counter() - wall) * 1000

        def voice_probability(audio: Any) -> Any:
            p, cpu, wall = timed(probability_first, audio)
            self.model_cpu_ms.append(cpu)
            self._pending_cpu += cpu
            self._pending_wall += wall
            return p

        def decide(text: str, silence_s: float, audio: Any = None, **hints: Any) -> Any:
            verdict, cpu, wall = timed(decide_first, text, silence_s, audio, **hints)
            self.cpu_ms.append(cpu + self._pending_cpu)
            self.wall_ms.append(wall + self._pending_wall)
            self._pending_cpu = self._pending_wall = 0.0
            self.verdicts.append((text, hints.get("last_word_probability"), verdict))
            return verdict

        detector.decide, detector.voice_probability = decide, voice_probability

    def restore(self) -> None:
        for name in ("decide", "voice_probability"):
            with contextlib.suppress(AttributeError):
                delattr(self.detector, name)


@dataclass
class Outcome:
    request: Request
    turns: int = 0
    cut_off: bool = False
    merged: bool = False  # cut off, then merged into one request
    heard_ms: float | None = None  # premature reply out before the speaker went on
    felt_ms: float | None = None
    #: hesitant requests: end of the voice → first audio of the reply to the last turn
    answer_ms: float | None = None
    transcript: str = ""
    outcome: str = "ok"
    verdicts: str = ""  # the detector's verdicts in the request: text → p / wait


async def run_request(live: LiveSession, request: Request, clock: DecisionClock
                      ) -> Outcome:
    client, mic = live.client, live.mic
    out = Outcome(request)
    judged = len(clock.verdicts)
    mark = len(client.messages)
    position, done = mic.play(request.pcm)
    await done
    await asyncio.sleep(SETTLE_S)
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        finals = client.of("finish_asr", start=mark)
        if finals and client.of("tts_finished", turn_id=finals[-1].turn_id, start=mark):
            break
        if not finals and client.of("invalid_asr_result", start=mark):
            out.outcome = "rejected"
            break
        await asyncio.sleep(0.02)
    else:
        out.outcome = "timeout"
    finals = client.of("finish_asr", start=mark)
    out.turns = len(finals)
    out.transcript = " | ".join(f.data.get("text", "") for f in finals)
    merges = client.of("turn_merged", start=mark)
    if merges:
        out.transcript += f" => {merges[-1].data.get('text', '')}"
    if request.pause is not None:
        went_on = mic.time_of(position + request.pause[1])
        early = went_on is not None and any(f.t < went_on for f in finals)
        out.cut_off = early or len(finals) > 1
        out.merged = out.cut_off and len(finals) == len(merges) + 1
        if out.cut_off and went_on is not None:
            audio = live.first_audio_after(mark)
            out.heard_ms = max(0.0, (went_on - audio.t) * 1000) if audio is not None \
                and audio.t < went_on else 0.0
        end = mic.time_of(position + request.pcm.size)
        answer = live.first_audio_after(mark, turn_id=finals[-1].turn_id) if finals else None
        if answer is not None and end is not None:
            out.answer_ms = (answer.t - end) * 1000
    else:
        out.cut_off = len(finals) > 1
        out.merged = out.cut_off and len(finals) == len(merges) + 1
        audio = live.first_audio_after(mark)
        end = mic.time_of(position + request.pcm.size)
        if audio is not None and end is not None:
            out.felt_ms = (audio.t - end) * 1000
    out.verdicts = "; ".join(
        f"{text[-24:]!r}" + (f" (last word {word:.2f})" if word is not None else "")
        + f" {'end' if v.is_end else 'wait'}"
        + (f" p={v.probability:.2f}" if v.probability is not None else "")
        for text, word, v in clock.verdicts[judged:])
    await live.settle_playback()
    await asyncio.sleep(0.4)
    return out


async def run_config(name: str, requests: list[Request]) -> tuple[list[Outcome], Any]:
    with ScriptedLLMServer(default_reply=REPLY) as llm:
        xtalk = Xtalk.from_config(config_for(name, llm.base_url))
        async with LiveSession(xtalk) as live:
            detector = live.service.pipeline.get_turn_detector_model()
            clock = DecisionClock(detector)
            try:
                _, done = live.mic.play(np.zeros(int(0.5 * SR), dtype=np.int16))
                await done
                outcomes = []
                for n, request in enumerate(requests, 1):
                    outcome = await run_request(live, request, clock)
                    outcomes.append(outcome)
                    show(n, outcome)
            finally:
                clock.restore()
    return outcomes, clock


def show(n: int, o: Outcome) -> None:
    r = o.request
    kind = f"pause {(r.pause[1] - r.pause[0]) / SR:.1f}s" if r.pause else "complete"
    verdict = ("recovered" if o.merged else "CUT OFF") if o.cut_off else \
        ("ok" if r.pause else f"{o.felt_ms or 0:.0f} ms")
    if r.pause and o.answer_ms is not None:
        verdict += f" {o.answer_ms:.0f}"
    if o.outcome != "ok":
        verdict += f" <{o.outcome}>"
    print(f"{n:>3} {r.voice:<24}{kind:<11}{verdict:<14}{r.text[:48]!r:<52} heard: "
          f"{o.transcript[:70]!r}\n      turn detector: {o.verdicts}", flush=True)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


def summarize(name: str, outcomes: list[Outcome], clock: Any) -> None:
    hes = [o for o in outcomes if o.request.pause is not None]
    comp = [o for o in outcomes if o.request.pause is None]
    cut = sum(o.cut_off for o in hes)
    merged = [o for o in hes if o.merged]
    print(f"\n== {name}: cut off {cut}/{len(hes)} hesitant requests "
          f"({100 * cut / max(1, len(hes)):.0f} %; target <= 5 %); recovered by merging "
          f"{len(merged)}, answered in pieces {cut - len(merged)}/{len(hes)}")
    for label, group in (("waited through", [o for o in hes if not o.cut_off]),
                         ("merged", merged)):
        answers = [o.answer_ms for o in group if o.answer_ms is not None]
        if answers:
            print(f"   hesitant requests {label}: answered a median "
                  f"{statistics.median(answers):.0f} ms after the voice (max "
                  f"{max(answers):.0f} ms, {len(answers)} requests)")
    heard = [o.heard_ms for o in hes if o.cut_off and o.heard_ms is not None]
    if heard:
        print(f"   premature reply out before the speaker went on: median "
              f"{statistics.median(heard):.0f} ms, max {max(heard):.0f} ms")
    by_voice: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for o in hes:
        by_voice[o.request.voice][0] += o.cut_off
        by_voice[o.request.voice][1] += 1
    print("   by voice: " + ", ".join(f"{v} {c}/{n}" for v, (c, n) in by_voice.items()))
    by_pause: dict[float, list[int]] = defaultdict(lambda: [0, 0])
    for o in hes:
        assert o.request.pause is not None
        key = round((o.request.pause[1] - o.request.pause[0]) / SR, 1)
        by_pause[key][0] += o.cut_off
        by_pause[key][1] += 1
    print("   by pause: " + ", ".join(f"{p:.1f} s {c}/{n}" for p, (c, n) in
                                      sorted(by_pause.items())))
    felt = [o.felt_ms for o in comp if o.felt_ms is not None]
    split = sum(o.cut_off for o in comp)
    rejoined = sum(o.merged for o in comp)
    if felt:
        slow = sum(f > 1000 for f in felt)
        print(f"   complete requests: felt median {statistics.median(felt):.0f} ms, p90 "
              f"{pct(felt, 90):.0f} ms, over 1 s {slow}/{len(felt)}; split into two "
              f"turns {split}/{len(comp)} (merged again {rejoined})")
    if clock.cpu_ms:
        print(f"   turn detector: {len(clock.cpu_ms)} decisions, CPU per decision median "
              f"{statistics.median(clock.cpu_ms):.1f} ms (p90 {pct(clock.cpu_ms, 90):.1f}), "
              f"wall median {statistics.median(clock.wall_ms):.1f} ms")
    if clock.model_cpu_ms:
        print(f"   its model: {len(clock.model_cpu_ms)} calls, CPU per call median "
              f"{statistics.median(clock.model_cpu_ms):.1f} ms "
              f"(p90 {pct(clock.model_cpu_ms, 90):.1f})")


async def amain(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    voices = default_voices()
    hes, comp = build(voices, args.hesitant, args.complete)
    print(f"{len(hes)} hesitant + {len(comp)} complete requests, voices: "
          f"{', '.join(v.name for v in voices)} (built in {time.perf_counter() - started:.0f} s)")
    requests = [r for pair in zip(hes, comp, strict=False) for r in pair]
    requests += hes[len(comp):] + comp[len(hes):]
    for name in args.detectors:
        print(f"\n== configuration {name!r} ==")
        outcomes, clock = await run_config(name, requests)
        summarize(name, outcomes, clock)
    print(f"\ntotal run {time.perf_counter() - started:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", nargs="+", choices=sorted(CONFIGS),
                        default=["smart", "text"])
    parser.add_argument("--hesitant", type=int, default=24)
    parser.add_argument("--complete", type=int, default=24)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(amain(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
