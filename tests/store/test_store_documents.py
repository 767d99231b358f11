"""The document library: chunking, per-owner FTS5/BM25 search, vectors, hybrid fusion,
persistence, and documents that outlive the conversation they were added in."""

from __future__ import annotations

import pytest

from xtalk.retrieval.chunking import chunk_text
from xtalk.store import Store

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
def owner(store: Store) -> int:
    """A user's id: every test's library belongs to somebody (the desktop's is None)."""
    return store.users.create_user("alice", "correct horse battery").id


def test_document_is_chunked_and_listed(store: Store, owner: int):
    info = store.documents.add_document(owner, "manual.md", "text/markdown", MANUAL)
    expected = chunk_text(MANUAL)
    assert len(expected) >= 3 and info.chunk_count == len(expected)
    assert [c.text for c in store.documents.chunks(owner)] == expected
    assert all(c.vector is None for c in store.documents.chunks(owner))
    [listed] = store.documents.list_documents(owner)
    assert listed.name == "manual.md" and listed.content_type == "text/markdown"
    assert listed.chunk_count == info.chunk_count and listed.chars == len(MANUAL)
    assert store.documents.document_text(owner, info.id) == MANUAL
    assert store.documents.document_text(None, info.id) is None  # the desktop's: not it
    assert not store.documents.delete_document(None, info.id)
    assert store.documents.list_documents(None) == []


def test_an_empty_library_is_known_as_such(store: Store, owner: int):
    assert not store.documents.has_chunks(owner)
    info = store.documents.add_document(owner, "manual.md", "text/markdown", MANUAL)
    assert store.documents.has_chunks(owner)
    assert not store.documents.has_chunks(None)  # the desktop's library is another
    store.documents.delete_document(owner, info.id)
    assert not store.documents.has_chunks(owner)


@pytest.mark.parametrize("use_fts", [True, False], ids=["fts5", "python-bm25"])
def test_search_ranks_the_right_chunk_first(open_store, owner: int, use_fts: bool):
    store: Store = open_store(use_fts=use_fts)
    assert store.documents.use_fts is use_fts
    store.documents.add_document(owner, "manual.md", "text/markdown", MANUAL)
    other = None  # the desktop's library
    store.documents.add_document(other, "other.txt", "text/plain",
                                 "The warranty of the toaster is ten years.")

    hits = store.documents.search(owner, "How long is the warranty?", k=3)
    assert hits and "two years" in hits[0]
    assert all("toaster" not in hit for hit in hits)  # only this owner's documents
    assert "citric acid" in store.documents.search(owner, "descaling acid", k=1)[0]
    assert "maximum mark" in store.documents.search(owner, "fill maximum", k=1)[0]
    assert store.documents.search(owner, "quantum chromodynamics") == []
    assert store.documents.search(owner, "the of and") == []  # only stopwords
    assert "toaster" in store.documents.search(other, "warranty")[0]
    hits = store.documents.search_hits(owner, "warranty receipt", k=2)
    assert hits[0].score >= hits[-1].score > 0 and hits[0].document_name == "manual.md"


def test_fts_stems_and_ignores_query_syntax(store: Store, owner: int):
    assert store.documents.use_fts
    store.documents.add_document(owner, "manual.md", "text/markdown", MANUAL)
    assert "two years" in store.documents.search(owner, "warranties", k=1)[0]
    for nasty in ['"warranty', "warranty AND NOT (", "NEAR(warranty", "col:warranty",
                  "warranty*", "-warranty", "^warranty", "warranty' OR 1=1 --"]:
        hits = store.documents.search(owner, nasty, k=1)
        assert hits and "two years" in hits[0], nasty
    assert store.documents.search(owner, '" OR "" ) NEAR') == []


def test_documents_survive_reopen(open_store, owner: int):
    store = open_store()
    store.documents.add_document(owner, "manual.md", "text/markdown", MANUAL)
    store.close()
    reopened = open_store()
    assert [d.name for d in reopened.documents.list_documents(owner)] == ["manual.md"]
    assert "two years" in reopened.documents.search(owner, "warranty", k=1)[0]


def test_fts_index_is_rebuilt_when_missing(open_store, owner: int):
    store = open_store()
    store.documents.add_document(owner, "manual.md", "text/markdown", MANUAL)
    with store.database.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE library_chunks_fts")
    store.close()
    reopened = open_store()
    assert "two years" in reopened.documents.search(owner, "warranty", k=1)[0]


