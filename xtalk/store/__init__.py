"""Persistence for the serving layer and the desktop app: users and tokens, conversation
sessions and messages, each owner's document library (with retrieval) and remembered
facts.

One :class:`Store` bundles the parts over one database::

    store = Store.open()                      # SQLite in the user data dir (WAL)
    store = Store.open("postgresql+psycopg://xtalk:pw@db/xtalk")   # shared server
    user = store.users.create_user("alice", "correct horse")
    token = store.users.issue_token(user)
    session = store.conversations.create_session(user.id)
    store.conversations.append_message(session.id, 1, "user", "Hello")
    store.documents.add_document(user.id, "notes.md", "text/markdown", text)
    store.documents.search(user.id, "warranty period")
    store.memories.add(user.id, "My sister is called Annabel")

The API is synchronous (SQLAlchemy sessions, argon2 hashing): from async code call it in
a worker thread, e.g. ``await asyncio.to_thread(store.conversations.append_message,
session_id, turn_id, role, content, interrupted)``. Every call uses its own
connection and transaction, so concurrent calls from several threads are safe; on SQLite
writers are serialised by the database lock (``busy_timeout`` 15 s).

Calls return plain frozen dataclasses (``UserInfo``, ``SessionInfo``, ...; each has
``to_dict()`` for JSON), never ORM objects bound to a database session.
"""

from __future__ import annotations

from argon2 import PasswordHasher

from xtalk.store.conversations import (
    Conversations,
    MessageRecord,
    SessionDetail,
    SessionExistsError,
    SessionInfo,
    SessionNotFoundError,
    auto_title,
)
from xtalk.store.database import (
    DATABASE_URL_ENV,
    Clock,
    Database,
    SchemaVersionError,
    StoreError,
    database_url_from_env,
    default_database_path,
    default_database_url,
    latest_version,
    open_database,
    sqlite_url,
)
from xtalk.store.documents import ChunkRecord, DocumentInfo, Documents, SearchHit
from xtalk.store.memories import Memories, MemoryFullError, MemoryRecord
from xtalk.store.users import (
    DEFAULT_PAIRING_TTL,
    DEFAULT_TOKEN_TTL,
    UserExistsError,
    UserInfo,
    UserNotFoundError,
    Users,
)


class Store:
    """The store facade: ``users``, ``conversations``, ``documents`` (the libraries) and
    ``memories`` over one :class:`Database`.

    Args:
        database: An open database (see :func:`open_database`).
        clock: Returns the current aware UTC time (injectable for tests).
        password_hasher: The argon2 hasher (default: argon2id, RFC 9106 low-memory).
        use_fts: See :class:`Documents`.
    """

    def __init__(self, database: Database, *, clock: Clock | None = None,
                 password_hasher: PasswordHasher | None = None,
                 use_fts: bool | None = None) -> None:
        self.database = database
        self.users = Users(database, clock=clock, hasher=password_hasher)
        self.conversations = Conversations(database, clock=clock)
        self.documents = Documents(database, clock=clock, use_fts=use_fts)
        self.memories = Memories(database, clock=clock)

    @classmethod
    def open(cls, url: str | None = None, *, clock: Clock | None = None,
             password_hasher: PasswordHasher | None = None, use_fts: bool | None = None,
             echo: bool = False) -> Store:
        """Open the database at ``url`` (default: SQLite in the user data directory),
        migrating it if needed.

        Raises:
            SchemaVersionError: The database was written by a newer xtalk.
        """
        return cls(open_database(url, echo=echo, clock=clock), clock=clock,
                   password_hasher=password_hasher, use_fts=use_fts)

    def delete_if_empty(self, owner: int | None, session_id: str) -> bool:
        """Forget a session that ended without a message (a client that left at once, or
        while queued), so the session list is not cluttered; ``True`` when it was
        deleted. Documents added in it stay in the owner's library."""
        detail = self.conversations.get_session(owner, session_id)
        if detail is None or detail.messages:
            return False
        return self.conversations.delete_session(owner, session_id)

    def close(self) -> None:
        self.database.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.database.url!r})"


__all__ = [
    "DATABASE_URL_ENV", "DEFAULT_PAIRING_TTL", "DEFAULT_TOKEN_TTL", "ChunkRecord",
    "Conversations", "Database", "DocumentInfo", "Documents", "Memories", "MemoryFullError",
    "MemoryRecord", "MessageRecord", "SchemaVersionError", "SearchHit", "SessionDetail",
    "SessionExistsError", "SessionInfo",
    "SessionNotFoundError", "Store", "StoreError", "UserExistsError", "UserInfo",
    "UserNotFoundError", "Users", "auto_title", "database_url_from_env",
    "default_database_path", "default_database_url", "latest_version", "open_database",
    "sqlite_url",
]
