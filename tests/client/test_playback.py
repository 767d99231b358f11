"""Unit tests of the client's playback queue, sinks, uplink and helpers (no devices)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import wave

import numpy as np
import pytest
import soxr

from xtalk.client.audio_io import FRAME_SAMPLES, AudioUplink, read_wav, write_wav
from xtalk.client.playback import (
    ChunkPlayed,
    DeviceSink,
    PlaybackController,
    PlaybackFinished,
    PlaybackQueue,
    VirtualSink,
    dac_ahead,
)
from xtalk.client.session import close_error, login_url, redact, session_url
from xtalk.models import tone_code


def ramp(n: int, start: int = 0) -> np.ndarray:
    """Distinct float samples, so that order, loss and duplication are visible."""
    return (np.arange(start, start + n, dtype=np.float32) + 1) / 100000.0


def play_all(queue: PlaybackQueue, frames: int) -> tuple[np.ndarray, list]:
    """Render and confirm blocks until nothing is left to hand out."""
    audio, events = [], []
    while (block := queue.render(frames)) is not None:
        audio.append(block.audio)
        events += queue.played(block)
    return (np.concatenate(audio) if audio else np.zeros(0, np.float32)), events


# --------------------------------------------------------------------------- PlaybackQueue
def test_chunks_play_in_order_and_each_is_confirmed_once():
    q = PlaybackQueue()
    assert q.add(ramp(250), turn_id=1, chunk_index=0) == []
    q.add(ramp(100, 250), turn_id=1, chunk_index=1)
    audio, events = play_all(q, 64)
    np.testing.assert_array_equal(audio, ramp(350))
    assert events == [ChunkPlayed(1, 0), ChunkPlayed(1, 1)]
    assert q.dry


def test_a_short_last_block_is_padded_with_silence():
    q = PlaybackQueue()
    q.add(ramp(70), chunk_index=0)
    first = q.render(64)
    second = q.render(64)
    assert first.valid == 64 and second.valid == 6
    assert second.data.size == 64 and not second.data[6:].any()
    assert q.render(64) is None  # everything handed out, nothing confirmed yet
    assert not q.dry


def test_playback_finished_comes_once_when_the_queue_runs_dry_after_tts_finished():
    q = PlaybackQueue()
    q.add(ramp(100), chunk_index=0)
    assert q.tts_finished() == []  # audio still queued
    block = q.render(60)
    assert q.played(block) == []
    block = q.render(60)
    assert q.played(block) == [ChunkPlayed(None, 0), PlaybackFinished()]
    assert q.tts_finished() == [PlaybackFinished()]  # already dry: at once
    q.add(ramp(10), chunk_index=1)
    _, events = play_all(q, 64)
    assert events == [ChunkPlayed(None, 1)]  # no finish without a new tts_finished


def test_an_empty_reply_reports_finished_at_once():
    q = PlaybackQueue()
    assert q.tts_finished() == [PlaybackFinished()]


def test_pause_holds_the_queue_and_resume_continues_without_loss_or_repeat():
    q = PlaybackQueue()
    q.add(ramp(300), chunk_index=0)
    played = [q.render(50)]
    in_flight = [q.render(50), q.render(50)]  # handed to the device, not yet played
    q.played(played[0])
    q.pause()
    assert q.render(50) is None
    q.take_back(in_flight)
    assert not q.dry
    q.resume()
    audio, events = play_all(q, 50)
    np.testing.assert_array_equal(np.concatenate([played[0].audio, audio]), ramp(300))
    assert events == [ChunkPlayed(None, 0)]


def test_take_back_across_chunk_borders():
    q = PlaybackQueue()
    q.add(ramp(30), chunk_index=0)
    q.add(ramp(30, 30), chunk_index=1)
    q.add(ramp(30, 60), chunk_index=2)
    first = q.render(40)  # chunk 0 + part of chunk 1
    assert q.played(first) == [ChunkPlayed(None, 0)]
    taken = [q.render(40), q.render(40)]
    q.take_back(taken)
    audio, events = play_all(q, 25)
    np.testing.assert_array_equal(np.concatenate([first.audio, audio]), ramp(90))
    assert events == [ChunkPlayed(None, 1), ChunkPlayed(None, 2)]


def test_stop_drops_the_queue_and_late_confirmations_are_ignored():
    q = PlaybackQueue()
    q.add(ramp(200), turn_id=1, chunk_index=0)
    q.add(ramp(200), turn_id=1, chunk_index=1)
    in_flight = q.render(100)
    q.pause()
    assert q.stop() == []
    assert q.dry and not q.paused
    assert q.played(in_flight) == []  # the device played it after the stop: not reported
    assert q.tts_finished() == [PlaybackFinished()]
    q.start()
    q.add(ramp(10), turn_id=2, chunk_index=2)
    _, events = play_all(q, 64)
    assert events == [ChunkPlayed(2, 2)]


def test_stop_after_tts_finished_reports_the_drain():
    q = PlaybackQueue()
    q.add(ramp(100), chunk_index=0)
    q.tts_finished()
    assert q.stop() == [PlaybackFinished()]


def test_start_of_a_new_reply_clears_a_pause():
    q = PlaybackQueue()
    q.pause()
    q.start()
    q.add(ramp(10), chunk_index=0)
    assert q.render(10) is not None


def test_empty_chunks_are_confirmed_in_order():
    q = PlaybackQueue()
    q.add(ramp(10), chunk_index=0)
    q.add(np.zeros(0, np.float32), chunk_index=1)
    q.add(ramp(10), chunk_index=2)
    _, events = play_all(q, 64)
    assert events == [ChunkPlayed(None, 0), ChunkPlayed(None, 1), ChunkPlayed(None, 2)]


# --------------------------------------------------------------------------- controller
def test_controller_resamples_once_and_sends_the_protocol_messages():
    sent = []
    audio = []
    c = PlaybackController(sent.append, output_rate=16000,
                           on_audio=lambda block, _start: audio.append(block))
    pcm = tone_code.encode("hi", 48000)
    c.start()
    c.chunk(pcm, 48000, turn_id=1, chunk_index=7)
    c.tts_finished()
    while (block := c.render(320)) is not None:
        c.block_played(block)
    assert [m["action"] for m in sent] == ["tts_chunk_played", "tts_playback_finished"]
    assert sent[0]["data"] == {"chunk_index": 7}
    played = np.concatenate(audio)
    assert abs(played.size - pcm.size / 3) <= 2
    assert tone_code.decode((played * 32768).astype(np.int16), 16000)[0] == "hi"
    assert c.idle


def test_controller_takes_rate_from_the_first_chunk():
    c = PlaybackController(lambda m: None)
    c.chunk(np.zeros(100, np.int16), 24000)
    assert c.output_rate == 24000


async def test_device_sink_callback_only_hands_over_and_pause_loses_nothing():
    """The PortAudio callback runs on another thread; confirmations reach the loop through
    call_soon_threadsafe, and a pause takes back the prepared blocks."""
    loop = asyncio.get_running_loop()
    sent: list[dict] = []
    c = PlaybackController(sent.append, output_rate=8000)
    sink = DeviceSink(c, loop, block_frames=80, prefill=3)
    c.sink = sink
    c.chunk((ramp(800) * 32768).astype(np.int16), 8000, chunk_index=0)
    c.tts_finished()
    out: list[np.ndarray] = []

    def device(blocks: int) -> None:
        for _ in range(blocks):
            buf = np.full((80, 2), 9.0, np.float32)
            sink.callback(buf, 80, None, None)
            assert np.array_equal(buf[:, 0], buf[:, 1])
            out.append(buf[:, 0].copy())

    thread = threading.Thread(target=device, args=(3,))
    thread.start()
    thread.join()
    await asyncio.sleep(0.05)  # the confirmations arrive on the loop
    c.pause()
    assert sink.take_back() == []  # the pause took every prepared block back
    device(2)  # paused: silence
    assert not np.concatenate(out[3:]).any()
    c.resume()
    for _ in range(20):
        thread = threading.Thread(target=device, args=(1,))
        thread.start()
        thread.join()
        await asyncio.sleep(0.005)
    played = np.concatenate([b for b in out if b.any()])
    expected = (ramp(800) * 32768).astype(np.int16).astype(np.float32) / 32768
    np.testing.assert_array_equal(played[:800], expected)
    assert not played[800:].any()
    assert [m["action"] for m in sent] == ["tts_chunk_played", "tts_playback_finished"]


async def test_virtual_sink_plays_in_real_time_at_the_given_speed():
    audio: list[np.ndarray] = []
    c = PlaybackController(lambda m: None, output_rate=16000,
                           on_audio=lambda block, _start: audio.append(block))
    sink = VirtualSink(c, speed=4.0)
    c.sink = sink
    task = asyncio.create_task(sink.run())
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        c.chunk(np.ones(16000, np.int16), 16000, chunk_index=0)  # 1 s
        while not c.idle:
            await asyncio.sleep(0.01)
        elapsed = loop.time() - start
    finally:
        task.cancel()
    assert 0.2 <= elapsed < 1.0
    assert sum(a.size for a in audio) == 16000


async def test_virtual_sink_reports_each_block_ahead_with_when_it_sounds():
    """Like a sound card's callback: every block is reported with the moment it starts
    to sound, before that moment (the device's buffer), back to back while the loop
    keeps up; after the loop stalls (an underrun) the next block starts later, never in
    the past."""
    played: list[tuple[float, float, int]] = []  # (start, reported at, samples)
    # Blocks of 20 ms (the sink's period): 320 samples at 16 kHz.
    c = PlaybackController(lambda m: None, output_rate=16000, on_audio=lambda block, start:
                           played.append((start, time.monotonic(), block.size)))
    sink = VirtualSink(c, lead_s=0.005)
    c.sink = sink
    task = asyncio.create_task(sink.run())
    try:
        c.chunk(np.ones(8000, np.int16), 16000, chunk_index=0)  # 0.5 s
        await asyncio.sleep(0.2)
        time.sleep(0.1)  # the loop stalls
        while not c.idle:
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert sum(n for _, _, n in played) == 8000
    assert all(reported <= start + 0.002 for start, reported, _ in played)
    gaps = [b[0] - (a[0] + a[2] / 16000) for a, b in itertools.pairwise(played)]
    assert min(gaps) > -1e-9  # no block overlaps the one before
    assert sum(gap < 1e-6 for gap in gaps) >= len(gaps) - 3  # back to back but the stall
    assert max(gaps) > 0.05  # the stall: the device ran dry ...
    periods = [gap / 0.02 for gap in gaps]  # ... for whole periods, as a sound card does
    assert all(abs(p - round(p)) < 1e-6 for p in periods), periods


def test_dac_ahead_reads_portaudios_output_time() -> None:
    class TimeInfo:
        def __init__(self, dac: float, current: float) -> None:
            self.outputBufferDacTime, self.currentTime = dac, current

    assert dac_ahead(TimeInfo(10.025, 10.0)) == pytest.approx(0.025)
    assert dac_ahead(TimeInfo(0.0, 0.0)) == 0.0  # the host API does not tell
    assert dac_ahead(TimeInfo(9.0, 10.0)) == 0.0  # in the past: not believed
    assert dac_ahead(TimeInfo(50.0, 10.0)) == 0.0  # far ahead: not believed
    assert dac_ahead(None) == 0.0


# --------------------------------------------------------------------------- uplink / files
def test_uplink_resamples_once_to_512_sample_frames():
    frames: list[bytes] = []
    up = AudioUplink(44100, frames.append)
    speech = tone_code.encode("hello", 44100)
    stereo = np.stack([speech, speech], axis=1)
    padded = np.concatenate([np.zeros((4410, 2), np.int16), stereo,
                             np.zeros((8820, 2), np.int16)])
    for i in range(0, len(padded), 882):  # 20 ms blocks
        up.feed(padded[i:i + 882])
    assert all(len(f) == FRAME_SAMPLES * 2 for f in frames)
    pcm = np.frombuffer(b"".join(frames), dtype="<i2")
    assert abs(pcm.size - len(padded) * 16000 / 44100) < 2 * FRAME_SAMPLES
    assert tone_code.decode(pcm, 16000)[0] == "hello"


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_read_wav_sample_widths(tmp_path, width):
    x = np.sin(np.linspace(0, 20, 1000)) * 0.5
    if width == 1:
        raw = np.round(x * 127 + 128).astype(np.uint8).tobytes()
    elif width == 3:
        v = np.round(x * (2 ** 23 - 1)).astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]
        raw = v.tobytes()
    else:
        dtype = "<i2" if width == 2 else "<i4"
        raw = np.round(x * (2 ** (8 * width - 1) - 1)).astype(dtype).tobytes()
    path = tmp_path / "x.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(22050)
        w.writeframes(raw)
    samples, rate = read_wav(path)
    from xtalk.audio.pcm import to_mono_float32
    assert rate == 22050 and samples.shape == (1000, 1)
    np.testing.assert_allclose(to_mono_float32(samples), x, atol=0.01)


def test_write_wav_round_trip(tmp_path):
    pcm = soxr.resample(tone_code.encode("ok", 16000), 16000, 24000).astype(np.int16)
    write_wav(tmp_path / "o.wav", pcm, 24000)
    samples, rate = read_wav(tmp_path / "o.wav")
    assert rate == 24000
    np.testing.assert_array_equal(samples[:, 0], pcm)


# --------------------------------------------------------------------------- URLs / errors
def test_urls():
    assert login_url("ws://h:1/ws") == "http://h:1/api/auth/login"
    assert login_url("wss://h:1/app/ws") == "https://h:1/app/api/auth/login"
    url = session_url("ws://h:1/ws?x=1&token=old", "t o", "abc")
    assert url == "ws://h:1/ws?x=1&token=t+o&session_id=abc"
    assert redact(url) == "ws://h:1/ws"


def test_close_codes():
    assert close_error(4401, "").exit_code == 3
    assert close_error(4403, "").exit_code == 3
    assert "session" in str(close_error(4404, ""))
    assert close_error(1006, "").exit_code == 1
