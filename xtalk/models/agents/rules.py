"""Rule agent: a **test/demo** agent, never a default model.

It answers from regular-expression rules, deterministically and without a language model,
optionally calling a LangChain tool, and streams its reply word by word with configurable
delays (to exercise streaming, latency and barge-in handling).
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from xtalk.models.interfaces import (
    Agent,
    AgentOutput,
    TextDelta,
    ToolCallPending,
    ToolInvocation,
)

DEFAULT_RULES: list[dict[str, Any]] = [
    {"pattern": r"repeat after me[:,]?\s+(?P<what>.+)", "reply": "{what}"},
    {"pattern": r"\bwhat time\b", "reply": "It is {time}."},
    {"pattern": r"\b(hello|hi)\b", "reply": "Hello! How can I help you?"},
]
_PIECE = re.compile(r"\s*\S+\s*")


def _content_text(content: Any) -> str:
    """Text of a message content (a string or a list of LangChain-style content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return " ".join(
            p if isinstance(p, str) else str(p.get("text", ""))
            for p in content if isinstance(p, str | Mapping)
        )
    return "" if content is None else str(content)


def _last_user_text(messages: Sequence[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, Mapping):
            role, content = message.get("role"), message.get("content")
        else:  # LangChain message objects
            role, content = getattr(message, "type", None), getattr(message, "content", None)
        if role in ("user", "human"):
            return _content_text(content).strip()
    return ""


def split_pieces(text: str) -> list[str]:
    """Split ``text`` into word pieces (word plus trailing whitespace) that concatenate back."""
    pieces = _PIECE.findall(text)
    return pieces if pieces else ([text] if text else [])


class RuleAgent(Agent):
    """Replies from regex rules, word by word (test/demo model).

    A rule is ``{"pattern": regex, "reply": template}``; the pattern is searched
    (case-insensitively) in the last user message. A tool rule also has ``"tool"`` (a tool
    name given via :meth:`add_tools`) and optional ``"args"``; the tool is called with the
    args and a :class:`ToolInvocation` is yielded before the text. Templates (and string
    args) are ``str.format`` templates that may use ``{text}`` (the user's message),
    ``{time}`` (local time, HH:MM), the pattern's named groups and, in tool rules,
    ``{result}``. The first matching rule wins.

    Args:
        rules: The rules; ``None`` uses :data:`DEFAULT_RULES` (greeting, time, repeat).
        default_reply: Template used when no rule matches.
        token_delay_s: Sleep between streamed pieces.
        first_token_delay_s: Sleep before the first streamed piece.
    """

    def __init__(
        self,
        rules: list[dict[str, Any]] | None = None,
        default_reply: str = "I heard you say: {text}.",
        token_delay_s: float = 0.0,
        first_token_delay_s: float = 0.0,
    ) -> None:
        if token_delay_s < 0 or first_token_delay_s < 0:
            raise ValueError("delays must not be negative")
        self._rules = copy.deepcopy(DEFAULT_RULES if rules is None else list(rules))
        self._compiled: list[re.Pattern[str]] = []
        for i, rule in enumerate(self._rules):
            if not isinstance(rule, Mapping) or not isinstance(rule.get("pattern"), str):
                raise ValueError(f"rule {i} needs a string 'pattern'")
            if not isinstance(rule.get("reply", ""), str):
                raise ValueError(f"rule {i}: 'reply' must be a string")
            if "tool" in rule and not isinstance(rule.get("args", {}), Mapping):
                raise ValueError(f"rule {i}: 'args' must be an object")
            try:
                self._compiled.append(re.compile(rule["pattern"], re.IGNORECASE))
            except re.error as exc:
                raise ValueError(f"rule {i}: bad pattern {rule['pattern']!r}: {exc}") from exc
        self.default_reply = default_reply
        self.token_delay_s = float(token_delay_s)
        self.first_token_delay_s = float(first_token_delay_s)
        self._tools: list[Any] = []

    @property
    def rules(self) -> list[dict[str, Any]]:
        """A copy of the rules."""
        return copy.deepcopy(self._rules)

    def add_tools(self, tools: Sequence[Any]) -> None:
        """Make LangChain tools (objects with ``name`` and ``invoke``/``ainvoke``) available."""
        self._tools.extend(tools)

    @property
    def tools(self) -> list[Any]:
        """A copy of the list of available tools."""
        return list(self._tools)

    def clone(self) -> RuleAgent:
        """A new agent with the same rules and delays and its own copy of the tool list."""
        other = RuleAgent(self._rules, self.default_reply, self.token_delay_s,
                          self.first_token_delay_s)
        other._tools = list(self._tools)
        return other

    async def _call_tool(self, name: str, args: dict[str, Any]) -> str:
        for tool in reversed(self._tools):  # the most recently added tool wins
            if getattr(tool, "name", None) == name:
                if hasattr(tool, "ainvoke"):
                    result = await tool.ainvoke(args)
                else:
                    result = tool.invoke(args)
                return str(getattr(result, "content", result))
        available = ", ".join(str(getattr(t, "name", t)) for t in self._tools) or "none"
        raise LookupError(f"RuleAgent: no tool named {name!r} (available: {available})")

    async def astream(self, messages: list[dict[str, Any]]) -> AsyncIterator[AgentOutput]:
        """Stream the reply to the last user message.

        Args:
            messages: The conversation (``{"role", "content"}`` dicts).

        Yields:
            For a tool rule a :class:`ToolCallPending` (the tool runs when the next item is
            asked for) and a :class:`ToolInvocation`, then :class:`TextDelta` word pieces
            whose concatenation is the whole reply.

        Raises:
            LookupError: A matching tool rule names a tool that was not added.
        """
        text = _last_user_text(messages)
        values: dict[str, Any] = {"text": text, "time": time.strftime("%H:%M")}
        template = self.default_reply
        for rule, pattern in zip(self._rules, self._compiled, strict=True):
            match = pattern.search(text)
            if match is None:
                continue
            values.update({k: (v or "").strip() for k, v in match.groupdict().items()})
            template = rule.get("reply", "")
            if "tool" in rule:
                args = {
                    k: v.format_map(values) if isinstance(v, str) else v
                    for k, v in rule.get("args", {}).items()
                }
                yield ToolCallPending(name=rule["tool"], args=dict(args))
                values["result"] = await self._call_tool(rule["tool"], args)
                yield ToolInvocation(name=rule["tool"], args=args, result=values["result"])
            break
        for i, piece in enumerate(split_pieces(template.format_map(values))):
            await asyncio.sleep(self.first_token_delay_s if i == 0 else self.token_delay_s)
            yield TextDelta(piece)


__all__ = ["DEFAULT_RULES", "RuleAgent", "split_pieces"]
