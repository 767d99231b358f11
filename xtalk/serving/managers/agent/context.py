"""LLMAgentContextManager: owns the session's conversation with the agent.

Consumes: ConversationRestored, UserTurnAccepted, ReplySpeculationRequested,
GenerationCancelRequested, RetrievalUpdated, MemoriesRecalled, ReplyTextCompleted,
ReplyHeard, PlaybackStopped, UserTurnMerged (the turn's messages are withdrawn).
Emits: GenerationRequested (with a snapshot of the conversation), SpeculationConfirmed,
GenerationCancelRequested (a speculation that does not fit the accepted turn),
ConversationTurnCommitted (for persistence).

A speculative reply runs on the conversation as it would be if the turn were accepted
with the speculative text; nothing is recorded for it. When the turn is accepted, the
speculation is confirmed if the prompt it ran on is exactly the prompt the accepted turn
gives (same words — punctuation and case aside —, same history, same retrieved
excerpts); otherwise it is cancelled and the turn is generated afresh.

A reply enters the conversation as the user heard it: in full once the playback side
reports it heard to its end (ReplyHeard: ``tts_finished`` alone only means the last chunk
was *sent*, and the user may still interrupt), or — when the user interrupted it — only the
part that was played (PlaybackStopped ``heard_text``), marked as cut off. Both are
published with ``wait_for_completion``, so a reply is committed before the user turn that
follows it. The system prompt is the agent's own (``Agent.system_prompt``), else the service
config key ``"system_prompt"``, else :data:`~xtalk.text.prompts.DEFAULT_SYSTEM_PROMPT`;
the user's remembered facts and the turn's retrieved excerpts (from every retriever that
found some) are added to whichever it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from xtalk.serving.events import (
    ConversationRestored,
    ConversationTurnCommitted,
    GenerationCancelRequested,
    GenerationRequested,
    MemoriesRecalled,
    PlaybackStopped,
    ReplyHeard,
    ReplySpeculationRequested,
    ReplyTextCompleted,
    RetrievalUpdated,
    SpeculationConfirmed,
    UserTurnAccepted,
    UserTurnMerged,
)
from xtalk.serving.interfaces import Manager
from xtalk.text.prompts import DEFAULT_SYSTEM_PROMPT

INTERRUPTED_MARK = " …"
_NON_WORDS = re.compile(r"[^\w']+")


def same_words(a: str, b: str) -> bool:
    """Whether two transcripts say the same words (punctuation and case aside)."""
    return _NON_WORDS.sub(" ", a.lower()).split() == _NON_WORDS.sub(" ", b.lower()).split()


@dataclass
class Conversation:
    """The ordered messages of a session."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    pending_replies: dict[int, str] = field(default_factory=dict)
    committed_turns: set[int] = field(default_factory=set)
    #: turn → its messages (the same dicts as in ``messages``), to withdraw a turn
    by_turn: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, turn_id: int, role: str, content: str) -> None:
        message = {"role": role, "content": content}
        self.messages.append(message)
        self.by_turn.setdefault(turn_id, []).append(message)

    def withdraw(self, turn_id: int) -> None:
        """Remove turn ``turn_id``'s messages; a reply of it arriving later is dropped."""
        gone = self.by_turn.pop(turn_id, [])
        self.messages = [m for m in self.messages if not any(m is g for g in gone)]
        self.pending_replies.pop(turn_id, None)
        self.committed_turns.add(turn_id)


