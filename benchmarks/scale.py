"""Scale: N concurrent WebSocket sessions on loopback, real-time audio, null models.

Usage::

    python benchmarks/scale.py [--ns 1 2 4 8 16 32 64] [--seconds 15] [--baseline-seconds 30]

What it does:

1. Starts the server in a SEPARATE process (this script with ``--serve``): FastAPI +
   uvicorn on a free port of 127.0.0.1, ``/ws`` → ``Xtalk.connect``, with the instant null
   models of ``benchmarks/engine_overhead.py`` (VAD: a frame whose first sample is
   nonzero is speech; fixed-text ASR; one-delta agent; one 20 ms chunk of zeros from the
   TTS) and VAD ``min_silence_s`` 0.25 (the turn ends on the 8th silent frame, 224 ms
   after the first one arrived). Client load therefore does not run in the server's
   event loop (it still shares the 2 cores).
2. For each N (1, 2, 4, ... by default), opens N sessions with ``websockets`` from this
   process and streams 512-sample frames every 32 ms on every session for ``--seconds``
   (the N = 1 baseline for ``--baseline-seconds``). Each session has a random phase (fixed
   seed): every 2.048 s it "says" 0.64 s of speech (20 frames of nonzero samples), then
   silence. When the reply's ``tts_finished`` arrives the client reports its playback
   queue drained (``tts_playback_finished``), as a real client does.
3. Per turn it records the server's ``latency_metrics.e2e_ms`` (first silent frame in →
   first reply chunk handed to the gateway; holds the 224 ms silence wait) and the
   client-observed time from the last speech frame sent to the first reply audio bytes
   received (holds 256 ms of silence: 8 frames). *Added latency* is each figure minus the
   median of the same figure at N = 1.
4. Per N it prints p50 / p95 of both, the server's CPU (% of one core, from
   ``/proc/<pid>/stat``; psutil is not used) and its RSS (``/proc/<pid>/status``) per
   session above the idle server, this process's CPU, and how late the client's frame
   clock ran. It stops after the N where p95 added latency reaches 50 ms or errors appear
   (connection failures or closes, ``error`` / ``invalid_asr_result`` messages,
   utterances without a reply, ERROR lines in the server's log), then prints the largest
   N with p95 added latency < 50 ms and no errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import select
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, WebSocket

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

SR = 16000
FRAME = 512
FRAME_S = FRAME / SR
MIN_SILENCE_S = 0.25  # 8 frames
SILENCE_WAIT_MS = 7 * FRAME_S * 1000  # first silent frame → the 8th, which ends the turn
CYCLE_FRAMES = 64  # 2.048 s (--pattern browser: 128, 4.096 s)
SPEECH_FRAMES = 20  # 0.64 s (--pattern browser: 62, 1.98 s)
CLIENT_VAD = False  # --pattern browser: vad_speech_start / vad_speech_end, as the page
TAIL_FRAMES = 32  # an utterance starts only if ≥ 1 s of the window is left after it
ADDED_LIMIT_MS = 50.0
REPLY_GRACE_S = 2.0
RUN_BUDGET_S = 280.0

SPEECH_FRAME = np.full(FRAME, 1000, dtype=np.int16).astype("<i2").tobytes()
SILENT_FRAME = np.zeros(FRAME, dtype=np.int16).astype("<i2").tobytes()
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- server side
def serve(min_silence_s: float) -> int:
    """The server process: print ``PORT n`` and serve until terminated."""
    # (FastAPI and WebSocket are imported at module level: FastAPI resolves the endpoint's
    # string annotation in the module's globals)
    import uvicorn
    from engine_overhead import null_service_config, null_xtalk

    logging.basicConfig(level=logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    xtalk = null_xtalk(null_service_config(min_silence_s))
    app = FastAPI()

    @app.websocket("/ws")
    async def ws_endpoint(websocket: WebSocket) -> None:
        await xtalk.connect(websocket)

    @app.get("/_stats")
    async def stats() -> dict[str, Any]:  # for benchmarks/soak.py
        return {"tasks": len(asyncio.all_tasks()), "sessions": len(xtalk.sessions),
                "waiting": xtalk.waiting_sessions, **xtalk.load.snapshot()}

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off", timeout_graceful_shutdown=3,
                            ws_per_message_deflate=False)  # as xtalk-server
    server = uvicorn.Server(config)
    print(f"PORT {port} loop {config.loop} ws {config.ws}", flush=True)
    server.run(sockets=[sock])
    return 0


class ServerProcess:
    """The server subprocess, its port, and its CPU / RSS / log."""

    def __init__(self) -> None:
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix="xtalk-scale-server-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve",
             "--min-silence", str(MIN_SILENCE_S)],
            stdout=subprocess.PIPE, stderr=self.log, text=True, cwd=str(ROOT))
        self.port = 0
        self.banner = ""
        self._log_offset = 0

    def wait_ready(self, timeout: float = 30.0) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.log_tail()}")
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline().strip()
                if line.startswith("PORT "):
                    self.banner = line
                    self.port = int(line.split()[1])
                    break
        else:
            raise RuntimeError("server did not start within 30 s")
        while time.monotonic() < deadline:  # listening?
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=0.5):
                return
            time.sleep(0.05)
        raise RuntimeError("server is not accepting connections")

    def cpu_s(self) -> float:
        """User + system CPU seconds of the server (all its threads)."""
        text = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = text[text.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime

    def main_thread_cpu_s(self) -> float:
        """CPU seconds of the server's main thread (its event loop; the rest of the
        process CPU is the worker threads that run the models)."""
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/stat").read_text()
        except OSError:
            return float("nan")
        fields = text[text.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def threads(self) -> int:
        try:
            return len(os.listdir(f"/proc/{self.proc.pid}/task"))
        except OSError:
            return 0

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def new_log_errors(self) -> list[str]:
        """ERROR / Traceback lines logged since the last call."""
        path = Path(self.log.name)
        with path.open("rb") as f:
            f.seek(self._log_offset)
            chunk = f.read().decode("utf-8", "replace")
            self._log_offset = f.tell()
        return [ln for ln in chunk.splitlines()
                if ln.startswith(("ERROR", "CRITICAL")) or "Traceback" in ln]

    def log_tail(self, n: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-n:])
        return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)


# --------------------------------------------------------------------------- client side
@dataclass
class Utterance:
    last_speech_sent: float
    turn_id: int | None = None


@dataclass
class SessionClient:
    index: int
    port: int
    ws: Any = None
    reader: asyncio.Task[None] | None = None
    utterances: list[Utterance] = field(default_factory=list)
    finals: list[int] = field(default_factory=list)  # turn ids in finish_asr order
    metrics: dict[int, dict[str, Any]] = field(default_factory=dict)
    first_audio: dict[int, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    max_late_s: float = 0.0
    late_frames: int = 0
    frames_sent: int = 0
    closing: bool = False
    queued: bool = False  # told to wait (queue_status) before its session started
    refused: bool = False  # told the server is busy (server_busy, close 4503)
    _meta_turn: int | None = None
    _session_info: asyncio.Event = field(default_factory=asyncio.Event)
    _sends: set[asyncio.Task[None]] = field(default_factory=set)

    async def connect(self) -> None:
        import websockets

        try:
            self.ws = await websockets.connect(f"ws://127.0.0.1:{self.port}/ws",
                                               max_size=None, ping_interval=None,
                                               open_timeout=10)
        except Exception as exc:  # counted, reported
            self.errors.append(f"connect failed: {type(exc).__name__}: {exc}")
            return
        self.reader = asyncio.get_running_loop().create_task(self._read())
        try:
            await asyncio.wait_for(self._session_info.wait(), 10)
        except TimeoutError:
            if not (self.queued or self.refused):
                self.errors.append("no session_info within 10 s")

    @property
    def admitted(self) -> bool:
        return self._session_info.is_set()

    async def _read(self) -> None:
        import websockets

        try:
            async for message in self.ws:
                now = time.monotonic()
                if isinstance(message, bytes):
                    turn = self._meta_turn
                    if turn is not None and turn not in self.first_audio:
                        self.first_audio[turn] = now
                    continue
                obj = json.loads(message)
                action = obj.get("action")
                data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
                if action == "tts_chunk_meta":
                    self._meta_turn = data.get("turn_id")
                elif action == "finish_asr":
                    self.finals.append(int(data.get("turn_id", -1)))
                elif action == "latency_metrics":
                    self.metrics[int(data.get("turn_id", -1))] = data
                elif action == "tts_finished":
                    self._send_soon(json.dumps({"action": "tts_playback_finished",
                                                "data": {"timestamp": time.time() * 1000}}))
                elif action == "session_info":
                    self._session_info.set()
                elif action == "queue_status":
                    self.queued = True
                elif action == "error" and data.get("code") == "server_busy":
                    self.refused = True
                elif action in ("error", "invalid_asr_result"):
                    self.errors.append(f"{action}: {json.dumps(data)[:120]}")
        except websockets.ConnectionClosed as exc:
            if not self.closing and not self.refused:
                self.errors.append(f"connection closed: {exc}")
        except Exception as exc:
            self.errors.append(f"reader failed: {type(exc).__name__}: {exc}")
        finally:
            if not self.closing and not self.refused \
                    and not any("closed" in e for e in self.errors):
                self.errors.append("connection closed by the server")

    def _send_soon(self, text: str) -> None:
        task = asyncio.get_running_loop().create_task(self._safe_send(text))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _safe_send(self, data: str | bytes) -> None:
        try:
            await self.ws.send(data)
        except Exception as exc:
            if not self.closing:
                self.errors.append(f"send failed: {type(exc).__name__}")

    async def stream(self, t_start: float, n_frames: int, speech_starts: list[int]) -> None:
        """Send ``n_frames`` frames in real time; speech at ``speech_starts`` (with the
        client's own VAD messages when ``CLIENT_VAD``). Only an admitted session talks."""
        if self.ws is None or not self.admitted:
            return
        speech = {s + k for s in speech_starts for k in range(SPEECH_FRAMES)}
        last = {s + SPEECH_FRAMES - 1 for s in speech_starts}
        vad_start = set(speech_starts) if CLIENT_VAD else set()
        vad_end = {s + 8 for s in last} if CLIENT_VAD else set()
        for i in range(n_frames):
            delay = t_start + i * FRAME_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif -delay > self.max_late_s:
                self.max_late_s = -delay
            if delay < -0.02:
                self.late_frames += 1
            try:
                if i in vad_start or i in vad_end:
                    kind = "start" if i in vad_start else "end"
                    await self.ws.send(json.dumps({"action": f"vad_speech_{kind}", "data": {
                        "timestamp": time.time() * 1000}}))
                await self.ws.send(SPEECH_FRAME if i in speech else SILENT_FRAME)
            except Exception as exc:
                self.errors.append(f"send failed: {type(exc).__name__}")
                return
            self.frames_sent += 1
            if i in last:
                self.utterances.append(Utterance(time.monotonic()))

    async def close(self) -> None:
        self.closing = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
        if self.reader is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self.reader, 5)
        for task in list(self._sends):
            task.cancel()

    def turns(self) -> list[tuple[Utterance, int | None]]:
        """Each utterance with its turn id (one turn per utterance, in order)."""
        return [(u, self.finals[k] if k < len(self.finals) else None)
                for k, u in enumerate(self.utterances)]


