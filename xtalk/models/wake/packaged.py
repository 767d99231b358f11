"""What the wake-word models that come in PyPI wheels share: importing their package with
a clear error, and checking the model a configuration names."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType


def require(package: str, model_class: str, pip_name: str) -> ModuleType:
    """Import ``package``, or say which pip package ``model_class`` needs."""
    try:
        return importlib.import_module(package)
    except ImportError as exc:  # pragma: no cover - declared dependencies
        raise RuntimeError(f"{model_class} needs the {pip_name} package "
                           f"(pip install {pip_name})") from exc


def check_model(family: str, model: str, model_path: str | None, builtin: Iterable[str],
                what: str = "model file") -> Path | None:
    """The user's model file (``None``: the built-in ``model``).

    Raises:
        ValueError: An unknown built-in name, or a file that is not there.
    """
    if model_path is None:
        if model not in builtin:
            raise ValueError(f"unknown {family} model {model!r}; built-in: "
                             f"{', '.join(sorted(builtin))} (or give model_path)")
        return None
    path = Path(model_path).expanduser()
    if not path.is_file():
        raise ValueError(f"no such wake-word {what}: {model_path}")
    return path


__all__ = ["check_model", "require"]
