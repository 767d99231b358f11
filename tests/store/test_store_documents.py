"""Session documents: chunking, FTS5/BM25 search, vectors, persistence."""

from __future__ import annotations

import pytest

from xtalk.retrieval.chunking import chunk_text
from xtalk.store import SessionNotFoundError, Store

WARRANTY = ("Warranty. The Aurora kettle comes with a warranty of two years from the date "
            "of purchase. Warranties cover manufacturing defects but not limescale damage. "
            + "Keep your receipt as proof of purchase. " * 8)
CLEANING = ("Cleaning and descaling. Descale the kettle every month with citric acid. "
            "Rinse it three times afterwards and never put the base in water. "
            + "Dry the outside with a soft cloth. " * 10)
SAFETY = ("Safety. Do not fill the kettle above the maximum mark. Keep the cord away from "
          "children and hot surfaces. " + "Unplug the kettle when it is not in use. " * 8)
MANUAL = "\n\n".join([SAFETY, WARRANTY, CLEANING])


@pytest.fixture
def session_id(store: Store) -> str:
    return store.conversations.create_session(None).id


def test_document_is_chunked_and_listed(store: Store, session_id: str):
    info = store.documents.add_document(session_id, "manual.md", "text/markdown", MANUAL)
    expected = chunk_text(MANUAL)
    assert len(expected) >= 3 and info.chunk_count == len(expected)
    assert [c.text for c in store.documents.chunks(session_id)] == expected
    assert all(c.vector is None for c in store.documents.chunks(session_id))
    [listed] = store.documents.list_documents(session_id)
    assert listed.name == "manual.md" and listed.content_type == "text/markdown"
    assert listed.chunk_count == info.chunk_count and listed.chars == len(MANUAL)
    assert store.documents.document_text(session_id, info.id) == MANUAL
    assert store.documents.document_text("other", info.id) is None
    with pytest.raises(SessionNotFoundError):
        store.documents.add_document("missing", "x.txt", "text/plain", "text")


@pytest.mark.parametrize("use_fts", [True, False], ids=["fts5", "python-bm25"])
def test_search_ranks_the_right_chunk_first(open_store, session_id: str, use_fts: bool):
    store: Store = open_store(use_fts=use_fts)
    assert store.documents.use_fts is use_fts
    store.documents.add_document(session_id, "manual.md", "text/markdown", MANUAL)
    other = store.conversations.create_session(None).id
    store.documents.add_document(other, "other.txt", "text/plain",
                                 "The warranty of the toaster is ten years.")

    hits = store.documents.search(session_id, "How long is the warranty?", k=3)
    assert hits and "two years" in hits[0]
    assert all("toaster" not in hit for hit in hits)  # only this session's documents
    assert "citric acid" in store.documents.search(session_id, "descaling acid", k=1)[0]
    assert "maximum mark" in store.documents.search(session_id, "fill maximum", k=1)[0]
    assert store.documents.search(session_id, "quantum chromodynamics") == []
    assert store.documents.search(session_id, "the of and") == []  # only stopwords
    assert "toaster" in store.documents.search(other, "warranty")[0]
    scored = store.documents.search_scored(session_id, "warranty receipt", k=2)
    assert scored[0][0] >= scored[-1][0] > 0


def test_fts_stems_and_ignores_query_syntax(store: Store, session_id: str):
    assert store.documents.use_fts
    store.documents.add_document(session_id, "manual.md", "text/markdown", MANUAL)
    assert "two years" in store.documents.search(session_id, "warranties", k=1)[0]
    for nasty in ['"warranty', "warranty AND NOT (", "NEAR(warranty", "col:warranty",
                  "warranty*", "-warranty", "^warranty", "warranty' OR 1=1 --"]:
        hits = store.documents.search(session_id, nasty, k=1)
        assert hits and "two years" in hits[0], nasty
    assert store.documents.search(session_id, '" OR "" ) NEAR') == []


def test_documents_survive_reopen(open_store, session_id: str):
    store = open_store()
    store.documents.add_document(session_id, "manual.md", "text/markdown", MANUAL)
    store.close()
    reopened = open_store()
    assert [d.name for d in reopened.documents.list_documents(session_id)] == ["manual.md"]
    assert "two years" in reopened.documents.search(session_id, "warranty", k=1)[0]


def test_fts_index_is_rebuilt_when_missing(open_store, session_id: str):
    store = open_store()
    store.documents.add_document(session_id, "manual.md", "text/markdown", MANUAL)
    with store.database.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE document_chunks_fts")
    store.close()
    reopened = open_store()
    assert "two years" in reopened.documents.search(session_id, "warranty", k=1)[0]


def test_delete_document_keeps_index_in_sync(store: Store, session_id: str):
    manual = store.documents.add_document(session_id, "manual.md", "text/markdown", MANUAL)
    store.documents.add_document(session_id, "faq.txt", "text/plain",
                                 "Is the warranty transferable? Yes, with the receipt.")
    assert len(store.documents.search(session_id, "warranty", k=5)) == 1 + sum(
        "arrant" in c for c in chunk_text(MANUAL))
    assert store.documents.delete_document(session_id, manual.id)
    assert not store.documents.delete_document(session_id, manual.id)
    assert store.documents.search(session_id, "warranty", k=5) == [
        "Is the warranty transferable? Yes, with the receipt."]
    assert store.documents.search(session_id, "descaling") == []
    with store.database.engine.connect() as conn:
        conn.exec_driver_sql(
            "INSERT INTO document_chunks_fts(document_chunks_fts) VALUES ('integrity-check')")


def test_vectors_round_trip_and_cosine_search(open_store, session_id: str):
    store = open_store()
    chunks = ["apples and pears", "trains and buses", "violins and cellos"]
    vectors = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.1, 0.0, 0.995]]
    with pytest.raises(ValueError):
        store.documents.add_document(session_id, "x", "text/plain", "a", vectors=[[1.0]] * 2,
                                     chunks=["a"])
    with pytest.raises(ValueError):
        store.documents.add_document(session_id, "x", "text/plain", "a",
                                     vectors=[[float("nan")]], chunks=["a"])
    store.documents.add_document(session_id, "mixed.txt", "text/plain", "\n\n".join(chunks),
                                 vectors=vectors, chunks=chunks)
    store.close()

    store = open_store()
    stored = store.documents.chunks(session_id)
    assert [c.text for c in stored] == chunks
    assert [c.vector for c in stored] == vectors
    # no word of the query is in the chunks: only the vectors can find them
    assert store.documents.search(session_id, "orchestra", k=1,
                                  query_vector=[0.0, 0.05, 1.0]) == ["violins and cellos"]
    assert store.documents.search(session_id, "commute", k=2,
                                  query_vector=[0.2, 0.9, 0.0]) == \
        ["trains and buses", "apples and pears"]
    # a query vector of another dimension (other embedding model) falls back to keywords
    assert store.documents.search(session_id, "buses", k=1, query_vector=[1.0, 0.0]) == \
        ["trains and buses"]


def test_vector_hits_are_topped_up_with_keyword_hits(store: Store, session_id: str):
    store.documents.add_document(session_id, "vec.txt", "text/plain", "solar panels",
                                 vectors=[[1.0, 0.0]], chunks=["solar panels"])
    store.documents.add_document(session_id, "plain.txt", "text/plain",
                                 "wind turbines need wind")
    assert store.documents.search(session_id, "wind turbines", k=3,
                                  query_vector=[0.9, 0.1]) == \
        ["solar panels", "wind turbines need wind"]
