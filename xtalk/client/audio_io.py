"""Client-side audio: the uplink (any rate → 16 kHz PCM16 frames) and WAV files."""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from xtalk.audio.pcm import INPUT_SAMPLE_RATE, StreamResampler, float_to_int16, to_mono_float32

FRAME_SAMPLES = 512  # 32 ms at 16 kHz, what the server expects


class AudioFileError(Exception):
    """A WAV file could not be read or written (the message says why)."""


class AudioUplink:
    """Turns captured blocks at the source's native rate into 512-sample PCM16 frames at
    16 kHz, resampled once (:class:`~xtalk.audio.pcm.StreamResampler`, no seams between
    blocks).

    Args:
        source_rate: Sample rate of the blocks given to :meth:`feed`.
        send_frame: Called with every complete frame (1,024 bytes, PCM16 LE).
    """

    def __init__(self, source_rate: int, send_frame: Callable[[bytes], None]) -> None:
        self.source_rate = int(source_rate)
        self._resampler = StreamResampler(self.source_rate, INPUT_SAMPLE_RATE)
        self._send = send_frame
        self._pending = np.zeros(0, dtype=np.float32)
        self.frames_sent = 0

    def feed(self, block: np.ndarray, last: bool = False) -> None:
        """Add a block: ``(frames,)`` or ``(frames, channels)``, int or float samples."""
        mono = np.ascontiguousarray(to_mono_float32(block), dtype=np.float32)
        out = np.asarray(self._resampler.process(mono, last=last), dtype=np.float32)
        if out.size:
            self._pending = np.concatenate([self._pending, out])
        full = self._pending.size // FRAME_SAMPLES * FRAME_SAMPLES
        if not full:
            return
        pcm = float_to_int16(self._pending[:full]).astype("<i2")
        self._pending = self._pending[full:]
        for start in range(0, full, FRAME_SAMPLES):
            self._send(pcm[start:start + FRAME_SAMPLES].tobytes())
            self.frames_sent += 1


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read an audio file: ``(samples (frames, channels), sample_rate)``.

    PCM WAV (8/16/24/32-bit) is read with the ``wave`` module; anything else (float WAV,
    FLAC, ...) with ``soundfile`` when it is installed.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file")
    try:
        with wave.open(str(path), "rb") as wav:
            channels = wav.getnchannels()
            width = wav.getsampwidth()
            rate = wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        return _read_with_soundfile(path, exc)
    if width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    elif width == 3:
        bytes3 = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        samples = (bytes3[:, 0] << 8) | (bytes3[:, 1] << 16) | (bytes3[:, 2] << 24)
    elif width == 4:
        samples = np.frombuffer(raw, dtype="<i4").astype(np.int32)
    else:
        raise AudioFileError(f"{path}: unsupported sample width {width} bytes")
    if rate <= 0 or channels <= 0:
        raise AudioFileError(f"{path}: invalid WAV header")
    return samples.reshape(-1, channels), rate


def _read_with_soundfile(path: Path, wave_error: BaseException) -> tuple[np.ndarray, int]:
    try:
        import soundfile
    except ImportError as exc:
        raise AudioFileError(f"{path}: not a PCM WAV file ({wave_error}); install soundfile "
                             "to read other formats") from exc
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises its own error types
        raise AudioFileError(f"{path}: cannot read audio ({exc})") from exc
    return data, int(rate)


def write_wav(path: str | Path, pcm: np.ndarray, sample_rate: int) -> None:
    """Write PCM16 mono ``pcm`` as a WAV file."""
    path = Path(path)
    try:
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(int(sample_rate))
            wav.writeframes(np.asarray(pcm, dtype=np.int16).astype("<i2").tobytes())
    except OSError as exc:
        raise AudioFileError(f"{path}: cannot write ({exc.strerror or exc})") from exc
