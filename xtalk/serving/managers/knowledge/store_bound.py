"""Managers that work on one :class:`~xtalk.store.Store`, and whose user a session is."""

from __future__ import annotations

from typing import Any, ClassVar

from xtalk.serving.interfaces import Manager
from xtalk.store import Store
from xtalk.store.owners import owner_id


def store_owner(user_id: Any) -> int | None:
    """The store's owner id for a session's ``user_id`` (None: the desktop).

    Raises:
        ValueError: ``user_id`` names no store user.
    """
    try:
        return owner_id(user_id)
    except TypeError as exc:
        raise ValueError(f"user id {user_id!r} is not a store user id") from exc


class StoreBoundManager(Manager):
    """A manager bound to a store through a class attribute: :meth:`bound_to` makes the
    subclass that ``Xtalk`` registers on the prototype service (nothing goes into the
    service configuration). Unbound (``store`` None), it does nothing."""

    store: ClassVar[Store | None] = None

    @classmethod
    def bound_to(cls, store: Store) -> type[StoreBoundManager]:
        """A subclass of this manager working on ``store``."""
        return type(cls.__name__, (cls,), {"store": store, "__module__": cls.__module__,
                                          "__doc__": cls.__doc__})


__all__ = ["StoreBoundManager", "store_owner"]
