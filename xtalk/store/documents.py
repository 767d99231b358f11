"""The document library: each owner's documents, their chunks, and search over them.

A document belongs to its owner (a user id, or None for the desktop), whichever
conversation it was added in; every conversation of that owner searches it, and it stays
when that conversation is deleted. Documents are split with
:func:`xtalk.retrieval.chunking.chunk_text` (the engine's chunking, so vectors computed
for those chunks line up).

Search (:meth:`Documents.search_hits`) is hybrid:

* words: SQLite's FTS5 index over the chunks (external content, kept in sync by triggers
  in :mod:`xtalk.store.database`) ranked by ``bm25()``; PostgreSQL's
  ``to_tsvector('english', text)`` matched against the query's words and ranked by
  ``ts_rank``; elsewhere (or ``use_fts=False``) :class:`~xtalk.retrieval.ranking.BM25Index`
  in Python. The dialect-specific SQL is only in ``_fts_search`` and ``_pg_search``.
* meaning: with a ``query_vector``, cosine similarity against the chunks that carry a
  vector of the same dimension (:meth:`Documents.set_vectors` fills vectors in later).
* both rankings are fused by reciprocal rank (:func:`xtalk.retrieval.hybrid.fuse`).

Query text is reduced to plain word tokens before it reaches FTS5 or PostgreSQL (where
each word is also a bound parameter), so user input can never be parsed as query syntax.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update

from xtalk.retrieval.chunking import chunk_text
from xtalk.retrieval.hybrid import fuse
from xtalk.retrieval.ranking import BM25Index, cosine_top_k, tokenize
from xtalk.store.database import FTS_TABLE, Clock, Database, utc_now
from xtalk.store.models import NAME_MAX, Document, DocumentChunk
from xtalk.store.owners import Owner, owned_by, owner_id

MAX_QUERY_TERMS = 32
PG_TS_CONFIG = "english"


@dataclass(frozen=True)
class DocumentInfo:
    id: int
    user_id: int | None
    session_id: str | None
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
    id: int
    document_id: int
    ordinal: int
    text: str
    vector: list[float] | None


@dataclass(frozen=True)
class SearchHit:
    """One found chunk: its text, the document it is from, and its fused score."""

    text: str
    document_id: int
    document_name: str
    score: float


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
    """The owners' document libraries (synchronous; see :class:`xtalk.store.Store`).

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

    # ------------------------------------------------------------------ the library
    def add_document(self, user_id: Owner, name: str, content_type: str, text: str,
                     vectors: list[list[float]] | None = None, *,
                     chunks: list[str] | None = None,
                     session_id: str | None = None) -> DocumentInfo:
        """Store a document and its chunks in the owner's library (one transaction).

        Args:
            chunks: The document's chunks; by default ``chunk_text(text)``.
            vectors: One embedding per chunk, in chunk order, or None (fill them in
                later with :meth:`set_vectors`).
            session_id: The conversation it was added in (kept for information).

        Raises:
            ValueError: ``vectors`` does not have one finite vector per chunk.
        """
        owner = owner_id(user_id)
        chunks = [c for c in (chunk_text(text) if chunks is None else chunks) if c.strip()]
        stored_vectors: list[list[float] | None] = [None] * len(chunks)
        if vectors is not None:
            if len(vectors) != len(chunks):
                raise ValueError(f"{len(vectors)} vectors for {len(chunks)} chunks")
            stored_vectors = [_vector(v) for v in vectors]
        now = self.clock()
        with self.db.session(write=True) as s:
            doc = Document(user_id=owner, session_id=session_id,
                           name=(name or "document")[:NAME_MAX],
                           content_type=(content_type or "text/plain")[:NAME_MAX],
                           text=text, created_at=now)
            s.add(doc)
            s.flush()
            s.add_all(DocumentChunk(document_id=doc.id, ordinal=i, text=chunk, vector=vector)
                      for i, (chunk, vector) in enumerate(zip(chunks, stored_vectors,
                                                              strict=True)))
            return DocumentInfo(id=doc.id, user_id=owner, session_id=session_id,
                                name=doc.name, content_type=doc.content_type,
                                created_at=now, chunk_count=len(chunks), chars=len(text))

    def list_documents(self, user_id: Owner) -> list[DocumentInfo]:
        """The owner's documents, oldest first."""
        owner = owner_id(user_id)
        counts = (select(DocumentChunk.document_id, func.count(DocumentChunk.id).label("n"))
                  .group_by(DocumentChunk.document_id).subquery())
        stmt = (select(Document.id, Document.session_id, Document.name, Document.content_type,
                       Document.created_at, func.length(Document.text),
                       func.coalesce(counts.c.n, 0))
                .outerjoin(counts, counts.c.document_id == Document.id)
                .where(owned_by(Document.user_id, owner)).order_by(Document.id))
        with self.db.session() as s:
            return [DocumentInfo(id=i, user_id=owner, session_id=sid, name=n,
                                 content_type=ct, created_at=created, chunk_count=int(c),
                                 chars=int(chars or 0))
                    for i, sid, n, ct, created, chars, c in s.execute(stmt)]

    def document_text(self, user_id: Owner, document_id: int) -> str | None:
        with self.db.session() as s:
            return s.scalar(select(Document.text).where(
                Document.id == document_id, owned_by(Document.user_id, owner_id(user_id))))

    def delete_document(self, user_id: Owner, document_id: int) -> bool:
        """Delete one of the owner's documents and its chunks (and their index entries);
        False when it is not the owner's."""
        with self.db.session(write=True) as s:
            result = s.execute(
                delete(Document).where(Document.id == document_id,
                                       owned_by(Document.user_id, owner_id(user_id)))
                .execution_options(synchronize_session=False))
            return bool(result.rowcount)

    def chunks(self, user_id: Owner) -> list[ChunkRecord]:
        """Every chunk of the owner's library in document order, with its vector."""
        with self.db.session() as s:
            rows = s.execute(self._owned_chunks(
                owner_id(user_id), DocumentChunk.id, DocumentChunk.document_id,
                DocumentChunk.ordinal, DocumentChunk.text, DocumentChunk.vector)
                .order_by(DocumentChunk.document_id, DocumentChunk.ordinal))
            return [ChunkRecord(i, d, o, t, list(v) if v is not None else None)
                    for i, d, o, t, v in rows]

    def has_chunks(self, user_id: Owner) -> bool:
        """Whether the owner's library has anything to search."""
        with self.db.session() as s:
            return s.scalar(self._owned_chunks(owner_id(user_id), DocumentChunk.id)
                            .limit(1)) is not None

    def chunks_without_vectors(self, user_id: Owner, limit: int = 64
                               ) -> list[tuple[int, str]]:
        """(chunk id, text) of up to ``limit`` of the owner's chunks with no vector."""
        with self.db.session() as s:
            return [(i, t) for i, t in s.execute(
                self._owned_chunks(owner_id(user_id), DocumentChunk.id, DocumentChunk.text)
                .where(DocumentChunk.vector.is_(None))
                .order_by(DocumentChunk.id).limit(limit))]

    def set_vectors(self, vectors: Mapping[int, Sequence[float]]) -> None:
        """Store the embedding of each chunk id in ``vectors`` (one transaction)."""
        checked = {int(i): _vector(v) for i, v in vectors.items()}
        with self.db.session(write=True) as s:
            for chunk_id, vector in checked.items():
                s.execute(update(DocumentChunk).where(DocumentChunk.id == chunk_id)
                          .values(vector=vector).execution_options(synchronize_session=False))

    @staticmethod
    def _owned_chunks(owner: Owner, *columns: Any) -> Any:
        return (select(*columns).join(Document, Document.id == DocumentChunk.document_id)
                .where(owned_by(Document.user_id, owner)))

    # ------------------------------------------------------------------ search
    def search(self, user_id: Owner, query: str, k: int = 3, *,
               query_vector: Sequence[float] | None = None) -> list[str]:
        """The texts of the owner's ``k`` chunks most relevant to ``query``, best first
        (empty when nothing matches)."""
        return [hit.text for hit in self.search_hits(user_id, query, k,
                                                     query_vector=query_vector)]

    def search_hits(self, user_id: Owner, query: str, k: int = 3, *,
                    query_vector: Sequence[float] | None = None) -> list[SearchHit]:
        """The owner's ``k`` best chunks for ``query``: the word ranking and, with a
        ``query_vector``, the meaning ranking, fused by reciprocal rank."""
        if k <= 0:
            return []
        owner = owner_id(user_id)
        depth = max(k * 4, 12)
        rankings = [self._keyword_search(owner, query, depth)]
        if query_vector is not None:
            rankings.append(self._vector_search(owner, _vector(query_vector), depth))
        fused = fuse([[chunk_id for chunk_id, _ in ranking] for ranking in rankings if ranking])
        if not fused:
            return []
        chosen = fused[:k]
        with self.db.session() as s:
            rows = {i: (t, d, n) for i, t, d, n in s.execute(
                select(DocumentChunk.id, DocumentChunk.text, Document.id, Document.name)
                .join(Document, Document.id == DocumentChunk.document_id)
                .where(DocumentChunk.id.in_(chosen)))}
        return [SearchHit(rows[i][0], rows[i][1], rows[i][2], 1.0 / (rank + 1))
                for rank, i in enumerate(chosen) if i in rows]

    def _vector_search(self, owner: Owner, query_vector: list[float],
                       k: int) -> list[tuple[int, float]]:
        with self.db.session() as s:
            rows = s.execute(self._owned_chunks(owner, DocumentChunk.id, DocumentChunk.vector)
                             .where(DocumentChunk.vector.is_not(None))
                             .order_by(DocumentChunk.id)).all()
        pairs = [(i, v) for i, v in rows if isinstance(v, list) and len(v) == len(query_vector)]
        if not pairs:
            return []
        hits = cosine_top_k(query_vector, [v for _, v in pairs], [i for i, _ in pairs], k)
        return [(chunk_id, score) for score, chunk_id in hits]

    def _keyword_search(self, owner: Owner, query: str, k: int) -> list[tuple[int, float]]:
        if not tokenize(query):
            return []
        if self.use_fts and self.db.is_sqlite:
            return self._fts_search(owner, query, k)
        if self.use_fts and self.db.dialect == "postgresql":
            return self._pg_search(owner, query, k)
        with self.db.session() as s:
            rows = s.execute(self._owned_chunks(owner, DocumentChunk.id, DocumentChunk.text)
                             .order_by(DocumentChunk.id)).all()
        index = BM25Index()
        index.add([t for _, t in rows])
        by_text: dict[str, int] = {}
        for chunk_id, chunk in rows:
            by_text.setdefault(chunk, chunk_id)
        return [(by_text[chunk], score) for score, chunk in index.search(query, k)]

    @staticmethod
    def _owner_sql(owner: Owner) -> tuple[str, dict[str, Any]]:
        if owner is None:
            return "d.user_id IS NULL", {}
        return "d.user_id = :owner", {"owner": owner}

    def _fts_search(self, owner: Owner, query: str, k: int) -> list[tuple[int, float]]:
        # SQLite only (checked by the caller): FTS5 MATCH + bm25() (lower is better).
        where, params = self._owner_sql(owner)
        stmt = text(
            f"SELECT c.id, bm25({FTS_TABLE}) AS rank FROM {FTS_TABLE} "
            f"JOIN library_chunks AS c ON c.id = {FTS_TABLE}.rowid "
            "JOIN library_documents AS d ON d.id = c.document_id "
            f"WHERE {FTS_TABLE} MATCH :query AND {where} ORDER BY rank, c.id LIMIT :k")
        with self.db.session() as s:
            rows = s.execute(stmt, {"query": _fts_query(query), "k": k, **params}).all()
        return [(int(chunk_id), -float(rank)) for chunk_id, rank in rows]

    def _pg_search(self, owner: Owner, query: str, k: int) -> list[tuple[int, float]]:
        # PostgreSQL only (checked by the caller): tsvector @@ tsquery + ts_rank (higher
        # is better). Every word is a bound parameter, OR-ed with the tsquery || operator;
        # words that are stop words in PG_TS_CONFIG add nothing.
        terms = _query_terms(query)
        where, params = self._owner_sql(owner)
        params.update({f"t{i}": term for i, term in enumerate(terms)})
        tsquery = " || ".join(f"plainto_tsquery('{PG_TS_CONFIG}', :t{i})"
                              for i in range(len(terms)))
        # The chunk's tsvector is computed once per row (LATERAL), for the match and the rank.
        stmt = text(
            "SELECT c.id, ts_rank(v.doc, q.query) AS rank "
            "FROM library_chunks AS c JOIN library_documents AS d ON d.id = c.document_id "
            f"CROSS JOIN LATERAL to_tsvector('{PG_TS_CONFIG}', c.text) AS v(doc), "
            f"(SELECT {tsquery} AS query) AS q "
            f"WHERE {where} AND v.doc @@ q.query ORDER BY rank DESC, c.id LIMIT :k")
        with self.db.session() as s:
            rows = s.execute(stmt, {**params, "k": k}).all()
        return [(int(chunk_id), float(rank)) for chunk_id, rank in rows]


__all__ = ["ChunkRecord", "DocumentInfo", "Documents", "SearchHit"]
