"""The echo tests' room (tests/app/audio/test_echo.py,
tests/models/enhancers/echo/test_double_talk.py): a real Piper reply as the echo, a real
human voice as the user (../shared/data/speech/jfk.flac), a laptop-like echo path (300 Hz –
5 kHz band-pass, three reflections, a 50 ms diffuse tail), the Silero VAD as the judge, and
a simulated clock for the gate."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import soundfile as sf
import soxr
from paths import JFK

from xtalk.models.enhancers.echo import EchoGate
from xtalk.models.vad.silero import SileroVAD

STORY = ("Once upon a time there was a little robot who liked to talk. Every morning it "
         "walked to the market and told the people about the weather.")


@lru_cache(maxsize=1)
def piper_reply() -> np.ndarray:
    """The story as the default Piper voice says it (PCM16, 16 kHz), without Piper's
    random variation so that the tests are repeatable."""
    from xtalk.models.tts.piper import PiperTTS

    tts = PiperTTS(output_sample_rate=16000, noise_scale=0.0, noise_w=0.0)
    return np.concatenate(list(tts.synthesize(STORY)))


@lru_cache(maxsize=1)
def human_voice() -> np.ndarray:
    """3 s of a real human voice (float64 in int16 units, 16 kHz), from its first word."""
    x, rate = sf.read(JFK, dtype="float32")
    if x.ndim > 1:
        x = x.mean(axis=1)
    x = soxr.resample(x, rate, 16000).astype(np.float64) * 32768
    return x[int(0.3 * 16000):int(3.3 * 16000)]


def coloration(rate: int = 16000) -> np.ndarray:
    """Speaker + room impulse response (unit gain at the direct path)."""
    n = np.arange(-32, 33)

    def lowpass(cutoff: float) -> np.ndarray:
        h = np.sinc(2 * cutoff / 16000 * n) * np.hamming(n.size)
        return h / h.sum()

    room = np.zeros(800)  # 50 ms at 16 kHz
    room[[0, 48, 112, 200]] = [1.0, 0.45, -0.3, 0.2]
    rng = np.random.default_rng(0)
    room[240:] += rng.normal(0, 1, 560) * 0.05 * np.exp(-np.arange(560) / 160)
    h = np.convolve(lowpass(5000) - lowpass(300), room)
    return h if rate == 16000 else soxr.resample(h, 16000, rate) * 16000 / rate


def echo_of(reply: np.ndarray, total: int, delay_s: float, gain: float) -> np.ndarray:
    y = np.convolve(reply.astype(np.float64), coloration()) * gain
    out = np.zeros(total)
    start = round(delay_s * 16000)
    n = min(y.size, total - start)
    out[start:start + n] = y[:n]
    return out


def speech_probabilities(x: np.ndarray) -> list[float]:
    """The Silero VAD's (the engine's default) speech probability of each 32 ms frame."""
    vad = SileroVAD()
    return [vad.speech_probability(np.clip(x[i:i + 512], -32768, 32767).astype(np.int16))
            for i in range(0, x.size - 511, 512)]


def speech_starts(x: np.ndarray) -> list[float]:
    """Where the Silero VAD sees speech start: two frames of 32 ms above 0.5, as the
    engine's ``min_speech_s`` asks (seconds)."""
    starts, run = [], 0
    for k, p in enumerate(speech_probabilities(x)):
        run = run + 1 if p > 0.5 else 0
        if run == 2:
            starts.append((k - 1) * 512 / 16000)
    return starts


class SimClock:
    """Simulated time: the microphone and the speaker run exactly in real time."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def run_gate(gate: EchoGate, clock: SimClock, mic: np.ndarray,
         played: np.ndarray | None = None, size: int = 320) -> np.ndarray:
    """The microphone through the gate in ``size`` frames; ``played``: the speaker
    reports each block as it starts to play, the microphone frame captured meanwhile
    arrives when it ends."""
    out = []
    for i in range(0, mic.size, size):
        if played is not None and i < played.size:
            gate.note_played(played[i:i + size].astype(np.float32) / 32768, 16000)
        clock.t += size / 16000
        out.append(gate.enhance(np.clip(mic[i:i + size], -32768, 32767).astype(np.int16)))
    return np.concatenate(out).astype(np.float64)
