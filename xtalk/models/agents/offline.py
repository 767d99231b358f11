"""Offline agent: what the assistant says when no language model is reachable.

It answers time and date questions, greetings and "help" / "what can you do", and for
anything else says plainly that no language model is connected and how to connect one.
Replies are short speakable sentences, streamed word by word.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from xtalk.models.agents.builtin_tools import spoken_date, spoken_time
from xtalk.models.agents.rules import _last_user_text, split_pieces
from xtalk.models.interfaces import Agent, AgentOutput, TextDelta

NOT_CONNECTED = (
    "I'm not connected to a language model, so I can only tell you the time and date. "
    "To connect one, set the OPENAI_API_KEY environment variable, or run Ollama, "
    "llama.cpp or LM Studio on this computer, or set the model endpoint in the settings."
)
HELP = (
    "Right now I can tell you the time and the date. "
    "For real conversations, connect a language model: set OPENAI_API_KEY, "
    "or run Ollama, llama.cpp or LM Studio locally, or set the endpoint in the settings."
)
GREETING = "Hello! I'm running without a language model, but I can tell you the time."

_TIME = re.compile(r"\b(what time|the time|time is it|current time|clock)\b", re.I)
_DATE = re.compile(
    r"\b(date|what day|which day|what's today|what is today|day is it|what month|what year)\b",
    re.I)
_HELP = re.compile(r"\b(help|what can you do|what do you do|how do i|commands?)\b", re.I)
_GREETING = re.compile(
    r"^\W*(hello|hi|hey|good (morning|afternoon|evening)|greetings|howdy)\b", re.I)


def offline_reply(text: str, now: _dt.datetime | None = None) -> str:
    """The offline agent's reply to ``text``."""
    now = now or _dt.datetime.now()
    wants_time, wants_date = bool(_TIME.search(text)), bool(_DATE.search(text))
    if wants_time and wants_date:
        return f"It's {spoken_time(now)} on {spoken_date(now)}."
    if wants_time:
        return f"It's {spoken_time(now)}."
    if wants_date:
        return f"Today is {spoken_date(now)}."
    if _HELP.search(text):
        return HELP
    if _GREETING.search(text):
        return GREETING
    return NOT_CONNECTED


class OfflineAgent(Agent):
    """Replies without a language model (see the module docstring).

    Args:
        token_delay_s: Sleep between streamed word pieces (0: none).
    """

    connected = False

    def __init__(self, token_delay_s: float = 0.0) -> None:
        self.token_delay_s = float(token_delay_s)
        self._tools: list[Any] = []

    def add_tools(self, tools: Sequence[Any]) -> None:
        """Accepted (and kept, for a later connected agent) but never called."""
        self._tools.extend(tools)

    @property
    def tools(self) -> list[Any]:
        return list(self._tools)

    def clone(self) -> OfflineAgent:
        other = OfflineAgent(self.token_delay_s)
        other._tools = list(self._tools)
        return other

    def describe_endpoint(self) -> str:
        return "offline (no language model connected)"

    async def astream(self, messages: list[dict[str, Any]]) -> AsyncIterator[AgentOutput]:
        """Stream the reply to the last user message as word pieces."""
        for i, piece in enumerate(split_pieces(offline_reply(_last_user_text(messages)))):
            if i and self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)
            yield TextDelta(piece)


__all__ = ["GREETING", "HELP", "NOT_CONNECTED", "OfflineAgent", "offline_reply"]
