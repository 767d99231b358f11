"""Engine overhead: time per turn spent in our own code, with instant null models.

Usage::

    python benchmarks/engine_overhead.py [--turns 300] [--profile-turns 100]

What it does:

1. Builds an :class:`~xtalk.Xtalk` whose models cost nothing (defined here, also used by
   ``benchmarks/scale.py``): :class:`NullVAD` (1.0 for a frame whose first sample is
   nonzero, else 0.0), :class:`NullASR` (a fixed text), :class:`NullAgent` (one
   ``TextDelta``), :class:`NullTTS` (one 20 ms chunk of zeros at 24 kHz). The VAD's
   ``min_silence_s`` is 0.032: one 512-sample frame of silence ends the turn, so the
   frame that ends the speech is also the frame after which ``min_silence`` has elapsed
   and no silence wait is left in the figures.
2. Opens ONE in-process session (tests/support/harness.py ``InProcessTransport``) and runs the
   turns one at a time: 10 speech frames (0.32 s of audio) are sent as fast as possible,
   the benchmark waits until the session has handled them (``EventBus.drain``), then
   sends the single silent frame that ends the turn and times the reply:

   * ``e2e_ms`` (the session's own ``latency_metrics``): that frame taken off the input
     timeline (DirectAudioManager) → first reply chunk handed to the gateway
     (AudioChunkSent). With ``min_silence_s`` one frame it holds no waiting at all: it is
     our overhead per turn. ``endpoint_ms`` (VAD decision → turn ended) is also printed,
     and ``e2e - endpoint`` as the issue words it; the stages say which hand-off costs
     what (each model call is a hop to a worker thread and back).
   * client-observed: the end frame handed to the connection → first audio bytes
     received by the client. This adds the inbound gateway (queue, validation, bus
     queue) and the outbound edge (resampling 24 → 48 kHz, ``tts_chunk_meta``, the
     writer task, the connection queue) to ``e2e_ms``.

   After the first audio the benchmark waits for ``tts_finished``, reports the client's
   playback queue drained (``tts_playback_finished``), waits for the session to go idle,
   and starts the next turn. The first 10 turns are warm-up and not counted.
3. Prints median / p95 / p99 / max of each figure, the ratio of the median to the 5 ms
   target, the time to ingest a speech frame, and the process CPU time per turn.
4. Runs ``--profile-turns`` more turns in a new session under cProfile (main thread
   only: the model calls in worker threads are not in it, and they are instant here) and
   prints the top 15 functions of ``xtalk/`` by cumulative time, then the top 10 of all
   functions by own time, per turn.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import pstats
import statistics
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))

from xtalk import Xtalk  # noqa: E402
from xtalk.models.interfaces import (  # noqa: E402
    ASR,
    TTS,
    VAD,
    Agent,
    AgentOutput,
    TextDelta,
    Transcription,
)
from xtalk.pipelines.default import DefaultPipeline  # noqa: E402
from xtalk.serving.events import LatencyMeasured  # noqa: E402
from xtalk.serving.managers.audio_in.vad import VADManager  # noqa: E402
from xtalk.serving.service import DefaultService, Service  # noqa: E402

SR = 16000
FRAME = 512
FRAME_S = FRAME / SR
TARGET_MS = 5.0
MIN_SILENCE_S = 0.032  # one frame
SPEECH_FRAMES = 10
WARMUP_TURNS = 10
TURN_TIMEOUT_S = 10.0
XTALK_DIR = str(ROOT / "xtalk") + os.sep

SPEECH_FRAME = np.full(FRAME, 1000, dtype=np.int16).astype("<i2").tobytes()
SILENT_FRAME = np.zeros(FRAME, dtype=np.int16).astype("<i2").tobytes()


# --------------------------------------------------------------------------- null models
class NullVAD(VAD):
    """Speech iff the frame's first sample is nonzero (instant, stateless)."""

    def speech_probability(self, frame: np.ndarray) -> float:
        return 1.0 if frame.size and frame[0] != 0 else 0.0


