"""End-to-end latency of the default pipeline, as a user feels it and stage by stage (no
thresholds, just figures).

Usage::

    python benchmarks/pipeline_latency.py [--turns 20] [--profiles instant slow]
        [--transport websocket|inprocess] [--llm URL --model NAME --api-key-env VAR]
        [--json FILE --plot PNG]

What it does:

1. Builds ``Xtalk.from_config(resources/default_config.json)`` with the language model
   pointed at a :class:`ScriptedLLMServer` on loopback (and at ``--llm`` if given) and
   prints the load time of each model slot.
2. Synthesises ``--turns`` spoken questions with the bundled Piper voice (cut at the end of
   the voice) and takes the two channels of ``stereo_diarization.wav`` as two more (real,
   human) utterances.
3. For each LLM profile, ONE session over a real WebSocket (uvicorn on 127.0.0.1 in this
   process, ``benchmarks/live_session.py``) whose microphone streams 16 kHz PCM in real
   time for the whole session. Each turn: the utterance, then silence until that turn's
   ``tts_finished``; the client then reports its playback queue drained and pauses 0.4 s.
   Profiles of the scripted model: ``instant`` streams a fixed two-sentence reply at once
   (our pipeline's own figures); ``slow`` answers after 600 ms at 15 words/s (what a 1–3 B
   model does on a laptop CPU).
4. Measures each turn twice:

   * **felt** — from the end of the voice in the input signal (the last 10 ms block 10 dB
     above the noise floor, the barge-in benchmark's rule; ``speech_clips.voice_end``) to
     the first reply audio the client received: what the user waits;
   * the engine's own ``latency_metrics``: ``e2e`` counts from the VAD's speech-end mark
     to the first chunk handed to the connection; endpoint = speech end → turn ended (VAD
     silence + turn detector), asr = turn ended → final transcript, llm_first_token =
     generation requested → first reply text, tts_first_chunk = first reply text → first
     audio chunk; a reply prepared speculatively starts generating before the turn ends,
     so its stages overlap (``speculation_saved_ms``: how much sooner its first chunk was
     ready).
5. Prints each turn, then median and p90 of each figure over the turns, the share of turns
   whose reply was prepared speculatively, the ASR speculative-decode hit rate, the turn
   detector's "wait" verdicts, CPU and RSS.
6. Streams ``jfk.flac`` (11 s, pauses up to 1.5 s inside one sentence) in its own session
   with client VAD messages, as the browser client sends them: one turn expected.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(ROOT / "benchmarks"))

_t_import = time.perf_counter()
import xtalk.api as xtalk_api  # noqa: E402
from xtalk import Xtalk  # noqa: E402

IMPORT_XTALK_S = time.perf_counter() - _t_import

import soundfile  # noqa: E402
import soxr  # noqa: E402
from instruments import Instruments, busy_seconds  # noqa: E402
from live_session import LiveSession  # noqa: E402
from llm_server import ScriptedLLMServer  # noqa: E402
from speech_clips import noise_floor_db, piper_voice, voice_end, voice_start  # noqa: E402

SR = 16000
TARGET_FELT_MS = {"instant": 500.0, "slow": 900.0}
SPEECH_DIR = ROOT.parent / "shared" / "data" / "speech"
CONFIG_PATH = ROOT / "resources" / "default_config.json"
SCRIPTED_REPLY = "That is a good question. Here is a short answer for you."
PROFILES = {  # name: (first token delay s, delay between words s)
    "instant": (0.0, 0.0),
    "slow": (0.6, 1 / 15),
}
PAUSE_AFTER_TURN_S = 0.4
SETTLE_S = 2.2  # silence after an utterance before giving up on more turns of it
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
          "tts_first_chunk_ms", "other_ms", "e2e_ms", "felt_ms", "felt_words_ms",
          "speculation_saved_ms"]
#: Stages that do not overlap (unless the reply was speculative) and, with ``other_ms``,
#: add up to e2e.
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


def config_for(base_url: str, model: str, api_key: str, cue: bool = True
               ) -> dict[str, Any]:
    config = json.loads(CONFIG_PATH.read_text())
    if not cue:
        config.setdefault("service_config", {})["thinking_cue"] = False
    agent = config.get("llm_agent") or {"type": "DefaultAgent", "params": {}}
    params = dict(agent.get("params") or {})
    params["model"] = {"base_url": base_url, "api_key": api_key, "model": model}
    config["llm_agent"] = {"type": agent.get("type", "DefaultAgent"), "params": params}
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
    """``n`` Piper questions, each cut at the end of its voice."""
    started = time.perf_counter()
    voice = piper_voice(1.0)
    out = [(QUESTIONS[i % len(QUESTIONS)], voice.say(QUESTIONS[i % len(QUESTIONS)]))
           for i in range(n)]
    return out, time.perf_counter() - started


# --------------------------------------------------------------------------- turns
@dataclass
class TurnResult:
    label: str
    audio_s: float
    outcome: str = "?"  # "ok", "rejected", "timeout", "split(n)"
    transcript: str = ""
    last_partial: str = ""
    speculative_hit: bool | None = None
    speculated: bool = False  # the reply was prepared speculatively and confirmed
    metrics: dict[str, Any] = field(default_factory=dict)
    felt_ms: float | None = None
    felt_words_ms: float | None = None  # to the reply's words (after any thinking cue)
    cued: bool = False
    wall_s: float = 0.0
    final_decodes: int = 0
    partial_decodes: int = 0
    decode_busy_s: float = 0.0
    longest_final_s: float = 0.0
    policy_waits: list[tuple[str, float]] = field(default_factory=list)

    def stage(self, name: str) -> float | None:
        if name == "felt_ms":
            return self.felt_ms
        if name == "felt_words_ms":
            return self.felt_words_ms
        if name == "speculation_saved_ms":
            value = self.metrics.get(name)
            return float(value) if self.speculated and value is not None else None
        if name == "other_ms":
            if self.speculated:
                return None  # the stages overlap
            parts = [self.metrics.get(k) for k in DISJOINT[:-1]]
            e2e = self.metrics.get("e2e_ms")
            if e2e is None or any(p is None for p in parts):
                return None
            return float(e2e) - float(sum(parts))  # type: ignore[arg-type]
        value = self.metrics.get(name)
        return None if value is None else float(value)


@dataclass
class Utterance:
    label: str
    pcm: np.ndarray
    voice_end: int  # sample of pcm where the voice ends


async def run_turn(live: LiveSession, tools: Instruments, utt: Utterance) -> TurnResult:
    client, mic = live.client, live.mic
    result = TurnResult(utt.label, utt.pcm.size / SR)
    started = time.monotonic()
    start_idx = len(client.messages)
    hits_before = tools.asr.speculative_hits if tools.asr is not None else 0
    position, done = mic.play(utt.pcm)
    await done
    await asyncio.sleep(SETTLE_S)  # any turn of this utterance has ended by now
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
        first_audio = live.first_audio_after(start_idx, turn_id)
        spoken_end = mic.time_of(position + utt.voice_end)
        words = live.first_audio_after(start_idx, turn_id, words=True)
        if first_audio is not None and spoken_end is not None:
            result.felt_ms = (first_audio.t - spoken_end) * 1000.0
            result.cued = bool(first_audio.data.get("cue"))
        if words is not None and spoken_end is not None:
            result.felt_words_ms = (words.t - spoken_end) * 1000.0
        result.speculated = turn_id in tools.confirmed
    if tools.asr is not None:
        result.speculative_hit = tools.asr.speculative_hits > hits_before
    await live.settle_playback()
    await asyncio.sleep(PAUSE_AFTER_TURN_S)
    ended = time.monotonic()
    result.wall_s = ended - started
    if tools.decodes is not None:
        calls = tools.decodes.between(started, ended)
        finals_run = [c for c in calls if c[0] == "transcribe"]
        result.final_decodes = len(finals_run)
        result.partial_decodes = len(calls) - len(finals_run)
        result.decode_busy_s = busy_seconds(calls)
        result.longest_final_s = max((c[2] - c[1] for c in finals_run), default=0.0)
    if tools.policy is not None:
        result.policy_waits = tools.policy.waits(started, ended)
    return result


async def run_session(xtalk: Xtalk, utterances: list[Utterance], transport: str,
                      lead_s: float = 0.5, show: bool = True
                      ) -> tuple[list[TurnResult], int, float, float]:
    """One session, every utterance a turn. Returns (results, speculative hits,
    CPU seconds, wall seconds)."""
    results: list[TurnResult] = []
    async with LiveSession(xtalk, transport) as live:
        tools = Instruments(live)
        try:
            _, done = live.mic.play(np.zeros(int(lead_s * SR), dtype=np.int16))
            await done
            cpu0, wall0 = time.process_time(), time.monotonic()
            for n, utt in enumerate(utterances, 1):
                result = await run_turn(live, tools, utt)
                results.append(result)
                if show:
                    print_turn(n, result)
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
            hits = tools.asr.speculative_hits if tools.asr is not None else 0
        finally:
            tools.restore()
        if live.mic.max_late_s > 0.1:
            print(f"  (note: the microphone fell behind real time by up to "
                  f"{live.mic.max_late_s * 1000:.0f} ms: the event loop was blocked)")
    return results, hits, cpu, wall


def print_turn_header() -> None:
    print("(ms; felt = end of the voice -> first reply audio at the client; spec = "
          "speculative ASR final used; pre = reply prepared speculatively; llm1 = "
          "llm_first_token, tts1 = tts_first_chunk, othr = e2e - the four before; dec F/P "
          "= final-or-speculative / partial ASR decodes; maxF = longest final decode)")
    print(f"{'#':>3} {'utterance':<22}{'audio':>6} {'spec':>4} {'pre':>3} {'felt':>5} "
          f"{'e2e':>5} {'endp':>5} {'asr':>5} {'llm1':>5} {'tts1':>5} {'othr':>5} "
          f"{'dec F/P':>7} {'maxF':>5}  transcript  [last partial]")


def print_turn(n: int, r: TurnResult) -> None:
    spec = "-" if r.speculative_hit is None else ("hit" if r.speculative_hit else "miss")
    cells = " ".join(fmt_ms(r.stage(s)) for s in
                     ("felt_ms", "e2e_ms", "endpoint_ms", "asr_ms", "llm_first_token_ms",
                      "tts_first_chunk_ms", "other_ms"))
    note = "" if r.outcome == "ok" else f" <{r.outcome}>"
    if r.cued:
        note += f" <cue first; the reply's words at {fmt_ms(r.felt_words_ms).strip()} ms>"
    for judged, wait in r.policy_waits:
        note += f" <turn detector: +{wait:.1f} s on {judged!r}>"
    text = r.transcript if len(r.transcript) <= 44 else r.transcript[:41] + "..."
    partial = r.last_partial if len(r.last_partial) <= 36 else "..." + r.last_partial[-33:]
    dec = f"{r.final_decodes}/{r.partial_decodes}"
    print(f"{n:>3} {r.label[:22]:<22}{r.audio_s:>5.1f}s {spec:>4} "
          f"{'yes' if r.speculated else 'no':>3} {cells} {dec:>7} "
          f"{r.longest_final_s * 1000:5.0f}  {text!r} [{partial!r}]{note}", flush=True)


def summarize(results: list[TurnResult], hits: int, cpu_s: float, wall_s: float,
              target_ms: float | None) -> dict[str, float]:
    answered = [r for r in results if r.metrics.get("e2e_ms") is not None]
    others = [r for r in results if r not in answered]
    print(f"\nturns: {len(results)}, answered with metrics: {len(answered)}"
          + (f", without: {', '.join(f'{r.label} <{r.outcome}>' for r in others)}"
             if others else ""))
    if not answered:
        return {}
    print(f"{'figure':<22}{'median ms':>10}{'p90 ms':>9}")
    medians: dict[str, float] = {}
    for stage in STAGES:
        values = [v for r in answered if (v := r.stage(stage)) is not None]
        if not values:
            continue
        medians[stage] = statistics.median(values)
        label = {"felt_ms": "felt (voice end)", "e2e_ms": "e2e (VAD mark)",
                 "felt_words_ms": "felt: reply's words"}.get(stage, stage)
        print(f"{label:<22}{medians[stage]:>10.0f}{pct(values, 90):>9.0f}")
    if "felt_ms" in medians and target_ms:
        print(f"target: felt median <= {target_ms:.0f} ms; median {medians['felt_ms']:.0f} "
              f"ms; ratio median/target = {medians['felt_ms'] / target_ms:.2f}")
    cued = sum(r.cued for r in answered)
    print(f"replies opened with a thinking cue: {cued}/{len(answered)}")
    speculated = sum(r.speculated for r in answered)
    print(f"replies prepared speculatively and confirmed: {speculated}/{len(answered)}")
    ended = sum(1 for r in results if r.speculative_hit is not None and r.outcome != "timeout")
    print(f"ASR speculative-decode hit rate: {hits}/{ended} turns")
    finals = sum(r.final_decodes for r in results)
    partials = sum(r.partial_decodes for r in results)
    busy = sum(r.decode_busy_s for r in results)
    print(f"ASR decodes: {finals} final/speculative ({finals / len(results):.1f} per turn) + "
          f"{partials} partial; the ASR model was busy {busy:.1f} s of "
          f"{sum(r.wall_s for r in results):.1f} s of turns")
    waited = [r for r in results if r.policy_waits]
    print(f"turn detector 'wait' verdicts: {len(waited)}/{len(results)} turns"
          + (" (" + ", ".join(repr(r.policy_waits[0][0]) for r in waited) + ")"
             if waited else ""))
    print(f"process CPU time per turn: {cpu_s / len(results):.2f} s "
          f"(wall {wall_s / len(results):.2f} s per turn; CPU/wall {cpu_s / wall_s:.2f} "
          f"of 2 cores)")
    return medians


def export(args: argparse.Namespace, results: list[TurnResult], title: str) -> None:
    """``--json``: per-turn stages of the session; ``--plot``: their breakdown as a PNG."""
    if not (args.json or args.plot):
        return
    data = {"title": f"End of user speech → first reply audio: {title}",
            "target_ms": TARGET_FELT_MS["instant"], "machine": f"{os.cpu_count()} CPU(s)",
            "turns": [{"label": r.label, "outcome": r.outcome, "speculated": r.speculated,
                       **{stage: r.stage(stage) for stage in STAGES}} for r in results]}
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1), encoding="utf-8")
        print(f"per-turn stages written to {args.json}")
    if args.plot:
        from plot_latency import plot

        print(f"latency breakdown plotted to {plot(data, Path(args.plot))}")


def recorded_utterances() -> list[Utterance]:
    """The two channels of stereo_diarization.wav, with their voice ends."""
    _, channels = load_channels("stereo_diarization.wav")
    out = []
    for side, pcm in zip("LR", channels, strict=True):
        end = voice_end(pcm, noise_floor_db(pcm))
        out.append(Utterance(f"diarization {side} (real)", pcm[:end + int(0.05 * SR)], end))
    return out


async def jfk_with_client_vad(xtalk: Xtalk, transport: str) -> None:
    """jfk.flac with vad_speech_start at its first voice and vad_speech_end 0.25 s after
    its last: one turn and one reply expected."""
    mono, _ = load_channels("jfk.flac")
    floor = noise_floor_db(mono)
    begin, end = voice_start(mono, floor), voice_end(mono, floor)
    async with LiveSession(xtalk, transport) as live:
        client, mic = live.client, live.mic
        _, done = mic.play(np.zeros(int(0.3 * SR), dtype=np.int16))
        await done
        position, done = mic.play(mono[:end + int(0.25 * SR)])
        while mic.time_of(position + begin) is None:
            await asyncio.sleep(0.01)
        await client.send_json({"action": "vad_speech_start",
                                "data": {"timestamp": time.time() * 1000}})
        await done
        await client.send_json({"action": "vad_speech_end",
                                "data": {"timestamp": time.time() * 1000}})
        with contextlib.suppress(AssertionError, TimeoutError):
            await client.wait_for("tts_finished", timeout=30)
        await asyncio.sleep(2.0)
        finals = client.of("finish_asr")
        spoken_end = mic.time_of(position + end)
        audio = client.first("audio")
        felt = (audio.t - spoken_end) * 1000 if audio and spoken_end else float("nan")
        print(f"jfk.flac with client VAD: {len(finals)} turn(s), "
              f"{len(client.of('finish_resp'))} reply(ies), "
              f"{len(client.of('tts_finished'))} tts_finished; felt {felt:.0f} ms; "
              f"transcript {[f.data.get('text') for f in finals]}")


# --------------------------------------------------------------------------- main
async def amain(args: argparse.Namespace) -> None:
    run_started = time.perf_counter()
    print(f"machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}; "
          f"import xtalk {IMPORT_XTALK_S:.2f} s; peak RSS {peak_rss_mb():.0f} MB; "
          f"transport {args.transport}")
    questions, synth_s = synthesize_questions(args.turns)
    lengths = [pcm.size / SR for _, pcm in questions]
    utterances = [Utterance(f"piper: {text}", pcm, pcm.size) for text, pcm in questions]
    for k, item in enumerate(recorded_utterances()):
        utterances.insert(min(len(utterances), 5 + 7 * k), item)
    print(f"utterances: {len(questions)} Piper questions (synthesised in {synth_s:.1f} s; "
          f"{min(lengths):.1f}–{max(lengths):.1f} s, median {statistics.median(lengths):.1f} "
          f"s) + 2 recorded (stereo_diarization.wav, left and right channel)")
    summary: dict[str, dict[str, float]] = {}
    for k, profile in enumerate(args.profiles):
        first_delay, word_delay = PROFILES[profile]
        with ScriptedLLMServer(default_reply=SCRIPTED_REPLY, token_delay_s=word_delay,
                               first_token_delay_s=first_delay) as llm:
            config = config_for(llm.base_url, "scripted-model", "sk-bench", cue=args.cue)
            xtalk, times, total = build_timed(config)
            if k == 0:
                print_loads("(scripted LLM on loopback)", config, times, total)
            print(f"\n== LLM profile {profile!r}: first token after {first_delay * 1000:.0f} "
                  f"ms, then {'at once' if not word_delay else f'{1 / word_delay:.0f} words/s'}"
                  f"; {len(utterances)} turns, real-time input ==")
            print_turn_header()
            results, hits, cpu, wall = await run_session(xtalk, utterances, args.transport)
            summary[profile] = summarize(results, hits, cpu, wall,
                                         TARGET_FELT_MS.get(profile))
            if profile == "instant":
                export(args, results, "scripted LLM (instant), default offline models")
                print("\n== jfk.flac (11 s, pauses up to 1.5 s), own session ==")
                await jfk_with_client_vad(xtalk, args.transport)
    if args.llm:
        api_key = os.environ.get(args.api_key_env, "") if args.api_key_env else ""
        xtalk_b, _, _ = build_timed(config_for(args.llm, args.model, api_key, cue=args.cue))
        print(f"\n== {args.llm} model {args.model or '(first listed)'} ==")
        print_turn_header()
        results_b, hits_b, cpu_b, wall_b = await run_session(xtalk_b, utterances,
                                                             args.transport)
        summarize(results_b, hits_b, cpu_b, wall_b, None)
    print("\nsummary (median ms): " + "; ".join(
        f"{p}: felt {m.get('felt_ms', float('nan')):.0f}, reply's words "
        f"{m.get('felt_words_ms', float('nan')):.0f}, e2e {m.get('e2e_ms', float('nan')):.0f}"
        for p, m in summary.items()))
    print(f"peak RSS: {peak_rss_mb():.0f} MB; total run {time.perf_counter() - run_started:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20,
                        help="synthesised questions (the 2 recorded utterances come on top)")
    parser.add_argument("--profiles", nargs="+", choices=sorted(PROFILES),
                        default=["instant", "slow"], help="scripted LLM profiles to run")
    parser.add_argument("--transport", choices=["websocket", "inprocess"],
                        default="websocket")
    parser.add_argument("--llm", default=None, help="OpenAI-compatible base URL (…/v1)")
    parser.add_argument("--model", default="",
                        help="model name at --llm (default: the first one it lists)")
    parser.add_argument("--api-key-env", default=None,
                        help="environment variable holding the API key for --llm")
    parser.add_argument("--no-cue", dest="cue", action="store_false",
                        help="turn the thinking cue off (the default config has it on)")
    parser.add_argument("--json", metavar="FILE", default=None,
                        help="write the per-turn stages of the instant profile as JSON")
    parser.add_argument("--plot", metavar="PNG", default=None,
                        help="plot the latency breakdown of the instant profile")
    args = parser.parse_args(argv)
    if args.turns < 1:
        parser.error("--turns must be at least 1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(amain(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
