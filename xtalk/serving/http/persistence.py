"""Persistence of live sessions into the store.

:class:`PersistenceManager` is a store-bound session manager
(:class:`~xtalk.serving.managers.knowledge.StoreBoundManager`), which ``Xtalk`` registers
on the prototype service once it has a store.

Consumes: SessionStarted (priority 100), ConversationTurnCommitted, UserTurnMerged.

* On ``SessionStarted`` the session's row is made if it does not exist yet (owned by the
  session's user); shutdown waits for it, so a session left at once is never stored
  after its owner deleted it as empty. The user's documents are the library's
  (LibraryManager), not the session's.
* Every ``ConversationTurnCommitted`` is appended to the store as it happens, in order, by
  a writer task that calls the store in a worker thread (so a slow database never stalls
  the session's bus). Each message is committed on its own: ``kill -9`` loses at most the
  turn in progress.
* ``UserTurnMerged`` withdraws the merged turn's stored messages, in the same order.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from xtalk.serving.events import ConversationTurnCommitted, SessionStarted, UserTurnMerged
from xtalk.serving.interfaces import Manager
from xtalk.serving.managers.knowledge.store_bound import StoreBoundManager, store_owner
from xtalk.store import SessionExistsError

SHUTDOWN_DRAIN_S = 4.0


class PersistenceManager(StoreBoundManager):
    """Writes the session's conversation to the store as it happens."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: (turn, role, content, interrupted) to store; role None: withdraw the turn
        self._queue: asyncio.Queue[tuple[int, str | None, str, bool] | None] = \
            asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._preparing: asyncio.Future[None] | None = None
        self._disabled = self.store is None
        self._closed = False
        self.stored_messages = 0

    # ------------------------------------------------------------------ start
    @Manager.event_handler(SessionStarted, priority=100)
    async def on_session_started(self, event: SessionStarted) -> None:
        if self._disabled:
            return
        # (a thread cannot be cancelled: keep its future so shutdown can wait for it)
        self._preparing = asyncio.ensure_future(
            asyncio.to_thread(self._prepare, store_owner(event.user_id)))
        try:
            await asyncio.shield(self._preparing)
        except Exception:
            self.log.exception("session %s will not be stored", self.session_id)
            self._disabled = True

    def _prepare(self, owner: int | None) -> None:
        """Make sure the session row exists (or stop storing: the id is somebody else's)."""
        assert self.store is not None
        conversations = self.store.conversations
        if not conversations.owns_session(owner, self.session_id):
            try:
                conversations.create_session(owner, session_id=self.session_id)
            except SessionExistsError:
                self.log.warning("session id %s belongs to another user; not storing it",
                                 self.session_id)
                self._disabled = True

    # ------------------------------------------------------------------ messages
    @Manager.event_handler(ConversationTurnCommitted)
    def on_turn_committed(self, event: ConversationTurnCommitted) -> None:
        if self._disabled or self._closed:
            return
        if event.role not in ("system", "user", "assistant") or not event.content:
            return
        self._enqueue((int(event.turn_id), event.role, event.content,
                       bool(event.interrupted)))

    @Manager.event_handler(UserTurnMerged)
    def on_turn_merged(self, event: UserTurnMerged) -> None:
        if not self._disabled and not self._closed:
            self._enqueue((int(event.turn_id), None, "", False))

    def _enqueue(self, item: tuple[int, str | None, str, bool]) -> None:
        self._queue.put_nowait(item)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(
                self._write_loop(), name=f"xtalk-persist-{self.session_id}")

    async def _write_loop(self) -> None:
        assert self.store is not None
        conversations = self.store.conversations
        while True:
            item = await self._queue.get()
            try:
                if item is None:
                    return
                turn_id, role, content, interrupted = item
                try:
                    if role is None:
                        await asyncio.to_thread(conversations.withdraw_turn,
                                                self.session_id, turn_id)
                        continue
                    await asyncio.to_thread(conversations.append_message, self.session_id,
                                            turn_id, role, content, interrupted)
                    self.stored_messages += 1
                except Exception:
                    self.log.exception("could not store turn %d (%s)", turn_id,
                                       role or "withdrawal")
            finally:
                self._queue.task_done()

    async def flush(self) -> None:
        """Wait until every message committed so far is stored."""
        if self._writer is not None and not self._writer.done():
            await self._queue.join()

    async def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._preparing is not None and not self._preparing.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._preparing), SHUTDOWN_DRAIN_S)
        if self._writer is None:
            return
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._writer), SHUTDOWN_DRAIN_S)
        except (TimeoutError, asyncio.CancelledError):
            self.log.warning("session %s: %d message(s) not stored before shutdown",
                             self.session_id, self._queue.qsize())
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer


__all__ = ["PersistenceManager", "store_owner"]