# --------------------------------------------------------------------------- one level
@dataclass
class Level:
    n: int
    seconds: float
    e2e: list[float] = field(default_factory=list)
    e2e_minus_endpoint: list[float] = field(default_factory=list)
    client: list[float] = field(default_factory=list)
    utterances: int = 0
    unanswered: int = 0
    errors: list[str] = field(default_factory=list)
    server_cpu_pct: float = 0.0
    loop_cpu_pct: float = 0.0
    threads: int = 0
    client_cpu_pct: float = 0.0
    rss_mb: float = 0.0
    rss_before_mb: float = 0.0
    max_late_ms: float = 0.0
    late_frames: int = 0
    frames: int = 0
    extensions: str = ""
    admitted: int = 0
    queued: int = 0
    refused: int = 0


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


async def run_level(server: ServerProcess, n: int, seconds: float) -> Level:
    level = Level(n, seconds)
    level.rss_before_mb = server.rss_mb()
    server.new_log_errors()  # forget earlier lines
    rng = random.Random(1000 + n)
    clients = [SessionClient(i, server.port) for i in range(n)]
    await asyncio.gather(*(c.connect() for c in clients))
    if clients[0].ws is not None:
        with contextlib.suppress(Exception):
            level.extensions = ", ".join(
                type(e).__name__ for e in clients[0].ws.protocol.extensions) or "none"
    n_frames = int(seconds / FRAME_S)
    t_start = time.monotonic() + 0.3
    plans = []
    for c in clients:
        phase = rng.randrange(CYCLE_FRAMES)
        starts = list(range(phase, n_frames - SPEECH_FRAMES - TAIL_FRAMES, CYCLE_FRAMES))
        offset = rng.random() * FRAME_S  # clients' frame clocks are not aligned
        plans.append(c.stream(t_start + offset, n_frames, starts))
    cpu0, ccpu0, lcpu0 = server.cpu_s(), time.process_time(), server.main_thread_cpu_s()
    await asyncio.sleep(max(0.0, t_start - time.monotonic()))
    wall0 = time.monotonic()
    await asyncio.gather(*plans)
    wall = time.monotonic() - wall0
    level.server_cpu_pct = 100 * (server.cpu_s() - cpu0) / wall
    level.loop_cpu_pct = 100 * (server.main_thread_cpu_s() - lcpu0) / wall
    level.threads = server.threads()
    level.client_cpu_pct = 100 * (time.process_time() - ccpu0) / wall
    level.rss_mb = server.rss_mb()
    deadline = time.monotonic() + REPLY_GRACE_S  # replies of the last utterances
    while time.monotonic() < deadline and any(
            len(c.first_audio) < len(c.utterances) for c in clients if c.ws is not None):
        await asyncio.sleep(0.05)
    await asyncio.gather(*(c.close() for c in clients))
    level.admitted = sum(c.admitted for c in clients)
    level.refused = sum(c.refused for c in clients)
    level.queued = sum(c.queued and not c.admitted and not c.refused for c in clients)
    for c in clients:
        level.errors.extend(f"session {c.index}: {e}" for e in c.errors)
        level.max_late_ms = max(level.max_late_ms, c.max_late_s * 1000)
        level.late_frames += c.late_frames
        level.frames += c.frames_sent
        for utt, turn in c.turns():
            level.utterances += 1
            first = c.first_audio.get(turn) if turn is not None else None
            metrics = c.metrics.get(turn) if turn is not None else None
            if first is None or metrics is None:
                level.unanswered += 1
                continue
            level.client.append((first - utt.last_speech_sent) * 1000)
            level.e2e.append(float(metrics["e2e_ms"]))
            level.e2e_minus_endpoint.append(float(metrics["e2e_ms"])
                                            - float(metrics.get("endpoint_ms") or 0.0))
        extra = len(c.finals) - len(c.utterances)
        if extra > 0:
            level.errors.append(f"session {c.index}: {extra} more turns than utterances")
    if level.unanswered:
        level.errors.append(f"{level.unanswered} utterance(s) without a reply")
    level.errors.extend(f"server log: {line}" for line in server.new_log_errors())
    await asyncio.sleep(0.5)  # let the server finish closing the sessions
    return level


