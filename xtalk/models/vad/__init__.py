"""Voice activity detection backends.

Classes are imported lazily on first access (``xtalk.models.vad.ClassName``), so a backend
with heavy dependencies is imported only when a configuration asks for it.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Class name -> module that defines it.
_BACKENDS: dict[str, str] = {
    "EnergyVAD": "xtalk.models.vad.energy",
    "SileroVAD": "xtalk.models.vad.silero",
}

__all__ = list(_BACKENDS)


def __getattr__(name: str) -> Any:
    module_name = _BACKENDS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_BACKENDS))
