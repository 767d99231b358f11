"""Barge-in: how fast the user's voice silences the reply, and how often the reply's own
echo interrupts it (issue 6; the echo gate is xtalk/models/enhancers/echo/).

Usage::

    python benchmarks/barge_in.py [--trials 20] [--echo-trials 2] [--no-gate-control]
                                  [--floor | --only-floor] [--skip-false]
                                  [--backchannels 20 | --only-backchannels]

Set-up (everything in real time, in this process): the desktop app's
:class:`~app.engine.EngineHost` with the echo gate, the default Silero VAD and its
default settings (resources/default_config.json), the real Piper voice, and a rule agent
that answers "tell me a story" with a long reply (the ASR is the tone-code test model:
what the user says is not the point here). A virtual :class:`~app.audio.playback.Speaker`
plays the reply in real time and reports every played block with the moment it sounds
(the app's played reference; a sound card's callback tells PortAudio's output time; the
virtual device takes each block 5 ms ahead, like a small device buffer). A simulated
room sends it back, from that moment, into the microphone through a laptop-like
echo path (300 Hz – 5 kHz band-pass, three reflections and a 50 ms diffuse tail) with a
delay and a gain; the microphone task captures the room in 20 ms blocks at 48 kHz.

(a) Barge-in latency: during the reply (0.8 - 2.5 s after it starts) a real human
    voice is added to the room: 2.5 s slices of ../shared/data/speech/ recordings that
    start 0.3 s before a phrase (BARGE_INS: three speakers, two languages). Measured:
    speech onset (:func:`speech_onset`: the first 10 ms 10 dB above the recording's noise
    floor that leads into a phrase) -> the speaker's last audible block ended (playback
    silent), split into the VAD's first speech frame, the engine's ``pause_tts`` and the
    speaker. The virtual speaker's buffer is 5 ms: on a real device add its output
    latency (one 20 ms block plus PortAudio's buffer).
(b) False interruptions: the whole reply plays with only its echo in the microphone, at
    several delays and gains; a trial counts as false when the engine pauses the reply at
    all (also for one frame: the VAD's onset pauses at once), and the longest such pause
    (pause -> resume) is shown: a few tens of ms is a glitch, seconds a real interruption.
    ``--no-gate-control`` adds the same rooms without the gate (should interrupt).

(c) Backchannels: "Mm-hmm", "Yeah", "Okay", "Right", "Uh-huh" ("Yep" for espeak-ng, which
    cannot say the hums) said during the reply (Piper and espeak-ng voices, into the same
    room, with the real recogniser): a trial counts as cancelled when the reply is
    stopped; it should pause and go on.

``--floor`` adds (a) without echo and without the gate: what the VAD, the engine and the
speaker take anyway (the same clips), to read the gate's own cost off (a); this is also
barge-in for clients that cancel their own echo (the browser client). ``--headset`` adds
(a) without echo but through the gate: the desktop app with a headset, whose microphone
hears nothing of the reply (one session for all trials, as in (a)).
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
from app.engine import EngineHost, EngineMessage  # noqa: E402
from xtalk.serving.events import SpeechOnsetDetected, SpeechStarted  # noqa: E402

RATE = 48000
BLOCK = 960
SPEECH = ROOT.parent / "shared" / "data" / "speech"
STORY = ("Once upon a time there was a little robot who liked to talk. Every morning it "
         "walked to the market and told the people about the weather, the birds and the "
         "boats in the harbour. In the evening it went home and read a book.")
ROOMS = [(0.02, 0.3), (0.06, 0.5), (0.15, 0.7), (0.25, 0.7)]
START_DEADLINE_S = 20  # a reply that has not started by then counts as "no reply"
FINISH_DEADLINE_S = 45  # the story plays ~14 s; a reply held longer counts as unfinished


NOISE_SUPPRESSION = False  # --rnnoise
NOISE_KIND = "white"  # --noise-kind


def room_noise(kind: str, size: int, dbfs: float) -> np.ndarray:
    """``size`` samples at 48 kHz of ``kind`` noise (white, fan, babble) at ``dbfs``."""
    from noise import babble_source, fan

    rng = np.random.default_rng(3)
    if kind == "white":
        x = rng.normal(0, 1, size)
    else:  # made at 16 kHz (benchmarks/noise.py), looped, then 48 kHz
        base = fan(16000 * 60, rng) if kind == "fan" else babble_source()
        x = soxr.resample(np.resize(base, -(-size // 3)).astype(np.float32), 16000, RATE)
        x = x[:size]
    x = x / (np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12)
    return (x * 10 ** (dbfs / 20)).astype(np.float32)


def config(real_asr: bool = False) -> dict[str, Any]:
    """The default models but the agent (a rule agent telling a story) and, unless
    ``real_asr``, the recogniser (tone code: what the user says does not matter)."""
    tone = json.loads((ROOT / "tests" / "fixtures" / "tone_config.json").read_text())
    default = json.loads((ROOT / "resources" / "default_config.json").read_text())
    return {"asr": default["asr"] if real_asr else tone["asr"], "vad": default["vad"],
            "tts": default["tts"], "turn_detector": default["turn_detector"],
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


# Barge-ins: (file, channel, start s) of real recorded speech, each a slice that starts
# ~0.3 s before a phrase that follows a pause, 2.5 s long: three speakers, two languages,
# soft ("ask not") and firm starts.
BARGE_INS = [("jfk.flac", 0, 0.03), ("jfk.flac", 0, 2.99), ("jfk.flac", 0, 5.11),
             ("jfk.flac", 0, 7.89), ("stereo_diarization.wav", 1, 0.05),
             ("hotwords.mp3", 0, 2.23), ("multilingual.mp3", 0, 1.45),
             ("multilingual.mp3", 0, 4.82), ("multilingual.mp3", 0, 8.72),
             ("multilingual.mp3", 0, 13.8)]
CLIP_S = 2.5


def levels_db(x: np.ndarray, size: int) -> np.ndarray:
    return np.array([20 * np.log10(np.sqrt(np.mean(x[i:i + size] ** 2)) + 1e-9)
                     for i in range(0, x.size - size + 1, size)])


def speech_onset(x: np.ndarray, floor: float, rate: int = RATE) -> int | None:
    """Where speech starts in ``x`` (samples): the first 10 ms block 10 dB above the
    recording's noise ``floor`` (dBFS) that follows 150 ms of quiet and leads within
    100 ms to a block 20 dB above the floor. (A fixed level would put the onset of a noisy
    recording, jfk.flac's hiss is at -42 dBFS, on its first sample.)"""
    size = rate // 100
    levels = levels_db(x, size)
    quiet = 0
    for i, level in enumerate(levels):
        if level > floor + 10 and quiet >= 15 and levels[i:i + 10].max() > floor + 20:
            return i * size
        quiet = 0 if level > floor + 10 else quiet + 1
    return None


def voices() -> list[tuple[np.ndarray, int]]:
    """The barge-in clips (float32, 48 kHz) with their speech onsets (samples)."""
    clips = []
    recordings: dict[tuple[str, int], tuple[np.ndarray, float]] = {}
    for name, channel, start in BARGE_INS:
        if (name, channel) not in recordings:
            audio, rate = sf.read(SPEECH / name, dtype="float32", always_2d=True)
            x = soxr.resample(audio[:, channel], rate, RATE).astype(np.float32)
            # The noise floor: the 10th percentile of the recording's 10 ms levels.
            floor = max(-65.0, float(np.percentile(levels_db(x, RATE // 100), 10)))
            recordings[name, channel] = x, floor
        x, floor = recordings[name, channel]
        clip = x[int(start * RATE):int((start + CLIP_S) * RATE)]
        onset = speech_onset(clip, floor)
        if onset is None:
            raise RuntimeError(f"no speech onset in {name} from {start} s")
        clips.append((clip, onset))
    return clips


class Room:
    """The speaker's output back into the microphone, on a real-time sample clock."""

    def __init__(self, noise_dbfs: float | None = None) -> None:
        self.t0 = time.monotonic()
        self.air = np.zeros(RATE * 600, dtype=np.float32)
        if noise_dbfs is not None:  # the room's noise (NOISE_KIND), at noise_dbfs RMS
            self.air += room_noise(NOISE_KIND, self.air.size, noise_dbfs)
        self.path = coloration()
        self.delay = 0
        self.gain = 0.0
        self.audible: list[float] = []  # end times of played blocks with sound

    def now(self) -> int:
        return round((time.monotonic() - self.t0) * RATE)

    def played(self, block: np.ndarray, start: float) -> None:
        # The block sounds from ``start``: the virtual speaker's clock, as a sound
        # card's callback tells (PortAudio's output DAC time); the echo gate gets the
        # same time with the block.
        if not np.any(np.abs(block) > 1e-4):
            return
        self.audible.append(start + block.size / RATE)
        if self.gain:
            at = round((start - self.t0) * RATE) + self.delay
            y = np.convolve(block, self.path * self.gain).astype(np.float32)
            self.air[at:at + y.size] += y

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
    def __init__(self, echo_gate: bool, noise_dbfs: float | None = None,
                 real_asr: bool = False) -> None:
        cfg = config(real_asr)
        if NOISE_SUPPRESSION:  # RNNoise after the echo gate, as the app would chain them
            cfg["speech_enhancer"] = {"type": "EnhancerChain", "params": {
                "stages": [*(["EchoGate"] if echo_gate else []), "RNNoise"]}}
        self.host = EngineHost(cfg, output_sample_rate=RATE, echo_gate=echo_gate)
        self.room = Room(noise_dbfs)
        self.speaker = Speaker(self.host, virtual=True, on_audio=self.room.played)
        self.marks: dict[str, float] = {}
        self.log: list[tuple[str, float]] = []  # (action, time) of every message
        self.heard: list[str] = []  # the transcripts since the last start_reply
        self.host.add_listener(self._on_message)
        self._mic: asyncio.Task[None] | None = None

    def _on_message(self, m: EngineMessage) -> None:
        now = time.monotonic()
        self.marks.setdefault(m.action, now)
        self.log.append((m.action, now))
        if m.action == "finish_asr":
            confidence = m.data.get("confidence")
            self.heard.append(m.text() if confidence is None
                              else f"{m.text()} ({float(confidence):.2f})")

    def _on_speech(self, _event: SpeechOnsetDetected | SpeechStarted) -> None:
        self.marks.setdefault("speech", time.monotonic())

    async def __aenter__(self) -> Bench:
        self.host.subscribe(SpeechOnsetDetected, self._on_speech)
        self.host.subscribe(SpeechStarted, self._on_speech)
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

    def paused_seconds(self) -> float:
        """How long the reply was paused since the last start_reply (pause -> resume,
        or pause -> the end of the log)."""
        total, since = 0.0, None
        for action, t in self.log:
            if action == "pause_tts" and since is None:
                since = t
            elif action in ("resume_tts", "stop_tts") and since is not None:
                total, since = total + t - since, None
        if since is not None:
            total += time.monotonic() - since
        return total

    async def start_reply(self) -> bool:
        self.marks.clear()
        self.log.clear()
        self.heard.clear()
        await self.host.send_text("tell me a story")
        return await self.wait("start_tts", START_DEADLINE_S)


async def barge_in(trials: int, delay_s: float, gain: float, echo_gate: bool = True,
                   noise_dbfs: float | None = None
                   ) -> tuple[list[tuple[int, dict[str, float]]], dict[str, int]]:
    """(clip, stage times in ms) of ``trials`` valid trials, and the count of discarded
    ones. Stages: ``vad`` onset -> the VAD's first speech frame (SpeechOnsetDetected,
    or SpeechStarted), ``engine``
    -> ``pause_tts`` reached the speaker, ``speaker`` -> its last audible block ended;
    ``total`` onset -> playback silent."""
    clips = voices()
    rng = np.random.default_rng(7)
    results: list[tuple[int, dict[str, float]]] = []
    discarded = {"no reply": 0, "reply silent at onset": 0,
                 "paused by the echo before the clip": 0,
                 "paused on the clip's lead-in (breath, hiss)": 0, "not stopped": 0}
    attempt = 0
    async with Bench(echo_gate=echo_gate, noise_dbfs=noise_dbfs) as b:
        b.room.delay, b.room.gain = round(delay_s * RATE), gain
        while len(results) < trials and attempt < trials * 2:
            attempt += 1
            if not await b.start_reply():
                discarded["no reply"] += 1
                continue
            await asyncio.sleep(0.8 + 1.7 * rng.random())
            clip, clip_onset = clips[attempt % len(clips)]
            at = b.room.now() + RATE // 20
            onset = b.room.t0 + (at + clip_onset) / RATE
            b.room.say(clip, at)
            stopped = await b.wait("pause_tts", 5)
            await asyncio.sleep(0.3)
            if not stopped:
                discarded["not stopped"] += 1
            elif b.marks["pause_tts"] < b.room.t0 + at / RATE:
                discarded["paused by the echo before the clip"] += 1
            elif b.marks["pause_tts"] < onset:
                discarded["paused on the clip's lead-in (breath, hiss)"] += 1
            elif not any(onset - 0.1 <= t <= onset + 0.02 for t in b.room.audible):
                discarded["reply silent at onset"] += 1  # a pause between sentences
            else:
                last = max(t for t in b.room.audible if t <= b.marks["pause_tts"] + 0.5)
                started = b.marks.get("speech", b.marks["pause_tts"])
                results.append((attempt % len(clips), {
                    "vad": (started - onset) * 1000,
                    "engine": (b.marks["pause_tts"] - started) * 1000,
                    "speaker": (last - b.marks["pause_tts"]) * 1000,
                    "total": max(0.0, last - onset) * 1000}))
            await asyncio.sleep(3.5)  # the clip ends
            await b.settle()
    return results, discarded


async def false_interruptions(trials: int, rooms: list[tuple[float, float]],
                              echo_gate: bool, noise_dbfs: float | None = None
                              ) -> list[tuple[float, float, int, int, int, float]]:
    """Per room: (delay s, gain, replies paused at all, replies started, replies that did
    not play out within FINISH_DEADLINE_S (held paused or cancelled), longest pause ms)."""
    rows = []
    async with Bench(echo_gate=echo_gate, noise_dbfs=noise_dbfs) as b:
        for delay_s, gain in rooms:
            b.room.delay, b.room.gain = round(delay_s * RATE), gain
            false = done = unfinished = 0
            longest = 0.0
            for _ in range(trials):
                if not await b.start_reply():
                    continue
                finished = await b.wait("tts_finished", FINISH_DEADLINE_S)
                await b.speaker.wait_idle(10)
                await asyncio.sleep(0.6)  # the echo tail
                done += 1
                unfinished += not finished
                false += "pause_tts" in b.marks
                longest = max(longest, b.paused_seconds() * 1000)
                await b.settle()
            rows.append((delay_s, gain, false, done, unfinished, longest))
    return rows


# Spelled so that each synthesiser says them: Piper reads "Mm-hmm" as "in a month";
# espeak-ng can say neither "mm-hmm" nor "uh-huh" ("uh-uh", "and then I can").
BACKCHANNELS = {"piper": ["Mm hm.", "Yeah.", "Okay.", "Right.", "Uh-huh."],
                "espeak": ["Mhm.", "Yeah.", "Okay.", "Right.", "Yep."]}


def backchannel_clips() -> list[tuple[str, np.ndarray]]:
    """The backchannels in the Piper voice (two speeds and pitches) and, with espeak-ng,
    two espeak-ng voices (float32, 48 kHz, 0.1 s of silence in front)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from speech_clips import espeak_voice, have_espeak, piper_voice

    voices = [piper_voice(1.0), piper_voice(0.85, pitch=1.2)]
    if have_espeak():
        voices += [espeak_voice("en-us", 160), espeak_voice("en-gb", 175)]
    clips = []
    for voice in voices:
        for word in BACKCHANNELS["piper" if voice.name.startswith("piper") else "espeak"]:
            pcm = voice.say(word).astype(np.float32) / 32768.0
            clip = np.concatenate([np.zeros(1600, np.float32), pcm])
            clips.append((f"{voice.name}: {word}",
                          soxr.resample(clip, 16000, RATE).astype(np.float32)))
    return clips


async def backchannel_trials(trials: int, seed: int = 11) -> list[tuple[str, str, float]]:
    """(clip, outcome, pause ms) per trial: a backchannel said 0.8 - 2.5 s into the story
    (room: 60 ms, gain 0.5, the echo gate on, the real recogniser); outcome ``resumed``
    (the reply went on), ``cancelled`` (stop_tts) or ``untouched`` (never paused)."""
    clips = backchannel_clips()
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, float]] = []
    async with Bench(echo_gate=True, real_asr=True) as b:
        b.room.delay, b.room.gain = round(0.06 * RATE), 0.5
        for trial in range(trials):
            if not await b.start_reply():
                continue
            await asyncio.sleep(0.8 + 1.7 * rng.random())
            name, clip = clips[trial % len(clips)]
            b.room.say(clip, b.room.now() + RATE // 20)
            await asyncio.sleep(clip.size / RATE + 2.5)
            actions = [a for a, _ in b.log]
            outcome = "cancelled" if "stop_tts" in actions else (
                "resumed" if "pause_tts" in actions else "untouched")
            rows.append((name, outcome, b.paused_seconds() * 1000))
            heard = [t for t in b.heard if "story" not in t.lower()]
            print(f"  {name:<34} {outcome:<10} paused {rows[-1][2]:5.0f} ms  heard "
                  f"{heard!r}", flush=True)
            await b.settle()
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
    parser.add_argument("--only-floor", action="store_true",
                        help="run (a0) alone (implies --floor)")
    parser.add_argument("--headset", action="store_true",
                        help="add (a1): no echo, through the gate (a headset)")
    parser.add_argument("--skip-false", action="store_true", help="skip (b)")
    parser.add_argument("--backchannels", type=int, default=20,
                        help="(c) backchannel trials (0: skip)")
    parser.add_argument("--only-backchannels", action="store_true", help="run (c) alone")
    parser.add_argument("--seed", type=int, default=11,
                        help="(c): the seed of the moments the backchannels are said at")
    parser.add_argument("--noise-dbfs", type=float, default=None,
                        help="the microphone's own noise (white, dBFS); default: none")
    parser.add_argument("--noise-kind", choices=("white", "fan", "babble"), default="white",
                        help="what --noise-dbfs adds: white, a fan, or four other voices")
    parser.add_argument("--rnnoise", action="store_true",
                        help="RNNoise noise suppression after the echo gate")
    args = parser.parse_args()
    global NOISE_SUPPRESSION, NOISE_KIND
    NOISE_SUPPRESSION, NOISE_KIND = args.rnnoise, args.noise_kind

    runs = [("(a) barge-in: speech onset -> playback silent (room: 60 ms, gain 0.5, "
             "played reference)", 0.5, True)]
    if args.only_floor or args.only_backchannels:
        runs = []
    if args.floor or args.only_floor:
        runs.append(("(a0) the floor: the same without echo and without the gate", 0.0,
                     False))
    if args.headset:
        runs.append(("(a1) a headset: the same without echo, through the gate", 0.0, True))
    for title, gain, gate in runs:
        results, discarded = await barge_in(args.trials, 0.06, gain, echo_gate=gate,
                                            noise_dbfs=args.noise_dbfs)
        latencies = [ms["total"] for _, ms in results]
        print(f"\n{title}")
        print(f"{'trials':>6} {'median ms':>10} {'p90 ms':>8} {'min':>6} {'max':>6}  "
              "target 150")
        if latencies:
            print(f"{len(latencies):6d} {statistics.median(latencies):10.0f} "
                  f"{pct(latencies, 0.9):8.0f} {min(latencies):6.0f} {max(latencies):6.0f}")
        if results:
            print("  median per stage (ms): " + ", ".join(
                f"{stage} {statistics.median(ms[stage] for _, ms in results):.0f}"
                for stage in ("vad", "engine", "speaker")))
        per_clip = {c: [round(ms["total"]) for k, ms in results if k == c]
                    for c in sorted({k for k, _ in results})}
        print("  per clip (ms): " + "; ".join(f"{c}: {v}" for c, v in per_clip.items()))
        print("  discarded trials: " + ", ".join(f"{k} {v}" for k, v in discarded.items()))

    if args.backchannels:
        print("\n(c) backchannels during the reply (room: 60 ms, gain 0.5, echo gate, "
              "faster-whisper): target <= 1 in 20 cancels the reply")
        rows_c = await backchannel_trials(args.backchannels, args.seed)
        cancelled = sum(o == "cancelled" for _, o, _ in rows_c)
        pauses = [ms for _, o, ms in rows_c if o == "resumed"]
        print(f"  cancelled {cancelled}/{len(rows_c)}; resumed "
              f"{sum(o == 'resumed' for _, o, _ in rows_c)}; never paused "
              f"{sum(o == 'untouched' for _, o, _ in rows_c)}"
              + (f"; pause median {statistics.median(pauses):.0f} ms, longest "
                 f"{max(pauses):.0f} ms" if pauses else ""))
    if args.skip_false or args.only_backchannels:
        return
    print("\n(b) false interruptions by the reply's own echo (target 0)")
    print(f"{'gate':>5} {'delay ms':>8} {'gain':>5} {'false':>6} {'trials':>6} "
          f"{'unfinished':>10} {'longest pause ms':>16}")
    rows = [("on", r) for r in await false_interruptions(args.echo_trials, ROOMS, True,
                                                          args.noise_dbfs)]
    if args.no_gate_control:
        rows += [("off", r) for r in await false_interruptions(1, ROOMS, False,
                                                               args.noise_dbfs)]
    for gate, (delay_s, gain, false, done, unfinished, longest) in rows:
        print(f"{gate:>5} {delay_s * 1000:8.0f} {gain:5.1f} {false:6d} {done:6d} "
              f"{unfinished:10d} {longest:16.0f}")


if __name__ == "__main__":
    asyncio.run(main())
