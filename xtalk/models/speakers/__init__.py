"""Speaker encoders (speaker embeddings)."""

from __future__ import annotations

import importlib
from typing import Any

_BACKENDS: dict[str, str] = {}

__all__ = list(_BACKENDS)


def __getattr__(name: str) -> Any:
    module = _BACKENDS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
