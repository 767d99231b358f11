"""Build ``ChatOpenAI`` models for any OpenAI-compatible endpoint."""

from __future__ import annotations

import os
from typing import Any


def make_chat_openai(*, model: str, base_url: str = "", api_key: str = "",
                     extra_body: dict | None = None, max_tokens: int | None = None,
                     timeout_s: float = 30.0, **kwargs: Any) -> Any:
    """A streaming ``ChatOpenAI``. An empty ``api_key`` falls back to ``OPENAI_API_KEY``
    (and to a placeholder for local servers that need none); ``max_tokens`` is sent as
    such because llama.cpp-based servers ignore ``max_completion_tokens``."""
    try:
        from langchain_openai import ChatOpenAI
    except ModuleNotFoundError as exc:  # pragma: no cover - a core dependency
        raise RuntimeError("langchain-openai is not installed: pip install langchain-openai"
                           ) from exc
    key = api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
    options: dict[str, Any] = {"model": model, "api_key": key, "streaming": True,
                               "timeout": timeout_s, "max_retries": 1, **kwargs}
    if base_url:
        options["base_url"] = base_url
    if extra_body:
        options["extra_body"] = dict(extra_body)
    if max_tokens is not None:
        options["max_tokens"] = max_tokens
    return ChatOpenAI(**options)
