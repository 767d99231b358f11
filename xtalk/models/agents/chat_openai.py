"""Build ``ChatOpenAI`` models for any OpenAI-compatible endpoint."""

from __future__ import annotations

import functools
import os
import re
from typing import Any

#: Models that require ``max_completion_tokens`` (OpenAI reasoning models).
_NEEDS_MAX_COMPLETION_TOKENS = re.compile(r"^(o\d|gpt-5)", re.IGNORECASE)


@functools.cache
def chat_openai_class() -> type:
    """``ChatOpenAI`` that sends the token limit as ``max_tokens``.

    ``langchain-openai`` renames ``max_tokens`` to ``max_completion_tokens``, which
    llama.cpp-based servers (and older OpenAI-compatible servers) ignore; this subclass sends
    ``max_tokens`` again, except to OpenAI reasoning models that require the new name.
    """
    try:
        from langchain_openai import ChatOpenAI
    except ModuleNotFoundError as exc:  # pragma: no cover - a core dependency
        raise RuntimeError("langchain-openai is not installed: pip install langchain-openai"
                           ) from exc

    class XtalkChatOpenAI(ChatOpenAI):
        """``ChatOpenAI`` sending ``max_tokens`` (see :func:`chat_openai_class`)."""

        def _get_request_payload(self, input_: Any, *, stop: list[str] | None = None,
                                 **kwargs: Any) -> dict:
            payload = super()._get_request_payload(input_, stop=stop, **kwargs)
            if ("max_completion_tokens" in payload
                    and not _NEEDS_MAX_COMPLETION_TOKENS.match(self.model_name or "")):
                payload["max_tokens"] = payload.pop("max_completion_tokens")
            return payload

    return XtalkChatOpenAI


def make_chat_openai(*, model: str, base_url: str = "", api_key: str = "",
                     extra_body: dict | None = None, max_tokens: int | None = None,
                     timeout_s: float = 30.0, max_retries: int = 1, **kwargs: Any) -> Any:
    """A streaming ``ChatOpenAI``. An empty ``api_key`` falls back to ``OPENAI_API_KEY``
    (and to a placeholder for local servers that need none); ``max_tokens`` (also when given
    per call) is sent as such because llama.cpp-based servers ignore
    ``max_completion_tokens``."""
    key = api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
    options: dict[str, Any] = {"model": model, "api_key": key, "streaming": True,
                               "timeout": timeout_s, "max_retries": max_retries, **kwargs}
    if base_url:
        options["base_url"] = base_url
    if extra_body:
        options["extra_body"] = dict(extra_body)
    if max_tokens is not None:
        options["max_tokens"] = max_tokens
    return chat_openai_class()(**options)
