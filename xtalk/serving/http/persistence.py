"""Persistence of live sessions into the store.

:class:`PersistenceManager` is a session manager bound to one :class:`~xtalk.store.Store`
through a class attribute: :meth:`PersistenceManager.bound_to` makes a subclass carrying
the store, which ``Xtalk.mount_routes`` registers on the prototype service. Nothing is put
into the service configuration.

Consumes: SessionStarted (priority 100), ConversationTurnCommitted.
Emits: DocumentChunksIndexed / TextEmbeddingRequested (the session's stored documents,
replayed when a stored session is attached, so retrieval survives restarts).

* On ``SessionStarted`` the session's row is made if it does not exist yet (owned by the
  session's user), and the stored documents are replayed before any user turn is handled
  (the bus runs the events of a session one after the other).
* Every ``ConversationTurnCommitted`` is appended to the store as it happens, in order, by
  a writer task that calls the store in a worker thread (so a slow database never stalls
  the session's bus). Each message is committed on its own: ``kill -9`` loses at most the
  turn in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, ClassVar

from xtalk.serving.events import (
    ConversationTurnCommitted,
    DocumentChunksIndexed,
    SessionStarted,
    TextEmbeddingRequested,
)
from xtalk.serving.interfaces import Manager
from xtalk.store import SessionExistsError, Store

SHUTDOWN_DRAIN_S = 4.0


@dataclass(frozen=True)
class _StoredDocument:
    document_id: int
    chunks: list[str]
    vectors: list[list[float]] | None
    text: str | None


def store_owner(user_id: Any) -> int | None:
    """The store's owner id for a session's ``user_id`` (None: the desktop)."""
    if user_id is None:
        return None
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        return user_id
    if isinstance(user_id, str) and user_id.isdigit():
        return int(user_id)
    raise ValueError(f"user id {user_id!r} is not a store user id")


class PersistenceManager(Manager):
    """Writes the session's conversation to the store and restores its documents."""

    store: ClassVar[Store | None] = None

    @classmethod
    def bound_to(cls, store: Store) -> type[PersistenceManager]:
        """A subclass of this manager that persists into ``store``."""
        return type(cls.__name__, (cls,), {"store": store, "__module__": cls.__module__,
                                          "__doc__": cls.__doc__})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queue: asyncio.Queue[tuple[int, str, str, bool] | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._disabled = self.store is None
        self._closed = False
        self.stored_messages = 0

    # ------------------------------------------------------------------ start
    @Manager.event_handler(SessionStarted, priority=100)
    async def on_session_started(self, event: SessionStarted) -> None:
        if self._disabled:
            return
        try:
            owner = store_owner(event.user_id)
            documents = await asyncio.to_thread(self._prepare, owner)
        except Exception:
            self.log.exception("session %s will not be stored", self.session_id)
            self._disabled = True
            return
        if documents is None:
            return
        for doc in documents:
            await self._replay(doc)

    def _prepare(self, owner: int | None) -> list[_StoredDocument] | None:
        """Make sure the session row exists; the stored documents to replay (None: the
        id belongs to somebody else, nothing is stored)."""
        assert self.store is not None
        conversations = self.store.conversations
        if not conversations.owns_session(owner, self.session_id):
            try:
                conversations.create_session(owner, session_id=self.session_id)
            except SessionExistsError:
                self.log.warning("session id %s belongs to another user; not storing it",
                                 self.session_id)
                self._disabled = True
                return None
            return []
        grouped: dict[int, list[Any]] = {}
        for chunk in self.store.documents.chunks(self.session_id):
            grouped.setdefault(chunk.document_id, []).append(chunk)
        documents = []
        needs_text = self.pipeline.get_embeddings_model() is not None
        for document_id, chunks in grouped.items():
            vectors = [c.vector for c in chunks]
            complete = all(v is not None for v in vectors)
            text = None
            if not complete and needs_text:
                text = self.store.documents.document_text(self.session_id, document_id)
            documents.append(_StoredDocument(
                document_id, [c.text for c in chunks],
                [list(v) for v in vectors if v is not None] if complete else None, text))
        return documents

    async def _replay(self, doc: _StoredDocument) -> None:
        if doc.vectors is None and doc.text:
            # Stored without vectors but the pipeline embeds: let EmbeddingsManager do it.
            await self.publish(TextEmbeddingRequested(session_id=self.session_id,
                                                      text=doc.text), wait_for_completion=True)
            return
        await self.publish(DocumentChunksIndexed(session_id=self.session_id,
                                                 chunks=list(doc.chunks),
                                                 vectors=doc.vectors),
                           wait_for_completion=True)

    # ------------------------------------------------------------------ messages
    @Manager.event_handler(ConversationTurnCommitted)
    def on_turn_committed(self, event: ConversationTurnCommitted) -> None:
        if self._disabled or self._closed:
            return
        if event.role not in ("system", "user", "assistant") or not event.content:
            return
        self._queue.put_nowait((int(event.turn_id), event.role, event.content,
                                bool(event.interrupted)))
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(
                self._write_loop(), name=f"xtalk-persist-{self.session_id}")

    async def _write_loop(self) -> None:
        assert self.store is not None
        append = self.store.conversations.append_message
        while True:
            item = await self._queue.get()
            try:
                if item is None:
                    return
                turn_id, role, content, interrupted = item
                try:
                    await asyncio.to_thread(append, self.session_id, turn_id, role, content,
                                            interrupted)
                    self.stored_messages += 1
                except Exception:
                    self.log.exception("could not store the %s message of turn %d", role,
                                       turn_id)
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
