"""The double-talk detector beside AEC3, the comfort noise and the reference timeline's
clock (xtalk/models/enhancers/echo/):
the user's voice over the reply must reach the VAD at once, the reply's echo never."""

from __future__ import annotations

import numpy as np
import pytest
from echo_room import (
    SimClock,
    coloration,
    echo_of,
    human_voice,
    piper_reply,
    run_gate,
    speech_probabilities,
)

from xtalk.models.enhancers.echo import EchoGate, ReferenceTimeline, webrtc_available
from xtalk.models.enhancers.echo.comfort_noise import ComfortNoise
from xtalk.models.enhancers.echo.double_talk import (
    BLOCK,
    DELAY_QUALITY,
    DoubleTalkDetector,
    LinearEchoFilter,
    echo_delay,
)

ROOMS = [(0.02, 0.3), (0.06, 0.5), (0.15, 0.7), (0.25, 0.7)]
PEAK = int(np.argmax(np.abs(coloration())))  # the echo path's own delay (samples)


@pytest.fixture(scope="module")
def reply() -> np.ndarray:
    return piper_reply().astype(np.float64)


def _detect(mic: np.ndarray, reference: np.ndarray
            ) -> tuple[DoubleTalkDetector, np.ndarray, np.ndarray]:
    """The detector over the whole signal: (detector, residual, talking per block)."""
    detector = DoubleTalkDetector()
    residuals, talking = [], []
    for i in range(0, mic.size - BLOCK + 1, BLOCK):
        residual, talk = detector.process(mic[i:i + BLOCK] / 32768,
                                          reference[i:i + BLOCK] / 32768)
        residuals.append(np.zeros(BLOCK) if residual is None else residual * 32768)
        talking.append(talk)
    return detector, np.concatenate(residuals), np.array(talking)


@pytest.mark.parametrize(("delay_s", "gain"), ROOMS)
def test_the_echo_delay_is_found(reply: np.ndarray, delay_s: float, gain: float) -> None:
    mic = echo_of(reply, reply.size, delay_s, gain)
    end, window, longest = 3 * 16000, 8000, 8000
    delay, quality = echo_delay(mic[end - window:end], reply[end - window - longest:end],
                                longest)
    assert abs(delay - (round(delay_s * 16000) + PEAK)) <= 2
    assert quality > DELAY_QUALITY
    noise = np.random.default_rng(1).normal(0, 1000, window)
    assert echo_delay(noise, reply[end - window - longest:end], longest)[1] < DELAY_QUALITY


def test_the_linear_filter_learns_the_echo_path(reply: np.ndarray) -> None:
    lag = round(0.06 * 16000)
    mic = echo_of(reply, reply.size, 0.06, 0.5) / 32768
    reference = np.concatenate([np.zeros(lag - 64), reply])[:reply.size] / 32768
    linear = LinearEchoFilter()
    removed = []
    for i in range(0, reply.size - linear.n + 1, linear.n):
        residual = mic[i:i + linear.n] - linear.predict(reference[i:i + linear.n])
        linear.adapt(residual)
        if i > 2 * 16000 and np.mean(mic[i:i + linear.n] ** 2) > 1e-5:
            removed.append(10 * np.log10(np.mean(mic[i:i + linear.n] ** 2)
                                         / np.mean(residual ** 2)))
    assert np.median(removed) > 20, f"{np.median(removed):.1f} dB"


@pytest.mark.parametrize("speaker", ["linear", "clipping"])
@pytest.mark.parametrize(("delay_s", "gain"), ROOMS)
def test_the_echo_alone_is_never_taken_for_the_user(reply: np.ndarray, delay_s: float,
                                                    gain: float, speaker: str) -> None:
    played = reply if speaker == "linear" else np.tanh(reply / 32768 * 4) / 4 * 32768
    mic = echo_of(played, reply.size + 8000, delay_s, gain)
    mic += np.random.default_rng(2).normal(0, 3.0, mic.size)
    detector, _, talking = _detect(mic, np.concatenate([reply, np.zeros(8000)]))
    assert detector.trusted, f"the filter removes only {detector.erle_db:.1f} dB"
    assert not talking.any(), f"double talk at {np.flatnonzero(talking)[:5] / 100} s"