class LLMAgentContextManager(Manager):
    """Keeps the conversation history and hands snapshots to the generator."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.conversation = Conversation()
        self.system_prompt: str = self.setting("system_prompt", DEFAULT_SYSTEM_PROMPT)
        self._retrieved: dict[int, str] = {}
        self._facts: list[str] = []
        #: (turn, text, prompt) of the speculative generation in flight
        self._speculation: tuple[int, str, list[dict[str, Any]]] | None = None

    # ------------------------------------------------------------------ public helpers
    def conversation_messages(self) -> list[dict[str, Any]]:
        return [dict(m) for m in self.conversation.messages]

    @Manager.event_handler(ConversationRestored, priority=90)
    def on_restored(self, event: ConversationRestored) -> None:
        self.conversation = Conversation(
            messages=[{"role": m["role"], "content": m["content"]}
                      for m in event.messages if m["role"] in ("user", "assistant")])

    def _snapshot(self, turn_id: int, pending_user: str | None = None
                  ) -> list[dict[str, Any]]:
        agent = self.pipeline.get_agent()
        system = (agent.system_prompt if agent is not None else None) or self.system_prompt
        if self._facts:
            system += ("\n\nWhat the user asked you to remember (from earlier "
                       "conversations):\n" + "\n".join(f"- {f}" for f in self._facts))
        context = self._retrieved.pop(turn_id, "")
        if context:
            system += "\n\nRelevant excerpts from the user's documents:\n" + context
        messages = [{"role": "system", "content": system}, *self.conversation_messages()]
        if pending_user is not None:
            messages.append({"role": "user", "content": pending_user})
        return messages

    # ------------------------------------------------------------------ handlers
    @Manager.event_handler(RetrievalUpdated, priority=40)
    def on_retrieval(self, event: RetrievalUpdated) -> None:
        if not event.text:
            return
        earlier = self._retrieved.get(event.turn_id)
        self._retrieved[event.turn_id] = (event.text if not earlier or earlier == event.text
                                          else f"{earlier}\n---\n{event.text}")

    @Manager.event_handler(MemoriesRecalled, priority=40)
    def on_memories(self, event: MemoriesRecalled) -> None:
        self._facts = list(event.facts)

    @Manager.event_handler(ReplySpeculationRequested, priority=40)
    async def on_speculation(self, event: ReplySpeculationRequested) -> None:
        prompt = self._snapshot(event.turn_id, pending_user=event.text)
        self._speculation = (event.turn_id, event.text, prompt)
        await self.publish(GenerationRequested(
            session_id=self.session_id, turn_id=event.turn_id,
            messages=[dict(m) for m in prompt], speculative=True))

    @Manager.event_handler(GenerationCancelRequested, priority=40)
    def on_cancel(self, event: GenerationCancelRequested) -> None:
        if self._speculation is not None and event.turn_id in (None, self._speculation[0]):
            self._speculation = None

    @Manager.event_handler(UserTurnAccepted, priority=40)
    async def on_user_turn(self, event: UserTurnAccepted) -> None:
        speculation, self._speculation = self._speculation, None
        prompt = self._snapshot(event.turn_id)
        self.conversation.add(event.turn_id, "user", event.text)
        await self.publish(ConversationTurnCommitted(
            session_id=self.session_id, turn_id=event.turn_id, role="user", content=event.text))
        if speculation is not None and speculation[0] == event.turn_id:
            _, text, used = speculation
            if same_words(text, event.text) and used[:-1] == prompt:
                await self.publish(SpeculationConfirmed(session_id=self.session_id,
                                                        turn_id=event.turn_id))
                return
        if speculation is not None:
            await self.publish(GenerationCancelRequested(
                session_id=self.session_id, turn_id=speculation[0],
                reason="speculation_mismatch", speculative=True), wait_for_completion=True)
        await self.publish(GenerationRequested(
            session_id=self.session_id, turn_id=event.turn_id,
            messages=[*prompt, {"role": "user", "content": event.text}]))

    @Manager.event_handler(UserTurnMerged, priority=40)
    def on_merged(self, event: UserTurnMerged) -> None:
        self.conversation.withdraw(event.turn_id)
        self._retrieved.pop(event.turn_id, None)

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
        self.conversation.add(turn_id, "assistant", text)
        await self.publish(ConversationTurnCommitted(
            session_id=self.session_id, turn_id=turn_id, role="assistant", content=text,
            interrupted=interrupted), wait_for_completion=True)
