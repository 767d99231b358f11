"""SileroVAD with the real model faster-whisper ships, on real speech (jfk.flac).

Note: jfk.flac is stored as 44.1 kHz stereo 24-bit; it is mixed to mono and resampled to
16 kHz here. The faster-whisper model (silero_vad_v6.onnx) takes ``input`` [frames, 576]
(64 context + 512 new samples) with the recurrent state split in ``h``/``c``; a bare 512-sample
input is rejected by onnxruntime, so "without context" is tested with zeros in the context
slot (what an adapter that forgot the context would feed).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from paths import JFK

from xtalk.models.interfaces import VAD
from xtalk.models.vad import silero
from xtalk.models.vad.silero import CONTEXT_SAMPLES, FRAME_SAMPLES, SileroVAD
from xtalk.registry import build_model
from xtalk.serving.managers.audio_in.vad_segmenter import SpeechSegmenter
from xtalk.serving.session_settings import VADSettings

sf = pytest.importorskip("soundfile")
soxr = pytest.importorskip("soxr")

SR = 16000


def _to_pcm16(audio: np.ndarray, rate: int) -> np.ndarray:
    """Float audio (samples[, channels]) → PCM16 mono 16 kHz."""
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    if rate != SR:
        mono = soxr.resample(mono, rate, SR)
    return np.round(np.clip(mono, -1.0, 1.0) * 32767).astype(np.int16)


def _frames(pcm: np.ndarray) -> list[np.ndarray]:
    n = pcm.size // FRAME_SAMPLES
    return [pcm[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES] for i in range(n)]


def _probabilities(vad: VAD, pcm: np.ndarray) -> np.ndarray:
    return np.array([vad.speech_probability(f) for f in _frames(pcm)])


def _energy_bounds(pcm: np.ndarray, below_peak_db: float = 14.0) -> tuple[float, float]:
    """(first, last) second where the 50 ms level is within ``below_peak_db`` of the peak."""
    win = SR // 20
    x = pcm[: pcm.size // win * win].astype(np.float64).reshape(-1, win) / 32768.0
    level = 20 * np.log10(np.sqrt((x * x).mean(axis=1)) + 1e-12)
    loud = np.flatnonzero(level >= level.max() - below_peak_db)
    return loud[0] * win / SR, (loud[-1] + 1) * win / SR


def _segments(probabilities: np.ndarray, settings: VADSettings) -> list[tuple[int, int | None]]:
    """Run the engine's segmenter; (start, end) samples, end None if still open."""
    segmenter = SpeechSegmenter(settings)
    segments: list[tuple[int, int | None]] = []
    start: int | None = None
    for i, p in enumerate(probabilities):
        decision = segmenter.process(i * FRAME_SAMPLES, FRAME_SAMPLES, float(p))
        if decision is None:
            continue
        if decision.kind == "start":
            start = decision.sample
        elif decision.kind == "end":
            assert start is not None
            segments.append((start, decision.sample))
            start = None
    if start is not None:
        segments.append((start, None))
    return segments


def _reference(session, pcm: np.ndarray, context: bool = True, carry: bool = True
               ) -> np.ndarray:
    """Probabilities from direct session calls (h/c model), for checking the adapter."""
    h = np.zeros((1, 1, 128), np.float32)
    c = np.zeros((1, 1, 128), np.float32)
    previous = np.zeros(CONTEXT_SAMPLES, np.float32)
    out = []
    for frame in _frames(pcm):
        x = frame.astype(np.float32) / 32768.0
        ctx = previous if context else np.zeros(CONTEXT_SAMPLES, np.float32)
        p, h2, c2 = session.run(None, {"input": np.concatenate([ctx, x])[None], "h": h, "c": c})
        if carry:
            h, c = h2, c2
        previous = x[-CONTEXT_SAMPLES:]
        out.append(float(np.asarray(p).reshape(-1)[0]))
    return np.array(out)


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    if not JFK.is_file():
        pytest.skip(f"speech sample missing: {JFK}")
    audio, rate = sf.read(JFK, dtype="float32")
    return _to_pcm16(audio, rate)


@pytest.fixture(scope="module")
def vad() -> SileroVAD:
    try:
        return SileroVAD()
    except RuntimeError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def jfk_probabilities(vad: SileroVAD, jfk: np.ndarray) -> np.ndarray:
    detector = vad.clone()
    return _probabilities(detector, jfk)