def test_delete_document_keeps_index_in_sync(store: Store, owner: int):
    manual = store.documents.add_document(owner, "manual.md", "text/markdown", MANUAL)
    store.documents.add_document(owner, "faq.txt", "text/plain",
                                 "Is the warranty transferable? Yes, with the receipt.")
    assert len(store.documents.search(owner, "warranty", k=5)) == 1 + sum(
        "arrant" in c for c in chunk_text(MANUAL))
    assert store.documents.delete_document(owner, manual.id)
    assert not store.documents.delete_document(owner, manual.id)
    assert store.documents.search(owner, "warranty", k=5) == [
        "Is the warranty transferable? Yes, with the receipt."]
    assert store.documents.search(owner, "descaling") == []
    with store.database.engine.connect() as conn:
        conn.exec_driver_sql(
            "INSERT INTO library_chunks_fts(library_chunks_fts) VALUES ('integrity-check')")


def test_vectors_round_trip_and_cosine_search(open_store, owner: int):
    store = open_store()
    chunks = ["apples and pears", "trains and buses", "violins and cellos"]
    vectors = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.1, 0.0, 0.995]]
    with pytest.raises(ValueError):
        store.documents.add_document(owner, "x", "text/plain", "a", vectors=[[1.0]] * 2,
                                     chunks=["a"])
    with pytest.raises(ValueError):
        store.documents.add_document(owner, "x", "text/plain", "a",
                                     vectors=[[float("nan")]], chunks=["a"])
    store.documents.add_document(owner, "mixed.txt", "text/plain", "\n\n".join(chunks),
                                 vectors=vectors, chunks=chunks)
    store.close()

    store = open_store()
    stored = store.documents.chunks(owner)
    assert [c.text for c in stored] == chunks
    assert [c.vector for c in stored] == vectors
    # no word of the query is in the chunks: only the vectors can find them
    assert store.documents.search(owner, "orchestra", k=1,
                                  query_vector=[0.0, 0.05, 1.0]) == ["violins and cellos"]
    assert store.documents.search(owner, "commute", k=2,
                                  query_vector=[0.2, 0.9, 0.0]) == \
        ["trains and buses", "apples and pears"]
    # a query vector of another dimension (other embedding model) falls back to keywords
    assert store.documents.search(owner, "buses", k=1, query_vector=[1.0, 0.0]) == \
        ["trains and buses"]


def test_words_and_meaning_are_fused(store: Store, owner: int):
    """A chunk both rankings like beats one only either likes; a chunk only the vectors
    find still comes back (after them), and so does one only the words find."""
    chunks = ["the boiler warranty lasts five years", "solar panels on the roof",
              "warranty of the toaster"]
    vectors = [[1.0, 0.0, 0.0], [0.9, 0.43, 0.0], [0.0, 0.0, 1.0]]
    store.documents.add_document(owner, "notes.txt", "text/plain", "\n\n".join(chunks),
                                 vectors=vectors, chunks=chunks)
    hits = store.documents.search(owner, "warranty", k=3, query_vector=[0.95, 0.3, 0.0])
    assert hits == ["the boiler warranty lasts five years", "solar panels on the roof",
                    "warranty of the toaster"] or hits == [
        "the boiler warranty lasts five years", "warranty of the toaster",
        "solar panels on the roof"]
    assert hits[0] == "the boiler warranty lasts five years" and len(hits) == 3


def test_vectors_can_be_filled_in_later(store: Store, owner: int):
    store.documents.add_document(owner, "plain.txt", "text/plain", "wind turbines need wind")
    [(chunk_id, text)] = store.documents.chunks_without_vectors(owner)
    assert text == "wind turbines need wind"
    assert store.documents.chunks_without_vectors(None) == []  # not the desktop's
    store.documents.set_vectors({chunk_id: [0.0, 1.0]})
    assert store.documents.chunks_without_vectors(owner) == []
    assert store.documents.search(owner, "breeze", query_vector=[0.1, 1.0]) == [text]
    with pytest.raises(ValueError):
        store.documents.set_vectors({chunk_id: [float("inf")]})


def test_a_document_outlives_the_conversation_it_was_added_in(store: Store, owner: int):
    session = store.conversations.create_session(owner)
    info = store.documents.add_document(owner, "manual.md", "text/markdown", MANUAL,
                                        session_id=session.id)
    assert info.session_id == session.id
    assert store.conversations.delete_session(owner, session.id)
    [kept] = store.documents.list_documents(owner)
    assert kept.id == info.id and kept.session_id is None
    assert "two years" in store.documents.search(owner, "warranty", k=1)[0]


def test_a_users_library_goes_with_the_user(store: Store, owner: int):
    store.documents.add_document(owner, "manual.md", "text/markdown", MANUAL)
    store.users.delete_user(owner)
    assert store.documents.list_documents(owner) == []
    assert store.documents.search(owner, "warranty") == []
