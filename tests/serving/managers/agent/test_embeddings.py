"""The embeddings manager: a document becomes searchable chunks, with vectors when the
pipeline has an embeddings model; a failing model still leaves the chunks for keyword
search and says so."""

from __future__ import annotations

from manager_rig import SESSION, ManagerRig

from xtalk.models.interfaces import Embeddings
from xtalk.retrieval.chunking import chunk_text
from xtalk.serving.events import DocumentChunksIndexed, ErrorOccurred, TextEmbeddingRequested
from xtalk.serving.managers.agent.embeddings import EmbeddingsManager

DOCUMENT = " ".join(
    f"Paragraph {i}: the boiler's warranty lasts five years and covers the pump." * 3
    for i in range(12))


class CountingEmbeddings(Embeddings):
    """A 2-d vector per text: its length and its number of words."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if self.fail:
            raise ConnectionError("embedding endpoint is down")
        return [[float(len(t)), float(len(t.split()))] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


async def test_a_document_becomes_chunks_without_a_model() -> None:
    rig = ManagerRig(EmbeddingsManager)
    await rig.publish(TextEmbeddingRequested(session_id=SESSION, text=DOCUMENT))
    [indexed] = rig.seen(DocumentChunksIndexed)
    assert indexed.chunks == chunk_text(DOCUMENT) and len(indexed.chunks) > 1
    assert indexed.vectors is None


async def test_with_a_model_every_chunk_gets_its_vector() -> None:
    rig = ManagerRig(EmbeddingsManager, embeddings=CountingEmbeddings())
    await rig.publish(TextEmbeddingRequested(session_id=SESSION, text=DOCUMENT))
    [indexed] = rig.seen(DocumentChunksIndexed)
    assert indexed.vectors == [[float(len(c)), float(len(c.split()))] for c in indexed.chunks]


async def test_a_failing_model_keeps_the_chunks_and_reports_it() -> None:
    rig = ManagerRig(EmbeddingsManager, embeddings=CountingEmbeddings(fail=True))
    await rig.publish(TextEmbeddingRequested(session_id=SESSION, text=DOCUMENT))
    [indexed] = rig.seen(DocumentChunksIndexed)
    assert indexed.chunks and indexed.vectors is None
    [error] = rig.seen(ErrorOccurred)
    assert error.code == "embeddings_unavailable" and "keyword search" in error.message


async def test_an_empty_document_indexes_nothing() -> None:
    rig = ManagerRig(EmbeddingsManager, embeddings=CountingEmbeddings())
    await rig.publish(TextEmbeddingRequested(session_id=SESSION, text="   \n "))
    assert rig.seen(DocumentChunksIndexed) == [] and rig.seen(ErrorOccurred) == []
