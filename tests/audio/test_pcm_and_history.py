import numpy as np
import pytest
import soxr

from xtalk.audio.history import AudioHistory
from xtalk.audio.pcm import (
    LowDelayResampler,
    StreamResampler,
    float_to_int16,
    resample_int16,
    to_mono_float32,
    trim_silence,
)


def test_history_slices_by_absolute_sample_and_forgets_old_audio():
    history = AudioHistory(max_seconds=1.0, sample_rate=100)
    for start in range(0, 300, 10):
        history.append(start, np.arange(start, start + 10, dtype=np.int16))
    assert history.end_sample == 300
    assert history.start_sample == 200
    assert list(history.slice(250, 255)) == [250, 251, 252, 253, 254]
    assert list(history.slice(0, 203)) == [200, 201, 202]  # older audio is gone


def test_history_fills_gaps_with_silence_and_ignores_overlap():
    history = AudioHistory(max_seconds=1.0, sample_rate=100)
    history.append(0, np.ones(10, dtype=np.int16))
    history.append(15, np.full(5, 2, dtype=np.int16))
    history.append(18, np.full(5, 3, dtype=np.int16))  # 18, 19 already there
    assert list(history.slice(8, 23)) == [1, 1, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 3, 3, 3]


def test_to_mono_float32_handles_int16_stereo_and_float():
    stereo = np.array([[32767, -32768], [0, 0]], dtype=np.int16)
    mono = to_mono_float32(stereo)
    assert mono.dtype == np.float32 and mono.shape == (2,)
    assert mono[0] == pytest.approx(0.0, abs=1e-4)
    with pytest.raises(ValueError):
        to_mono_float32(np.zeros((2, 2, 2)))


def test_resampling_keeps_duration_and_frequency():
    t = np.arange(24000) / 24000
    tone = float_to_int16(0.5 * np.sin(2 * np.pi * 1000 * t))
    out = resample_int16(tone, 24000, 48000)
    assert abs(out.size - 48000) <= 2
    spectrum = np.abs(np.fft.rfft(out.astype(np.float64)))
    assert abs(np.argmax(spectrum) * 48000 / out.size - 1000) < 5


def test_stream_resampler_has_no_seams():
    rate_in, rate_out = 44100, 16000
    t = np.arange(rate_in) / rate_in
    signal = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    stream = StreamResampler(rate_in, rate_out)
    blocks = [stream.process(signal[i:i + 441]) for i in range(0, rate_in, 441)]
    out = np.concatenate([*blocks, stream.process(np.zeros(0, np.float32), last=True)])
    reference = resample_int16(float_to_int16(signal), rate_in, rate_out) / 32768.0
    n = min(out.size, reference.size) - 200
    assert np.max(np.abs(out[200:n] - reference[200:n])) < 0.02


@pytest.mark.parametrize("rate_in", [48000, 44100, 22050])
def test_low_delay_resampler_keeps_pace_block_by_block(rate_in: int) -> None:
    """Every 20 ms block gives its 20 ms of output at once (after the filter's delay,
    taken off the first block), aligned with soxr's output; the band above the lower
    Nyquist frequency is removed, the speech band passes."""
    t = np.arange(rate_in * 2) / rate_in
    block = rate_in // 50

    def run(signal: np.ndarray) -> tuple[list[int], np.ndarray]:
        stream = LowDelayResampler(rate_in, 16000)
        parts = [stream.process(signal[i:i + block]) for i in range(0, signal.size, block)]
        return [p.size for p in parts], np.concatenate(parts)

    sizes, out = run((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))
    stream = LowDelayResampler(rate_in, 16000)
    assert sizes[0] == 320 - stream.lag and set(sizes[1:]) == {320}
    reference = soxr.resample((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32),
                              rate_in, 16000)
    assert np.max(np.abs(out[500:20000] - reference[500:20000])) < 0.08  # < 1/4 sample
    for freq, low, high in ((3000, -0.5, 0.5), (9000, -200, -55)):
        _, tone = run(np.sin(2 * np.pi * freq * t).astype(np.float32))
        level = 20 * np.log10(np.sqrt(np.mean(tone[1000:] ** 2)) / np.sqrt(0.5) + 1e-12)
        assert low < level < high, (freq, level)
    parts = [stream.process(np.ones(block, np.float32)) for _ in range(3)]
    total = sum(p.size for p in parts) + stream.process(np.zeros(0), last=True).size
    assert 960 <= total <= 963  # the flush hands out what the filter held back


def test_history_forgets_what_it_is_told_to_and_keeps_slicing() -> None:
    from xtalk.audio.history import AudioHistory

    history = AudioHistory(max_seconds=2.0, sample_rate=1000)  # 1 s chunks of 1000
    for start in range(0, 3000, 100):
        history.append(start, np.arange(start, start + 100, dtype=np.int16))
    assert history.start_sample == 1000 and history.end_sample == 3000  # the 2 s window
    assert np.array_equal(history.slice(950, 2550), np.arange(1000, 2550, dtype=np.int16))
    history.forget_before(2850)
    assert history.start_sample == 2000  # whole chunks go
    assert np.array_equal(history.slice(0, 5000), np.arange(2000, 3000, dtype=np.int16))
    assert history.slice(100, 200).size == 0
    history.append(3200, np.ones(50, dtype=np.int16))  # a gap is silence
    assert np.array_equal(history.slice(3000, 3250),
                          np.r_[np.zeros(200, np.int16), np.ones(50, np.int16)])
    history.forget_before(10_000)  # the newest chunk always stays
    assert history.end_sample == 3250 and history.slice(3000, 3250).size == 250


def test_trim_silence_keeps_the_sound_and_a_margin():
    rate = 16000
    tone = (np.sin(2 * np.pi * 220 * np.arange(rate // 4) / rate) * 8000).astype(np.int16)
    quiet = np.zeros(rate // 2, dtype=np.int16)
    pcm = np.concatenate([quiet, tone, quiet])
    trimmed = trim_silence(pcm, rate, lead_s=0.02, tail_s=0.08)
    assert trimmed.size == tone.size + int(0.02 * rate) + int(0.08 * rate)
    start = int(0.5 * rate) - int(0.02 * rate)
    assert np.array_equal(trimmed, pcm[start:start + trimmed.size])
    assert trim_silence(quiet, rate).size == 0
    assert np.array_equal(trim_silence(tone, rate), tone)  # nothing to trim
