"""Speech recognition backends.

Classes are imported lazily on first access (``xtalk.models.asr.ClassName``), so a backend
with heavy dependencies is imported only when a configuration asks for it.
"""

from xtalk.models._lazy import lazy_exports

#: Class name -> module that defines it.
_BACKENDS: dict[str, str] = {
    "ToneCodeASR": "xtalk.models.asr.testing",
    "FasterWhisperASR": "xtalk.models.asr.faster_whisper",
    "OpenAITranscriptionASR": "xtalk.models.asr.openai_transcription",
}

__all__ = list(_BACKENDS)
__getattr__, __dir__ = lazy_exports(__name__, _BACKENDS)
