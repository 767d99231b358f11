"""Voice activity detection backends.

Classes are imported lazily on first access (``xtalk.models.vad.ClassName``), so a backend
with heavy dependencies is imported only when a configuration asks for it.
"""

from xtalk.models._lazy import lazy_exports

#: Class name -> module that defines it.
_BACKENDS: dict[str, str] = {
    "EnergyVAD": "xtalk.models.vad.energy",
    "SileroVAD": "xtalk.models.vad.silero",
}

__all__ = list(_BACKENDS)
__getattr__, __dir__ = lazy_exports(__name__, _BACKENDS)