class NullASR(ASR):
    """Always "recognises" the same text, instantly."""

    def __init__(self, text: str = "hello there") -> None:
        self.text = text

    def transcribe(self, audio: np.ndarray) -> Transcription:
        return Transcription(text=self.text, confidence=1.0)


class NullAgent(Agent):
    """Streams one fixed piece of text, instantly."""

    def __init__(self, reply: str = "Okay.") -> None:
        self.reply = reply

    async def astream(self, messages: list[dict[str, Any]]) -> AsyncIterator[AgentOutput]:
        yield TextDelta(self.reply)


class NullTTS(TTS):
    """One short chunk of zeros per clause, instantly."""

    def __init__(self, sample_rate: int = 24000, chunk_s: float = 0.02) -> None:
        self.sample_rate = int(sample_rate)
        self._chunk = np.zeros(max(1, round(chunk_s * self.sample_rate)), dtype=np.int16)

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        yield self._chunk


def null_service_config(min_silence_s: float = MIN_SILENCE_S) -> dict[str, Any]:
    return {"vad": {"min_silence_s": min_silence_s}}


def null_xtalk(service_config: dict[str, Any] | None = None,
               max_sessions: int | None = None) -> Xtalk:
    """An Xtalk of the null models (through the normal config path: model instances are
    handed in as ``additional_model_registry`` entries)."""
    pipeline = Xtalk.create_pipeline_from_config(
        pipeline_cls=DefaultPipeline, config_path_or_dict={},
        additional_model_registry={"asr": NullASR(), "vad": NullVAD(),
                                   "llm_agent": NullAgent(), "tts": NullTTS()})
    service = DefaultService(pipeline=pipeline,
                             service_config=service_config or null_service_config())
    return Xtalk(service_prototype=service, max_sessions=max_sessions)


# --------------------------------------------------------------------------- helpers
def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


class TurnFigures:
    def __init__(self) -> None:
        self.rows: dict[str, list[float]] = {}

    def add(self, name: str, value: float | None) -> None:
        if value is not None:
            self.rows.setdefault(name, []).append(float(value))

    def get(self, name: str) -> list[float]:
        return self.rows.get(name, [])


async def settle(client: Any, service: Service, expected_samples: int) -> None:
    """Wait (1 ms polls) until the session has taken every frame sent so far off the
    connection and handled it, and its event bus is idle."""
    conn = client.connection
    bus = service.event_bus
    vad = service.get_manager(VADManager)
    assert bus is not None and isinstance(vad, VADManager)
    while not (conn._to_server.empty() and vad._last_sample >= expected_samples
               and not bus._busy and (bus._queue is None or bus._queue.empty())):
        await asyncio.sleep(0.001)


