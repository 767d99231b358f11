"""End-to-end latency of the default pipeline, stage by stage (no thresholds, just figures).

Usage::

    python benchmarks/pipeline_latency.py [--turns 20] [--llm URL --model NAME --api-key-env VAR]

What it does:

1. Builds ``Xtalk.from_config(resources/default_config.json)`` with the language model
   pointed at (a) a :class:`ScriptedLLMServer` on loopback that streams a fixed two-sentence
   reply instantly (isolates our own pipeline) and (b) the ``--llm`` endpoint if given,
   and prints the load time of each model slot (ASR, VAD, turn detector, TTS, agent
   construction) and of the rest of ``from_config``. Models are cached per process, so
   build (b) shows the cost of a second build with warm caches.
2. Synthesises ``--turns`` short spoken questions (1–4 s) with the bundled Piper voice
   (resampled to 16 kHz with soxr) and loads the two channels of
   ``stereo_diarization.wav`` as two more (real, human) utterances.
3. Opens ONE in-process session (tests/harness.py ``InProcessTransport``) and keeps it for
   every turn. A simulated microphone streams 16 kHz PCM in real time for the whole
   session (silence between utterances). Each turn: the utterance is streamed, then
   silence until that turn's ``tts_finished``; the client then reports its playback
   queue drained (``tts_playback_finished``, so the finished reply is not treated as
   still audible when the next question starts) and pauses 0.4 s. The turn's
   ``latency_metrics`` are collected.
4. Prints each turn, then median and p90 of each stage and of e2e over the turns, names
   the largest stage of the median e2e, compares it with the 700 ms target, and prints
   the ASR speculative-decode hit rate (``ASRManager.speculative_hits``).
5. Streams ``jfk.flac`` (11 s, with 1.6 s pauses) in its own session with the VAD's
   ``min_silence_s`` raised to 2.0 (as the integration test does) and reports it apart.
6. Prints the peak RSS and the process CPU time per turn (the scripted LLM server runs
   in this process, so its CPU time is included).

Stages (``xtalk/serving/managers/metrics/latency.py``): endpoint = end of speech → turn
ended (VAD silence + turn detector), asr = turn ended → final transcript, llm_first_token =
generation requested → first reply text, tts_first_chunk = first reply text → first audio
chunk synthesised, llm_sentence = generation requested → first chunk synthesised (overlaps
the two before), other = e2e − (endpoint + asr + llm_first_token + tts_first_chunk): the
hand-offs between them (acceptance, conversation snapshot, sending). e2e = end of user
speech → first reply audio handed to the client.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

_t_import = time.perf_counter()
import xtalk.api as xtalk_api  # noqa: E402
from xtalk import Xtalk  # noqa: E402
from xtalk.serving.managers.recognition.asr import ASRManager  # noqa: E402

IMPORT_XTALK_S = time.perf_counter() - _t_import

import soundfile  # noqa: E402
import soxr  # noqa: E402
from harness import InProcessTransport  # noqa: E402
from llm_server import ScriptedLLMServer  # noqa: E402

SR = 16000
FRAME = 512
FRAME_S = FRAME / SR
TARGET_E2E_MS = 700.0
SPEECH_DIR = ROOT.parent / "shared" / "data" / "speech"
CONFIG_PATH = ROOT / "resources" / "default_config.json"
SCRIPTED_REPLY = "That is a good question. Here is a short answer for you."
PAUSE_AFTER_TURN_S = 0.4
TURN_TIMEOUT_S = 30.0

QUESTIONS = [
    "What time is it?",
    "Can you explain how a rainbow forms?",
    "Turn on the lights.",
    "What is the difference between a virus and a bacterium?",
    "How far away is the moon?",
    "Remind me to call my sister tonight.",
    "Good morning!",
    "Is it going to rain in London this weekend?",
    "Who wrote Pride and Prejudice?",
    "What should I cook for dinner this evening?",
    "Tell me a joke.",
    "Which planet is the largest in our solar system?",
    "Set a timer for ten minutes.",
    "How long does it take to boil an egg?",
    "What is the capital of Australia?",
    "Why is the sky blue during the day but red at sunset?",
    "How are you today?",
    "How do I say thank you in Japanese?",
    "Play some relaxing music, please.",
    "What year did the first person walk on the moon?",
    "How many ounces are in a pound?",
    "Tell me something interesting about octopuses.",
    "Translate good morning into Spanish.",
    "What's a good name for a small grey kitten?",
]

STAGES = ["endpoint_ms", "asr_ms", "llm_first_token_ms", "llm_sentence_ms",
          "tts_first_chunk_ms", "other_ms", "e2e_ms"]
#: Stages that do not overlap and (with ``other_ms``) add up to e2e.
DISJOINT = ["endpoint_ms", "asr_ms", "llm_first_token_ms", "tts_first_chunk_ms", "other_ms"]


# --------------------------------------------------------------------------- helpers
def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)


def load_channels(name: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """(mono mix, [each channel]) of a recording, at 16 kHz PCM16."""
    audio, rate = soundfile.read(SPEECH_DIR / name, dtype="float32", always_2d=True)

    def conv(x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x)
        return to_pcm16(soxr.resample(x, rate, SR) if rate != SR else x)

    return conv(audio.mean(axis=1)), [conv(audio[:, c]) for c in range(audio.shape[1])]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


def fmt_ms(value: float | None) -> str:
    return "    -" if value is None else f"{value:5.0f}"


def config_for(base_url: str, model: str, api_key: str,
               min_silence_s: float | None = None) -> dict[str, Any]:
    config = json.loads(CONFIG_PATH.read_text())
    agent = config.get("llm_agent") or {"type": "DefaultAgent", "params": {}}
    params = dict(agent.get("params") or {})
    params["model"] = {"base_url": base_url, "api_key": api_key, "model": model}
    config["llm_agent"] = {"type": agent.get("type", "DefaultAgent"), "params": params}
    if min_silence_s is not None:
        config["service_config"]["vad"]["min_silence_s"] = min_silence_s
    return config


def build_timed(config: dict[str, Any]) -> tuple[Xtalk, dict[str, float], float]:
    """``Xtalk.from_config`` with the time spent building each model slot."""
    times: dict[str, float] = {}
    original = xtalk_api.build_model

    def timed(slot: str, entry: Any, registry: Any = None) -> Any:
        started = time.perf_counter()
        try:
            return original(slot, entry, registry)
        finally:
            times[slot] = times.get(slot, 0.0) + time.perf_counter() - started

    xtalk_api.build_model = timed
    try:
        started = time.perf_counter()
        xtalk = Xtalk.from_config(config)
        total = time.perf_counter() - started
    finally:
        xtalk_api.build_model = original
    return xtalk, times, total


def print_loads(label: str, config: dict[str, Any], times: dict[str, float],
                total: float) -> None:
    def kind(slot: str) -> str:
        entry = config.get(slot)
        if isinstance(entry, dict):
            extra = entry.get("params", {}).get("model")
            name = entry.get("type", "?")
            return f"{name} {extra}" if isinstance(extra, str) else name
        return str(entry)

    names = {"asr": "ASR", "vad": "VAD", "turn_detector": "turn detector", "tts": "TTS",
             "llm_agent": "agent construction"}
    print(f"model load times, build {label}:")
    for slot in ("asr", "vad", "turn_detector", "tts", "llm_agent"):
        if slot in times:
            print(f"  {names[slot]:<20} {times[slot]:6.2f} s   ({kind(slot)})")
    rest = total - sum(times.values())
    print(f"  {'service + managers':<20} {rest:6.2f} s")
    print(f"  {'total from_config':<20} {total:6.2f} s")


def synthesize_questions(n: int) -> tuple[list[tuple[str, np.ndarray]], float]:
    from xtalk.models.tts.piper import PiperTTS

    started = time.perf_counter()
    tts = PiperTTS()
    out = []
    for i in range(n):
        text = QUESTIONS[i % len(QUESTIONS)]
        parts = [np.asarray(p, dtype=np.int16) for p in tts.synthesize(text)]
        audio = np.concatenate(parts).astype(np.float32) / 32768.0
        out.append((text, to_pcm16(soxr.resample(audio, tts.sample_rate, SR))))
    return out, time.perf_counter() - started


# --------------------------------------------------------------------------- microphone
class Microphone:
    """Streams 512-sample frames in real time for the whole session: queued audio first,
    silence when nothing is queued (like a live microphone)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._queue: deque[tuple[np.ndarray, asyncio.Future[None] | None]] = deque()
        self._silence = np.zeros(FRAME, dtype=np.int16)
        self._task: asyncio.Task[None] | None = None
        self.max_late_s = 0.0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def play(self, pcm: np.ndarray) -> asyncio.Future[None]:
        """Queue ``pcm``; the future is done when its last frame was sent."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        frames = [pcm[i:i + FRAME] for i in range(0, pcm.size, FRAME)]
        if frames[-1].size < FRAME:
            frames[-1] = np.concatenate(
                [frames[-1], np.zeros(FRAME - frames[-1].size, dtype=np.int16)])
        for k, frame in enumerate(frames):
            self._queue.append((frame, done if k == len(frames) - 1 else None))
        return done

    async def _run(self) -> None:
        start = time.monotonic()
        n = 0
        while True:
            due = start + n * FRAME_S
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                self.max_late_s = max(self.max_late_s, -delay)
            frame, done = self._queue.popleft() if self._queue else (self._silence, None)
            await self.client.send_bytes(frame.astype("<i2").tobytes())
            if done is not None and not done.done():
                done.set_result(None)
            n += 1

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


# --------------------------------------------------------------------------- ASR decodes
class DecodeLog:
    """Records every ASR decode of a session (kind, start, end on the monotonic clock) by
    wrapping the session's ASR model methods (instrumentation only: the calls go through
    unchanged). ``transcribe`` = a final or speculative-final decode, ``transcribe_partial``
    = an interim result."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.calls: list[tuple[str, float, float]] = []
        self._saved: dict[str, Any] = {}
        for kind in ("transcribe", "transcribe_partial"):
            original = getattr(model, kind)
            self._saved[kind] = model.__dict__.get(kind)

            def wrapper(audio: Any, _original: Any = original, _kind: str = kind) -> Any:
                started = time.monotonic()
                try:
                    return _original(audio)
                finally:
                    self.calls.append((_kind, started, time.monotonic()))

            setattr(model, kind, wrapper)

    def restore(self) -> None:
        for kind, saved in self._saved.items():
            if saved is None:
                with contextlib.suppress(AttributeError):
                    delattr(self.model, kind)
            else:
                setattr(self.model, kind, saved)

    def between(self, t0: float, t1: float) -> list[tuple[str, float, float]]:
        return [c for c in self.calls if t0 <= c[1] < t1]


