"""LibraryManager: finds passages of the user's document library for each turn.

Consumes: SessionStarted, UserTurnAccepted and ReplySpeculationRequested (priority 60:
before the context manager builds the prompt).
Emits: RetrievalUpdated (the best excerpts, each headed by its document's name; marked
``speculative`` for a speculative reply).

Every conversation of a user searches that user's whole library in the store (documents
uploaded in any conversation, or added in the desktop app), by words and — when the
pipeline has an embeddings model — by meaning (:meth:`xtalk.store.Documents.search_hits`).
An empty library costs a turn one query, not an embedding. When the library has
documents, the embeddings model is loaded in the background from the session's start (a
second's work that would otherwise hold up the first turn), and chunks stored without a
vector (added where no model was at hand) are embedded. The agent gets this search
(``Agent.set_retriever``) once the library has documents.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from xtalk.serving.events import (
    ReplySpeculationRequested,
    RetrievalUpdated,
    SessionStarted,
    UserTurnAccepted,
)
from xtalk.serving.interfaces import Manager
from xtalk.serving.managers.knowledge.store_bound import StoreBoundManager, store_owner
from xtalk.store import SearchHit

EMBED_BATCH = 32


class LibraryManager(StoreBoundManager):
    """Searches the user's library for every accepted (or speculated) user turn."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.top_k = int(self.setting("retrieval_top_k", 3))
        self.owner: int | None = None
        self._active = False
        self._offered = False
        self._filler: asyncio.Task[None] | None = None
        #: (turn, text, hits) of the last turn searched: an accepted turn whose words the
        #: speculation already searched is not embedded and searched again
        self._last: tuple[int, str, list[SearchHit]] | None = None

    @Manager.event_handler(SessionStarted)
    async def on_session_started(self, event: SessionStarted) -> None:
        if self.store is None:
            return
        try:
            self.owner = store_owner(event.user_id)
        except ValueError:
            self.log.warning("session %s: user %r has no library", self.session_id,
                             event.user_id)
            return
        self._active = True
        if self.pipeline.get_embeddings_model() is not None:
            self._filler = asyncio.get_running_loop().create_task(
                self._prepare(), name=f"xtalk-library-vectors-{self.session_id}")

    async def _prepare(self) -> None:
        """With a library to search: load the embeddings model (its ``load``, else a first
        query loads it), then fill missing vectors."""
        model = self.pipeline.get_embeddings_model()
        if model is None or self.store is None \
                or not await asyncio.to_thread(self.store.documents.has_chunks, self.owner):
            return
        load = getattr(model, "load", None) or (lambda: model.embed_query("warm up"))
        try:
            await asyncio.to_thread(load)
        except Exception:
            self.log.exception("the embeddings model does not work; documents are found "
                               "by their words only")
            return
        await self.fill_vectors()

    async def fill_vectors(self) -> int:
        """Embed the library's chunks that have no vector yet; how many were embedded."""
        model = self.pipeline.get_embeddings_model()
        if model is None or self.store is None:
            return 0
        done = 0
        while True:
            missing = await asyncio.to_thread(self.store.documents.chunks_without_vectors,
                                              self.owner, EMBED_BATCH)
            if not missing:
                return done
            try:
                vectors = await asyncio.to_thread(model.embed_documents,
                                                  [text for _, text in missing])
                await asyncio.to_thread(self.store.documents.set_vectors, {
                    chunk_id: vector for (chunk_id, _), vector in zip(missing, vectors,
                                                                      strict=True)})
            except Exception:
                self.log.exception("could not embed the library's documents; they are "
                                   "found by their words only")
                return done
            done += len(missing)

    async def search_hits(self, query: str) -> list[SearchHit]:
        """The library's best chunks for ``query`` (words, and meaning with a model)."""
        if not self._active or self.store is None \
                or not await asyncio.to_thread(self.store.documents.has_chunks, self.owner):
            return []
        vector = None
        model = self.pipeline.get_embeddings_model()
        if model is not None:
            try:
                vector = await asyncio.to_thread(model.embed_query, query)
            except Exception:
                self.log.exception("could not embed the question; searching by words")
        return await asyncio.to_thread(self.store.documents.search_hits, self.owner, query,
                                       self.top_k, query_vector=vector)

    async def search(self, query: str) -> list[str]:
        """The agent's document search: excerpts, best first."""
        return [hit.text for hit in await self.search_hits(query)]

    @Manager.event_handler(UserTurnAccepted, priority=60)
    @Manager.event_handler(ReplySpeculationRequested, priority=60)
    async def on_turn(self, event: UserTurnAccepted | ReplySpeculationRequested) -> None:
        if not self._active:
            return
        last = self._last
        if last is not None and last[:2] == (event.turn_id, event.text):
            hits = last[2]
        else:
            try:
                hits = await self.search_hits(event.text)
            except Exception:
                self.log.exception("library search failed")
                return
            self._last = (event.turn_id, event.text, hits)
        if not hits:
            return
        agent = self.pipeline.get_agent()
        if not self._offered and agent is not None:
            agent.set_retriever(self.search)
            self._offered = True
        await self.publish(RetrievalUpdated(
            session_id=self.session_id, turn_id=event.turn_id,
            text="\n---\n".join(f"[{hit.document_name}] {hit.text}" for hit in hits),
            speculative=isinstance(event, ReplySpeculationRequested)),
            wait_for_completion=True)

    async def shutdown(self) -> None:
        if self._filler is not None and not self._filler.done():
            self._filler.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._filler
        await super().shutdown()


__all__ = ["LibraryManager"]
