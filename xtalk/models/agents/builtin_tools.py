"""Built-in LangChain tools of the default agent.

* ``get_current_time`` — local time and date as a speakable sentence.
* ``set_voice(voice)`` / ``set_speed(speed)`` — change the session's speech output. A tool
  cannot publish engine events, so it calls the agent's ``on_tool_action(action, args)``
  hook (``"set_voice", {"voice": str}`` / ``"set_speed", {"speed": float}``), which the
  engine sets per session; without a hook the tool answers that it cannot change it. The
  hook may be sync or async; returning a string replaces the tool's confirmation (e.g. an
  error listing the available voices); raising makes the tool report the failure.
* ``search_documents(query)`` — only when the agent has a retriever
  (``agent.set_retriever(fn)``, ``fn: async (query) -> list[str]``).
* ``remember(fact)`` / ``forget(about)`` — only when the agent has a memory book
  (``agent.set_memory(book)``): facts kept for the user across conversations.
"""

from __future__ import annotations

import datetime as _dt
import inspect
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool

from xtalk.models.interfaces import Retriever, ToolActionHandler

ToolActionCallback = ToolActionHandler

MIN_SPEED = 0.5
MAX_SPEED = 2.0
MAX_PASSAGES = 5

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def spoken_time(now: _dt.datetime | None = None) -> str:
    """``"3:05 PM"`` (locale-independent, speakable)."""
    now = now or _dt.datetime.now()
    hour = now.hour % 12 or 12
    return f"{hour}:{now.minute:02d} {'AM' if now.hour < 12 else 'PM'}"


def spoken_date(now: _dt.datetime | None = None) -> str:
    """``"Tuesday, March 4, 2025"``."""
    now = now or _dt.datetime.now()
    return f"{_DAYS[now.weekday()]}, {_MONTHS[now.month - 1]} {now.day}, {now.year}"


def current_time_sentence(now: _dt.datetime | None = None) -> str:
    """``"It's 3:05 PM on Tuesday, March 4, 2025."``"""
    now = now or _dt.datetime.now()
    return f"It's {spoken_time(now)} on {spoken_date(now)}."


async def _run_action(callback: ToolActionCallback | None, action: str,
                      args: dict[str, Any]) -> str | None:
    """Call the hook; its string result (if any) is returned."""
    assert callback is not None
    result = callback(action, args)
    if inspect.isawaitable(result):
        result = await result
    return result if isinstance(result, str) and result else None


def make_builtin_tools(agent: Any) -> list[BaseTool]:
    """The built-in tools bound to ``agent`` (reads ``agent.on_tool_action`` and
    ``agent.retriever`` at call time)."""

    async def get_current_time() -> str:
        return current_time_sentence()

    async def set_voice(voice: str) -> str:
        callback = getattr(agent, "on_tool_action", None)
        if callback is None:
            return "I can't change my voice in this session."
        try:
            message = await _run_action(callback, "set_voice", {"voice": voice})
        except Exception as exc:
            return f"I couldn't change the voice: {exc}"
        return message or f"Okay, I switched to the voice {voice}."

    async def set_speed(speed: float) -> str:
        callback = getattr(agent, "on_tool_action", None)
        if callback is None:
            return "I can't change my speaking speed in this session."
        try:
            value = float(speed)
        except (TypeError, ValueError):
            return "The speed must be a number, for example 1.2."
        if not MIN_SPEED <= value <= MAX_SPEED:
            return f"The speed must be between {MIN_SPEED} and {MAX_SPEED}; 1.0 is normal."
        try:
            message = await _run_action(callback, "set_speed", {"speed": value})
        except Exception as exc:
            return f"I couldn't change the speed: {exc}"
        return message or f"Okay, I'll speak at {value:g} times normal speed."

    async def search_documents(query: str) -> str:
        retriever = getattr(agent, "retriever", None)
        if retriever is None:
            return "No documents are available."
        passages = [str(p).strip() for p in (await retriever(query)) or [] if str(p).strip()]
        if not passages:
            return "No matching documents were found."
        return "\n\n".join(f"[{i}] {p}" for i, p in enumerate(passages[:MAX_PASSAGES], 1))

    async def remember(fact: str) -> str:
        book = getattr(agent, "memory", None)
        if book is None:
            return "I can't remember things in this session."
        try:
            stored = await book.remember(fact)
        except ValueError as exc:
            return f"I couldn't remember that: {exc}."
        return f"Remembered: {stored}"

    async def forget(about: str) -> str:
        book = getattr(agent, "memory", None)
        if book is None:
            return "I don't remember anything in this session."
        forgotten = await book.forget(about)
        if not forgotten:
            return f"Nothing remembered matches {about!r}."
        return "Forgotten: " + " ".join(forgotten)

    tools = [
        StructuredTool.from_function(
            coroutine=get_current_time, name="get_current_time",
            description="Get the current local time and date (day of the week, date, year)."),
        StructuredTool.from_function(
            coroutine=set_voice, name="set_voice",
            description="Change the voice you speak with. Args: voice: the voice's name."),
        StructuredTool.from_function(
            coroutine=set_speed, name="set_speed",
            description=(f"Change how fast you speak. Args: speed: {MIN_SPEED} to "
                         f"{MAX_SPEED}, where 1.0 is normal, 1.3 faster, 0.8 slower.")),
    ]
    if getattr(agent, "retriever", None) is not None:
        tools.append(StructuredTool.from_function(
            coroutine=search_documents, name="search_documents",
            description=("Search the user's documents (knowledge base) for passages about "
                         "a question. Args: query: what to look for.")))
    if getattr(agent, "memory", None) is not None:
        tools += [
            StructuredTool.from_function(
                coroutine=remember, name="remember",
                description=("Remember a fact about the user for all future conversations, "
                             "when they ask you to remember something. Args: fact: the "
                             "fact in the user's words, e.g. 'My sister is called Annabel'.")),
            StructuredTool.from_function(
                coroutine=forget, name="forget",
                description=("Forget remembered facts when the user asks you to. Args: "
                             "about: words of the facts to forget, e.g. 'my sister'.")),
        ]
    return tools


__all__ = [
    "MAX_SPEED", "MIN_SPEED", "Retriever", "ToolActionCallback", "current_time_sentence",
    "make_builtin_tools", "spoken_date", "spoken_time",
]
