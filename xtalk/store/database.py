"""Opening the store database: engine setup, schema versioning and migrations.

The default database is a SQLite file in the user data directory
(``platformdirs.user_data_dir("xtalk")/xtalk.db``) in WAL mode with
``synchronous=NORMAL`` and foreign keys on. A committed transaction survives a crash or
``kill -9`` of the process (WAL; the commit reaches the operating system before
``commit()`` returns); only a power loss or OS crash may roll back the last few commits.
Any other SQLAlchemy URL (e.g. ``postgresql+psycopg://user:pw@host/xtalk``) works
unchanged: every SQLite-specific statement below and in :mod:`xtalk.store.documents` is
behind a dialect check.

Schema versions are recorded in the ``schema_version`` table (one row per applied
version). :data:`MIGRATIONS` lists the migration functions in order; opening a database
applies the missing ones in one transaction (holding a write lock, so two processes
opening an old database at once do not both migrate it). A database written by a newer
xtalk is refused with :class:`SchemaVersionError` and left untouched.

Migrations are written against their own frozen table definitions (never against the ORM
models, which describe only the *latest* schema), so an old migration keeps producing
the same schema when later versions change the models.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from xtalk.store.models import UTCDateTime

logger = logging.getLogger(__name__)

APP_NAME = "xtalk"
DATABASE_FILENAME = "xtalk.db"
SQLITE_BUSY_TIMEOUT_S = 15.0
FTS_TABLE = "library_chunks_fts"
_V1_FTS_TABLE = "document_chunks_fts"


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time as an aware UTC datetime (the default store clock)."""
    return datetime.now(UTC)


class StoreError(Exception):
    """Base class of the store's errors."""


class SchemaVersionError(StoreError):
    """The database schema cannot be used by this version of xtalk."""


# --------------------------------------------------------------------------- versions
_version_metadata = MetaData()
schema_version_table = Table(
    "schema_version",
    _version_metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", UTCDateTime(), nullable=False),
)