@pytest.mark.parametrize(("delay_s", "gain"), ROOMS[1:3])
def test_the_user_over_the_echo_is_detected_at_once_and_kept_whole(
        reply: np.ndarray, delay_s: float, gain: float) -> None:
    user = human_voice()
    onset = 3 * 16000
    mic = echo_of(reply, reply.size, delay_s, gain)
    mic[onset:onset + user.size] += user[:mic.size - onset]
    _, residual, talking = _detect(mic, reply)
    first = np.flatnonzero(talking)
    assert first.size and first[0] * BLOCK >= onset, "double talk before the user spoke"
    assert (first[0] + 1) * BLOCK - onset <= 0.1 * 16000, f"{first[0] / 100 - 3:.2f} s late"
    # The residual is the user, not a suppressed version of it.
    span = slice(onset, onset + 16000)
    assert np.sqrt(np.mean(residual[span] ** 2)) > 0.8 * np.sqrt(np.mean(user[:16000] ** 2))


@pytest.mark.skipif(not webrtc_available(), reason="pywebrtc-audio is not installed")
def test_through_the_gate_the_vad_hears_the_user_within_a_few_frames(
        reply: np.ndarray) -> None:
    """AEC3 alone suppressed the start of a user talking over the reply (offline: first
    speech frame a median 130 ms, p90 310 ms after the onset); with the detector the
    gate passes the linear residual from the first words."""
    user = human_voice()
    late = []
    for k, onset_s in enumerate([2.0, 3.1, 4.3, 5.6]):
        clock = SimClock()
        gate = EchoGate(backend="webrtc", clock=clock)
        onset = round(onset_s * 16000)
        mic = echo_of(reply, reply.size + 8000, 0.06, 0.5)
        mic[onset:onset + user.size] += user[:mic.size - onset]
        out = run_gate(gate, clock, mic, played=reply)
        speech = [i for i, p in enumerate(speech_probabilities(out)) if p > 0.5]
        assert speech and speech[0] * 512 >= onset, f"trial {k}: the echo was speech"
        late.append(((speech[0] + 1) * 512 - onset) / 16)
        assert gate.stats["double_talk"] > 0
    assert np.median(late) <= 100, late


def test_comfort_noise_fills_silence_to_the_background_and_no_further() -> None:
    comfort = ComfortNoise()
    silent = np.zeros(BLOCK, dtype=np.int16)
    assert np.array_equal(comfort.fill(silent), silent)  # nothing observed yet
    background = 10 ** (-55 / 20)
    rng = np.random.default_rng(3)
    for _ in range(30):
        comfort.observe(rng.normal(0, background, BLOCK))
    filled = comfort.fill(silent).astype(np.float64) / 32768
    assert abs(20 * np.log10(np.sqrt(np.mean(filled ** 2))) + 55) < 1.5
    loud = (rng.normal(0, 0.1, BLOCK) * 32768).astype(np.int16)
    assert np.array_equal(comfort.fill(loud), loud)
    for _ in range(30):
        comfort.observe(rng.normal(0, 0.3, BLOCK))  # never louder than -35 dBFS
    filled = comfort.fill(silent).astype(np.float64) / 32768
    assert 20 * np.log10(np.sqrt(np.mean(filled ** 2))) < -34


