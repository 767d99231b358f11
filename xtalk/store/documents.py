"""Documents uploaded into a session, their chunks, and search over them.

Documents are split with :func:`xtalk.retrieval.chunking.chunk_text` (the same chunking
as the engine's EmbeddingsManager, so vectors computed for those chunks line up) and
stored with the session: they survive restarts and are deleted with it.

Search, per session:

* SQLite: an FTS5 index over the chunks (external content, kept in sync by triggers in
  :mod:`xtalk.store.database`), ranked by ``bm25()``. The only SQLite-specific SQL of
  this module is in :meth:`Documents._fts_search`, used only on SQLite with FTS5.
* PostgreSQL: built-in full-text search, ``to_tsvector('english', text)`` matched
  against the query's words (each a ``plainto_tsquery``, OR-ed) and ranked by
  ``ts_rank``; the only PostgreSQL-specific SQL is in :meth:`Documents._pg_search`. The
  vectors are computed per query over the session's chunks only (a session holds a few
  documents), so no extra index is needed.
* Other dialects, or SQLite without FTS5, or ``use_fts=False``: the session's chunks are
  loaded and ranked with :class:`xtalk.retrieval.ranking.BM25Index`.
* With a ``query_vector`` and chunks that have vectors of the same dimension: cosine
  similarity (:func:`xtalk.retrieval.ranking.cosine_top_k`) first, topped up with
  keyword hits when fewer than ``k`` chunks are similar enough.

Query text is reduced to plain word tokens before it reaches FTS5 or PostgreSQL (where each
word is also a bound parameter), so user input can never be parsed as query syntax.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text

from xtalk.retrieval.chunking import chunk_text
from xtalk.retrieval.ranking import BM25Index, cosine_top_k, tokenize
from xtalk.store.conversations import SessionNotFoundError
from xtalk.store.database import FTS_TABLE, Clock, Database, utc_now
from xtalk.store.models import NAME_MAX, ConversationSession, Document, DocumentChunk

MAX_QUERY_TERMS = 32
PG_TS_CONFIG = "english"


@dataclass(frozen=True)
class DocumentInfo:
    id: int
    session_id: str
    name: str
    content_type: str
    created_at: datetime
    chunk_count: int
    chars: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "session_id": self.session_id, "name": self.name,
                "content_type": self.content_type, "created_at": self.created_at.isoformat(),
                "chunk_count": self.chunk_count, "chars": self.chars}


@dataclass(frozen=True)
class ChunkRecord:
    document_id: int
    ordinal: int
    text: str
    vector: list[float] | None


def _vector(values: Sequence[float]) -> list[float]:
    vector = [float(x) for x in values]
    if not vector or not all(math.isfinite(x) for x in vector):
        raise ValueError("a vector must be a non-empty list of finite numbers")
    return vector


def _query_terms(query: str) -> list[str]:
    return list(dict.fromkeys(tokenize(query)))[:MAX_QUERY_TERMS]


def _fts_query(query: str) -> str:
    """An FTS5 query matching any of the query's words (each a quoted string)."""
    return " OR ".join(f'"{term}"' for term in _query_terms(query))