# --------------------------------------------------------------------------- report
HEADER = (f"{'N':>3} {'turns':>5} {'err':>4} | {'e2e p50':>7} {'p95':>6} | "
          f"{'added p50':>9} {'p95':>6} | {'client p50':>10} {'p95':>6} {'added p95':>9} | "
          f"{'srv CPU%':>8} {'/sess':>6} {'loop%':>5} | {'RSS MB':>6} {'/sess':>6} | "
          f"{'cli CPU%':>8} "
          f"{'late ms':>7}")


def print_level(level: Level, base_e2e: float, base_client: float, idle_rss: float) -> None:
    added = [v - base_e2e for v in level.e2e]
    added_client = [v - base_client for v in level.client]
    n_err = len(level.errors)
    rss_per = (level.rss_mb - idle_rss) / level.n
    print(f"{level.n:>3} {len(level.e2e):>5} {n_err:>4} | {pct(level.e2e, 50):7.1f} "
          f"{pct(level.e2e, 95):6.1f} | {pct(added, 50):9.1f} {pct(added, 95):6.1f} | "
          f"{pct(level.client, 50):10.1f} {pct(level.client, 95):6.1f} "
          f"{pct(added_client, 95):9.1f} | {level.server_cpu_pct:8.1f} "
          f"{level.server_cpu_pct / level.n:6.2f} {level.loop_cpu_pct:5.0f} | "
          f"{level.rss_mb:6.0f} {rss_per:6.2f} | "
          f"{level.client_cpu_pct:8.1f} {level.max_late_ms:7.1f}", flush=True)


