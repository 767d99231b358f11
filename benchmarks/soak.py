"""Soak: a long conversation load with barge-ins and reconnects, watching the server's
memory, tasks and threads over time (issue 18: they must reach a plateau).

Usage::

    python benchmarks/soak.py [--minutes 30] [--sessions 8] [--speed 8] [--plot soak.png]

The server is ``benchmarks/scale.py --serve`` in its own process (null models, FastAPI +
uvicorn, ``/ws`` → ``Xtalk.connect``, ``/_stats`` for its asyncio task count). Each of
``--sessions`` clients talks in turns, with audio sent ``--speed`` times faster than
real time (the engine's clock is the audio's sample count, so a turn is the same turn):
0.64 s of speech, silence until the reply, then its "playback" (``tts_playback_finished``
after 0.5 s of audio time). In 30 % of the turns the client speaks again during that
playback (a barge-in: the reply is stopped and the new turn answered); after 10 – 30
turns it disconnects and connects again (a new session). ``--minutes`` is the audio
time each client streams. Every ``--every`` seconds of wall time it records the
server's RSS, threads, asyncio tasks and live sessions; at the end it prints the table,
the counts, and the plateau check: RSS, tasks and threads over the second half compared
with the first (slope per simulated minute). With ``--plot`` (matplotlib, the ``bench``
extra) it draws them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scale import (  # noqa: E402
    FRAME_S,
    SILENT_FRAME,
    SPEECH_FRAME,
    SPEECH_FRAMES,
    ServerProcess,
)

PLAYBACK_S = 0.5
BARGE_IN_SHARE = 0.3
#: A barge-in comes this long after the request ended: sooner, the server takes the new
#: speech for more of the request (turn merging), which the null ASR's constant text
#: never adds to.
BARGE_IN_AFTER_S = 1.7
REPLY_TIMEOUT_S = 10.0


@dataclass
class Counts:
    turns: int = 0
    barge_ins: int = 0
    stopped: int = 0
    reconnects: int = 0
    unanswered: int = 0
    errors: list[str] = field(default_factory=list)
    audio_s: float = 0.0


class Talker:
    """One client: connects, talks, barges in, reconnects, until its audio time is up."""

    def __init__(self, port: int, seconds: float, speed: float, seed: int,
                 counts: Counts) -> None:
        self.port, self.seconds, self.speed = port, seconds, speed
        self.rng = random.Random(seed)
        self.counts = counts
        self.sent_s = 0.0
        self.ws: Any = None
        self.events: asyncio.Queue[str] = asyncio.Queue()

    async def run(self) -> None:
        while self.sent_s < self.seconds:
            await self.connection(self.rng.randint(10, 30))
            self.counts.reconnects += 1

    async def connection(self, turns: int) -> None:
        import websockets

        try:
            self.ws = await websockets.connect(f"ws://127.0.0.1:{self.port}/ws",
                                               max_size=None, ping_interval=None,
                                               open_timeout=20)
        except Exception as exc:
            self.counts.errors.append(f"connect: {type(exc).__name__}: {exc}")
            await asyncio.sleep(1)
            return
        reader = asyncio.get_running_loop().create_task(self.read())
        try:
            await self.wait_for("session_info")
            for _ in range(turns):
                if self.sent_s >= self.seconds:
                    break
                await self.turn()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    async def read(self) -> None:
        async for message in self.ws:
            if isinstance(message, bytes):
                continue
            obj = json.loads(message)
            action = obj.get("action", "")
            if action in ("error", "invalid_asr_result"):
                self.counts.errors.append(f"{action}: {json.dumps(obj)[:100]}")
            self.events.put_nowait(action)

    async def wait_for(self, action: str, timeout: float = REPLY_TIMEOUT_S) -> bool:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                if await asyncio.wait_for(self.events.get(), left) == action:
                    return True
            except TimeoutError:
                break
        return False

    async def frames(self, frame: bytes, n: int) -> None:
        for _ in range(n):
            await self.ws.send(frame)
            self.sent_s += FRAME_S
            self.counts.audio_s += FRAME_S
            await asyncio.sleep(FRAME_S / self.speed)

    async def turn(self) -> None:
        self.events = asyncio.Queue()
        await self.frames(SPEECH_FRAME, SPEECH_FRAMES)
        silence = asyncio.get_running_loop().create_task(
            self.frames(SILENT_FRAME, round(3.0 / FRAME_S)))
        answered = await self.wait_for("tts_finished")
        self.counts.turns += 1
        if not answered:
            self.counts.unanswered += 1
            await silence
            return
        silence.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await silence
        if self.rng.random() < BARGE_IN_SHARE:  # speak again while it "plays"
            self.counts.barge_ins += 1
            await self.frames(SILENT_FRAME, round(BARGE_IN_AFTER_S / FRAME_S))
            self.events = asyncio.Queue()
            await self.frames(SPEECH_FRAME, SPEECH_FRAMES)
            tail = asyncio.get_running_loop().create_task(
                self.frames(SILENT_FRAME, round(3.0 / FRAME_S)))
            if await self.wait_for("stop_tts", 3.0):
                self.counts.stopped += 1
            await self.wait_for("tts_finished")
            tail.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tail
        await self.frames(SILENT_FRAME, round(PLAYBACK_S / FRAME_S))
        await self.ws.send(json.dumps({"action": "tts_playback_finished",
                                       "data": {"timestamp": time.time() * 1000}}))
        await self.frames(SILENT_FRAME, round(self.rng.uniform(0.3, 1.5) / FRAME_S))


async def stats(port: int) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient() as client:
        return (await client.get(f"http://127.0.0.1:{port}/_stats", timeout=10)).json()


def slope(rows: list[dict[str, float]], key: str) -> float:
    """Least-squares slope of ``key`` per simulated minute over ``rows``."""
    xs, ys = [r["minute"] for r in rows], [r[key] for r in rows]
    if len(xs) < 2 or max(xs) == min(xs):
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs)


async def amain(args: argparse.Namespace) -> int:
    server = ServerProcess()
    server.wait_ready()
    counts = Counts()
    rows: list[dict[str, float]] = []
    try:
        talkers = [Talker(server.port, args.minutes * 60, args.speed, seed, counts)
                   for seed in range(args.sessions)]
        tasks = [asyncio.get_running_loop().create_task(t.run()) for t in talkers]
        start = time.monotonic()
        print(f"{'wall s':>6} {'sim min':>7} {'RSS MB':>7} {'threads':>7} {'tasks':>6} "
              f"{'sessions':>8} {'turns':>6} {'barge-ins':>9} {'reconnects':>10}", flush=True)
        while not all(t.done() for t in tasks):
            await asyncio.sleep(args.every)
            try:
                s = await stats(server.port)
            except Exception as exc:
                counts.errors.append(f"stats: {exc}")
                continue
            row = {"wall": time.monotonic() - start,
                   "minute": counts.audio_s / args.sessions / 60, "rss": server.rss_mb(),
                   "threads": float(server.threads()), "tasks": float(s["tasks"]),
                   "sessions": float(s["sessions"])}
            rows.append(row)
            print(f"{row['wall']:6.0f} {row['minute']:7.1f} {row['rss']:7.1f} "
                  f"{row['threads']:7.0f} {row['tasks']:6.0f} {row['sessions']:8.0f} "
                  f"{counts.turns:6d} {counts.barge_ins:9d} {counts.reconnects:10d}",
                  flush=True)
        for task in tasks:
            with contextlib.suppress(Exception):
                task.result()
    finally:
        errors = server.new_log_errors()
        server.stop()
    half = [r for r in rows if r["minute"] >= rows[-1]["minute"] / 2] if rows else []
    first = [r for r in rows if r["minute"] < rows[-1]["minute"] / 2] if rows else []
    print(f"\n{args.sessions} clients x {args.minutes} min of audio at {args.speed}x: "
          f"{counts.turns} turns ({counts.unanswered} unanswered), {counts.barge_ins} "
          f"barge-ins ({counts.stopped} stopped a reply), {counts.reconnects} reconnects, "
          f"{len(counts.errors)} client errors, {len(errors)} server ERROR lines")
    for key, unit in (("rss", "MB"), ("threads", ""), ("tasks", "")):
        if first and half:
            print(f"  {key:8s} first half median {statistics.median(r[key] for r in first):7.1f}"
                  f" {unit}, second half median {statistics.median(r[key] for r in half):7.1f}"
                  f" {unit}; slope over the second half {slope(half, key):+.3f} {unit}/min")
    for line in (counts.errors + errors)[:10]:
        print("  !", line)
    if args.plot and rows:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(3, 1, figsize=(7, 7), sharex=True)
        for ax, key, label in zip(axes, ("rss", "tasks", "threads"),
                                  ("server RSS (MB)", "asyncio tasks", "threads"),
                                  strict=True):
            ax.plot([r["minute"] for r in rows], [r[key] for r in rows])
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
        axes[-1].set_xlabel("conversation time per client (min)")
        fig.suptitle(f"Soak: {args.sessions} clients, barge-ins and reconnects, null models")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=90)
        print(f"plot: {args.plot}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--speed", type=float, default=8.0)
    parser.add_argument("--every", type=float, default=10.0)
    parser.add_argument("--plot", default="")
    return asyncio.run(amain(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
