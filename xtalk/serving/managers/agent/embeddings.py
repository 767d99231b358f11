"""EmbeddingsManager: turns documents given to the session into searchable chunks.

Consumes: TextEmbeddingRequested (from ``Xtalk.embed_text`` / uploads).
Emits: DocumentChunksIndexed (chunks, plus vectors when the pipeline has an embeddings
model; without one, retrieval falls back to BM25 and needs no model).
"""

from __future__ import annotations

import asyncio

from xtalk.retrieval.chunking import chunk_text
from xtalk.serving.events import DocumentChunksIndexed, ErrorOccurred, TextEmbeddingRequested
from xtalk.serving.interfaces import Manager


class EmbeddingsManager(Manager):
    """Chunks (and embeds) documents."""

    @Manager.event_handler(TextEmbeddingRequested)
    async def on_text(self, event: TextEmbeddingRequested) -> None:
        chunks = chunk_text(event.text)
        if not chunks:
            return
        model = self.pipeline.get_embeddings_model()
        vectors = None
        if model is not None:
            try:
                vectors = await asyncio.to_thread(model.embed_documents, chunks)
            except Exception:
                self.log.exception("embedding failed; falling back to keyword search")
                await self.publish(ErrorOccurred(
                    session_id=self.session_id, code="embeddings_unavailable",
                    message="Document stored for keyword search; embeddings failed.",
                    source="embeddings"))
        await self.publish(DocumentChunksIndexed(session_id=self.session_id, chunks=chunks,
                                                 vectors=vectors), wait_for_completion=True)