def test_the_reference_is_complete_when_speaker_and_microphone_run_out_of_phase() -> None:
    """The speaker reports 20 ms blocks, the microphone delivers 30.6 ms frames at
    another phase (as in real time): every reference sample is read once, none as the
    silence between the last report and the frame's end."""
    clock = SimClock()
    timeline = ReferenceTimeline(clock)
    tone = np.sin(np.arange(16000 * 3) * 0.05).astype(np.float32) * 0.5 + 0.6
    next_report, next_frame, played, frames = 0.0, 0.0123, 0, []
    while played < tone.size - 320:
        if next_report <= next_frame:
            clock.t = 100 + next_report
            timeline.add_played(tone[played:played + 320])
            played += 320
            next_report += 0.02
        else:
            clock.t = 100 + next_frame + 0.0005 * (len(frames) % 3)  # arrival jitter
            frames.append(timeline.read(490))
            next_frame += 490 / 16000
    read = np.concatenate(frames)
    inside = read[np.flatnonzero(read)[0]:np.flatnonzero(read)[-1]]
    assert np.count_nonzero(inside == 0) == 0


def test_the_microphone_anchor_holds_still_under_arrival_jitter() -> None:
    clock = SimClock()
    timeline = ReferenceTimeline(clock)
    rng = np.random.default_rng(4)
    anchors = []
    for k in range(16000 * 12 // 320):
        clock.t = 100 + (k + 1) * 0.02 + rng.uniform(0, 0.004)  # late by 0 - 4 ms
        timeline.read(320)
        anchors.append(timeline._anchor)
    settled = np.array(anchors[16000 * 5 // 320:])  # after the first window
    assert np.ptp(settled) * 16000 < 1.0  # not a sample of movement


def test_the_microphone_anchor_tells_when_it_jumps_and_holds_under_load() -> None:
    """While it settles (the first 4 s of the stream) the anchor jumps to every earlier
    arrival, and says so (the gate then makes the detector learn its path again: a
    reply that started at once was paused by its own echo after such a jump); after,
    seconds of uniformly late frames (a busy loop) barely move it and never jump it."""
    clock = SimClock()
    timeline = ReferenceTimeline(clock)
    moves, anchors = [], []
    for k in range(16000 * 20 // 320):
        late = 0.006 if k < 60 else 0.004 if 400 <= k < 800 else 0.0  # start-up, load
        clock.t = 100 + (k + 1) * 0.02 + late
        timeline.read(320)
        moves.append(timeline.take_moved())
        anchors.append(timeline._anchor)
    assert moves[60] and sum(moves) == 1  # the first on-time frame: a 6 ms jump, once
    assert not any(moves[250:])
    loaded = np.array(anchors[400:800])
    assert np.ptp(loaded) * 16000 < 2.0  # 8 s of 4 ms late frames: < 2 samples of drift


def test_realign_makes_the_detector_learn_its_path_again(reply: np.ndarray) -> None:
    mic = echo_of(reply, reply.size, 0.06, 0.5)
    detector, _, _ = _detect(mic[:4 * 16000], reply[:4 * 16000])
    assert detector.trusted
    detector.realign()
    assert not detector.trusted and not detector.talking and detector.learning


@pytest.mark.skipif(not webrtc_available(), reason="pywebrtc-audio is not installed")
@pytest.mark.parametrize(("first", "second"), [(0.25, 0.02), (0.02, 0.15)])
def test_a_reply_after_the_echo_path_changed_does_not_sound_like_the_user(
        reply: np.ndarray, first: float, second: float) -> None:
    """The laptop moved between two replies: AEC3 and the detector must both learn the
    new path while its echo already plays; meanwhile the detector, seeing the reply in
    the microphone, keeps AEC3's leaks from the VAD."""
    clock = SimClock()
    gate = EchoGate(backend="webrtc", clock=clock)
    pause = np.zeros(16000)
    for delay_s in (first, second):
        mic = echo_of(reply, reply.size + 16000, delay_s, 0.7)
        out = run_gate(gate, clock, mic, played=reply)
        run_gate(gate, clock, pause)  # the room goes quiet, the gate idle
        scores = speech_probabilities(out)
        assert max(scores) < 0.5, f"room {delay_s}: speech at {np.argmax(scores) * 0.032} s"


def test_a_filter_that_learnt_something_else_starts_again(reply: np.ndarray) -> None:
    """A loud user over a reply whose echo path had moved by 1 ms (15 samples, too little
    to restart the filter), before the filter was trusted again: the filter adapted to
    the voice and then added more echo than it removed (-8 dB, never recovering within
    4 s). A filter that is worse than none is thrown away: the next reply is trusted
    within a second."""
    detector = DoubleTalkDetector()

    def play(mic: np.ndarray) -> list[bool]:
        detector.restart()
        trusted = []
        for i in range(0, 4 * 16000, BLOCK):
            detector.process(mic[i:i + BLOCK] / 32768, reply[i:i + BLOCK] / 32768)
            trusted.append(detector.trusted)
        return trusted

    assert any(play(echo_of(reply, reply.size, 0.06, 0.5)))
    moved = echo_of(reply, reply.size, 0.06 + 15 / 16000, 0.5)
    with_user = moved.copy()
    user = human_voice()
    with_user[4000:4000 + user.size] += 2 * user[:with_user.size - 4000]
    play(with_user)
    trusted = play(moved)
    assert any(trusted[:100]), "not trusted within 1 s"
    assert np.mean(trusted) > 0.7


def test_a_path_that_is_never_learnt_does_not_keep_the_user_out(reply: np.ndarray) -> None:
    """The echo is clearly there but the filter never gets trusted (here: no delay is
    ever fixed): the detector vouches for echo only for at most 1.5 s, then AEC3's
    output carries the user again."""
    detector = DoubleTalkDetector()
    def echo_without_a_delay() -> None:
        detector._echo_seen = True

    detector._find_delay = echo_without_a_delay  # type: ignore[method-assign]
    vouched = []
    for i in range(0, 3 * 16000, BLOCK):
        detector.process(np.zeros(BLOCK), reply[i:i + BLOCK] / 32768)
        vouched.append(detector.echo_only)
    assert any(vouched[:10]) and not any(vouched[-100:])
    assert sum(vouched) <= 150


@pytest.mark.skipif(not webrtc_available(), reason="pywebrtc-audio is not installed")
def test_a_microphone_that_hears_no_speaker_passes_untouched(reply: np.ndarray) -> None:
    """A headset: nothing of the reply reaches the microphone. Once the reply has played
    loud over a quiet microphone, the user talking over it is heard at once and whole
    (before, AEC3 held a user 0.5 s into the first reply out for all of 3 s, and one 2 s
    in was heard 0.9 s late); an echo, once it appears, is cancelled again."""
    user = human_voice()
    for onset_s in (2.0, 4.0):
        clock = SimClock()
        gate = EchoGate(backend="webrtc", clock=clock)
        onset = round(onset_s * 16000)
        mic = np.zeros(reply.size + 8000)
        mic[onset:onset + user.size] += user[:mic.size - onset]
        out = run_gate(gate, clock, mic, played=reply)
        speech = [i for i, p in enumerate(speech_probabilities(out)) if p > 0.5]
        assert speech and (speech[0] + 1) * 512 - onset <= 0.1 * 16000, speech[:1]
        span = slice(onset + 400, onset + user.size)  # (the output lags by 18 ms)
        assert np.sqrt(np.mean(out[span] ** 2)) > 0.9 * np.sqrt(np.mean(user ** 2))
        assert gate.stats["uncoupled"] > 0
    # the speaker's sound comes back into the microphone (the headset unplugged)
    clock = SimClock()
    gate = EchoGate(backend="webrtc", clock=clock)
    half = reply.size // 2
    mic = echo_of(reply, reply.size + 8000, 0.06, 0.5)
    mic[:half] = 0
    out = run_gate(gate, clock, mic, played=reply)
    speech = [i * 512 / 16000 for i, p in enumerate(speech_probabilities(out)) if p > 0.5]
    echo_heard = [t for t in speech if t > half / 16000 + 0.3]
    assert not echo_heard, f"the echo was taken for speech at {echo_heard[:3]} s"
