"""MemoryManager: what the assistant remembers about the session's user.

Consumes: SessionStarted (priority 90), UserTurnAccepted and ReplySpeculationRequested
(priority 60: before the context manager builds the prompt).
Emits: MemoriesRecalled (the context manager puts the facts into the system prompt) at the
start and whenever the facts changed — by the agent's ``remember`` / ``forget`` (the
session's :class:`StoreMemoryBook`, handed to the agent with ``Agent.set_memory``), or
elsewhere (the desktop's Memory panel, the HTTP routes; read again before every turn).
"""

from __future__ import annotations

import asyncio
from typing import Any

from xtalk.models.interfaces import MemoryBook
from xtalk.serving.events import (
    MemoriesRecalled,
    ReplySpeculationRequested,
    SessionStarted,
    UserTurnAccepted,
)
from xtalk.serving.interfaces import Manager
from xtalk.serving.managers.knowledge.store_bound import StoreBoundManager, store_owner
from xtalk.store import Store


class StoreMemoryBook(MemoryBook):
    """One user's facts in the store; ``changed`` runs after every change."""

    def __init__(self, store: Store, owner: int | None, changed: Any) -> None:
        self.store, self.owner, self._changed = store, owner, changed

    async def remember(self, fact: str) -> str:
        record = await asyncio.to_thread(self.store.memories.add, self.owner, fact)
        await self._changed()
        return record.text

    async def forget(self, about: str) -> list[str]:
        forgotten = await asyncio.to_thread(self.store.memories.forget, self.owner, about)
        if forgotten:
            await self._changed()
        return [m.text for m in forgotten]

    async def recall(self) -> list[str]:
        return [m.text for m in await asyncio.to_thread(self.store.memories.list, self.owner)]


class MemoryManager(StoreBoundManager):
    """Keeps the agent and the prompt up to date with the user's remembered facts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.book: StoreMemoryBook | None = None
        self._facts: list[str] | None = None

    @Manager.event_handler(SessionStarted, priority=90)
    async def on_session_started(self, event: SessionStarted) -> None:
        if self.store is None:
            return
        try:
            owner = store_owner(event.user_id)
        except ValueError:
            self.log.warning("session %s: user %r has no memory", self.session_id,
                             event.user_id)
            return
        self.book = StoreMemoryBook(self.store, owner, self.refresh)
        agent = self.pipeline.get_agent()
        if agent is not None:
            agent.set_memory(self.book)
        await self.refresh()

    @Manager.event_handler(UserTurnAccepted, priority=60)
    @Manager.event_handler(ReplySpeculationRequested, priority=60)
    async def on_turn(self, event: UserTurnAccepted | ReplySpeculationRequested) -> None:
        await self.refresh()

    async def refresh(self) -> None:
        """Read the facts; publish them when they differ from the last ones published."""
        if self.book is None:
            return
        try:
            facts = await self.book.recall()
        except Exception:
            self.log.exception("could not read the remembered facts")
            return
        if facts != self._facts:
            self._facts = facts
            await self.publish(MemoriesRecalled(session_id=self.session_id, facts=facts),
                               wait_for_completion=True)


__all__ = ["MemoryManager", "StoreMemoryBook"]
