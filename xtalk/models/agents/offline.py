"""Offline agent: what the assistant says when no language model is reachable.

It answers time and date questions, greetings, thanks, short acknowledgements ("yes",
"no", "stop") and "help" / "what can you do"; with a memory book it keeps "remember
(that) …", answers "what do you remember" and "forget …", and answers from a remembered
fact that shares the question's words; with a retriever it answers from the best excerpt
of the user's documents ("From your notes: …"). For anything else it says plainly that no
language model is connected and how to connect one — in full the first time in a
conversation, briefly afterwards (hearing the same 15-second explanation after every
question is tiresome). Replies are short speakable sentences, streamed word by word; they
name the key as "OpenAI API key" (Piper reads "OPENAI_API_KEY" as gibberish).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from xtalk.models.agents.builtin_tools import spoken_date, spoken_time
from xtalk.models.agents.offline_knowledge import knowledge_reply
from xtalk.models.agents.rules import _last_user_text, split_pieces
from xtalk.models.interfaces import Agent, AgentOutput, MemoryBook, Retriever, TextDelta

NOT_CONNECTED = (
    "I'm not connected to a language model, so I can only tell you the time and date. "
    "To connect one, set the OpenAI API key environment variable, or run Ollama, "
    "llama.cpp or LM Studio on this computer, or set the model endpoint in the settings."
)
NOT_CONNECTED_AGAIN = (
    "Sorry, I can't answer that without a language model. Say help to hear how to connect one."
)
HELP = (
    "Right now I can tell you the time and the date. "
    "For real conversations, connect a language model: set the OpenAI API key, "
    "or run Ollama, llama.cpp or LM Studio locally, or set the endpoint in the settings."
)
GREETING = "Hello! I'm running without a language model, but I can tell you the time."
THANKS = "You're welcome."
ACKNOWLEDGED = "Okay."
GOODBYE = "Goodbye!"

_TIME = re.compile(r"\b(what time|the time|time is it|current time|clock)\b", re.I)
_DATE = re.compile(
    r"\b(date|what day|which day|what's today|what is today|day is it|what month|what year)\b",
    re.I)
_HELP = re.compile(r"\b(help|what can you do|what do you do|how do i|commands?)\b", re.I)
_GREETING = re.compile(
    r"^\W*(hello|hi|hey|good (morning|afternoon|evening)|greetings|howdy)\b", re.I)
_THANKS = re.compile(r"^\W*(thanks?( you)?|thank you( very much| so much)?|cheers)\W*$", re.I)
_ACKNOWLEDGEMENT = re.compile(
    r"^\W*(yes|yeah|yep|no|nope|ok(ay)?|sure|right|fine|got it|alright|all right|stop|"
    r"cancel|never ?mind|wait|quiet|enough|that's (all|it|enough))\W*$", re.I)
_GOODBYE = re.compile(r"^\W*((good)?bye|see you|good ?night)\b", re.I)


def offline_reply(text: str, now: _dt.datetime | None = None,
                  explained: bool = False) -> str:
    """The offline agent's reply to ``text``.

    Args:
        text: What the user said.
        now: The local time (default: now).
        explained: The conversation already told the user that no model is connected.
    """
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
    if _THANKS.search(text):
        return THANKS
    if _GOODBYE.search(text):
        return GOODBYE
    if _ACKNOWLEDGEMENT.search(text):
        return ACKNOWLEDGED
    return NOT_CONNECTED_AGAIN if explained else NOT_CONNECTED


def _explained(messages: list[dict[str, Any]]) -> bool:
    """Whether an earlier reply of the conversation said no model is connected."""
    for message in messages:
        if isinstance(message, Mapping):
            role, content = message.get("role"), message.get("content")
        else:  # LangChain message objects
            role, content = getattr(message, "type", None), getattr(message, "content", None)
        if role in ("assistant", "ai") and "language model" in str(content or ""):
            return True
    return False


class OfflineAgent(Agent):
    """Replies without a language model (see the module docstring).

    Args:
        token_delay_s: Sleep between streamed word pieces (0: none).
    """

    connected = False

    def __init__(self, token_delay_s: float = 0.0) -> None:
        self.token_delay_s = float(token_delay_s)
        self._tools: list[Any] = []
        self._retriever: Retriever | None = None
        self._memory: MemoryBook | None = None

    def set_retriever(self, search: Retriever | None) -> None:
        self._retriever = search

    def set_memory(self, book: MemoryBook | None) -> None:
        self._memory = book

    def add_tools(self, tools: Sequence[Any]) -> None:
        """Accepted (and kept, for a later connected agent) but never called."""
        self._tools.extend(tools)

    @property
    def tools(self) -> list[Any]:
        return list(self._tools)

    def clone(self) -> OfflineAgent:
        other = OfflineAgent(self.token_delay_s)
        other._tools = list(self._tools)
        other._retriever, other._memory = self._retriever, self._memory
        return other

    def describe_endpoint(self) -> str:
        return "offline (no language model connected)"

    async def astream(self, messages: list[dict[str, Any]]) -> AsyncIterator[AgentOutput]:
        """Stream the reply to the last user message as word pieces."""
        text = _last_user_text(messages)
        reply = await knowledge_reply(text, self._memory, self._retriever,
                                      answers_otherwise=offline_reply(text) != NOT_CONNECTED)
        reply = reply or offline_reply(text, explained=_explained(messages))
        for i, piece in enumerate(split_pieces(reply)):
            if i and self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)
            yield TextDelta(piece)


__all__ = ["ACKNOWLEDGED", "GOODBYE", "GREETING", "HELP", "NOT_CONNECTED",
           "NOT_CONNECTED_AGAIN", "THANKS", "OfflineAgent", "offline_reply"]
