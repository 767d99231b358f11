"""Lazy class registries for the model packages.

Each capability package (``xtalk.models.asr``, ``.tts`` ...) maps class names to the
module defining them and imports a backend only when a configuration asks for it, so a
backend with heavy dependencies costs nothing until it is used::

    _BACKENDS = {"PiperTTS": "xtalk.models.tts.piper"}
    __all__ = list(_BACKENDS)
    __getattr__, __dir__ = lazy_exports(__name__, _BACKENDS)
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, backends: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` resolving ``backends`` on demand."""

    def __getattr__(name: str) -> Any:
        module_name = backends.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(backends))

    return __getattr__, __dir__
