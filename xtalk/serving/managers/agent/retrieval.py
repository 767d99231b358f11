"""RetrievalManager: finds passages of the session's documents relevant to each turn.

Consumes: DocumentChunksIndexed, UserTurnAccepted and ReplySpeculationRequested (priority
60: before the context manager builds the prompt).
Emits: RetrievalUpdated (``retrieval_updated``; the context manager adds it to the prompt;
marked ``speculative`` for a speculative reply).
Uses vector search when chunks carry vectors and the pipeline has an embeddings model,
else BM25. Silent when the session has no documents. Once there are documents the agent
gets this manager's search (``Agent.set_retriever``), for a search tool of its own.
"""

from __future__ import annotations

import asyncio

from xtalk.retrieval.ranking import BM25Index, cosine_top_k
from xtalk.serving.events import (
    DocumentChunksIndexed,
    ReplySpeculationRequested,
    RetrievalUpdated,
    UserTurnAccepted,
)
from xtalk.serving.interfaces import Manager


class RetrievalManager(Manager):
    """Searches the session's documents for every accepted user turn."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lexical = BM25Index()
        self.vector_docs: list[str] = []
        self.vectors: list[list[float]] = []
        self.top_k = int(self.setting("retrieval_top_k", 3))
        self._offered = False

    def _offer_to_agent(self) -> None:
        agent = self.pipeline.get_agent()
        if not self._offered and agent is not None:
            agent.set_retriever(self.search)
            self._offered = True

    @Manager.event_handler(DocumentChunksIndexed)
    def on_chunks(self, event: DocumentChunksIndexed) -> None:
        self.lexical.add(event.chunks)
        self._offer_to_agent()
        if event.vectors is not None:
            self.vector_docs.extend(event.chunks)
            self.vectors.extend(event.vectors)

    async def search(self, query: str) -> list[str]:
        model = self.pipeline.get_embeddings_model()
        if self.vectors and model is not None:
            try:
                q = await asyncio.to_thread(model.embed_query, query)
                hits = cosine_top_k(q, self.vectors, self.vector_docs, self.top_k)
                if hits:
                    return [doc for _, doc in hits]
            except Exception:
                self.log.exception("vector search failed; using keyword search")
        return [doc for _, doc in self.lexical.search(query, self.top_k)]

    @Manager.event_handler(UserTurnAccepted, priority=60)
    @Manager.event_handler(ReplySpeculationRequested, priority=60)
    async def on_turn(self, event: UserTurnAccepted | ReplySpeculationRequested) -> None:
        if not self.lexical.docs:
            return
        passages = await self.search(event.text)
        if passages:
            await self.publish(RetrievalUpdated(
                session_id=self.session_id, turn_id=event.turn_id,
                text="\n---\n".join(passages),
                speculative=isinstance(event, ReplySpeculationRequested)),
                wait_for_completion=True)
