"""Facts the assistant remembers about its owner, across conversations and restarts.

Each owner (a user id, or None for the desktop) has a short list of facts in their own
words ("My sister is called Annabel."). Adding a fact that is already there (the same
words, case and punctuation aside) returns the stored one; :meth:`Memories.forget`
deletes the facts a phrase describes ("my sister" forgets "My sister is called
Annabel.").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from xtalk.retrieval.ranking import tokenize
from xtalk.store.database import Clock, Database, StoreError, utc_now
from xtalk.store.models import Memory
from xtalk.store.owners import Owner, owned_by, owner_id

MAX_FACT_CHARS = 500
MAX_FACTS = 500


class MemoryFullError(StoreError, ValueError):
    """The owner already has :data:`MAX_FACTS` facts."""


@dataclass(frozen=True)
class MemoryRecord:
    id: int
    text: str
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}


def _record(row: Memory) -> MemoryRecord:
    return MemoryRecord(row.id, row.text, row.created_at, row.updated_at)


def clean_fact(text: str) -> str:
    """``text`` as a fact: one line, trimmed, first letter upper case, a final full stop.

    Raises:
        ValueError: Empty, or longer than :data:`MAX_FACT_CHARS`.
    """
    fact = " ".join(str(text).split()).strip(" ,;:-")
    if not fact:
        raise ValueError("a fact cannot be empty")
    if len(fact) > MAX_FACT_CHARS:
        raise ValueError(f"a fact is at most {MAX_FACT_CHARS} characters")
    fact = fact[0].upper() + fact[1:]
    return fact if fact[-1] in ".!?" else fact + "."


def _words(text: str) -> list[str]:
    return [w for w in "".join(c if c.isalnum() else " " for c in text.lower()).split()]


class Memories:
    """The owners' remembered facts (synchronous; see :class:`xtalk.store.Store`)."""

    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or utc_now

    def __repr__(self) -> str:
        return f"Memories({self.db!r})"

    def list(self, user_id: Owner) -> list[MemoryRecord]:
        """The owner's facts, oldest first."""
        with self.db.session() as s:
            return [_record(m) for m in s.scalars(
                select(Memory).where(owned_by(Memory.user_id, owner_id(user_id)))
                .order_by(Memory.id))]

    def add(self, user_id: Owner, text: str) -> MemoryRecord:
        """Remember ``text`` (see :func:`clean_fact`); the stored fact when the owner
        already has it.

        Raises:
            ValueError: An empty or too long fact.
            MemoryFullError: The owner has :data:`MAX_FACTS` facts already.
        """
        owner, fact = owner_id(user_id), clean_fact(text)
        now = self.clock()
        with self.db.session(write=True) as s:
            rows = list(s.scalars(select(Memory).where(owned_by(Memory.user_id, owner))))
            for row in rows:
                if _words(row.text) == _words(fact):
                    return _record(row)
            if len(rows) >= MAX_FACTS:
                raise MemoryFullError(f"at most {MAX_FACTS} facts can be remembered")
            row = Memory(user_id=owner, text=fact, created_at=now, updated_at=now)
            s.add(row)
            s.flush()
            return _record(row)

    def update(self, user_id: Owner, memory_id: int, text: str) -> MemoryRecord | None:
        """Change one of the owner's facts; None when it is not theirs."""
        fact = clean_fact(text)
        with self.db.session(write=True) as s:
            row = s.scalar(select(Memory).where(
                Memory.id == memory_id, owned_by(Memory.user_id, owner_id(user_id))))
            if row is None:
                return None
            row.text, row.updated_at = fact, self.clock()
            return _record(row)

    def delete(self, user_id: Owner, memory_id: int) -> bool:
        """Forget one of the owner's facts; False when it is not theirs."""
        with self.db.session(write=True) as s:
            result = s.execute(delete(Memory).where(
                Memory.id == memory_id, owned_by(Memory.user_id, owner_id(user_id)))
                .execution_options(synchronize_session=False))
            return bool(result.rowcount)

    def forget(self, user_id: Owner, about: str) -> list[MemoryRecord]:
        """Forget the owner's facts that ``about`` describes: every content word of
        ``about`` is in the fact (or, for a phrase without content words, the fact is
        ``about`` itself). Returns the forgotten facts."""
        owner = owner_id(user_id)
        wanted = set(tokenize(about))
        forgotten = []
        with self.db.session(write=True) as s:
            for row in s.scalars(select(Memory).where(owned_by(Memory.user_id, owner))):
                words = set(tokenize(row.text))
                if (wanted and wanted <= words) or _words(row.text) == _words(about):
                    forgotten.append(_record(row))
            if forgotten:
                s.execute(delete(Memory).where(Memory.id.in_([m.id for m in forgotten]))
                          .execution_options(synchronize_session=False))
        return forgotten

    def count(self, user_id: Owner) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.count(Memory.id)).where(
                owned_by(Memory.user_id, owner_id(user_id)))) or 0)


__all__ = ["MAX_FACTS", "MAX_FACT_CHARS", "Memories", "MemoryFullError", "MemoryRecord",
           "clean_fact"]
