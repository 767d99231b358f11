"""LLMAgentContextManager: owns the session's conversation with the agent.

Consumes: UserTurnAccepted, RetrievalUpdated, ReplyTextCompleted, ReplyHeard,
PlaybackStopped.
Emits: GenerationRequested (with a snapshot of the conversation),
ConversationTurnCommitted (for persistence).

A reply enters the conversation as the user heard it: in full once the playback side
reports it heard to its end (ReplyHeard: ``tts_finished`` alone only means the last chunk
was *sent*, and the user may still interrupt), or — when the user interrupted it — only the
part that was played (PlaybackStopped ``heard_text``), marked as cut off. Both are
published with ``wait_for_completion``, so a reply is committed before the user turn that
follows it. The system prompt comes from the service config key ``"system_prompt"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xtalk.serving.events import (
    ConversationTurnCommitted,
    GenerationRequested,
    PlaybackStopped,
    ReplyHeard,
    ReplyTextCompleted,
    RetrievalUpdated,
    UserTurnAccepted,
)
from xtalk.serving.interfaces import Manager

DEFAULT_SYSTEM_PROMPT = (
    "You are Xtalk, a helpful voice assistant. The user hears your replies spoken aloud, "
    "so answer conversationally in one to three short sentences, without markdown, lists "
    "or emoji, unless asked for detail."
)
INTERRUPTED_MARK = " …"


@dataclass
class Conversation:
    """The ordered messages of a session."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    pending_replies: dict[int, str] = field(default_factory=dict)
    committed_turns: set[int] = field(default_factory=set)


class LLMAgentContextManager(Manager):
    """Keeps the conversation history and hands snapshots to the generator."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.conversation = Conversation()
        self.system_prompt: str = self.setting("system_prompt", DEFAULT_SYSTEM_PROMPT)
        self._retrieved: dict[int, str] = {}

    # ------------------------------------------------------------------ public helpers
    def conversation_messages(self) -> list[dict[str, Any]]:
        return [dict(m) for m in self.conversation.messages]

    def restore_conversation(self, messages: list[dict[str, Any]]) -> None:
        self.conversation = Conversation(
            messages=[{"role": m["role"], "content": m["content"]}
                      for m in messages if m["role"] in ("user", "assistant")])

    def _snapshot(self, turn_id: int) -> list[dict[str, Any]]:
        system = self.system_prompt
        context = self._retrieved.pop(turn_id, "")
        if context:
            system += "\n\nRelevant excerpts from the user's documents:\n" + context
        return [{"role": "system", "content": system}, *self.conversation_messages()]

    # ------------------------------------------------------------------ handlers
    @Manager.event_handler(RetrievalUpdated, priority=40)
    def on_retrieval(self, event: RetrievalUpdated) -> None:
        if event.text:
            self._retrieved[event.turn_id] = event.text

    @Manager.event_handler(UserTurnAccepted, priority=40)
    async def on_user_turn(self, event: UserTurnAccepted) -> None:
        self.conversation.messages.append({"role": "user", "content": event.text})
        await self.publish(ConversationTurnCommitted(
            session_id=self.session_id, turn_id=event.turn_id, role="user", content=event.text))
        await self.publish(GenerationRequested(
            session_id=self.session_id, turn_id=event.turn_id,
            messages=self._snapshot(event.turn_id)))

    @Manager.event_handler(ReplyTextCompleted, priority=40)
    def on_reply_text(self, event: ReplyTextCompleted) -> None:
        self.conversation.pending_replies[event.turn_id] = event.text

    @Manager.event_handler(ReplyHeard, priority=40)
    async def on_heard(self, event: ReplyHeard) -> None:
        text = self.conversation.pending_replies.pop(event.turn_id, None)
        if text is not None:
            await self._commit(event.turn_id, text, interrupted=False)

    @Manager.event_handler(PlaybackStopped, priority=40)
    async def on_stopped(self, event: PlaybackStopped) -> None:
        self.conversation.pending_replies.pop(event.turn_id, None)
        heard = event.heard_text.strip()
        if heard:
            await self._commit(event.turn_id, heard + INTERRUPTED_MARK, interrupted=True)

    async def _commit(self, turn_id: int, text: str, interrupted: bool) -> None:
        if turn_id in self.conversation.committed_turns or not text.strip():
            return
        self.conversation.committed_turns.add(turn_id)
        self.conversation.messages.append({"role": "assistant", "content": text})
        await self.publish(ConversationTurnCommitted(
            session_id=self.session_id, turn_id=turn_id, role="assistant", content=text,
            interrupted=interrupted), wait_for_completion=True)