class Documents:
    """Session documents and retrieval (synchronous; see :class:`xtalk.store.Store`).

    Args:
        db: The open database.
        clock: Returns the current aware UTC time.
        use_fts: Use the database's full-text search (SQLite FTS5, PostgreSQL
            ``tsvector``); None (default) uses it whenever the database has one, False
            always ranks in Python.
    """

    def __init__(self, db: Database, *, clock: Clock | None = None,
                 use_fts: bool | None = None) -> None:
        self.db = db
        self.clock = clock or utc_now
        self.use_fts = db.fts_enabled if use_fts is None else (use_fts and db.fts_enabled)

    def __repr__(self) -> str:
        return f"Documents({self.db!r}, use_fts={self.use_fts})"

    # ------------------------------------------------------------------ storing
    def add_document(self, session_id: str, name: str, content_type: str, text: str,
                     vectors: list[list[float]] | None = None, *,
                     chunks: list[str] | None = None) -> DocumentInfo:
        """Store a document and its chunks in the session (one transaction).

        Args:
            chunks: The document's chunks; by default ``chunk_text(text)``.
            vectors: One embedding per chunk, in chunk order, or None.

        Raises:
            SessionNotFoundError: No such session.
            ValueError: ``vectors`` does not have one finite vector per chunk.
        """
        chunks = [c for c in (chunk_text(text) if chunks is None else chunks) if c.strip()]
        stored_vectors: list[list[float] | None] = [None] * len(chunks)
        if vectors is not None:
            if len(vectors) != len(chunks):
                raise ValueError(f"{len(vectors)} vectors for {len(chunks)} chunks")
            stored_vectors = [_vector(v) for v in vectors]
        now = self.clock()
        with self.db.session(write=True) as s:
            if s.get(ConversationSession, session_id) is None:
                raise SessionNotFoundError(f"no session {session_id!r}")
            doc = Document(session_id=session_id, name=(name or "document")[:NAME_MAX],
                           content_type=(content_type or "text/plain")[:NAME_MAX],
                           text=text, created_at=now)
            s.add(doc)
            s.flush()
            s.add_all(DocumentChunk(document_id=doc.id, session_id=session_id, ordinal=i,
                                    text=chunk, vector=vector)
                      for i, (chunk, vector) in enumerate(zip(chunks, stored_vectors,
                                                              strict=True)))
            s.get(ConversationSession, session_id).updated_at = now
            return DocumentInfo(id=doc.id, session_id=session_id, name=doc.name,
                                content_type=doc.content_type, created_at=now,
                                chunk_count=len(chunks), chars=len(text))

    def list_documents(self, session_id: str) -> list[DocumentInfo]:
        counts = (select(DocumentChunk.document_id, func.count(DocumentChunk.id).label("n"))
                  .group_by(DocumentChunk.document_id).subquery())
        stmt = (select(Document.id, Document.name, Document.content_type, Document.created_at,
                       func.length(Document.text), func.coalesce(counts.c.n, 0))
                .outerjoin(counts, counts.c.document_id == Document.id)
                .where(Document.session_id == session_id).order_by(Document.id))
        with self.db.session() as s:
            return [DocumentInfo(id=i, session_id=session_id, name=n, content_type=ct,
                                 created_at=created, chunk_count=int(c), chars=int(chars or 0))
                    for i, n, ct, created, chars, c in s.execute(stmt)]

    def document_text(self, session_id: str, document_id: int) -> str | None:
        with self.db.session() as s:
            return s.scalar(select(Document.text).where(Document.id == document_id,
                                                        Document.session_id == session_id))

    def delete_document(self, session_id: str, document_id: int) -> bool:
        """Delete a document and its chunks (and their index entries)."""
        with self.db.session(write=True) as s:
            result = s.execute(
                delete(Document).where(Document.id == document_id,
                                       Document.session_id == session_id)
                .execution_options(synchronize_session=False))
            return bool(result.rowcount)

    def chunks(self, session_id: str) -> list[ChunkRecord]:
        """Every chunk of the session in document order, with its vector (e.g. to replay
        ``DocumentChunksIndexed`` into a restored session)."""
        with self.db.session() as s:
            rows = s.execute(
                select(DocumentChunk.document_id, DocumentChunk.ordinal, DocumentChunk.text,
                       DocumentChunk.vector)
                .where(DocumentChunk.session_id == session_id)
                .order_by(DocumentChunk.document_id, DocumentChunk.ordinal))
            return [ChunkRecord(d, o, t, list(v) if v is not None else None)
                    for d, o, t, v in rows]

    # ------------------------------------------------------------------ search
    def search(self, session_id: str, query: str, k: int = 3, *,
               query_vector: Sequence[float] | None = None) -> list[str]:
        """The texts of the session's ``k`` chunks most relevant to ``query``, best first
        (empty when nothing matches)."""
        return [chunk for _, chunk in self.search_scored(session_id, query, k,
                                                         query_vector=query_vector)]

    def search_scored(self, session_id: str, query: str, k: int = 3, *,
                      query_vector: Sequence[float] | None = None
                      ) -> list[tuple[float, str]]:
        """Like :meth:`search`, with scores (cosine similarity or BM25; higher is better;
        vector hits come first)."""
        if k <= 0:
            return []
        hits: list[tuple[float, str]] = []
        if query_vector is not None:
            hits = self._vector_search(session_id, _vector(query_vector), k)
            if len(hits) >= k:
                return hits
        seen = {chunk for _, chunk in hits}
        for score, chunk in self._keyword_search(session_id, query, k + len(hits)):
            if chunk not in seen:
                hits.append((score, chunk))
                seen.add(chunk)
            if len(hits) >= k:
                break
        return hits

    def _vector_search(self, session_id: str, query_vector: list[float],
                       k: int) -> list[tuple[float, str]]:
        with self.db.session() as s:
            rows = s.execute(select(DocumentChunk.text, DocumentChunk.vector).where(
                DocumentChunk.session_id == session_id, DocumentChunk.vector.is_not(None))
                .order_by(DocumentChunk.id)).all()
        pairs = [(t, v) for t, v in rows if isinstance(v, list) and len(v) == len(query_vector)]
        if not pairs:
            return []
        return cosine_top_k(query_vector, [v for _, v in pairs], [t for t, _ in pairs], k)

    def _keyword_search(self, session_id: str, query: str,
                        k: int) -> list[tuple[float, str]]:
        if not tokenize(query):
            return []
        if self.use_fts and self.db.is_sqlite:
            return self._fts_search(session_id, query, k)
        if self.use_fts and self.db.dialect == "postgresql":
            return self._pg_search(session_id, query, k)
        with self.db.session() as s:
            texts = list(s.scalars(select(DocumentChunk.text)
                                   .where(DocumentChunk.session_id == session_id)
                                   .order_by(DocumentChunk.id)))
        index = BM25Index()
        index.add(texts)
        return index.search(query, k)

    def _fts_search(self, session_id: str, query: str, k: int) -> list[tuple[float, str]]:
        # SQLite only (checked by the caller): FTS5 MATCH + bm25() (lower is better).
        stmt = text(
            f"SELECT c.text, bm25({FTS_TABLE}) AS rank FROM {FTS_TABLE} "
            f"JOIN document_chunks AS c ON c.id = {FTS_TABLE}.rowid "
            f"WHERE {FTS_TABLE} MATCH :query AND c.session_id = :session_id "
            "ORDER BY rank, c.id LIMIT :k")
        with self.db.session() as s:
            rows = s.execute(stmt, {"query": _fts_query(query), "session_id": session_id,
                                    "k": k}).all()
        return [(-float(rank), chunk) for chunk, rank in rows]

    def _pg_search(self, session_id: str, query: str, k: int) -> list[tuple[float, str]]:
        # PostgreSQL only (checked by the caller): tsvector @@ tsquery + ts_rank (higher
        # is better). Every word is a bound parameter, OR-ed with the tsquery || operator;
        # words that are stop words in PG_TS_CONFIG add nothing.
        terms = _query_terms(query)
        params: dict[str, Any] = {f"t{i}": term for i, term in enumerate(terms)}
        tsquery = " || ".join(f"plainto_tsquery('{PG_TS_CONFIG}', :t{i})"
                              for i in range(len(terms)))
        # The chunk's tsvector is computed once per row (LATERAL), for the match and the rank.
        stmt = text(
            "SELECT c.text, ts_rank(v.doc, q.query) AS rank "
            f"FROM document_chunks AS c "
            f"CROSS JOIN LATERAL to_tsvector('{PG_TS_CONFIG}', c.text) AS v(doc), "
            f"(SELECT {tsquery} AS query) AS q "
            "WHERE c.session_id = :session_id AND v.doc @@ q.query "
            "ORDER BY rank DESC, c.id LIMIT :k")
        with self.db.session() as s:
            rows = s.execute(stmt, {**params, "session_id": session_id, "k": k}).all()
        return [(float(rank), chunk) for chunk, rank in rows]


__all__ = ["ChunkRecord", "DocumentInfo", "Documents"]