class PolicyLog:
    """Records the turn detector's verdicts (time, partial text it judged, verdict) by
    wrapping the session's detector ``decide`` (instrumentation only)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.calls: list[tuple[float, str, Any]] = []
        self._saved = model.__dict__.get("decide")
        original = model.decide

        def decide(text: str, silence_s: float) -> Any:
            verdict = original(text, silence_s)
            self.calls.append((time.monotonic(), text, verdict))
            return verdict

        model.decide = decide

    def restore(self) -> None:
        if self._saved is None:
            with contextlib.suppress(AttributeError):
                del self.model.decide
        else:
            self.model.decide = self._saved

    def waits(self, t0: float, t1: float) -> list[tuple[str, float]]:
        """(judged text, extra wait) of the "not finished yet" verdicts in the window."""
        return [(text, float(getattr(v, "wait_s", 0.0))) for t, text, v in self.calls
                if t0 <= t < t1 and not getattr(v, "is_end", True)]


def busy_seconds(calls: list[tuple[str, float, float]]) -> float:
    """Time covered by at least one decode call (the union of their intervals)."""
    total, end = 0.0, float("-inf")
    for _, t0, t1 in sorted(calls, key=lambda c: c[1]):
        if t1 > end:
            total += t1 - max(t0, end)
            end = t1
    return total


# --------------------------------------------------------------------------- turns
@dataclass
class TurnResult:
    label: str
    audio_s: float
    outcome: str = "?"  # "ok", "rejected", "timeout", "split(n)"
    transcript: str = ""
    last_partial: str = ""
    speculative_hit: bool | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    final_decodes: int = 0
    partial_decodes: int = 0
    decode_busy_s: float = 0.0
    longest_final_s: float = 0.0
    policy_waits: list[tuple[str, float]] = field(default_factory=list)

    def stage(self, name: str) -> float | None:
        if name == "other_ms":
            parts = [self.metrics.get(k) for k in DISJOINT[:-1]]
            e2e = self.metrics.get("e2e_ms")
            if e2e is None or any(p is None for p in parts):
                return None
            return float(e2e) - float(sum(parts))  # type: ignore[arg-type]
        value = self.metrics.get(name)
        return None if value is None else float(value)


async def run_turn(client: Any, mic: Microphone, asr: ASRManager | None,
                   decodes: DecodeLog | None, policy: PolicyLog | None, label: str,
                   pcm: np.ndarray, settle_s: float) -> TurnResult:
    result = TurnResult(label, pcm.size / SR)
    started = time.monotonic()
    start_idx = len(client.messages)
    hits_before = asr.speculative_hits if asr is not None else 0
    await mic.play(pcm)
    # Let the VAD and the turn detector end whatever turn is still open (speech can only
    # be silence from here on); the reply usually arrives within this time anyway.
    await asyncio.sleep(settle_s)
    deadline = time.monotonic() + TURN_TIMEOUT_S
    finals: list[Any] = []
    while time.monotonic() < deadline:
        finals = client.of("finish_asr", start=start_idx)
        rejected = client.of("invalid_asr_result", start=start_idx)
        if finals:
            last = finals[-1].turn_id
            if client.of("tts_finished", turn_id=last, start=start_idx):
                result.outcome = "ok" if len(finals) == 1 else f"split({len(finals)})"
                break
        elif rejected:
            result.outcome = "rejected"
            break
        await asyncio.sleep(0.02)
    else:
        result.outcome = "timeout"
    if finals:
        turn_id = finals[-1].turn_id
        result.transcript = finals[-1].data.get("text", "")
        partials = client.of("update_asr", turn_id=turn_id, start=start_idx)
        result.last_partial = partials[-1].data.get("text", "") if partials else ""
        metrics = client.of("latency_metrics", turn_id=turn_id, start=start_idx)
        if metrics:
            result.metrics = dict(metrics[-1].data)
    if asr is not None:
        result.speculative_hit = asr.speculative_hits > hits_before
    # The client's (virtual) playback queue ran dry: the reply is no longer audible.
    await client.send_json({"action": "tts_playback_finished",
                            "data": {"timestamp": time.time() * 1000}})
    await asyncio.sleep(PAUSE_AFTER_TURN_S)
    ended = time.monotonic()
    result.wall_s = ended - started
    if decodes is not None:
        calls = decodes.between(started, ended)
        finals = [c for c in calls if c[0] == "transcribe"]
        result.final_decodes = len(finals)
        result.partial_decodes = len(calls) - len(finals)
        result.decode_busy_s = busy_seconds(calls)
        result.longest_final_s = max((c[2] - c[1] for c in finals), default=0.0)
    if policy is not None:
        result.policy_waits = policy.waits(started, ended)
    return result


async def run_session(xtalk: Xtalk, utterances: list[tuple[str, np.ndarray]],
                      settle_s: float, lead_s: float = 0.5, show: bool = True
                      ) -> tuple[list[TurnResult], int, float, float]:
    """One session, every utterance a turn. Returns (results, speculative hits,
    CPU seconds, wall seconds)."""
    transport = InProcessTransport()
    client = await transport.open_session(xtalk, timeout=30)
    mic = Microphone(client)
    mic.start()
    results: list[TurnResult] = []
    hits = 0
    decodes: DecodeLog | None = None
    policy: PolicyLog | None = None
    try:
        service = xtalk.sessions[client.session_id]
        asr = service.get_manager(ASRManager)
        assert asr is None or isinstance(asr, ASRManager)
        model = service.pipeline.get_asr_model()
        decodes = DecodeLog(model) if model is not None else None
        detector = service.pipeline.get_turn_detector_model()
        policy = PolicyLog(detector) if detector is not None else None
        await mic.play(np.zeros(int(lead_s * SR), dtype=np.int16))
        cpu0, wall0 = time.process_time(), time.monotonic()
        for n, (label, pcm) in enumerate(utterances, 1):
            result = await run_turn(client, mic, asr, decodes, policy, label, pcm,
                                    settle_s)
            results.append(result)
            if show:
                print_turn(n, result)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        hits = asr.speculative_hits if asr is not None else 0  # read while the session lives
    finally:
        await mic.stop()
        await transport.aclose()
        if decodes is not None:
            decodes.restore()
        if policy is not None:
            policy.restore()
    if mic.max_late_s > 0.1:
        print(f"  (note: the microphone fell behind real time by up to "
              f"{mic.max_late_s * 1000:.0f} ms: the event loop was blocked)")
    return results, hits, cpu, wall


def print_turn_header() -> None:
    print("(ms; spec = speculative final used; llm1 = llm_first_token, tts1 = "
          "tts_first_chunk, othr = e2e - the four before; dec F/P = final-or-speculative / "
          "partial ASR decodes started in the turn; maxF = longest of those final decode "
          "calls, waiting for the model included)")
    print(f"{'#':>3} {'utterance':<22}{'audio':>6} {'spec':>4} {'endp':>5} {'asr':>5} "
          f"{'llm1':>5} {'tts1':>5} {'othr':>5} {'e2e':>5} {'dec F/P':>7} {'maxF':>5}  "
          f"transcript  [last partial]")


def print_turn(n: int, r: TurnResult) -> None:
    spec = "-" if r.speculative_hit is None else ("hit" if r.speculative_hit else "miss")
    cells = " ".join(fmt_ms(r.stage(s)) for s in
                     ("endpoint_ms", "asr_ms", "llm_first_token_ms", "tts_first_chunk_ms",
                      "other_ms", "e2e_ms"))
    note = "" if r.outcome == "ok" else f" <{r.outcome}>"
    for judged, wait in r.policy_waits:
        note += f" <turn detector: +{wait:.1f} s, judged partial {judged!r} unfinished>"
    text = r.transcript if len(r.transcript) <= 48 else r.transcript[:45] + "..."
    partial = r.last_partial if len(r.last_partial) <= 40 else "..." + r.last_partial[-37:]
    dec = f"{r.final_decodes}/{r.partial_decodes}"
    print(f"{n:>3} {r.label[:22]:<22}{r.audio_s:>5.1f}s {spec:>4} {cells} {dec:>7} "
          f"{r.longest_final_s * 1000:5.0f}  "
          f"{text!r} [{partial!r}]{note}", flush=True)


def summarize(results: list[TurnResult], hits: int, cpu_s: float, wall_s: float) -> None:
    answered = [r for r in results if r.metrics.get("e2e_ms") is not None]
    others = [r for r in results if r not in answered]
    print(f"\nturns: {len(results)}, answered with metrics: {len(answered)}"
          + (f", without: {', '.join(f'{r.label} <{r.outcome}>' for r in others)}"
             if others else ""))
    if not answered:
        return
    print(f"{'stage':<20}{'median ms':>10}{'p90 ms':>9}{'share of median e2e':>22}")
    medians: dict[str, float] = {}
    e2e_median = statistics.median(r.stage("e2e_ms") for r in answered)  # type: ignore[misc]
    for stage in STAGES:
        values = [v for r in answered if (v := r.stage(stage)) is not None]
        if not values:
            continue
        medians[stage] = statistics.median(values)
        share = "" if stage in ("e2e_ms", "llm_sentence_ms") else \
            f"{100 * medians[stage] / e2e_median:5.0f} %"
        if stage == "llm_sentence_ms":
            share = "(= llm1 + tts1)"
        print(f"{stage:<20}{medians[stage]:>10.0f}{pct(values, 90):>9.0f}{share:>22}")
    largest = max((s for s in DISJOINT if s in medians), key=lambda s: medians[s])
    print(f"largest stage: {largest} (median {medians[largest]:.0f} ms = "
          f"{100 * medians[largest] / e2e_median:.0f} % of the median e2e)")
    print(f"target: {TARGET_E2E_MS:.0f} ms median e2e; median e2e {e2e_median:.0f} ms; "
          f"ratio median/target = {e2e_median / TARGET_E2E_MS:.2f}")
    ended = sum(1 for r in results if r.speculative_hit is not None and r.outcome != "timeout")
    flags = [r.speculative_hit for r in results if r.speculative_hit is not None]
    print(f"ASR speculative-decode hit rate: {hits}/{max(ended, len(flags))} turns "
          f"({100 * hits / max(1, max(ended, len(flags))):.0f} %)")
    finals = sum(r.final_decodes for r in results)
    partials = sum(r.partial_decodes for r in results)
    busy = sum(r.decode_busy_s for r in results)
    speech = sum(r.audio_s for r in results)
    print(f"ASR decodes: {finals} final/speculative ({finals / len(results):.1f} per turn; "
          f"{finals - len(results)} more than one per turn were thrown away) + {partials} "
          f"partial ({partials / len(results):.1f} per turn); the ASR model was busy "
          f"{busy:.1f} s of the {sum(r.wall_s for r in results):.1f} s of turns "
          f"({speech:.1f} s of utterance audio)")
    waited = [r for r in results if r.policy_waits]
    print(f"turn detector extra wait: {len(waited)}/{len(results)} turns"
          + (" (judged partials: " + ", ".join(repr(r.policy_waits[0][0]) for r in waited)
             + ")" if waited else ""))
    print(f"process CPU time per turn: {cpu_s / len(results):.2f} s "
          f"(wall {wall_s / len(results):.2f} s per turn, {len(results)} turns, "
          f"CPU/wall {cpu_s / wall_s:.2f} of 2 cores)")


def export(args: argparse.Namespace, results: list[TurnResult], title: str) -> None:
    """``--json``: per-turn stages of the session; ``--plot``: their breakdown as a PNG."""
    if not (args.json or args.plot):
        return
    data = {"title": f"End of user speech → first reply audio: {title}",
            "target_ms": TARGET_E2E_MS, "machine": f"{os.cpu_count()} CPU(s)",
            "turns": [{"label": r.label, "outcome": r.outcome,
                       **{stage: r.stage(stage) for stage in STAGES}} for r in results]}
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1), encoding="utf-8")
        print(f"per-turn stages written to {args.json}")
    if args.plot:
        from plot_latency import plot

        print(f"latency breakdown plotted to {plot(data, Path(args.plot))}")


# --------------------------------------------------------------------------- main
async def amain(args: argparse.Namespace) -> None:
    run_started = time.perf_counter()
    config_defaults = json.loads(CONFIG_PATH.read_text())
    min_silence = float(config_defaults["service_config"]["vad"].get("min_silence_s", 0.4))
    extra_wait = float((config_defaults.get("turn_detector") or {}).get("params", {})
                       .get("extra_wait_s", 0.8))
    settle_s = min_silence + extra_wait + 0.2

    print(f"machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}; "
          f"import xtalk {IMPORT_XTALK_S:.2f} s; peak RSS {peak_rss_mb():.0f} MB")
    with ScriptedLLMServer(default_reply=SCRIPTED_REPLY) as llm:
        config_a = config_for(llm.base_url, "scripted-model", "sk-bench")
        xtalk_a, times_a, total_a = build_timed(config_a)
        print_loads("(a) scripted LLM on loopback", config_a, times_a, total_a)
        asr_model = xtalk_a.service_prototype.pipeline.get_asr_model()
        print(f"  (ASR on {getattr(asr_model, 'device', '?')}/"
              f"{getattr(asr_model, 'compute_type', '?')}; peak RSS {peak_rss_mb():.0f} MB)")
        xtalk_b = None
        if args.llm:
            api_key = os.environ.get(args.api_key_env, "") if args.api_key_env else ""
            config_b = config_for(args.llm, args.model, api_key)
            xtalk_b, times_b, total_b = build_timed(config_b)
            print_loads(f"(b) {args.llm} model {args.model or '(first listed)'} "
                        f"(model caches warm)", config_b,
                        times_b, total_b)

        questions, synth_s = synthesize_questions(args.turns)
        lengths = [pcm.size / SR for _, pcm in questions]
        print(f"\nutterances: {len(questions)} Piper questions (synthesised in {synth_s:.1f} s; "
              f"{min(lengths):.1f}–{max(lengths):.1f} s, median "
              f"{statistics.median(lengths):.1f} s)", end="")
        _, diar = load_channels("stereo_diarization.wav")
        real = [("diarization L (real)", diar[0]), ("diarization R (real)", diar[1])]
        print(f" + 2 recorded: stereo_diarization.wav left / right channel "
              f"({diar[0].size / SR:.1f} s each, speech inside)")
        utterances = [(f"piper: {text}", pcm) for text, pcm in questions]
        # the two recordings mid-session (not first: turn 1 carries the cold start)
        for k, item in enumerate(real):
            utterances.insert(min(len(utterances), 5 + 7 * k), item)

        print(f"\n== session (a): scripted LLM (instant 2-sentence reply), "
              f"{len(utterances)} turns, real-time input ==")
        print_turn_header()
        results, hits, cpu, wall = await run_session(xtalk_a, utterances, settle_s)
        summarize(results, hits, cpu, wall)
        export(args, results, "(a) scripted LLM on loopback, default offline models")

        print("\n== jfk.flac (11 s, 44.1 kHz stereo → mono 16 kHz), own session, "
              "vad min_silence_s = 2.0 ==")
        jfk_mono, _ = load_channels("jfk.flac")
        xtalk_j = Xtalk.from_config(config_for(llm.base_url, "scripted-model", "sk-bench",
                                               min_silence_s=2.0))
        print_turn_header()
        jfk_results, jfk_hits, _, _ = await run_session(
            xtalk_j, [("jfk.flac (real)", jfk_mono)], settle_s=2.0 + extra_wait + 0.2)
        print(f"jfk: speculative hits {jfk_hits}; transcript {jfk_results[0].transcript!r}")

    if xtalk_b is not None:
        print(f"\n== session (b): {args.llm} model {args.model or '(first listed)'}, "
              f"{len(utterances)} turns ==")
        print_turn_header()
        results_b, hits_b, cpu_b, wall_b = await run_session(xtalk_b, utterances, settle_s)
        summarize(results_b, hits_b, cpu_b, wall_b)

    print(f"\npeak RSS: {peak_rss_mb():.0f} MB; "
          f"total run {time.perf_counter() - run_started:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20,
                        help="synthesised questions (the 2 recorded utterances come on top)")
    parser.add_argument("--llm", default=None, help="OpenAI-compatible base URL (…/v1)")
    parser.add_argument("--model", default="",
                        help="model name at --llm (default: the first one it lists)")
    parser.add_argument("--api-key-env", default=None,
                        help="environment variable holding the API key for --llm")
    parser.add_argument("--json", metavar="FILE", default=None,
                        help="write the per-turn stages of session (a) as JSON")
    parser.add_argument("--plot", metavar="PNG", default=None,
                        help="plot the latency breakdown of session (a) (needs matplotlib)")
    args = parser.parse_args(argv)
    if args.turns < 1:
        parser.error("--turns must be at least 1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(amain(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