def _noise(dbfs: float, seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(int(seconds * SR)) * 10 ** (dbfs / 20) * 32768
    return np.clip(x, -32768, 32767).astype(np.int16)


# --------------------------------------------------------------------------- contract
def test_frame_contract(vad: SileroVAD) -> None:
    assert isinstance(vad, VAD)
    assert vad.frame_samples == 512
    assert vad.sample_rate == 16000


@pytest.mark.parametrize("shape", [(511,), (513,), (0,), (1024,), (1, 512)])
def test_wrong_frame_length_raises(vad: SileroVAD, shape: tuple[int, ...]) -> None:
    detector = vad.clone()
    with pytest.raises(ValueError, match="512"):
        detector.speech_probability(np.zeros(shape, np.int16))


def test_float_frame_rejected(vad: SileroVAD) -> None:
    with pytest.raises(TypeError, match="int16"):
        vad.clone().speech_probability(np.zeros(512, np.float32))


def test_registry_builds_it() -> None:
    try:
        model = build_model("vad", "SileroVAD")
    except RuntimeError as exc:
        pytest.skip(str(exc))
    assert isinstance(model, SileroVAD)
    with_params = build_model("vad", {"type": "SileroVAD", "params": {"threads": 1}})
    assert with_params._session is model._session


def test_session_shared_per_path_and_threads(vad: SileroVAD) -> None:
    clone = vad.clone()
    assert clone is not vad
    assert clone._session is vad._session
    assert SileroVAD()._session is vad._session
    two = SileroVAD(threads=2)
    assert two._session is not vad._session
    assert two._session.get_session_options().intra_op_num_threads == 2
    assert vad._session.get_session_options().intra_op_num_threads == 1
    assert vad._session.get_session_options().inter_op_num_threads == 1


def test_missing_model_file_is_explained(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RuntimeError) as info:
        SileroVAD(model_path=str(tmp_path / "nope.onnx"))
    assert "faster-whisper" in str(info.value) and "model_path" in str(info.value)
    monkeypatch.setattr(silero, "MODEL_FILENAME", "no_such_model.onnx")
    with pytest.raises(RuntimeError) as info:
        SileroVAD()
    assert "faster-whisper" in str(info.value) and "model_path" in str(info.value)


def test_bad_threads() -> None:
    with pytest.raises(ValueError):
        SileroVAD(threads=0)


def test_upstream_state_signature_is_fed(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A model_path with the upstream v5 signature (input/state/sr) gets the right feeds."""

    class Input:
        def __init__(self, name: str) -> None:
            self.name = name

    class FakeSession:
        def __init__(self) -> None:
            self.feeds: list[dict] = []

        def get_inputs(self):
            return [Input("input"), Input("state"), Input("sr")]

        def run(self, _outputs, feeds):
            self.feeds.append({k: np.array(v, copy=True) for k, v in feeds.items()})
            return [np.array([[0.25]], np.float32), feeds["state"] + 1]

    fake = FakeSession()
    model = tmp_path / "silero_vad.onnx"
    model.write_bytes(b"fake")
    monkeypatch.setattr(silero, "get_session", lambda path, threads: fake)
    detector = SileroVAD(model_path=str(model))
    first = np.arange(512, dtype=np.int16)
    assert detector.speech_probability(first) == 0.25
    detector.speech_probability(np.zeros(512, np.int16))
    f0, f1 = fake.feeds
    assert f0["input"].shape == (1, 576) and f0["input"].dtype == np.float32
    assert f0["sr"] == 16000 and f0["sr"].dtype == np.int64
    assert f0["state"].shape == (2, 1, 128) and not f0["state"].any()
    assert np.all(f1["state"] == 1)
    np.testing.assert_allclose(f1["input"][0, :64], first[-64:] / 32768.0)


# --------------------------------------------------------------------------- real speech
def test_jfk_speech_and_silences(jfk_probabilities: np.ndarray, jfk: np.ndarray) -> None:
    p = jfk_probabilities
    assert p.size == jfk.size // 512
    fraction = float((p > 0.5).mean())
    assert 0.4 <= fraction <= 0.95, fraction
    onset, end = _energy_bounds(jfk)
    first_speech, last_speech = int(onset * SR) // 512, int(end * SR) // 512
    # leading silence (before the energy onset) and the tail after the last word are low
    assert p[: max(1, first_speech - 1)].max() < 0.2
    assert np.median(p[last_speech + 5:]) < 0.2
    # most frames inside the three loud stretches of speech are speech
    inside = p[first_speech:last_speech]
    assert np.median(inside) > 0.5
    assert p.max() > 0.9


def test_digital_silence_is_low(vad: SileroVAD) -> None:
    p = _probabilities(vad.clone(), np.zeros(SR, np.int16))
    assert p.max() < 0.1, p.max()


def test_low_white_noise_is_mostly_not_speech(vad: SileroVAD) -> None:
    p = _probabilities(vad.clone(), _noise(-40.0, 3.0))
    assert (p < 0.5).mean() >= 0.9, p
    assert np.median(p) < 0.2


# --------------------------------------------------------------------------- context / state
def test_model_takes_context_plus_frame(vad: SileroVAD) -> None:
    shape = vad._session.get_inputs()[0].shape
    assert shape[-1] == CONTEXT_SAMPLES + FRAME_SAMPLES == 576
    names = {i.name for i in vad._session.get_inputs()}
    if names != {"input", "h", "c"}:
        pytest.skip(f"not the faster-whisper export: {sorted(names)}")
    h = np.zeros((1, 1, 128), np.float32)
    with pytest.raises(Exception, match="576"):  # a bare 512-sample frame is rejected
        vad._session.run(None, {"input": np.zeros((1, 512), np.float32), "h": h, "c": h})


def test_context_is_prepended(vad: SileroVAD, jfk: np.ndarray,
                              jfk_probabilities: np.ndarray) -> None:
    """The adapter equals direct calls with the true 64-sample context, and differs clearly
    from calls with no context (zeros in its place)."""
    if {i.name for i in vad._session.get_inputs()} != {"input", "h", "c"}:
        pytest.skip("reference loop written for the faster-whisper export")
    with_context = _reference(vad._session, jfk, context=True)
    without_context = _reference(vad._session, jfk, context=False)
    np.testing.assert_allclose(jfk_probabilities, with_context, atol=1e-5)
    gap = np.abs(jfk_probabilities - without_context)
    assert gap.mean() > 0.02 and gap.max() > 0.2, (gap.mean(), gap.max())


def test_matches_faster_whisper_batch_vad(jfk: np.ndarray,
                                          jfk_probabilities: np.ndarray) -> None:
    """Independent reference: faster-whisper's own (batched) Silero wrapper."""
    fw_vad = pytest.importorskip("faster_whisper.vad")
    model = fw_vad.SileroVADModel(str(silero.default_model_path()))
    n = jfk.size // 512 * 512
    # faster-whisper zeroes the last 64 samples of the final frame *in place* while building
    # the contexts: hand it one extra frame so every compared frame is intact
    audio = np.concatenate([jfk[:n], np.zeros(512, np.int16)]).astype(np.float32) / 32768.0
    batch = np.asarray(model(audio)).reshape(-1)[: n // 512]
    np.testing.assert_allclose(jfk_probabilities, batch, atol=1e-4)


def test_state_is_carried(vad: SileroVAD, jfk: np.ndarray,
                          jfk_probabilities: np.ndarray) -> None:
    """Without the carried recurrent state, far fewer speech frames are recognised."""
    if {i.name for i in vad._session.get_inputs()} != {"input", "h", "c"}:
        pytest.skip("reference loop written for the faster-whisper export")
    stateless = _reference(vad._session, jfk, carry=False)
    assert (stateless > 0.5).mean() < (jfk_probabilities > 0.5).mean() - 0.2


def test_clones_are_isolated(vad: SileroVAD, jfk: np.ndarray) -> None:
    other = np.concatenate([_noise(-30.0, 2.0, seed=3), jfk[::-1][: 3 * SR].copy()])
    n = min(jfk.size, other.size) // 512 * 512
    a_alone = _probabilities(vad.clone(), jfk[:n])
    b_alone = _probabilities(vad.clone(), other[:n])
    a, b = vad.clone(), vad.clone()
    a_mixed, b_mixed = [], []
    for fa, fb in zip(_frames(jfk[:n]), _frames(other[:n]), strict=True):
        a_mixed.append(a.speech_probability(fa))
        b_mixed.append(b.speech_probability(fb))
    np.testing.assert_allclose(a_mixed, a_alone, atol=1e-6)
    np.testing.assert_allclose(b_mixed, b_alone, atol=1e-6)
    assert not np.allclose(a_alone, b_alone, atol=0.05)


def test_reset_restores_initial_behaviour(vad: SileroVAD, jfk: np.ndarray,
                                          jfk_probabilities: np.ndarray) -> None:
    detector = vad.clone()
    _probabilities(detector, jfk[2 * SR: 5 * SR])  # dirty state and context
    detector.reset()
    np.testing.assert_allclose(_probabilities(detector, jfk), jfk_probabilities, atol=1e-6)


# --------------------------------------------------------------------------- with the segmenter
def test_segmenter_on_jfk(jfk: np.ndarray, jfk_probabilities: np.ndarray,
                          vad: SileroVAD) -> None:
    # one second of digital silence after the clip lets the segmenter close the last segment
    padded = np.concatenate([jfk, np.zeros(SR, np.int16)])
    probabilities = np.concatenate([
        jfk_probabilities, _probabilities(vad.clone(), padded)[jfk_probabilities.size:]])
    segments = _segments(probabilities, VADSettings(threshold=0.5, min_silence_s=0.4))
    onset, end = _energy_bounds(jfk)
    assert segments, "no speech segment"
    assert all(e is not None for _, e in segments), segments
    starts = [s / SR for s, _ in segments]
    assert any(abs(s - onset) <= 0.5 for s in starts), (starts, onset)
    final_end = segments[-1][1] / SR
    assert abs(final_end - end) <= 1.0, (final_end, end)
    assert 1 <= len(segments) <= 6, segments


def test_short_yes_gives_one_segment(vad: SileroVAD) -> None:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    wav = subprocess.run([espeak, "--stdout", "yes"], capture_output=True, check=True,
                         timeout=30).stdout
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    pcm = _to_pcm16(audio, rate)
    # keep only the spoken part (espeak adds silence after the word)
    level = np.abs(pcm.astype(np.int32))
    voiced = np.flatnonzero(level > 32768 * 10 ** (-40 / 20))
    word = pcm[voiced[0]:voiced[-1] + 1]
    assert 0.2 <= word.size / SR <= 0.45, word.size / SR
    clip = np.concatenate([np.zeros(SR // 2, np.int16), word, np.zeros(SR, np.int16)])
    segments = _segments(_probabilities(vad.clone(), clip), VADSettings())
    assert len(segments) == 1, segments
    start, end = segments[0]
    assert end is not None
    assert start / SR <= 0.5 + 0.05 and end / SR >= 0.5 + word.size / SR - 0.15


def test_a_voice_after_a_long_stretch_without_speech_is_heard_at_once() -> None:
    """Left running on noise alone, Silero's recurrent state drifts: after 30 s of
    -60 dBFS noise the phrase at 3.29 s of jfk.flac ("ask not ...") first scored above
    0.5 two seconds in. The detector resets its state after 4 s without speech."""
    audio, rate = sf.read(JFK, dtype="float32", always_2d=True)
    phrase = _to_pcm16(audio[round(3.29 * rate):round(5.5 * rate)].mean(axis=1), rate)
    noise = np.random.default_rng(0).normal(0, 32768 * 10 ** (-60 / 20), 30 * 16000)
    stream = np.concatenate([np.clip(noise, -32768, 32767).astype(np.int16)[
        :30 * 16000 // FRAME_SAMPLES * FRAME_SAMPLES], phrase])
    vad = SileroVAD()
    scores = [vad.speech_probability(stream[i:i + FRAME_SAMPLES])
              for i in range(0, stream.size - FRAME_SAMPLES + 1, FRAME_SAMPLES)]
    start = 30 * 16000 // FRAME_SAMPLES
    assert max(scores[:start]) < 0.5  # the noise is not speech, before or after resets
    first = next(i for i, p in enumerate(scores[start:]) if p >= 0.5)
    assert first <= 3, f"first speech frame {first * 32} ms into the phrase"
