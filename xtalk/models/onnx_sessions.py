"""Process-wide onnxruntime sessions, one per (model file, thread count).

Model weights are read-only, so every session clone of a model shares one
``InferenceSession`` (``run`` is thread-safe); per-session state lives in the model objects.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

_SESSIONS: dict[tuple[str, int], Any] = {}
_LOCK = threading.Lock()


def model_file(model_path: str | None, default: Callable[[], Path], what: str,
               shipped: str) -> Path:
    """``model_path`` when given (it must exist), else ``default()``.

    Raises:
        RuntimeError: the given file does not exist (the message names ``what`` and where
            the default comes from, ``shipped``), or ``default`` raised it.
    """
    if model_path is None:
        return default()
    path = Path(model_path).expanduser()
    if not path.is_file():
        raise RuntimeError(f"{what} model not found at {path}: pass model_path= an existing "
                           f"{what} ONNX file, or leave it unset to use {shipped}.")
    return path


def shared_session(model_path: str | Path, threads: int = 1) -> Any:
    """The ``InferenceSession`` for (``model_path``, ``threads``), created on first use.

    Raises:
        RuntimeError: onnxruntime is not installed.
    """
    key = (str(Path(model_path).expanduser().resolve()), int(threads))
    with _LOCK:
        session = _SESSIONS.get(key)
        if session is None:
            try:
                import onnxruntime
            except ImportError as exc:  # pragma: no cover - onnxruntime is a dependency
                raise RuntimeError("running ONNX models needs the onnxruntime package") \
                    from exc
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = key[1]
            options.inter_op_num_threads = 1
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3
            session = onnxruntime.InferenceSession(
                key[0], sess_options=options, providers=["CPUExecutionProvider"])
            _SESSIONS[key] = session
        return session


__all__ = ["model_file", "shared_session"]
