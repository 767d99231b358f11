"""Remembered facts: per owner, cleaned, deduplicated, edited, forgotten by description,
kept across reopening."""

from __future__ import annotations

import pytest

from xtalk.store import MemoryFullError, Store
from xtalk.store import memories as memories_module


@pytest.fixture
def alice(store: Store) -> int:
    return store.users.create_user("alice", "correct horse battery").id


def test_facts_are_kept_per_owner_and_cleaned(store: Store, alice: int):
    fact = store.memories.add(alice, "  my sister is called   Annabel ")
    assert fact.text == "My sister is called Annabel."
    assert store.memories.add(alice, "My sister is called Annabel!").id == fact.id  # no twin
    store.memories.add(None, "The desk lamp is on the left")
    assert [m.text for m in store.memories.list(alice)] == ["My sister is called Annabel."]
    assert [m.text for m in store.memories.list(None)] == ["The desk lamp is on the left."]
    assert store.memories.count(alice) == 1
    for bad in ("", "   ", "x" * (memories_module.MAX_FACT_CHARS + 1)):
        with pytest.raises(ValueError):
            store.memories.add(alice, bad)


def test_facts_are_edited_and_deleted_only_by_their_owner(store: Store, alice: int, clock):
    fact = store.memories.add(alice, "I live in Leeds")
    clock.advance(minutes=5)
    assert store.memories.update(None, fact.id, "I live in Hull") is None
    changed = store.memories.update(alice, fact.id, "I live in York")
    assert changed is not None and changed.text == "I live in York."
    assert changed.updated_at > changed.created_at
    assert not store.memories.delete(None, fact.id)
    assert store.memories.delete(alice, fact.id)
    assert store.memories.list(alice) == []


def test_forget_deletes_what_the_phrase_describes(store: Store, alice: int):
    store.memories.add(alice, "My sister is called Annabel")
    store.memories.add(alice, "My brother is called Tom")
    store.memories.add(alice, "I am allergic to peanuts")
    assert store.memories.forget(alice, "the moon") == []
    gone = store.memories.forget(alice, "my sister")
    assert [m.text for m in gone] == ["My sister is called Annabel."]
    assert [m.text for m in store.memories.forget(alice, "I am allergic to peanuts.")] == [
        "I am allergic to peanuts."]
    assert [m.text for m in store.memories.list(alice)] == ["My brother is called Tom."]


def test_facts_survive_reopening_and_have_a_limit(open_store, monkeypatch):
    store = open_store()
    store.memories.add(None, "The spare key is under the blue pot")
    store.close()
    reopened = open_store()
    assert [m.text for m in reopened.memories.list(None)] == [
        "The spare key is under the blue pot."]
    monkeypatch.setattr(memories_module, "MAX_FACTS", 2)
    reopened.memories.add(None, "Second fact")
    with pytest.raises(MemoryFullError):
        reopened.memories.add(None, "Third fact")
