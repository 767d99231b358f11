from xtalk.retrieval.chunking import chunk_text
from xtalk.retrieval.ranking import BM25Index, cosine_top_k


def test_chunks_respect_size_and_keep_every_word():
    text = "\n\n".join(f"Paragraph {i}. " + "alpha beta gamma. " * 30 for i in range(5))
    chunks = chunk_text(text, max_chars=300, overlap_chars=50)
    assert all(len(c) <= 300 for c in chunks)
    joined = " ".join(chunks)
    for i in range(5):
        assert f"Paragraph {i}." in joined


def test_bm25_ranks_the_matching_chunk_first():
    index = BM25Index()
    index.add(["The wifi password is hunter2.", "Dinner is at seven.",
               "The cat likes fish."])
    hits = index.search("what is the wifi password")
    assert hits[0][1] == "The wifi password is hunter2."
    assert index.search("zebra") == []


def test_cosine_top_k():
    docs = ["a", "b", "c"]
    vectors = [[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]]
    hits = cosine_top_k([1.0, 0.1], vectors, docs, k=2)
    assert [d for _, d in hits] == ["a", "c"]
