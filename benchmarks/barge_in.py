"""Barge-in: how fast the user's voice silences the reply, and how often the reply's own
echo interrupts it (issue 6; the echo gate is app/audio/echo.py).

Usage::

    python benchmarks/barge_in.py [--trials 20] [--echo-trials 2] [--no-gate-control]
                                  [--floor]

Set-up (everything in real time, in this process): the desktop app's
:class:`~app.engine.EngineHost` with the echo gate, the default Silero VAD and its
default settings (resources/default_config.json), the real Piper voice, and a rule agent
that answers "tell me a story" with a long reply (the ASR is the tone-code test model:
what the user says is not the point here). A virtual :class:`~app.audio.playback.Speaker`
plays the reply in real time and reports every played block (the app's played
reference). A simulated room sends it back into the microphone through a laptop-like
echo path (300 Hz – 5 kHz band-pass, three reflections and a 50 ms diffuse tail) with a
delay and a gain; the microphone task captures the room in 20 ms blocks at 48 kHz.

(a) Barge-in latency: during the reply (0.8 – 2.5 s after it starts) a real human
    voice (a 3 s slice of ../shared/data/speech/jfk.flac or one channel of
    stereo_diarization.wav, each trial another offset) is added to the room. Measured:
    speech onset (first 10 ms of the clip above -45 dBFS) → the speaker's last audible
    block ended (playback silent). The virtual speaker has no device buffer: on a real
    device add the output latency (one 20 ms block plus PortAudio's buffer).
(b) False interruptions: the whole reply plays with only its echo in the microphone, at
    several delays and gains; a trial counts as false when the engine pauses the reply.
    ``--no-gate-control`` adds the same rooms without the gate (should interrupt).

``--floor`` adds (a) without echo and without the gate: what the VAD, the engine and the
speaker take anyway (the same clips; some start with a quiet breath or a word the VAD
needs a while for), to read the gate's own cost off (a).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.audio.playback import Speaker  # noqa: E402
from app.engine import EngineHost  # noqa: E402

RATE = 48000
BLOCK = 960
SPEECH = ROOT.parent / "shared" / "data" / "speech"
STORY = ("Once upon a time there was a little robot who liked to talk. Every morning it "
         "walked to the market and told the people about the weather, the birds and the "
         "boats in the harbour. In the evening it went home and read a book.")
ROOMS = [(0.02, 0.3), (0.06, 0.5), (0.15, 0.7), (0.25, 0.7)]


def config() -> dict[str, Any]:
    tone = json.loads((ROOT / "tests" / "fixtures" / "tone_config.json").read_text())
    default = json.loads((ROOT / "resources" / "default_config.json").read_text())
    return {"asr": tone["asr"], "vad": default["vad"], "tts": default["tts"],
            "llm_agent": {"type": "RuleAgent", "params": {"rules": [
                {"pattern": r"\bstory\b", "reply": STORY}]}},
            "service_config": {"vad": default["service_config"]["vad"]}}


def coloration() -> np.ndarray:
    """Speaker + room impulse response at 48 kHz (unit gain on the direct path)."""
    n = np.arange(-32, 33)

    def lowpass(cutoff: float) -> np.ndarray:
        h = np.sinc(2 * cutoff / 16000 * n) * np.hamming(n.size)
        return h / h.sum()

    room = np.zeros(800)
    room[[0, 48, 112, 200]] = [1.0, 0.45, -0.3, 0.2]
    rng = np.random.default_rng(0)
    room[240:] += rng.normal(0, 1, 560) * 0.05 * np.exp(-np.arange(560) / 160)
    return soxr.resample(np.convolve(lowpass(5000) - lowpass(300), room), 16000, RATE) / 3


def voices() -> list[np.ndarray]:
    """Real human speech clips (float32, 48 kHz), 3 s each."""
    clips = []
    jfk, rate = sf.read(SPEECH / "jfk.flac", dtype="float32")
    jfk = jfk.mean(axis=1) if jfk.ndim > 1 else jfk
    jfk = soxr.resample(jfk, rate, RATE)
    for start in (0.3, 2.3, 4.0, 6.0, 8.0):
        clips.append(jfk[int(start * RATE):int((start + 3) * RATE)])
    pair, rate = sf.read(SPEECH / "stereo_diarization.wav", dtype="float32")
    for channel in range(pair.shape[1]):
        clips.append(soxr.resample(pair[:, channel], rate, RATE)[:3 * RATE])
    return [c.astype(np.float32) for c in clips]


def onset_of(clip: np.ndarray) -> int:
    """First 10 ms block above -45 dBFS (samples)."""
    size = RATE // 100
    for i in range(0, clip.size - size, size):
        if np.sqrt(np.mean(clip[i:i + size] ** 2)) > 10 ** (-45 / 20):
            return i
    return 0


class Room:
    """The speaker's output back into the microphone, on a real-time sample clock."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.air = np.zeros(RATE * 600, dtype=np.float32)
        self.path = coloration()
        self.delay = 0
        self.gain = 0.0
        self.audible: list[float] = []  # end times of played blocks with sound
        self.cursor = 0

    def now(self) -> int:
        return round((time.monotonic() - self.t0) * RATE)

    def played(self, block: np.ndarray) -> None:
        # A sound card plays blocks back to back: a block reported within 30 ms of the
        # previous one's end follows it (the virtual speaker reports in bursts after a
        # scheduling hiccup), a later one starts a new stretch.
        start = max(0, self.now() - block.size)
        if abs(start - self.cursor) <= 0.03 * RATE:
            start = self.cursor
        self.cursor = start + block.size
        if not np.any(np.abs(block) > 1e-4):
            return
        self.audible.append(self.t0 + self.cursor / RATE)
        if self.gain:
            start += self.delay
            y = np.convolve(block, self.path * self.gain).astype(np.float32)
            self.air[start:start + y.size] += y

    def say(self, clip: np.ndarray, at: int) -> None:
        self.air[at:at + clip.size] += clip

    async def microphone(self, host: EngineHost) -> None:
        position = self.now()
        while True:
            end = position + BLOCK
            wait = end / RATE - (time.monotonic() - self.t0)
            if wait > 0:
                await asyncio.sleep(wait)
            host.submit_microphone(self.air[position:end].copy(), RATE)
            position = end


