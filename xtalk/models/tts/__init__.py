"""Text-to-speech backends.

Classes are imported lazily on first access (``xtalk.models.tts.ClassName``), so a backend
with heavy dependencies is imported only when a configuration asks for it.
"""

from xtalk.models._lazy import lazy_exports

#: Class name -> module that defines it.
_BACKENDS: dict[str, str] = {
    "ToneCodeTTS": "xtalk.models.tts.testing",
    "PiperTTS": "xtalk.models.tts.piper",
    "IndexTTS": "xtalk.models.tts.indextts",
    "IndexTTS2": "xtalk.models.tts.indextts",
    "OpenAISpeechTTS": "xtalk.models.tts.openai_speech",
}
#: Short names accepted in configs and by ``DefaultPipeline.set_tts_model``.
_ALIASES: dict[str, str] = {"Piper": "PiperTTS"}

__all__ = list(_BACKENDS)
_resolve, _dir = lazy_exports(__name__, _BACKENDS)


def __getattr__(name: str) -> object:
    return _resolve(_ALIASES.get(name, name))


def __dir__() -> list[str]:
    return sorted(set(_dir()) | set(_ALIASES))
