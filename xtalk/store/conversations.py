"""Persisted conversation sessions and their messages.

Every session belongs to one user, or to nobody (``user_id=None``: the single-user
desktop). The owner-scoped methods (``list_sessions``, ``get_session``,
``rename_session``, ``delete_session``) only ever see the caller's sessions, and return
None/False for anybody else's so the routes can answer 404 without revealing that the id
exists. ``append_message`` and ``messages`` are engine-side calls for a session the
caller has already been authorised for.

``append_message`` commits before it returns: the engine calls it when each message
enters the conversation (``ConversationTurnCommitted``, an interrupted reply as heard),
so a crash loses at most the turn in progress.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from xtalk.store.database import Clock, Database, StoreError, utc_now
from xtalk.store.models import ROLES, TITLE_MAX, ConversationSession, Message, new_session_id
from xtalk.store.owners import Owner, owned_by, owner_id

AUTO_TITLE_CHARS = 60
_SESSION_ID = re.compile(r"[0-9A-Za-z_-]{1,32}")


class SessionNotFoundError(StoreError, LookupError):
    """No session has this id."""


class SessionExistsError(StoreError, ValueError):
    """A session with this id already exists."""


@dataclass(frozen=True)
class MessageRecord:
    id: int
    session_id: str
    turn_id: int
    role: str
    content: str
    interrupted: bool
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "turn_id": self.turn_id, "role": self.role,
                "content": self.content, "interrupted": self.interrupted,
                "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class SessionInfo:
    id: str
    user_id: int | None
    title: str | None
    created_at: datetime
    updated_at: datetime
    message_count: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title,
                "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat(),
                "message_count": self.message_count}


@dataclass(frozen=True)
class SessionDetail(SessionInfo):
    """A session with its messages (``GET /api/sessions/{id}``)."""

    messages: tuple[MessageRecord, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "messages": [m.to_dict() for m in self.messages]}


def auto_title(text: str, max_chars: int = AUTO_TITLE_CHARS) -> str | None:
    """A session title made from the first user message (None when it is blank)."""
    text = " ".join(text.split())
    if not text:
        return None
    if len(text) <= max_chars:
        return text
    cut = text.rfind(" ", 0, max_chars)
    return text[:cut if cut > max_chars // 2 else max_chars].rstrip(" ,;:.-") + "…"


def _owned_by(owner: Owner) -> Any:
    return owned_by(ConversationSession.user_id, owner)


def _clean_title(title: str | None) -> str | None:
    if title is None:
        return None
    title = " ".join(str(title).split())
    return title[:TITLE_MAX] or None


def _message(m: Message) -> MessageRecord:
    return MessageRecord(id=m.id, session_id=m.session_id, turn_id=m.turn_id, role=m.role,
                         content=m.content, interrupted=bool(m.interrupted),
                         created_at=m.created_at)


def _session(row: ConversationSession, count: int) -> SessionInfo:
    return SessionInfo(id=row.id, user_id=row.user_id, title=row.title,
                       created_at=row.created_at, updated_at=row.updated_at,
                       message_count=int(count))


class Conversations:
    """Conversation sessions and messages (synchronous; see :class:`xtalk.store.Store`)."""

    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or utc_now

    def __repr__(self) -> str:
        return f"Conversations({self.db!r})"

    def create_session(self, user_id: Owner, title: str | None = None, *,
                       session_id: str | None = None) -> SessionInfo:
        """Create a session owned by ``user_id`` (None: the desktop).

        ``session_id`` reuses an id the engine already gave a live session (up to 32
        characters of ``[0-9A-Za-z_-]``); by default a new uuid4 hex id is made.

        Raises:
            SessionExistsError: ``session_id`` is taken.
        """
        owner = owner_id(user_id)
        if session_id is not None and not _SESSION_ID.fullmatch(session_id):
            raise ValueError("session_id must be 1-32 characters of [0-9A-Za-z_-]")
        now = self.clock()
        row = ConversationSession(id=session_id or new_session_id(), user_id=owner,
                                  title=_clean_title(title), created_at=now, updated_at=now)
        try:
            with self.db.session(write=True) as s:
                s.add(row)
        except IntegrityError:
            if session_id is not None:
                raise SessionExistsError(f"session {session_id} already exists") from None
            raise
        return _session(row, 0)

    def list_sessions(self, user_id: Owner, *, limit: int | None = None,
                      offset: int = 0) -> list[SessionInfo]:
        """The sessions of ``user_id`` (None: the desktop's), most recently updated
        first, with their message counts."""
        counts = (select(Message.session_id, func.count(Message.id).label("n"))
                  .group_by(Message.session_id).subquery())
        stmt = (select(ConversationSession, func.coalesce(counts.c.n, 0))
                .outerjoin(counts, counts.c.session_id == ConversationSession.id)
                .where(_owned_by(owner_id(user_id)))
                .order_by(ConversationSession.updated_at.desc(),
                          ConversationSession.created_at.desc(), ConversationSession.id)
                .offset(offset).limit(limit))
        with self.db.session() as s:
            return [_session(row, n) for row, n in s.execute(stmt)]

    def get_session(self, user_id: Owner, session_id: str) -> SessionDetail | None:
        """The session with its messages, or None when it does not exist or belongs to
        someone else (answer 404 in both cases)."""
        with self.db.session() as s:
            row = s.scalar(select(ConversationSession).where(
                ConversationSession.id == session_id, _owned_by(owner_id(user_id))))
            if row is None:
                return None
            messages = tuple(_message(m) for m in s.scalars(
                select(Message).where(Message.session_id == row.id).order_by(Message.id)))
            base = _session(row, len(messages))
            return SessionDetail(**vars(base), messages=messages)

    def owns_session(self, user_id: Owner, session_id: str) -> bool:
        """Whether ``session_id`` exists and belongs to ``user_id``."""
        with self.db.session() as s:
            return s.scalar(select(ConversationSession.id).where(
                ConversationSession.id == session_id,
                _owned_by(owner_id(user_id)))) is not None

    def append_message(self, session_id: str, turn_id: int, role: str, content: str,
                       interrupted: bool = False) -> MessageRecord:
        """Add a message to the session and commit it before returning.

        The session's ``updated_at`` is bumped, and a session without a title is named
        after its first non-blank user message.

        Raises:
            SessionNotFoundError: No such session.
            ValueError: ``role`` is not system/user/assistant.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        if not isinstance(content, str):
            raise TypeError("content must be a string")
        now = self.clock()
        with self.db.session(write=True) as s:
            row = s.get(ConversationSession, session_id)
            if row is None:
                raise SessionNotFoundError(f"no session {session_id!r}")
            message = Message(session_id=session_id, turn_id=int(turn_id), role=role,
                              content=content, interrupted=bool(interrupted), created_at=now)
            s.add(message)
            row.updated_at = now
            if row.title is None and role == "user":
                row.title = auto_title(content)
            s.flush()
            return _message(message)

    def message_records(self, session_id: str) -> list[MessageRecord]:
        """All messages of the session in order, with their metadata."""
        with self.db.session() as s:
            return [_message(m) for m in s.scalars(
                select(Message).where(Message.session_id == session_id).order_by(Message.id))]

    def messages(self, session_id: str) -> list[dict[str, str]]:
        """The conversation as ``{"role", "content"}`` dicts, ready for
        ``Service.restore_conversation(messages=...)``."""
        with self.db.session() as s:
            rows = s.execute(select(Message.role, Message.content)
                             .where(Message.session_id == session_id).order_by(Message.id))
            return [{"role": role, "content": content} for role, content in rows]

    def rename_session(self, user_id: Owner, session_id: str, title: str | None) -> bool:
        """Set the title (None or blank clears it). False when not the caller's."""
        with self.db.session(write=True) as s:
            row = s.scalar(select(ConversationSession).where(
                ConversationSession.id == session_id, _owned_by(owner_id(user_id))))
            if row is None:
                return False
            row.title = _clean_title(title)
            row.updated_at = self.clock()
            return True

    def withdraw_turn(self, session_id: str, turn_id: int) -> int:
        """Delete turn ``turn_id``'s messages (the user went on: a later turn replaces
        it); a title taken from it is cleared for the next user message. Returns how many
        were deleted."""
        with self.db.session(write=True) as s:
            rows = s.scalars(select(Message).where(Message.session_id == session_id,
                                                   Message.turn_id == int(turn_id))).all()
            session = s.get(ConversationSession, session_id)
            for row in rows:
                if session is not None and row.role == "user" \
                        and session.title == auto_title(row.content):
                    session.title = None
                s.delete(row)
            return len(rows)

    def delete_session(self, user_id: Owner, session_id: str) -> bool:
        """Delete the session with its messages (the database cascades; documents added
        in it stay in the owner's library). False when not the caller's."""
        with self.db.session(write=True) as s:
            result = s.execute(
                delete(ConversationSession)
                .where(ConversationSession.id == session_id, _owned_by(owner_id(user_id)))
                .execution_options(synchronize_session=False))
            return bool(result.rowcount)


__all__ = [
    "Conversations", "MessageRecord", "SessionDetail", "SessionExistsError", "SessionInfo",
    "SessionNotFoundError", "auto_title",
]