# --------------------------------------------------------------------------- main
async def amain(args: argparse.Namespace) -> int:
    started = time.monotonic()
    loop_name = type(asyncio.get_running_loop()).__module__
    print(f"machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}; client loop "
          f"{loop_name}")
    server = ServerProcess()
    try:
        await asyncio.to_thread(server.wait_ready)
        idle_rss = server.rss_mb()
        print(f"server: pid {server.proc.pid}, {server.banner} (null models, vad "
              f"min_silence_s {MIN_SILENCE_S}); idle RSS {idle_rss:.0f} MB")
        print(f"each session: 512-sample frames every 32 ms; {SPEECH_FRAMES * FRAME_S:.2f} s "
              f"of speech every {CYCLE_FRAMES * FRAME_S:.3f} s (random phase)"
              f"{', client VAD messages' if CLIENT_VAD else ''}; the turn ends on the 8th "
              f"silent frame "
              f"(server e2e holds {SILENCE_WAIT_MS:.0f} ms of silence wait, "
              f"client-observed {SILENCE_WAIT_MS + FRAME_S * 1000:.0f} ms)")
        print("(ms; added = minus the N = 1 median; client = last speech frame sent → first "
              "reply audio received; srv CPU% of one core (200 = both), loop% = its main "
              "thread (the event loop); RSS/sess = (RSS - idle RSS) / N; late = how far the "
              "client's frame clock fell behind)")
        print(HEADER, flush=True)
        levels: list[Level] = []
        base_e2e = base_client = float("nan")
        for n in args.ns:
            seconds = args.baseline_seconds if n == 1 else args.seconds
            elapsed = time.monotonic() - started
            if elapsed + seconds + 5 > args.budget:
                print(f"(stopping before N = {n}: the run budget of {args.budget:.0f} s "
                      f"would be exceeded)")
                break
            level = await run_level(server, n, seconds)
            levels.append(level)
            if n == args.ns[0]:
                base_e2e = pct(level.e2e, 50)
                base_client = pct(level.client, 50)
            print_level(level, base_e2e, base_client, idle_rss)
            added_p95 = pct([v - base_e2e for v in level.e2e], 95)
            if level.queued or level.refused:
                print(f"    admitted {level.admitted}, waiting in the queue {level.queued}, "
                      f"refused (server_busy) {level.refused}; lost turns of the admitted: "
                      f"{level.unanswered} of {level.utterances} "
                      f"({100 * level.unanswered / max(1, level.utterances):.1f} %)")
            if args.all:
                continue
            if level.errors:
                print(f"    errors at N = {n} ({len(level.errors)}): "
                      + "; ".join(level.errors[:5]))
                break
            if not level.e2e:
                print(f"    no answered turns at N = {n}")
                break
            if added_p95 >= ADDED_LIMIT_MS:
                print(f"    p95 added latency {added_p95:.1f} ms ≥ {ADDED_LIMIT_MS:.0f} ms: "
                      f"stopping")
                break
        print()
        for level in levels:
            late = 100 * level.late_frames / max(1, level.frames)
            print(f"N = {level.n:>2}: {level.utterances} utterances in {level.seconds:.0f} s, "
                  f"{len(level.e2e)} answered; e2e - endpoint p50 "
                  f"{pct(level.e2e_minus_endpoint, 50):.1f} / p95 "
                  f"{pct(level.e2e_minus_endpoint, 95):.1f} ms; server RSS "
                  f"{level.rss_before_mb:.0f} → {level.rss_mb:.0f} MB; client frames > 20 ms "
                  f"late: {late:.1f} %; server threads {level.threads}; ws extensions: "
                  f"{level.extensions}")
        good = [lv.n for lv in levels if lv.e2e and not lv.errors
                and pct([v - base_e2e for v in lv.e2e], 95) < ADDED_LIMIT_MS]
        if levels:
            base = levels[0]
            print(f"\nbaseline (N = {base.n}): server e2e median {base_e2e:.1f} ms "
                  f"(= {SILENCE_WAIT_MS:.0f} ms silence wait + "
                  f"{base_e2e - SILENCE_WAIT_MS:.1f} ms), client-observed median "
                  f"{base_client:.1f} ms")
        tested_all = bool(levels) and levels[-1].n == args.ns[-1] and good \
            and good[-1] == args.ns[-1]
        if good:
            print(f"largest N with p95 added latency < {ADDED_LIMIT_MS:.0f} ms and no errors: "
                  f"{good[-1]}" + (" (the largest tested; the limit is higher)"
                                   if tested_all else ""))
        else:
            print(f"no N met p95 added latency < {ADDED_LIMIT_MS:.0f} ms without errors")
        for level in levels:
            if level.errors:
                print(f"first errors at N = {level.n}:")
                for line in level.errors[:10]:
                    print(f"  {line}")
    finally:
        server.stop()
    print(f"total run {time.monotonic() - started:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ns", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64],
                        help="session counts, in order (the first is the baseline)")
    parser.add_argument("--seconds", type=float, default=15.0, help="streaming time per N")
    parser.add_argument("--baseline-seconds", type=float, default=30.0,
                        help="streaming time of the N = 1 baseline")
    parser.add_argument("--pattern", choices=("short", "browser"), default="short",
                        help="short: 0.64 s of speech every 2.048 s; browser: 2 s every "
                             "4.1 s with vad_speech_start / vad_speech_end, as the page")
    parser.add_argument("--all", action="store_true",
                        help="run every N, also after one missed the latency target")
    parser.add_argument("--budget", type=float, default=RUN_BUDGET_S,
                        help="stop before a level that would end after this many seconds")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--min-silence", type=float, default=MIN_SILENCE_S,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.min_silence)
    if args.pattern == "browser":
        global CYCLE_FRAMES, SPEECH_FRAMES, CLIENT_VAD
        CYCLE_FRAMES, SPEECH_FRAMES, CLIENT_VAD = 128, 62, True
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        import uvloop
    except ImportError:
        return asyncio.run(amain(args))
    return uvloop.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
