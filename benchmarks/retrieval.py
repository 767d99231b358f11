"""Retrieval quality and cost: full text vs MiniLM vectors vs their fusion.

Usage::

    python benchmarks/retrieval.py [--repeats 3] [--k 60] [--show-misses]

Documents: ``benchmarks/data/retrieval/*.md`` (household notes), chunked with
``xtalk.retrieval.chunking.chunk_text`` (the store's defaults). Questions:
``benchmarks/data/retrieval/questions.json``, each with its document and a verbatim answer
phrase; a chunk answers when it holds the phrase (two can, through the chunks' overlap).
Most questions are paraphrased away from the text ("guarantee period on the heating unit"
for the boiler's warranty); a second, smaller set asks with the text's own names and codes
("fault code F75"). For each method and set, hit@1 and hit@3 over all chunks of all
documents:

* BM25 (``xtalk.retrieval.ranking.BM25Index``);
* the store's SQLite FTS5 index (``Documents.search_hits`` on a temporary file, no vector);
* MiniLM vectors (cosine over every chunk);
* hybrid: reciprocal-rank fusion (``xtalk.retrieval.hybrid.fuse``) of FTS5 and vectors,
  and of BM25 and vectors;
* the store as it is: ``Documents.search_hits`` with a query vector (its own fusion of
  FTS5 and the vector hits above ``cosine_top_k``'s 0.2 floor).

Cost: MiniLM load time (fresh processes), embedding time per chunk (batch 16 and one at a
time), per query, and the median query time of each search. Prints medians and ratios; no
thresholds (figures depend on the machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xtalk.models.embeddings.minilm import MiniLMEmbeddings  # noqa: E402
from xtalk.retrieval.chunking import chunk_text  # noqa: E402
from xtalk.retrieval.hybrid import fuse  # noqa: E402
from xtalk.retrieval.ranking import BM25Index  # noqa: E402
from xtalk.store.database import open_database, sqlite_url  # noqa: E402
from xtalk.store.documents import Documents  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "retrieval"
DEPTH = 10  # ranks kept from each method (fusion works on these)
LOAD_SNIPPET = (
    "import sys, time; sys.path.insert(0, {root!r}); t0 = time.perf_counter(); "
    "from xtalk.models.embeddings.minilm import MiniLMEmbeddings; t1 = time.perf_counter(); "
    "MiniLMEmbeddings().load(); t2 = time.perf_counter(); print(t1 - t0, t2 - t1)"
)


@dataclass(frozen=True)
class Chunk:
    id: str  # "<document>#<ordinal>"
    document: str
    text: str


@dataclass(frozen=True)
class Question:
    text: str
    document: str
    answer: str
    kind: str  # "paraphrase" or "literal"
    relevant: frozenset[str]


def load_corpus() -> tuple[dict[str, str], list[Chunk], list[Question]]:
    documents = {path.name: path.read_text(encoding="utf-8")
                 for path in sorted(DATA.glob("*.md"))}
    chunks = [Chunk(f"{name}#{i}", name, chunk)
              for name, text in documents.items() for i, chunk in enumerate(chunk_text(text))]
    questions = []
    for entry in json.loads((DATA / "questions.json").read_text(encoding="utf-8")):
        relevant = frozenset(c.id for c in chunks
                             if c.document == entry["doc"] and entry["answer"] in c.text)
        if not relevant:
            raise SystemExit(f"no chunk of {entry['doc']} holds {entry['answer']!r}")
        questions.append(Question(entry["q"], entry["doc"], entry["answer"], entry["kind"],
                                  relevant))
    return documents, chunks, questions


def median_ms(values: Sequence[float]) -> float:
    return statistics.median(values) * 1000


def hits(rankings: list[list[str]], questions: list[Question], k: int) -> int:
    return sum(bool(set(r[:k]) & q.relevant) for r, q in zip(rankings, questions, strict=True))


def timed(fn: Callable[[str], list[str]], queries: list[str]) -> tuple[list[list[str]], float]:
    """Rankings of ``queries`` and the median time of one query."""
    rankings, times = [], []
    for query in queries:
        start = time.perf_counter()
        rankings.append(fn(query))
        times.append(time.perf_counter() - start)
    return rankings, median_ms(times)


def load_times(repeats: int) -> list[tuple[float, float]]:
    """(import s, load s) of MiniLM in ``repeats`` fresh interpreters."""
    out = []
    for _ in range(repeats):
        result = subprocess.run([sys.executable, "-c", LOAD_SNIPPET.format(root=str(ROOT))],
                                capture_output=True, text=True, check=True)
        imported, loaded = result.stdout.split()
        out.append((float(imported), float(loaded)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3,
                        help="fresh-process loads and timing passes (default 3)")
    parser.add_argument("--k", type=int, default=60, help="reciprocal-rank fusion constant")
    parser.add_argument("--show-misses", action="store_true",
                        help="print the questions each method misses at 3")
    args = parser.parse_args()

    documents, chunks, questions = load_corpus()
    texts = [c.text for c in chunks]
    by_text = {c.text: c.id for c in chunks}
    queries = [q.text for q in questions]
    print(f"{len(documents)} documents ({sum(len(t.split()) for t in documents.values())} "
          f"words), {len(chunks)} chunks, {len(questions)} questions "
          f"({sum(len(q.relevant) > 1 for q in questions)} answered by either of two chunks)")

    loads = load_times(args.repeats)
    model = MiniLMEmbeddings(batch_size=16)
    model.load()
    tokens = model.count_tokens(texts)
    print(f"chunk length: median {statistics.median(len(t) for t in texts):.0f} chars, "
          f"{statistics.median(tokens):.0f} word pieces (max {max(tokens)})")

    # ------------------------------------------------------------ embedding cost
    model.embed_documents(texts[:16])  # warm-up
    batch_per_chunk: list[float] = []
    single: list[float] = []
    for _ in range(args.repeats):
        for start in range(0, len(texts), 16):
            batch = texts[start:start + 16]
            begin = time.perf_counter()
            model.embed_documents(batch)
            batch_per_chunk.append((time.perf_counter() - begin) / len(batch))
        for text in texts:
            begin = time.perf_counter()
            model.embed_query(text)
            single.append(time.perf_counter() - begin)
    vectors = np.asarray(model.embed_documents(texts), dtype=np.float32)
    query_times: list[float] = []
    query_vectors = []
    for query in queries:
        begin = time.perf_counter()
        query_vectors.append(model.embed_query(query))
        query_times.append(time.perf_counter() - begin)

    # ------------------------------------------------------------ rankings
    bm25 = BM25Index()
    bm25.add(texts)
    bm25_rank, bm25_ms = timed(lambda q: [by_text[t] for _, t in bm25.search(q, DEPTH)],
                               queries)

    def vector_search(query: str) -> list[str]:
        q = np.asarray(query_vectors[queries.index(query)], dtype=np.float32)
        return [chunks[i].id for i in np.argsort(-(vectors @ q))[:DEPTH]]

    vec_rank, vec_ms = timed(vector_search, queries)

    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(sqlite_url(Path(tmp) / "bench.sqlite"))
        try:
            store = Documents(db)
            for name, text in documents.items():  # the desktop's library (owner None)
                own = [c for c in chunks if c.document == name]
                store.add_document(None, name, "text/markdown", text,
                                   vectors=[vectors[chunks.index(c)].tolist() for c in own],
                                   chunks=[c.text for c in own])
            fts_name = "SQLite FTS5" if store.use_fts and db.is_sqlite else "store (BM25 fallback)"
            fts_rank, fts_ms = timed(
                lambda q: [by_text[h.text] for h in store.search_hits(None, q, DEPTH)],
                queries)
            store_rank, store_ms = timed(
                lambda q: [by_text[h.text] for h in store.search_hits(
                    None, q, DEPTH, query_vector=query_vectors[queries.index(q)])],
                queries)
        finally:
            db.close()

    hybrid_rank = [fuse([f, v], k=args.k) for f, v in zip(fts_rank, vec_rank, strict=True)]
    hybrid_bm25 = [fuse([b, v], k=args.k) for b, v in zip(bm25_rank, vec_rank, strict=True)]

    # ------------------------------------------------------------ report
    rows = [("BM25 (ranking.py)", bm25_rank, f"{bm25_ms:.2f}"),
            (fts_name, fts_rank, f"{fts_ms:.2f}"),
            ("MiniLM vectors", vec_rank, f"{vec_ms:.2f} + embedding"),
            (f"hybrid RRF(FTS5, vectors), k={args.k}", hybrid_rank, "both"),
            (f"hybrid RRF(BM25, vectors), k={args.k}", hybrid_bm25, "both"),
            ("store search_hits(query_vector=...)", store_rank, f"{store_ms:.2f} + embedding")]
    kinds = sorted({q.kind for q in questions}, reverse=True)  # paraphrase, literal
    counts = {kind: sum(q.kind == kind for q in questions) for kind in kinds}
    header = "".join(f" {f'{kind} ({counts[kind]}) hit@1 / hit@3':>30s}" for kind in kinds)
    print(f"\n{'method':40s}{header}  query ms (median)")
    for name, rankings, cost in rows:
        cells = ""
        for kind in kinds:
            pairs = [(r, q) for r, q in zip(rankings, questions, strict=True) if q.kind == kind]
            ranked, asked = [r for r, _ in pairs], [q for _, q in pairs]
            h1, h3 = hits(ranked, asked, 1), hits(ranked, asked, 3)
            cells += f" {h1:9d} ({h1 / len(asked):4.0%}) / {h3:3d} ({h3 / len(asked):4.0%})"
        print(f"{name:40s}{cells}  {cost}")
    if args.show_misses:
        for name, rankings, _ in rows:
            missed = [f"[{q.kind}] {q.text}" for r, q in zip(rankings, questions, strict=True)
                      if not set(r[:3]) & q.relevant]
            print(f"\nmissed at 3 by {name}:" + "".join(f"\n  {m}" for m in missed))

    batch_ms, single_ms = median_ms(batch_per_chunk), median_ms(single)
    print(f"\nMiniLM load (fresh process, {args.repeats} runs): median "
          f"{median_ms([load for _, load in loads]):.0f} ms "
          f"(+ module import {median_ms([imp for imp, _ in loads]):.0f} ms)")
    print(f"embedding per chunk: batch 16 median {batch_ms:.1f} ms, one at a time median "
          f"{single_ms:.1f} ms (ratio single / batch {single_ms / batch_ms:.2f})")
    print(f"embedding one question: median {median_ms(query_times):.1f} ms; "
          f"all {len(chunks)} chunks in batches of 16: {batch_ms * len(chunks) / 1000:.2f} s")


if __name__ == "__main__":
    main()