async def run_turns(xtalk: Xtalk, n_turns: int, figures: TurnFigures | None,
                    profiler: cProfile.Profile | None = None) -> tuple[int, float, float]:
    """One session, ``WARMUP_TURNS`` + ``n_turns`` turns. Returns (failed turns,
    CPU s, wall s) of the counted turns."""
    from harness import InProcessTransport

    transport = InProcessTransport()
    client = await transport.open_session(xtalk, timeout=10)
    service: Service = xtalk.sessions[client.session_id]  # type: ignore[attr-defined]
    bus = service.event_bus
    assert bus is not None
    # full-precision copy of latency_metrics (the wire rounds to 0.1 ms)
    measured: dict[int, LatencyMeasured] = {}
    bus.subscribe(LatencyMeasured, lambda e: measured.__setitem__(e.turn_id, e),
                  priority=-2000)
    failed = 0
    samples = 0
    cpu0 = wall0 = 0.0
    try:
        for k in range(WARMUP_TURNS + n_turns):
            counted = k >= WARMUP_TURNS
            if k == WARMUP_TURNS:
                cpu0, wall0 = time.process_time(), time.perf_counter()
                if profiler is not None:
                    profiler.enable()
            start = len(client.messages)
            t_speech = time.perf_counter()
            for _ in range(SPEECH_FRAMES):
                await client.send_bytes(SPEECH_FRAME)
            samples += SPEECH_FRAMES * FRAME
            await settle(client, service, samples)
            t_ingested = time.perf_counter()
            t0 = time.monotonic()
            await client.send_bytes(SILENT_FRAME)
            samples += FRAME
            try:
                audio = await client.wait_for("audio", start=start, timeout=TURN_TIMEOUT_S)
                turn_id = audio.turn_id
                metrics = await client.wait_for("latency_metrics", turn_id=turn_id,
                                                start=start, timeout=TURN_TIMEOUT_S)
                await client.wait_for("tts_finished", turn_id=turn_id, start=start,
                                      timeout=TURN_TIMEOUT_S)
            except AssertionError as exc:
                failed += 1
                print(f"turn {k}: no reply ({str(exc).splitlines()[0]})")
                continue
            finally:
                await client.send_json({"action": "tts_playback_finished",
                                        "data": {"timestamp": time.time() * 1000}})
                await settle(client, service, samples)
            if counted and figures is not None:
                event = measured.get(turn_id)
                m = vars(event) if event is not None else metrics.data
                figures.add("client_ms", (audio.t - t0) * 1000)
                for key in ("e2e_ms", "endpoint_ms", "asr_ms", "llm_first_token_ms",
                            "tts_first_chunk_ms", "llm_sentence_ms"):
                    figures.add(key, m.get(key))
                if m.get("e2e_ms") is not None and m.get("endpoint_ms") is not None:
                    figures.add("e2e_minus_endpoint_ms", m["e2e_ms"] - m["endpoint_ms"])
                figures.add("ingest_ms_per_frame",
                            (t_ingested - t_speech) * 1000 / SPEECH_FRAMES)
    finally:
        if profiler is not None:
            profiler.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        await transport.aclose()
    return failed, cpu, wall


def print_figures(figures: TurnFigures, n_turns: int) -> None:
    labels = [
        ("e2e_ms", "e2e_ms (end frame in → first chunk out)"),
        ("client_ms", "client-observed (end frame sent → audio received)"),
        ("e2e_minus_endpoint_ms", "e2e - endpoint"),
        ("endpoint_ms", "  endpoint (VAD thread hop → turn ended)"),
        ("asr_ms", "  asr (turn ended → final transcript)"),
        ("llm_first_token_ms", "  llm_first_token (request → first text)"),
        ("tts_first_chunk_ms", "  tts_first_chunk (first text → chunk)"),
        ("llm_sentence_ms", "  llm_sentence (request → chunk)"),
        ("ingest_ms_per_frame", "speech frame ingest, ms per frame (≤ 1 ms poll)"),
    ]
    print(f"\n({n_turns} turns; ms)")
    print(f"{'figure (ms)':<52}{'median':>8}{'p95':>8}{'p99':>8}{'max':>8}{'n':>6}")
    for key, label in labels:
        values = figures.get(key)
        if not values:
            continue
        print(f"{label:<52}{statistics.median(values):8.2f}{pct(values, 95):8.2f}"
              f"{pct(values, 99):8.2f}{max(values):8.2f}{len(values):6d}")
    e2e = figures.get("e2e_ms")
    client = figures.get("client_ms")
    if e2e:
        stages = ["endpoint_ms", "asr_ms", "llm_first_token_ms", "tts_first_chunk_ms"]
        medians = {s: statistics.median(figures.get(s)) for s in stages if figures.get(s)}
        other = statistics.median(e2e) - sum(medians.values())
        print(f"  other (hand-offs between stages, median e2e - sum of stage medians): "
              f"{other:.2f} ms")
        print(f"\nour overhead per turn: median {statistics.median(e2e):.2f} ms, "
              f"p95 {pct(e2e, 95):.2f} ms (server e2e_ms); client-observed median "
              f"{statistics.median(client):.2f} ms, p95 {pct(client, 95):.2f} ms")
        print(f"target {TARGET_MS:.0f} ms: median/target = "
              f"{statistics.median(e2e) / TARGET_MS:.2f} (server), "
              f"{statistics.median(client) / TARGET_MS:.2f} (client-observed); "
              f"p95/target = {pct(e2e, 95) / TARGET_MS:.2f} / {pct(client, 95) / TARGET_MS:.2f}")


