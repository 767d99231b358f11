"""IndexTTS / IndexTTS2 over HTTP: the index-tts vLLM servers as Xtalk TTS models.

Both servers take ``POST <base_url>/tts_url`` with a JSON body and answer a WAV file:

* IndexTTS (default port 11996): ``{"text": str, "audio_paths": [reference path]}``;
* IndexTTS2 (default port 6006): ``{"text", "spk_audio_path", "emo_control_method"
  (0 none, 2 vector, 3 text), "emo_vec": [8 floats], "emo_text"}``.

Reference paths are paths **on the server**. Voices are configured as
``[{"name": "alice", "path": "/srv/voices/alice.wav"}, ...]``; a ``path`` may be a folder
whose files ``<name>_<emotion>.wav`` are per-emotion references (``alice_happy.wav``,
``alice_neutral.wav``...). The adapter lists such a folder when it can see it (same machine
or a shared mount); otherwise give the emotions in the entry:
``{"name": "alice", "path": "/srv/voices/alice", "emotions": ["neutral", "happy"]}``.

Text is made speakable (English, see :mod:`xtalk.models.tts.speakable`; turn it off with
``speakable=False`` for other languages) and sent as one request: the engine already hands a
TTS one clause at a time, and only genuinely long text is cut into clauses by the engine's
clause splitter (:mod:`xtalk.models.tts.remote`). Audio is resampled with soxr to the
declared :attr:`sample_rate`. The servers have no speed control: :meth:`set_speed`
time-stretches the received audio with the WSOLA speed controller (pitch unchanged).

:meth:`synthesize` (the engine's interface, run in a worker thread) uses a pooled
``httpx.Client``; :meth:`asynthesize` does the same with ``httpx.AsyncClient`` for asyncio
callers. Every failure raises :class:`~xtalk.models.remote_audio.RemoteModelError` with a
message naming the server and the cause; the model stays usable for the next request.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from xtalk.models.interfaces import UnsupportedFeatureError
from xtalk.models.remote_audio import check_url
from xtalk.models.tts.remote import RemoteTTS

_AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".opus")

#: IndexTTS2's emotion vector order, with the names Xtalk uses for each dimension.
EMOTION_DIMENSIONS: tuple[str, ...] = (
    "happy", "angry", "sad", "afraid", "disgusted", "melancholic", "surprised", "calm",
)
NEUTRAL = "neutral"
_SYNONYMS = {
    "joy": "happy", "joyful": "happy", "glad": "happy", "cheerful": "happy",
    "anger": "angry", "mad": "angry", "sadness": "sad", "unhappy": "sad",
    "fear": "afraid", "fearful": "afraid", "scared": "afraid", "disgust": "disgusted",
    "low": "melancholic", "melancholy": "melancholic", "depressed": "melancholic",
    "surprise": "surprised", "astonished": "surprised", "relaxed": "calm",
    "none": NEUTRAL, "default": NEUTRAL, "normal": NEUTRAL,
}


def canonical_emotion(name: str) -> str:
    """Lower-case emotion name with common synonyms mapped to Xtalk's names
    (``"joy"`` → ``"happy"``, ``"fear"`` → ``"afraid"``, ``"low"`` → ``"melancholic"``...)."""
    key = "_".join(str(name).strip().lower().split())
    return _SYNONYMS.get(key, key)


# --------------------------------------------------------------------------- voices
@dataclass(frozen=True)
class RemoteVoice:
    """A configured voice: a reference file, or per-emotion references of a folder."""

    name: str
    path: str
    references: dict[str, str] = field(default_factory=dict)  # emotion -> server path

    @property
    def emotions(self) -> list[str]:
        return list(self.references)

    @property
    def default_emotion(self) -> str | None:
        if not self.references:
            return None
        return NEUTRAL if NEUTRAL in self.references else next(iter(self.references))

    def reference(self, emotion: str | None) -> str:
        """The server path of the reference recording for ``emotion``."""
        if not self.references:
            return self.path
        key = emotion if emotion in self.references else self.default_emotion
        return self.references[key]  # type: ignore[index]


def _join_server_path(folder: str, name: str) -> str:
    separator = "\\" if "\\" in folder and "/" not in folder else "/"
    return folder.rstrip("/\\") + separator + name


def parse_voices(voices: Any, service: str) -> list[RemoteVoice]:
    """Validate ``[{"name", "path"(, "emotions")}]`` into :class:`RemoteVoice` objects.

    Raises:
        ValueError: A malformed entry, a duplicate name, or a folder whose emotions are
            unknown (not visible here and no ``emotions`` list given).
    """
    if not isinstance(voices, list | tuple) or not voices:
        raise ValueError(f'{service} needs voices: a list of {{"name": ..., "path": ...}} '
                         "entries (paths to reference recordings on the server)")
    parsed: list[RemoteVoice] = []
    for index, entry in enumerate(voices):
        if not isinstance(entry, dict):
            raise ValueError(f'{service} voice #{index + 1} must be {{"name", "path"}}, '
                             f"got {entry!r}")
        unknown = set(entry) - {"name", "path", "emotions"}
        if unknown:
            raise ValueError(f"{service} voice #{index + 1} has unknown keys {sorted(unknown)} "
                             '(allowed: "name", "path", "emotions")')
        name, path = entry.get("name"), entry.get("path")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f'{service} voice #{index + 1} needs a non-empty "name"')
        if not isinstance(path, str) or not path.strip():
            raise ValueError(f'{service} voice {name!r} needs a "path" (a reference file or '
                             "a folder of <name>_<emotion>.wav files on the server)")
        name, path = name.strip(), path.strip()
        if any(v.name == name for v in parsed):
            raise ValueError(f"{service} has two voices named {name!r}")
        parsed.append(RemoteVoice(name, path, _references(name, path, entry.get("emotions"),
                                                          service)))
    return parsed


def _references(name: str, path: str, emotions: Any, service: str) -> dict[str, str]:
    if emotions is not None:
        if not isinstance(emotions, list | tuple) or not emotions or not all(
                isinstance(e, str) and e.strip() for e in emotions):
            raise ValueError(f'{service} voice {name!r}: "emotions" must be a non-empty list '
                             "of emotion names")
        return {canonical_emotion(e): _join_server_path(path, f"{name}_{e.strip()}.wav")
                for e in emotions}
    if os.path.isdir(path):
        prefix = f"{name}_".lower()
        found = {}
        for file in sorted(os.listdir(path)):
            stem, ext = os.path.splitext(file)
            if ext.lower() == ".wav" and stem.lower().startswith(prefix) \
                    and len(stem) > len(prefix):
                found[canonical_emotion(stem[len(prefix):])] = os.path.join(path, file)
        if not found:
            raise ValueError(f"{service} voice {name!r}: folder {path} has no "
                             f"{name}_<emotion>.wav reference files")
        return found
    if path.lower().endswith(_AUDIO_SUFFIXES):
        return {}
    raise ValueError(
        f"{service} voice {name!r}: {path} is not an audio file and is not a folder visible "
        f'here; for a folder on the server list its emotions: "emotions": ["neutral", ...]')


# --------------------------------------------------------------------------- base
class _IndexTTSBase(RemoteTTS):
    """What both index-tts adapters share: the URL and the configured voices (HTTP, WAV,
    resampling and WSOLA speed come from :class:`~xtalk.models.tts.remote.RemoteTTS`)."""

    service = "IndexTTS"
    default_port = 11996
    endpoint = "/tts_url"

    def __init__(
        self,
        voices: list[dict[str, Any]],
        voice: str | None = None,
        base_url: str | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        sample_rate: int = 24000,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        speakable: bool = True,
    ) -> None:
        if base_url is None:
            port = self.default_port if port is None else port
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                raise ValueError(f"{self.service}: port must be 1..65535, got {port!r}")
            base_url = f"http://{host}:{port}"
        self.base_url = check_url(base_url, f"{self.service} base_url")
        super().__init__(self.base_url + self.endpoint, sample_rate, timeout_s,
                         connect_timeout_s, speakable)
        self._voices = parse_voices(voices, self.service)
        self._voice = self._voices[0]
        if voice is not None:
            self._voice = self._find_voice(voice)

    # ------------------------------------------------------------------ voices
    @property
    def voices(self) -> list[str]:
        return [v.name for v in self._voices]

    @property
    def voice(self) -> str:
        return self._voice.name

    def _find_voice(self, name: str) -> RemoteVoice:
        for candidate in self._voices:
            if isinstance(name, str) and candidate.name == name.strip():
                return candidate
        raise ValueError(f"unknown {self.service} voice {name!r}; available voices: "
                         f"{', '.join(self.voices)}")

    def set_voice(self, name: str) -> None:
        """Switch to the configured voice ``name``.

        Raises:
            ValueError: No voice has that name (the message lists the voices).
        """
        self._voice = self._find_voice(name)


# --------------------------------------------------------------------------- IndexTTS
class IndexTTS(_IndexTTSBase):
    """IndexTTS server (``POST /tts_url`` with ``{"text", "audio_paths"}``, WAV answer).

    Emotions are per-voice reference recordings: a voice whose path is a folder of
    ``<name>_<emotion>.wav`` files can :meth:`set_emotion` to any of them.

    Args:
        voices: ``[{"name", "path"(, "emotions")}]``; paths are on the server (see the
            module docstring). The first voice is the default.
        voice: The initial voice name (default: the first).
        base_url: ``http://host:port`` of the server (default ``http://host:port``).
        host: Server host when ``base_url`` is not given.
        port: Server port when ``base_url`` is not given (default 11996).
        sample_rate: Output rate (Hz) the received audio is resampled to.
        timeout_s: Seconds to wait for each answer (synthesis of one clause).
        connect_timeout_s: Seconds to wait for the connection.
        speakable: Rewrite Markdown/numbers into speakable English first.

    Raises:
        ValueError: A bad URL, rate, timeout or voice list.
    """

    def __init__(self, voices: list[dict[str, Any]], voice: str | None = None,
                 base_url: str | None = None, host: str = "127.0.0.1", port: int | None = None,
                 sample_rate: int = 24000, timeout_s: float = 60.0,
                 connect_timeout_s: float = 5.0, speakable: bool = True) -> None:
        super().__init__(voices, voice, base_url, host, port, sample_rate, timeout_s,
                         connect_timeout_s, speakable)
        self._emotion = self._voice.default_emotion

    @property
    def emotions(self) -> list[str]:
        """Emotions of the current voice (its ``<name>_<emotion>.wav`` references)."""
        return self._voice.emotions

    @property
    def emotion(self) -> str | None:
        return self._emotion

    def set_voice(self, name: str) -> None:
        """Switch voice; the current emotion is kept when the new voice has it."""
        voice = self._find_voice(name)
        self._voice = voice
        if self._emotion not in voice.references:
            self._emotion = voice.default_emotion

    def set_emotion(self, name: str, vector: Sequence[float] | None = None) -> None:
        """Use the current voice's reference recording for emotion ``name``.

        Raises:
            UnsupportedFeatureError: An emotion vector was given (that needs IndexTTS2), the
                voice has no per-emotion references, or none for ``name``.
        """
        if vector is not None:
            raise UnsupportedFeatureError(
                "IndexTTS picks emotions by reference recording and cannot follow an "
                "emotion vector (IndexTTS2 can)")
        if not self._voice.references:
            raise UnsupportedFeatureError(
                f"IndexTTS voice {self.voice!r} has a single reference recording and no "
                f"emotions (a folder of {self.voice}_<emotion>.wav files gives them)")
        key = canonical_emotion(name)
        if key not in self._voice.references:
            raise UnsupportedFeatureError(
                f"IndexTTS voice {self.voice!r} has no {name!r} reference; its emotions: "
                f"{', '.join(self.emotions)}")
        self._emotion = key

    def _payload(self, text: str) -> dict[str, Any]:
        return {"text": text, "audio_paths": [self._voice.reference(self._emotion)]}


# --------------------------------------------------------------------------- IndexTTS2
class IndexTTS2(_IndexTTSBase):
    """IndexTTS2 server: voice cloning with emotion control by vector or by text.

    Emotions: ``"neutral"`` (no control, method 0) and the eight dimensions of IndexTTS2's
    emotion vector — happy, angry, sad, afraid, disgusted, melancholic, surprised, calm —
    sent as method 2 with that dimension at ``emo_strength`` (synonyms such as "joy",
    "fear", "surprise" are understood). :meth:`set_emotion` with a ``vector`` of 8 floats
    (0..1, in that order) sends it as is. With ``emo_control_method=3`` emotions are sent
    as text (``emo_text``), so any description ("tired but happy") is accepted.

    Args:
        voices: ``[{"name", "path"}]``: speaker reference recordings on the server (a folder
            voice uses its neutral reference as the speaker).
        voice: The initial voice name (default: the first).
        base_url: ``http://host:port`` of the server.
        host: Server host when ``base_url`` is not given.
        port: Server port when ``base_url`` is not given (default 6006).
        sample_rate: Output rate (Hz) the received audio is resampled to.
        emo_control_method: Initial emotion control: 0 none, 2 vector, 3 text.
        emo_vec: Initial emotion vector (8 floats) for method 2.
        emo_text: Initial emotion text for method 3 (and the mode named emotions use).
        emo_strength: Weight of a named emotion's dimension (0..1).
        timeout_s: Seconds to wait for each answer.
        connect_timeout_s: Seconds to wait for the connection.
        speakable: Rewrite Markdown/numbers into speakable English first.

    Raises:
        ValueError: A bad URL, rate, timeout, voice list or emotion setting.
    """

    service = "IndexTTS2"
    default_port = 6006

    def __init__(self, voices: list[dict[str, Any]], voice: str | None = None,
                 base_url: str | None = None, host: str = "127.0.0.1", port: int | None = None,
                 sample_rate: int = 24000, emo_control_method: int = 0,
                 emo_vec: Sequence[float] | None = None, emo_text: str | None = None,
                 emo_strength: float = 0.8, timeout_s: float = 60.0,
                 connect_timeout_s: float = 5.0, speakable: bool = True) -> None:
        super().__init__(voices, voice, base_url, host, port, sample_rate, timeout_s,
                         connect_timeout_s, speakable)
        if isinstance(emo_strength, bool) or not isinstance(emo_strength, int | float) \
                or not 0 < emo_strength <= 1:
            raise ValueError(f"emo_strength must be in (0, 1], got {emo_strength!r}")
        self.emo_strength = float(emo_strength)
        if emo_control_method not in (0, 2, 3) or isinstance(emo_control_method, bool):
            raise ValueError(f"emo_control_method must be 0 (none), 2 (vector) or 3 (text), "
                             f"got {emo_control_method!r}")
        self._text_mode = emo_control_method == 3
        self._method = 0
        self._vec = [0.0] * 8
        self._text = ""
        self._emotion = NEUTRAL
        if emo_control_method == 2:
            if emo_vec is None:
                raise ValueError("emo_control_method 2 needs emo_vec (8 floats)")
            self._method, self._vec, self._emotion = 2, _check_vector(emo_vec), "custom"
        elif emo_control_method == 3:
            if not isinstance(emo_text, str) or not emo_text.strip():
                raise ValueError("emo_control_method 3 needs emo_text (an emotion description)")
            self._method, self._text, self._emotion = 3, emo_text.strip(), emo_text.strip()
        elif emo_vec is not None or emo_text:
            raise ValueError("emo_vec / emo_text are used only with emo_control_method 2 / 3")

    @property
    def emotions(self) -> list[str]:
        return [NEUTRAL, *EMOTION_DIMENSIONS]

    @property
    def emotion(self) -> str:
        return self._emotion

    @property
    def emotion_control(self) -> dict[str, Any]:
        """The emotion fields sent with each request."""
        return {"emo_control_method": self._method, "emo_vec": list(self._vec),
                "emo_text": self._text}

    def set_emotion(self, name: str, vector: Sequence[float] | None = None) -> None:
        """Set the emotion by name, by vector (8 floats 0..1) or, in text mode, by text.

        Raises:
            ValueError: A malformed vector.
            UnsupportedFeatureError: An unknown emotion name (vector mode).
        """
        label = str(name).strip() if name is not None else ""
        if vector is not None:
            self._method, self._vec, self._text = 2, _check_vector(vector), ""
            self._emotion = label or "custom"
            return
        key = canonical_emotion(label)
        if not label or key == NEUTRAL:
            self._method, self._vec, self._text, self._emotion = 0, [0.0] * 8, "", NEUTRAL
        elif self._text_mode:
            self._method, self._vec, self._text, self._emotion = 3, [0.0] * 8, label, label
        elif key in EMOTION_DIMENSIONS:
            vec = [0.0] * 8
            vec[EMOTION_DIMENSIONS.index(key)] = self.emo_strength
            self._method, self._vec, self._text, self._emotion = 2, vec, "", key
        else:
            raise UnsupportedFeatureError(
                f"IndexTTS2 has no emotion {name!r}; its emotions: {', '.join(self.emotions)} "
                "(or give an 8-value emotion vector)")

    def _payload(self, text: str) -> dict[str, Any]:
        return {"text": text, "spk_audio_path": self._voice.reference(None),
                **self.emotion_control}


def _check_vector(vector: Any) -> list[float]:
    try:
        values = [float(v) for v in vector]
    except (TypeError, ValueError):
        raise ValueError(f"an emotion vector must be 8 numbers, got {vector!r}") from None
    if len(values) != 8 or any(isinstance(v, bool) for v in vector) or not all(
            math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
        raise ValueError(f"an emotion vector must be 8 numbers between 0 and 1 "
                         f"({', '.join(EMOTION_DIMENSIONS)}), got {vector!r}")
    return values


__all__ = ["EMOTION_DIMENSIONS", "IndexTTS", "IndexTTS2", "RemoteVoice", "canonical_emotion",
           "parse_voices"]