class Bench:
    def __init__(self, echo_gate: bool) -> None:
        self.host = EngineHost(config(), output_sample_rate=RATE, echo_gate=echo_gate)
        self.room = Room()
        self.speaker = Speaker(self.host, virtual=True, on_audio=self.room.played)
        self.marks: dict[str, float] = {}
        self.host.add_listener(self._on_message)
        self._mic: asyncio.Task[None] | None = None

    def _on_message(self, m: dict[str, Any]) -> None:
        self.marks.setdefault(m["action"], time.monotonic())

    async def __aenter__(self) -> Bench:
        await self.host.start()
        await self.speaker.start()
        self._mic = asyncio.get_running_loop().create_task(self.room.microphone(self.host))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._mic is not None:
            self._mic.cancel()
        await self.speaker.stop()
        await self.host.stop()

    async def wait(self, action: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while action not in self.marks:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    async def settle(self) -> None:
        """Stop whatever plays and let the room go quiet."""
        if self.host.state in ("speaking", "thinking", "hearing"):
            await self.host.interrupt()
        await self.speaker.wait_idle(10)
        await asyncio.sleep(1.0)
        for _ in range(100):
            if self.host.state == "listening":
                break
            await asyncio.sleep(0.05)

    async def start_reply(self) -> bool:
        self.marks.clear()
        await self.host.send_text("tell me a story")
        return await self.wait("start_tts", 60)


async def barge_in(trials: int, delay_s: float, gain: float, echo_gate: bool = True
                   ) -> tuple[list[tuple[int, float]], dict[str, int]]:
    """(clip, latency ms) of ``trials`` valid trials, and the count of discarded ones."""
    clips = voices()
    rng = np.random.default_rng(7)
    results: list[tuple[int, float]] = []
    discarded = {"no reply": 0, "reply silent at onset": 0, "paused before onset": 0,
                 "not stopped": 0}
    attempt = 0
    async with Bench(echo_gate=echo_gate) as b:
        b.room.delay, b.room.gain = round(delay_s * RATE), gain
        while len(results) < trials and attempt < trials * 2:
            attempt += 1
            if not await b.start_reply():
                discarded["no reply"] += 1
                continue
            await asyncio.sleep(0.8 + 1.7 * rng.random())
            clip = clips[attempt % len(clips)]
            at = b.room.now() + RATE // 20
            onset = b.room.t0 + (at + onset_of(clip)) / RATE
            b.room.say(clip, at)
            stopped = await b.wait("pause_tts", 5)
            await asyncio.sleep(0.3)
            if not stopped:
                discarded["not stopped"] += 1
            elif b.marks["pause_tts"] < onset:
                discarded["paused before onset"] += 1
            elif not any(onset - 0.1 <= t <= onset + 0.02 for t in b.room.audible):
                discarded["reply silent at onset"] += 1  # a pause between sentences
            else:
                last = max(t for t in b.room.audible if t <= b.marks["pause_tts"] + 0.5)
                results.append((attempt % len(clips), max(0.0, last - onset) * 1000))
            await asyncio.sleep(3.5)  # the clip ends
            await b.settle()
    return results, discarded


async def false_interruptions(trials: int, rooms: list[tuple[float, float]],
                              echo_gate: bool) -> list[tuple[float, float, int, int]]:
    rows = []
    async with Bench(echo_gate=echo_gate) as b:
        for delay_s, gain in rooms:
            b.room.delay, b.room.gain = round(delay_s * RATE), gain
            false = done = 0
            for _ in range(trials):
                if not await b.start_reply():
                    continue
                await b.wait("tts_finished", 60)
                await b.speaker.wait_idle(60)
                await asyncio.sleep(0.6)  # the echo tail
                done += 1
                false += "pause_tts" in b.marks
                await b.settle()
            rows.append((delay_s, gain, false, done))
    return rows


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--echo-trials", type=int, default=2)
    parser.add_argument("--no-gate-control", action="store_true")
    parser.add_argument("--floor", action="store_true")
    args = parser.parse_args()

    runs = [("(a) barge-in: speech onset -> playback silent (room: 60 ms, gain 0.5, "
             "played reference)", 0.5, True)]
    if args.floor:
        runs.append(("(a0) the floor: the same without echo and without the gate", 0.0,
                     False))
    for title, gain, gate in runs:
        results, discarded = await barge_in(args.trials, 0.06, gain, echo_gate=gate)
        latencies = [ms for _, ms in results]
        print(f"\n{title}")
        print(f"{'trials':>6} {'median ms':>10} {'p90 ms':>8} {'min':>6} {'max':>6}  "
              "target 150")
        if latencies:
            print(f"{len(latencies):6d} {statistics.median(latencies):10.0f} "
                  f"{pct(latencies, 0.9):8.0f} {min(latencies):6.0f} {max(latencies):6.0f}")
        per_clip = {c: [round(ms) for k, ms in results if k == c]
                    for c in sorted({k for k, _ in results})}
        print("  per clip (ms): " + "; ".join(f"{c}: {v}" for c, v in per_clip.items()))
        print("  discarded trials: " + ", ".join(f"{k} {v}" for k, v in discarded.items()))

    print("\n(b) false interruptions by the reply's own echo (target 0)")
    print(f"{'gate':>5} {'delay ms':>8} {'gain':>5} {'false':>6} {'trials':>6}")
    rows = [("on", r) for r in await false_interruptions(args.echo_trials, ROOMS, True)]
    if args.no_gate_control:
        rows += [("off", r) for r in await false_interruptions(1, ROOMS, False)]
    for gate, (delay_s, gain, false, done) in rows:
        print(f"{gate:>5} {delay_s * 1000:8.0f} {gain:5.1f} {false:6d} {done:6d}")


if __name__ == "__main__":
    asyncio.run(main())