def print_profile(profiler: cProfile.Profile, n_turns: int) -> None:
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (filename, line, name), (cc, nc, tt, ct, _callers) in raw.items():
        rows.append((filename, line, name, cc, nc, tt, ct))
    ours = [r for r in rows if r[0].startswith(XTALK_DIR)]
    ours_tt = sum(r[5] for r in ours)
    idle = sum(r[5] for r in rows if "epoll" in r[2])
    busy = total - idle
    print(f"\ncProfile of {n_turns} turns (main thread; worker threads not profiled): "
          f"{total * 1000 / n_turns:.2f} ms profiled per turn, of which "
          f"{idle * 1000 / n_turns:.2f} ms waiting in epoll (idle: worker-thread hops, "
          f"the benchmark's 1 ms polls) and {busy * 1000 / n_turns:.2f} ms running; of "
          f"the running time {ours_tt * 1000 / n_turns:.2f} ms ({100 * ours_tt / busy:.0f} %) "
          f"is own time of xtalk/ functions, the rest asyncio, the harness client, "
          f"numpy/soxr/json and the profiler's own cost")
    print("top 15 xtalk/ functions by cumulative time (coroutines: time while running, "
          "one call per resumption):")
    print(f"{'calls/turn':>10}{'own ms/turn':>12}{'cum ms/turn':>12}  function")
    for filename, line, name, _cc, nc, tt, ct in sorted(ours, key=lambda r: -r[6])[:15]:
        where = os.path.relpath(filename, ROOT)
        print(f"{nc / n_turns:10.1f}{tt * 1000 / n_turns:12.3f}{ct * 1000 / n_turns:12.3f}"
              f"  {where}:{line}({name})")
    print("top 10 of all functions by own time (epoll = waiting, not work):")
    print(f"{'calls/turn':>10}{'own ms/turn':>12}{'cum ms/turn':>12}  function")
    for filename, line, name, _cc, nc, tt, ct in sorted(rows, key=lambda r: -r[5])[:10]:
        where = os.path.relpath(filename, ROOT) if filename.startswith(str(ROOT)) else \
            (Path(filename).name if filename != "~" else "")
        print(f"{nc / n_turns:10.1f}{tt * 1000 / n_turns:12.3f}{ct * 1000 / n_turns:12.3f}"
              f"  {where}:{line}({name})")


# --------------------------------------------------------------------------- main
async def amain(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    print(f"machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}; "
          f"loop {type(asyncio.get_running_loop()).__module__}")
    print(f"null models: VAD (first sample nonzero = speech), ASR (fixed text), agent "
          f"(one TextDelta), TTS (one 20 ms chunk at 24 kHz → 48 kHz on the wire); "
          f"vad min_silence_s {MIN_SILENCE_S} (= 1 frame), min_speech_s default")
    print(f"turns: {WARMUP_TURNS} warm-up + {args.turns} counted, one at a time, "
          f"{SPEECH_FRAMES} speech frames sent as fast as possible, then the end frame")
    xtalk = null_xtalk()
    figures = TurnFigures()
    failed, cpu, wall = await run_turns(xtalk, args.turns, figures)
    print_figures(figures, args.turns)
    print(f"failed turns: {failed}; process CPU per turn {cpu * 1000 / args.turns:.2f} ms "
          f"(wall {wall * 1000 / args.turns:.2f} ms per turn, including the benchmark's "
          f"waits; {(SPEECH_FRAMES + 1)} frames and ~20 events per turn)")

    if args.profile_turns > 0:
        profiler = cProfile.Profile()
        failed_p, _, _ = await run_turns(null_xtalk(), args.profile_turns, None, profiler)
        print_profile(profiler, args.profile_turns - failed_p)
    print(f"\ntotal run {time.perf_counter() - started:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300, help="counted turns (≥ 200)")
    parser.add_argument("--profile-turns", type=int, default=100,
                        help="turns run under cProfile afterwards (0: no profile)")
    args = parser.parse_args(argv)
    if args.turns < 1:
        parser.error("--turns must be at least 1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(amain(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
