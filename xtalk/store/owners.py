"""Who owns a row: a user id, or None for the single-user desktop."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

Owner = int | None


def owner_id(user_id: Any) -> Owner:
    """Normalise an owner id: None, an int, a digit string or an object with ``.id``."""
    if user_id is None:
        return None
    if hasattr(user_id, "id"):
        user_id = user_id.id
    if isinstance(user_id, bool):
        raise TypeError("user_id must be an int or None")
    if isinstance(user_id, int):
        return user_id
    if isinstance(user_id, str) and user_id.isdigit():
        return int(user_id)
    raise TypeError(f"user_id must be an int or None, not {type(user_id).__name__}")


def owned_by(column: Any, owner: Owner) -> ColumnElement[bool]:
    """The SQL condition "``column`` is ``owner``" (``IS NULL`` for the desktop)."""
    return column.is_(None) if owner is None else column == owner


__all__ = ["Owner", "owned_by", "owner_id"]
