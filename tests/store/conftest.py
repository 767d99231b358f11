"""Fixtures of the store tests: a SQLite store in ``tmp_path`` with an injectable clock
and a cheap argon2 hasher (argon2id, low cost, so the tests stay fast)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from xtalk.store import Store, sqlite_url


class FakeClock:
    """A settable UTC clock."""

    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def fast_hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path / "data" / "xtalk.db")


@pytest.fixture
def open_store(db_url: str, clock: FakeClock) -> Iterator[Callable[..., Store]]:
    """Opens stores on the test database (closed after the test)."""
    opened: list[Store] = []

    def factory(**kwargs) -> Store:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("password_hasher", fast_hasher())
        store = Store.open(db_url, **kwargs)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., Store]) -> Store:
    return open_store()
