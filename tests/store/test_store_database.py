"""Opening the database: pragmas, schema version table, migrations and their refusal."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from schema_check import assert_schema_matches_models
from sqlalchemy import create_engine, create_mock_engine, inspect
from sqlalchemy.schema import CreateIndex, CreateTable

from xtalk.store import SchemaVersionError, Store, database, latest_version, open_database
from xtalk.store.models import Base


def _db_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def test_creates_schema_with_version_table_and_wal(db_url):
    db = open_database(db_url)
    try:
        assert _db_file(db_url).exists()  # parent directory created
        assert db.schema_version() == latest_version() == 2
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            rows = conn.exec_driver_sql("SELECT version, applied_at FROM schema_version").all()
            assert [r[0] for r in rows] == [1, 2] and rows[0][1] is not None
            tables = set(inspect(conn).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert {"schema_version", database.FTS_TABLE} <= tables
        assert db.fts_enabled
    finally:
        db.close()
    # the journal mode is persistent: a plain sqlite3 connection sees WAL too
    with sqlite3.connect(_db_file(db_url)) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_migrated_schema_matches_the_models(db_url):
    assert_schema_matches_models(db_url)


def test_reopening_does_not_migrate_again(db_url):
    open_database(db_url).close()
    db = open_database(db_url)
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM schema_version").scalar() == \
                latest_version()
    finally:
        db.close()


def test_newer_schema_version_is_refused_and_left_untouched(db_url):
    open_database(db_url).close()
    path = _db_file(db_url)
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT INTO schema_version (version, applied_at) "
                    "VALUES (7, '2030-01-01 00:00:00')")
    with pytest.raises(SchemaVersionError) as info:
        open_database(db_url)
    message = str(info.value)
    assert "7" in message and "newer" in message and "upgrade xtalk" in message
    with pytest.raises(SchemaVersionError):
        Store.open(db_url)
    with sqlite3.connect(path) as raw:
        versions = [v for (v,) in raw.execute("SELECT version FROM schema_version")]
    assert sorted(versions) == [*range(1, latest_version() + 1), 7]


def test_foreign_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    with pytest.raises(SchemaVersionError, match="not an xtalk database"):
        open_database(f"sqlite:///{path}")


def test_empty_file_is_migrated_from_version_zero(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    db = open_database(f"sqlite:///{path}")
    try:
        assert db.schema_version() == latest_version()
    finally:
        db.close()


def test_older_database_is_migrated_in_order(db_url, monkeypatch):
    open_database(db_url).close()
    calls: list[int] = []

    first = latest_version() + 1

    def v2(conn):
        calls.append(first)
        conn.exec_driver_sql("ALTER TABLE messages ADD COLUMN extra INTEGER")

    def v3(conn):
        calls.append(first + 1)
        conn.exec_driver_sql("CREATE TABLE v3_marker (id INTEGER PRIMARY KEY)")

    monkeypatch.setattr(database, "MIGRATIONS",
                        [*database.MIGRATIONS, (first, v2), (first + 1, v3)])
    db = open_database(db_url)
    try:
        assert calls == [first, first + 1]
        assert db.schema_version() == first + 1
        insp = inspect(db.engine)
        assert "extra" in {c["name"] for c in insp.get_columns("messages")}
        assert insp.has_table("v3_marker")
    finally:
        db.close()
    open_database(db_url).close()
    assert calls == [first, first + 1]


def test_failed_migration_rolls_back_completely(db_url, monkeypatch):
    open_database(db_url).close()

    def broken_v2(conn):
        conn.exec_driver_sql("ALTER TABLE messages ADD COLUMN extra INTEGER")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(database, "MIGRATIONS",
                        [*database.MIGRATIONS, (latest_version() + 1, broken_v2)])
    with pytest.raises(RuntimeError, match="migration bug"):
        open_database(db_url)
    monkeypatch.undo()
    db = open_database(db_url)
    try:
        assert db.schema_version() == latest_version()
        assert "extra" not in {c["name"] for c in inspect(db.engine).get_columns("messages")}
    finally:
        db.close()


def test_schema_compiles_for_postgresql():
    """The migrations and models use no SQLite-only DDL (checked without a server)."""
    statements: list[str] = []
    mock = create_mock_engine("postgresql://",
                              lambda sql, *a, **kw: statements.append(str(sql.compile(
                                  dialect=mock.dialect))))
    database._migrate_v1(mock)
    ddl = "\n".join(statements)
    statements.clear()
    with pytest.raises(Exception):  # noqa: B017 - the mock cannot run its INSERT ... SELECT
        database._migrate_v2(mock)
    assert "CREATE TABLE library_documents" in "\n".join(statements)
    assert "CREATE TABLE conversation_sessions" in ddl
    assert "ON DELETE CASCADE" in ddl
    assert "fts5" not in ddl.lower()
    for table in Base.metadata.sorted_tables:
        str(CreateTable(table).compile(dialect=mock.dialect))
        for index in table.indexes:
            str(CreateIndex(index).compile(dialect=mock.dialect))


def test_default_url_is_in_the_user_data_dir(monkeypatch, tmp_path):
    monkeypatch.setattr(database.platformdirs, "user_data_dir",
                        lambda app: str(tmp_path / "userdata" / app))
    assert database.default_database_path() == tmp_path / "userdata" / "xtalk" / "xtalk.db"
    db = open_database()
    try:
        assert (tmp_path / "userdata" / "xtalk" / "xtalk.db").exists()
        assert db.is_sqlite and db.schema_version() == latest_version()
    finally:
        db.close()



def test_version_1_documents_move_into_their_owners_libraries(db_url):
    """A v1 database (documents kept per conversation) opened by this xtalk: each document
    lands in the library of its conversation's owner, ids and vectors intact, searchable,
    and deleting the conversation no longer deletes it."""
    if db_url.startswith("sqlite"):
        _db_file(db_url).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(db_url)
    with engine.begin() as conn:  # what the xtalk of version 1 wrote
        database._version_metadata.create_all(conn)
        database._migrate_v1(conn)
        conn.execute(database.schema_version_table.insert().values(
            version=1, applied_at=datetime(2025, 1, 1, tzinfo=UTC)))
        conn.exec_driver_sql("INSERT INTO users (id, username, password_hash, is_admin, "
                             "created_at) VALUES (7, 'alice', 'x', FALSE, '2025-01-01')")
        for sid, user in (("s-alice", "7"), ("s-desk", "NULL")):
            conn.exec_driver_sql(
                "INSERT INTO conversation_sessions (id, user_id, created_at, updated_at) "
                f"VALUES ('{sid}', {user}, '2025-01-01', '2025-01-01')")
        conn.exec_driver_sql(
            "INSERT INTO documents (id, session_id, name, content_type, text, created_at) "
            "VALUES (3, 's-alice', 'boiler.md', 'text/markdown', 'The boiler warranty is "
            "five years.', '2025-01-01'), (4, 's-desk', 'bike.txt', 'text/plain', "
            "'The bike chain was oiled.', '2025-01-01')")
        conn.exec_driver_sql(
            "INSERT INTO document_chunks (id, document_id, session_id, ordinal, text, vector) "
            "VALUES (11, 3, 's-alice', 0, 'The boiler warranty is five years.', '[1.0, 0.0]'),"
            " (12, 4, 's-desk', 0, 'The bike chain was oiled.', NULL)")
    engine.dispose()
    store = Store.open(db_url)
    try:
        assert store.database.schema_version() == latest_version()
        [boiler] = store.documents.list_documents(7)
        assert (boiler.id, boiler.name, boiler.session_id) == (3, "boiler.md", "s-alice")
        assert [d.name for d in store.documents.list_documents(None)] == ["bike.txt"]
        assert [c.vector for c in store.documents.chunks(7)] == [[1.0, 0.0]]
        assert store.documents.search(7, "warranty") == ["The boiler warranty is five years."]
        assert store.documents.search(None, "chain") == ["The bike chain was oiled."]
        assert store.conversations.delete_session(7, "s-alice")
        assert [d.id for d in store.documents.list_documents(7)] == [3]
        new = store.documents.add_document(7, "more.txt", "text/plain", "More text here.")
        assert new.id > 4  # the ids go on after the copied ones
        insp = inspect(store.database.engine)
        assert not insp.has_table("documents") and not insp.has_table("document_chunks")
    finally:
        store.close()
