"""The store on a real PostgreSQL: the same store tests as on SQLite, plus PostgreSQL's
own checks (schema, full-text search, concurrent migration, masked password).

A PostgreSQL server is started on loopback for this module (tests/support/postgres_cluster.py;
Debian ``postgresql`` and ``psycopg[binary]``); every test gets a fresh database. The
module is skipped, with the reason, only when that server cannot start.

The shared tests are collected from the SQLite test modules (loaded from their files
here, so they run with this module's ``db_url`` fixture). Left out are only the tests of
SQLite itself (WAL pragmas, the FTS5 table, raw ``sqlite3`` edits, ``kill -9`` of a
SQLite writer); their PostgreSQL counterparts are below.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from postgres_cluster import PostgresCluster, PostgresUnavailable, start_postgres
from schema_check import assert_schema_matches_models
from sqlalchemy import inspect, text

from xtalk.store import SchemaVersionError, Store, database, open_database

HERE = Path(__file__).parent

#: Tests of SQLite itself, by module, with the reason they are not run here.
SQLITE_ONLY = {
    "test_store_conversations": {
        "test_delete_cascades": "counts rows of the SQLite FTS5 table",
    },
    "test_store_documents": {
        "test_fts_index_is_rebuilt_when_missing": "drops the SQLite FTS5 table",
        "test_delete_document_keeps_index_in_sync": "runs the FTS5 integrity check",
    },
    "test_store_users": {},
    "test_store_memories": {},
    "test_store_database": {
        "test_creates_schema_with_version_table_and_wal": "SQLite pragmas and file",
        "test_newer_schema_version_is_refused_and_left_untouched": "edits with sqlite3",
        "test_foreign_database_is_refused": "creates a SQLite file",
        "test_empty_file_is_migrated_from_version_zero": "an empty SQLite file",
        "test_schema_compiles_for_postgresql": "no server needed (runs on SQLite)",
        "test_default_url_is_in_the_user_data_dir": "the default SQLite path",
        "test_migrated_schema_matches_the_models": "PostgreSQL also reflects the unique "
                                                   "constraints' indexes (own version below)",
    },
}


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_xtalk_pg_shared_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pg_rows(db_url: str, sql: str) -> list[tuple]:
    """The PostgreSQL stand-in for the SQLite tests' raw ``sqlite3`` reads."""
    engine = open_database(db_url).engine
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


SHARED: list[str] = []
for _module_name, _skipped in SQLITE_ONLY.items():
    _module = _load(_module_name)
    if hasattr(_module, "_rows"):
        _module._rows = _pg_rows
    for _name, _obj in vars(_module).items():
        if _name in _skipped or _name in globals():
            continue
        if _name.startswith("test_") and callable(_obj):
            globals()[_name] = _obj
            SHARED.append(_name)
        elif _name in ("owner", "alice"):  # the documents' and memories' fixtures
            globals()[_name] = _obj


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    try:
        cluster = start_postgres()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL cannot start here, store tests on PostgreSQL skipped: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture
def db_url(postgres: PostgresCluster) -> str:
    """A fresh PostgreSQL database per test (overrides the SQLite one of conftest.py)."""
    return postgres.create_database()


# --------------------------------------------------------------------------- PostgreSQL's own
def test_the_shared_tests_are_collected():
    assert len(SHARED) >= 25, SHARED
    assert "test_search_ranks_the_right_chunk_first" in SHARED


def test_store_runs_on_postgresql_with_full_text_search(store: Store):
    assert store.database.dialect == "postgresql" and not store.database.is_sqlite
    assert store.documents.use_fts  # PostgreSQL's own full-text search
    store.documents.add_document(None, "a.txt", "text/plain",
                                 "The lighthouse keeper climbs the stairs every evening.")
    store.documents.add_document(None, "b.txt", "text/plain", "Bread needs flour.")
    [hit] = store.documents.search_hits(None, "keepers climbing", k=3)
    assert "lighthouse" in hit.text and hit.score > 0  # stemmed: keepers, climbing


def test_delete_cascades_on_postgresql(store: Store):
    alice = store.users.create_user("alice", "pw")
    session = store.conversations.create_session(alice.id)
    store.conversations.append_message(session.id, 1, "user", "remember the lighthouse")
    store.documents.add_document(alice.id, "notes.txt", "text/plain",
                                 "The lighthouse keeper's name is Ada.", session_id=session.id)
    store.memories.add(alice.id, "Ada keeps the lighthouse")
    assert store.documents.search(alice.id, "lighthouse keeper")
    assert store.users.delete_user(alice)
    with store.database.engine.connect() as conn:
        for table in ("conversation_sessions", "messages", "library_documents",
                      "library_chunks", "memories"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0
    assert store.documents.search(alice.id, "lighthouse keeper") == []


def test_migrated_schema_matches_the_models_on_postgresql(db_url: str):
    assert_schema_matches_models(db_url)


def test_newer_schema_is_refused_on_postgresql(db_url: str):
    open_database(db_url).close()
    engine = open_database(db_url).engine
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO schema_version (version, applied_at) "
                          "VALUES (7, '2030-01-01 00:00:00+00')"))
    engine.dispose()
    with pytest.raises(SchemaVersionError, match="newer"):
        open_database(db_url)


def test_concurrent_first_opens_migrate_once(db_url: str):
    """Several processes' worth of first opens at once: the advisory lock lets exactly
    one migrate, the others see the finished schema."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def opener() -> None:
        try:
            barrier.wait(timeout=30)
            open_database(db_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    db = open_database(db_url)
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM schema_version")).scalar() == \
                database.latest_version()
        assert "library_chunks" in inspect(db.engine).get_table_names()
        assert db.schema_version() == database.latest_version()
    finally:
        db.close()


def test_the_database_password_is_never_shown(db_url: str, postgres: PostgresCluster,
                                              caplog):
    caplog.set_level(logging.DEBUG)
    with Store.open(db_url, echo=True) as store:
        store.conversations.create_session(None)
        texts = [repr(store), repr(store.database), store.database.url, caplog.text]
    assert "***" in store.database.url
    for shown in texts:
        assert postgres.password not in shown
