"""Rewrite captions with a LangChain chat model."""

from __future__ import annotations

from typing import Any

from xtalk.models.interfaces import Rewriter

PROMPT = ("Rewrite this description of a sound as one short, natural sentence a voice "
          "assistant could say. Reply with the sentence only.\n\n{text}")


class ChatModelRewriter(Rewriter):
    """Uses any chat model with ``invoke`` (e.g. ``ChatOpenAI``)."""

    def __init__(self, chat_model: Any, prompt: str = PROMPT) -> None:
        self.chat_model = chat_model
        self.prompt = prompt

    def rewrite(self, text: str) -> str:
        result = self.chat_model.invoke(self.prompt.format(text=text))
        content = getattr(result, "content", result)
        return str(content).strip() or text