def _migrate_v1(conn: Connection) -> None:
    """Version 1: users, tokens, pairing codes, sessions, messages, documents, chunks."""
    md = MetaData()
    Table(
        "users", md,
        Column("id", Integer, primary_key=True),
        Column("username", String(64), nullable=False, unique=True),
        Column("password_hash", String(255), nullable=False),
        Column("is_admin", Boolean, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
    )
    Table(
        "auth_tokens", md,
        Column("id", Integer, primary_key=True),
        Column("token_hash", String(64), nullable=False, unique=True),
        Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"),
               nullable=False, index=True),
        Column("label", String(255)),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("expires_at", UTCDateTime(), nullable=False),
        Column("revoked_at", UTCDateTime()),
    )
    Table(
        "pairing_codes", md,
        Column("id", Integer, primary_key=True),
        Column("code_hash", String(255), nullable=False),
        Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"),
               nullable=False, index=True),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("expires_at", UTCDateTime(), nullable=False),
        Column("used_at", UTCDateTime()),
        Column("failed_attempts", Integer, nullable=False),
    )
    Table(
        "conversation_sessions", md,
        Column("id", String(32), primary_key=True),
        Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE")),
        Column("title", String(200)),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
        Index("ix_conversation_sessions_user_updated", "user_id", "updated_at"),
    )
    Table(
        "messages", md,
        Column("id", Integer, primary_key=True),
        Column("session_id", String(32),
               ForeignKey("conversation_sessions.id", ondelete="CASCADE"), nullable=False),
        Column("turn_id", Integer, nullable=False),
        Column("role", String(16), nullable=False),
        Column("content", Text, nullable=False),
        Column("interrupted", Boolean, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        CheckConstraint("role IN ('system', 'user', 'assistant')", name="ck_messages_role"),
        Index("ix_messages_session_id_id", "session_id", "id"),
    )
    Table(
        "documents", md,
        Column("id", Integer, primary_key=True),
        Column("session_id", String(32),
               ForeignKey("conversation_sessions.id", ondelete="CASCADE"),
               nullable=False, index=True),
        Column("name", String(255), nullable=False),
        Column("content_type", String(255), nullable=False),
        Column("text", Text, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
    )
    Table(
        "document_chunks", md,
        Column("id", Integer, primary_key=True),
        Column("document_id", Integer, ForeignKey("documents.id", ondelete="CASCADE"),
               nullable=False, index=True),
        Column("session_id", String(32),
               ForeignKey("conversation_sessions.id", ondelete="CASCADE"),
               nullable=False, index=True),
        Column("ordinal", Integer, nullable=False),
        Column("text", Text, nullable=False),
        Column("vector", JSON(none_as_null=True)),
    )
    md.create_all(conn, checkfirst=False)


def _migrate_v2(conn: Connection) -> None:
    """Version 2: documents belong to their owner's library (a conversation's deletion
    keeps them; ``session_id`` only tells where one was added), and remembered facts.

    The v1 documents and chunks are copied with their ids (owner: their session's user)
    and the v1 tables dropped, with SQLite's v1 full-text index (rebuilt at open)."""
    md = MetaData()
    Table("users", md, Column("id", Integer, primary_key=True))
    Table("conversation_sessions", md, Column("id", String(32), primary_key=True))
    Table(
        "library_documents", md,
        Column("id", Integer, primary_key=True),
        Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE")),
        Column("session_id", String(32),
               ForeignKey("conversation_sessions.id", ondelete="SET NULL")),
        Column("name", String(255), nullable=False),
        Column("content_type", String(255), nullable=False),
        Column("text", Text, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Index("ix_library_documents_user_id", "user_id"),
    )
    Table(
        "library_chunks", md,
        Column("id", Integer, primary_key=True),
        Column("document_id", Integer,
               ForeignKey("library_documents.id", ondelete="CASCADE"), nullable=False),
        Column("ordinal", Integer, nullable=False),
        Column("text", Text, nullable=False),
        Column("vector", JSON(none_as_null=True)),
        Index("ix_library_chunks_document_id", "document_id"),
    )
    Table(
        "memories", md,
        Column("id", Integer, primary_key=True),
        Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE")),
        Column("text", Text, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
        Index("ix_memories_user_id", "user_id"),
    )
    for name in ("library_documents", "library_chunks", "memories"):
        md.tables[name].create(conn)
    conn.exec_driver_sql(
        "INSERT INTO library_documents (id, user_id, session_id, name, content_type, "
        "text, created_at) SELECT d.id, s.user_id, d.session_id, d.name, d.content_type, "
        "d.text, d.created_at FROM documents AS d "
        "JOIN conversation_sessions AS s ON s.id = d.session_id")
    conn.exec_driver_sql(
        "INSERT INTO library_chunks (id, document_id, ordinal, text, vector) "
        "SELECT id, document_id, ordinal, text, vector FROM document_chunks")
    if conn.dialect.name == "postgresql":  # ids were copied: move the sequences on
        for table in ("library_documents", "library_chunks"):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)")
    if conn.dialect.name == "sqlite" and inspect(conn).has_table(_V1_FTS_TABLE):
        conn.exec_driver_sql(f"DROP TABLE {_V1_FTS_TABLE}")  # its triggers go with it
    conn.exec_driver_sql("DROP TABLE document_chunks")
    conn.exec_driver_sql("DROP TABLE documents")


Migration = Callable[[Connection], None]

#: Ordered ``(version, migration)`` pairs; a migration upgrades version ``n - 1`` to ``n``.
MIGRATIONS: list[tuple[int, Migration]] = [
    (1, _migrate_v1),
    (2, _migrate_v2),
]


def latest_version() -> int:
    """The schema version this xtalk writes."""
    return MIGRATIONS[-1][0]


def _current_version(conn: Connection) -> int:
    if not inspect(conn).has_table(schema_version_table.name):
        return 0
    return int(conn.execute(select(func.max(schema_version_table.c.version))).scalar() or 0)


_V1_TABLES = frozenset({"users", "auth_tokens", "pairing_codes", "conversation_sessions",
                        "messages", "documents", "document_chunks"})


def _check_version(conn: Connection, version: int, url: str) -> None:
    latest = latest_version()
    if version > latest:
        raise SchemaVersionError(
            f"the database {url} has schema version {version}, newer than the version "
            f"this xtalk supports ({latest}); upgrade xtalk or use another database")
    if version == 0:
        clashing = _V1_TABLES & set(inspect(conn).get_table_names())
        if clashing:
            raise SchemaVersionError(
                f"the database {url} has no schema_version table but already contains "
                f"tables {sorted(clashing)}; it is not an xtalk database")


def _lock_for_migration(conn: Connection) -> None:
    """Serialise migrations between processes (dialect-specific, isolated here)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(7283901)"))
    # SQLite: the migration transaction was opened with BEGIN IMMEDIATE.


def _migrate(engine: Engine, url: str, clock: Clock) -> None:
    with engine.connect() as probe:
        version = _current_version(probe)
        _check_version(probe, version, url)
        probe.rollback()
    if version == latest_version():
        return
    with engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
        _lock_for_migration(conn)
        _version_metadata.create_all(conn, checkfirst=True)
        version = _current_version(conn)  # another process may have migrated meanwhile
        _check_version(conn, version, url)
        for target, migration in MIGRATIONS:
            if target <= version:
                continue
            logger.info("migrating the xtalk database to schema version %d", target)
            migration(conn)
            conn.execute(schema_version_table.insert().values(version=target,
                                                              applied_at=clock()))


# --------------------------------------------------------------------------- SQLite
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _sqlite_begin): transactional DDL for the
    # migrations and BEGIN IMMEDIATE for writes.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # Write transactions take the write lock up front: a deferred transaction that reads
    # first would fail with SQLITE_BUSY (without waiting) if another writer committed in
    # between, under WAL.
    immediate = conn.get_execution_options().get("sqlite_begin") == "IMMEDIATE"
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_FTS_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    "text, content='library_chunks', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS library_chunks_fts_ai AFTER INSERT ON library_chunks "
    f"BEGIN INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS library_chunks_fts_ad AFTER DELETE ON library_chunks "
    f"BEGIN INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS library_chunks_fts_au AFTER UPDATE OF text "
    f"ON library_chunks BEGIN INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) "
    f"VALUES ('delete', old.id, old.text); INSERT INTO {FTS_TABLE}(rowid, text) "
    "VALUES (new.id, new.text); END",
)


def _ensure_sqlite_fts(engine: Engine) -> bool:
    """Create the FTS5 index of the chunks (external content, kept in sync by triggers)
    when it is missing; rebuild it from the chunks when it was just created.

    The index is derived data, so it is not part of the versioned schema: an SQLite
    built without FTS5 still opens the store (search then ranks in Python).
    """
    try:
        with engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, \
                conn.begin():
            existed = inspect(conn).has_table(FTS_TABLE)
            for ddl in _FTS_DDL:
                conn.exec_driver_sql(ddl)
            if not existed:
                conn.exec_driver_sql(
                    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
    except OperationalError as exc:
        if "fts5" not in str(exc).lower():
            raise
        logger.warning("SQLite has no FTS5; document search will rank in Python")
        return False
    return True


# --------------------------------------------------------------------------- Database
def default_database_path() -> Path:
    """``platformdirs.user_data_dir("xtalk")/xtalk.db``."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / DATABASE_FILENAME


#: The environment variable naming the store's database URL (server, app and API).
DATABASE_URL_ENV = "XTALK_DATABASE_URL"


def default_database_url() -> str:
    return f"sqlite:///{default_database_path()}"


def database_url_from_env() -> str | None:
    """``$XTALK_DATABASE_URL``, or ``None`` when it is unset or empty."""
    return os.environ.get(DATABASE_URL_ENV) or None


def sqlite_url(path: str | Path) -> str:
    """The SQLAlchemy URL of the SQLite file ``path``."""
    return f"sqlite:///{Path(path)}"


class Database:
    """An open store database: the engine plus read/write session factories.

    Thread-safe: every :meth:`session` uses its own connection from the pool, so the
    store can be called from worker threads (``asyncio.to_thread``).
    """

    def __init__(self, engine: Engine, *, fts_enabled: bool = False) -> None:
        # fts_enabled: the database can search text itself (SQLite with FTS5, PostgreSQL).
        self.engine = engine
        self.fts_enabled = fts_enabled
        self._read = sessionmaker(bind=engine, expire_on_commit=False)
        self._write = sessionmaker(bind=engine.execution_options(sqlite_begin="IMMEDIATE"),
                                   expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """The dialect name (``sqlite``, ``postgresql``, ...)."""
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def url(self) -> str:
        """The database URL with any password masked."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success when ``write`` (on SQLite
        the write lock is taken at BEGIN), rolled back otherwise."""
        maker = self._write if write else self._read
        with maker() as session:
            try:
                yield session
                if write:
                    session.commit()
            except BaseException:
                session.rollback()
                raise

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return _current_version(conn)

    def close(self) -> None:
        """Close every pooled connection (the WAL is checkpointed by SQLite)."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({self.url!r})"


def open_database(url: str | None = None, *, echo: bool = False,
                  clock: Clock | None = None) -> Database:
    """Open (creating or migrating as needed) the store database at ``url``.

    Args:
        url: A SQLAlchemy URL; ``None`` is the SQLite file in the user data directory.
            The parent directory of a SQLite file is created.
        echo: Log SQL statements (parameters are never logged).
        clock: Returns the current aware UTC time (recorded with applied migrations).

    Raises:
        SchemaVersionError: The database is newer than this xtalk, or is not an xtalk
            database.
    """
    url = url or default_database_url()
    parsed = make_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if is_sqlite:
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(parsed, **kwargs)
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    display = parsed.render_as_string(hide_password=True)
    try:
        _migrate(engine, display, clock or utc_now)
        # PostgreSQL has full-text search built in (see xtalk.store.documents).
        fts = _ensure_sqlite_fts(engine) if is_sqlite else engine.dialect.name == "postgresql"
    except BaseException:
        engine.dispose()
        raise
    return Database(engine, fts_enabled=fts)


__all__ = [
    "MIGRATIONS", "Clock", "Database", "SchemaVersionError", "StoreError", "default_database_path",
    "default_database_url", "latest_version", "open_database", "sqlite_url", "utc_now",
]
