"""Document retrieval helpers: chunking and ranking (no model needed for BM25)."""
