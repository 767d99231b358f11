"""ORM models of the xtalk store (SQLAlchemy 2, portable between SQLite and PostgreSQL).

These classes describe the *current* schema. The database itself is created and upgraded
by the ordered migrations in :mod:`xtalk.store.database`, never by ``create_all`` on this
metadata (a test checks that the migrated schema matches these models).

Secrets are never stored in the clear: ``User.password_hash`` is an argon2id hash,
``AuthToken.token_hash`` a SHA-256 digest of a high-entropy random token and
``PairingCode.code_hash`` an argon2id hash of the short code. The ``__repr__`` of every
model leaves those columns out so they cannot end up in logs.

All timestamps are timezone-aware UTC datetimes in Python; they are stored as naive UTC
(:class:`UTCDateTime`), which behaves the same on every dialect.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

USERNAME_MAX = 64
TITLE_MAX = 200
NAME_MAX = 255
ROLES = ("system", "user", "assistant")


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored as naive UTC and returned as an aware UTC datetime.

    Naive datetimes given to it are taken to be UTC already.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_session_id() -> str:
    """A new conversation session id (32 hex characters)."""
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    """Declarative base of all store models."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]

    tokens: Mapped[list[AuthToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True)
    sessions: Mapped[list[ConversationSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True)

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, username={self.username!r}, is_admin={self.is_admin!r})"


class AuthToken(Base):
    """A bearer token. Only the SHA-256 digest of the raw token is stored."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str | None] = mapped_column(String(NAME_MAX))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")

    def __repr__(self) -> str:
        return (f"AuthToken(id={self.id!r}, user_id={self.user_id!r}, label={self.label!r}, "
                f"expires_at={self.expires_at!r}, revoked_at={self.revoked_at!r})")


class PairingCode(Base):
    """A short single-use code a new device exchanges for a token of ``user_id``.

    Only an argon2id hash of the code is stored; ``failed_attempts`` counts wrong codes
    tried while this one was active (the code is burned after too many).
    """

    __tablename__ = "pairing_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return (f"PairingCode(id={self.id!r}, user_id={self.user_id!r}, "
                f"expires_at={self.expires_at!r}, used_at={self.used_at!r})")


class ConversationSession(Base):
    """A persisted conversation. ``user_id`` is None for the single-user desktop."""

    __tablename__ = "conversation_sessions"
    __table_args__ = (Index("ix_conversation_sessions_user_updated", "user_id", "updated_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_session_id)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str | None] = mapped_column(String(TITLE_MAX))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    user: Mapped[User | None] = relationship(back_populates="sessions")
    messages: Mapped[list[Message]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Message.id")

    def __repr__(self) -> str:
        return (f"ConversationSession(id={self.id!r}, user_id={self.user_id!r}, "
                f"title={self.title!r})")


class Message(Base):
    """One message of a conversation, in insertion (``id``) order."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("role IN ('system', 'user', 'assistant')", name="ck_messages_role"),
        Index("ix_messages_session_id_id", "session_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("conversation_sessions.id", ondelete="CASCADE"))
    turn_id: Mapped[int] = mapped_column(Integer, default=0)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]

    session: Mapped[ConversationSession] = relationship(back_populates="messages")

    def __repr__(self) -> str:
        return (f"Message(id={self.id!r}, session_id={self.session_id!r}, "
                f"turn_id={self.turn_id!r}, role={self.role!r})")


class Document(Base):
    """A text document in its owner's library (``user_id`` None: the desktop's);
    ``session_id`` is the conversation it was added in, if any (deleting that
    conversation keeps the document)."""

    __tablename__ = "library_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversation_sessions.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    content_type: Mapped[str] = mapped_column(String(NAME_MAX))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]

    chunks: Mapped[list[DocumentChunk]] = relationship(
        back_populates="document", cascade="all, delete-orphan", passive_deletes=True,
        order_by="DocumentChunk.ordinal")

    def __repr__(self) -> str:
        return (f"Document(id={self.id!r}, user_id={self.user_id!r}, "
                f"name={self.name!r})")


class DocumentChunk(Base):
    """A retrievable piece of a document; ``vector`` is its embedding, when one exists."""

    __tablename__ = "library_chunks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("library_documents.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    vector: Mapped[list[float] | None] = mapped_column(JSON(none_as_null=True))

    document: Mapped[Document] = relationship(back_populates="chunks")

    def __repr__(self) -> str:
        return (f"DocumentChunk(id={self.id!r}, document_id={self.document_id!r}, "
                f"ordinal={self.ordinal!r})")


class Memory(Base):
    """A fact the assistant remembers about its owner (``user_id`` None: the desktop)."""

    __tablename__ = "memories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    def __repr__(self) -> str:
        return f"Memory(id={self.id!r}, user_id={self.user_id!r})"


__all__ = [
    "ROLES", "AuthToken", "Base", "ConversationSession", "Document", "DocumentChunk",
    "Memory", "Message", "PairingCode", "UTCDateTime", "User", "new_session_id",
]
