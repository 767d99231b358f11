"""Agent events: generation, reply text, tools, retrieval and memories."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from xtalk.serving.events import BaseEvent


# --------------------------------------------------------------------------- agent
@dataclass
class GenerationRequested(BaseEvent):
    """Run the agent on ``messages`` (a snapshot of the conversation) for ``turn_id``.

    A ``speculative`` generation runs ahead of the turn's acceptance: its text is
    synthesised but nothing user-visible (wire, history, tool calls) happens before
    SpeculationConfirmed; GenerationCancelRequested discards it."""

    turn_id: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    speculative: bool = False
    TYPE: ClassVar[str] = "agent.generation_requested"


@dataclass
class GenerationCancelRequested(BaseEvent):
    """Stop the generation of ``turn_id`` (barge-in, new turn, session end).
    ``speculative``: it is a speculative reply being discarded (nothing of it went out,
    and the turn's real reply may still come)."""

    turn_id: int = 0
    reason: str = ""
    speculative: bool = False
    TYPE: ClassVar[str] = "agent.cancel_requested"


@dataclass
class ReplyTextDelta(BaseEvent):
    """New reply text; ``text`` is cumulative, ``delta`` the newly added part.
    ``speculative`` text is synthesised but not sent to the client."""

    turn_id: int = 0
    delta: str = ""
    text: str = ""
    speculative: bool = False
    TYPE: ClassVar[str] = "agent.text_delta"


@dataclass
class ReplyTextCompleted(BaseEvent):
    """The agent finished the reply text of ``turn_id`` (not sent when cancelled)."""

    turn_id: int = 0
    text: str = ""
    TYPE: ClassVar[str] = "agent.text_completed"


@dataclass
class ToolCalled(BaseEvent):
    """The agent called a tool."""

    turn_id: int = 0
    name: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    TYPE: ClassVar[str] = "agent.tool_called"


@dataclass
class ThoughtUpdated(BaseEvent):
    """Reasoning text the agent chose to expose."""

    turn_id: int = 0
    text: str = ""
    is_final: bool = False
    TYPE: ClassVar[str] = "agent.thought_updated"


@dataclass
class ConversationRestored(BaseEvent):
    """The conversation history was replaced by persisted ``messages``."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    TYPE: ClassVar[str] = "agent.conversation_restored"


@dataclass
class ConversationTurnCommitted(BaseEvent):
    """A message became part of the conversation history (for persistence)."""

    turn_id: int = 0
    role: str = ""
    content: str = ""
    interrupted: bool = False
    TYPE: ClassVar[str] = "agent.turn_committed"


@dataclass
class TextEmbeddingRequested(BaseEvent):
    """Store ``text`` for retrieval in this session."""

    text: str = ""
    TYPE: ClassVar[str] = "retrieval.embed_requested"


@dataclass
class DocumentChunksIndexed(BaseEvent):
    """Text chunks (with embedding vectors when an embeddings model exists) to search."""

    chunks: list[str] = field(default_factory=list)
    vectors: list[list[float]] | None = None
    TYPE: ClassVar[str] = "retrieval.chunks_indexed"


@dataclass
class MemoriesRecalled(BaseEvent):
    """The facts remembered about the session's user, all of them, oldest first (at the
    start of the session and whenever they change)."""

    facts: list[str] = field(default_factory=list)
    TYPE: ClassVar[str] = "knowledge.memories_recalled"


@dataclass
class RetrievalUpdated(BaseEvent):
    """Retrieved context for a turn (``retrieval_updated`` on the wire, unless it was
    retrieved for a ``speculative`` reply)."""

    turn_id: int = 0
    text: str = ""
    is_final: bool = True
    speculative: bool = False
    TYPE: ClassVar[str] = "retrieval.updated"


__all__ = [name for name, obj in list(globals().items())
           if isinstance(obj, type) and issubclass(obj, BaseEvent) and obj is not BaseEvent]
