"""Conversation sessions: isolation between users, persistence, titles, cascades."""

from __future__ import annotations

import asyncio

import pytest

from xtalk.store import SessionExistsError, SessionNotFoundError, Store, auto_title


def test_sessions_are_isolated_between_users(store: Store):
    alice = store.users.create_user("alice", "pw-a")
    bob = store.users.create_user("bob", "pw-b")
    sa = store.conversations.create_session(alice.id)
    sb = store.conversations.create_session(bob.id, title="Bob's")
    sd = store.conversations.create_session(None)  # the desktop
    store.conversations.append_message(sa.id, 1, "user", "alice secret")
    store.conversations.append_message(sb.id, 1, "user", "bob secret")

    assert [s.id for s in store.conversations.list_sessions(alice.id)] == [sa.id]
    assert [s.id for s in store.conversations.list_sessions(bob.id)] == [sb.id]
    assert [s.id for s in store.conversations.list_sessions(None)] == [sd.id]
    assert store.conversations.list_sessions(alice.id)[0].message_count == 1

    assert store.conversations.get_session(alice.id, sb.id) is None
    assert store.conversations.get_session(bob.id, sa.id) is None
    assert store.conversations.get_session(None, sa.id) is None
    assert store.conversations.get_session(alice.id, sd.id) is None
    assert store.conversations.get_session(alice.id, "no-such-session") is None
    detail = store.conversations.get_session(alice.id, sa.id)
    assert detail is not None and [m.content for m in detail.messages] == ["alice secret"]
    assert detail.to_dict()["messages"][0]["content"] == "alice secret"
    assert store.conversations.owns_session(str(alice.id), sa.id)  # ids may come as str
    assert not store.conversations.owns_session(bob, sa.id)

    assert not store.conversations.rename_session(bob.id, sa.id, "hijacked")
    assert not store.conversations.delete_session(bob.id, sa.id)
    assert not store.conversations.delete_session(None, sa.id)
    assert store.conversations.get_session(alice.id, sa.id).title == "alice secret"
    assert store.conversations.messages(sa.id) == [{"role": "user", "content": "alice secret"}]


def test_messages_survive_reopening(open_store):
    store = open_store()
    session = store.conversations.create_session(None)
    store.conversations.append_message(session.id, 1, "user", "What's the weather?")
    store.conversations.append_message(session.id, 1, "assistant", "It is sunny and", True)
    store.conversations.append_message(session.id, 2, "user", "Thanks")
    store.close()

    reopened = open_store()
    assert reopened.conversations.messages(session.id) == [
        {"role": "user", "content": "What's the weather?"},
        {"role": "assistant", "content": "It is sunny and"},
        {"role": "user", "content": "Thanks"},
    ]
    records = reopened.conversations.message_records(session.id)
    assert [(m.turn_id, m.interrupted) for m in records] == [(1, False), (1, True), (2, False)]
    [info] = reopened.conversations.list_sessions(None)
    assert info.title == "What's the weather?" and info.message_count == 3


def test_list_orders_by_last_update(store: Store, clock):
    first = store.conversations.create_session(None)
    clock.advance(minutes=1)
    second = store.conversations.create_session(None)
    assert [s.id for s in store.conversations.list_sessions(None)] == [second.id, first.id]
    clock.advance(minutes=1)
    store.conversations.append_message(first.id, 1, "user", "hi")
    sessions = store.conversations.list_sessions(None)
    assert [s.id for s in sessions] == [first.id, second.id]
    assert sessions[0].updated_at == clock.now and sessions[0].created_at < clock.now
    assert [s.id for s in store.conversations.list_sessions(None, limit=1, offset=1)] == \
        [second.id]


def test_auto_title_from_first_user_message(store: Store):
    session = store.conversations.create_session(None)
    store.conversations.append_message(session.id, 0, "assistant", "Hello! How can I help?")
    store.conversations.append_message(session.id, 1, "user", "   ")
    assert store.conversations.get_session(None, session.id).title is None
    long = "Please explain   the difference between\nBM25 and cosine similarity " * 3
    store.conversations.append_message(session.id, 2, "user", long)
    store.conversations.append_message(session.id, 3, "user", "second question")
    title = store.conversations.get_session(None, session.id).title
    assert title == auto_title(long) and title.endswith("…") and len(title) <= 61
    assert title.startswith("Please explain the difference between BM25")

    titled = store.conversations.create_session(None, title="  My  notes ")
    store.conversations.append_message(titled.id, 1, "user", "not a title")
    assert store.conversations.get_session(None, titled.id).title == "My notes"
    assert store.conversations.rename_session(None, titled.id, "Renamed")
    assert store.conversations.get_session(None, titled.id).title == "Renamed"


def test_withdrawing_a_turn_removes_its_messages_and_its_title(store: Store):
    session = store.conversations.create_session(None)
    store.conversations.append_message(session.id, 1, "user", "What is the distance between")
    store.conversations.append_message(session.id, 1, "assistant", "The dis …", True)
    assert store.conversations.withdraw_turn(session.id, 1) == 2
    assert store.conversations.withdraw_turn(session.id, 1) == 0
    store.conversations.append_message(session.id, 2, "user",
                                       "What is the distance between the earth and the moon")
    detail = store.conversations.get_session(None, session.id)
    assert detail is not None and [m.turn_id for m in detail.messages] == [2]
    assert detail.title == auto_title("What is the distance between the earth and the moon")


def test_append_validation(store: Store):
    session = store.conversations.create_session(None)
    with pytest.raises(SessionNotFoundError):
        store.conversations.append_message("missing", 1, "user", "hi")
    with pytest.raises(ValueError):
        store.conversations.append_message(session.id, 1, "robot", "hi")
    assert store.conversations.messages(session.id) == []


def test_engine_session_ids_can_be_reused(store: Store):
    session = store.conversations.create_session(None, session_id="a" * 32)
    assert session.id == "a" * 32
    with pytest.raises(SessionExistsError):
        store.conversations.create_session(None, session_id="a" * 32)
    with pytest.raises(ValueError):
        store.conversations.create_session(None, session_id="../etc")
    assert len(store.conversations.create_session(None).id) == 32


def test_delete_cascades(store: Store):
    alice = store.users.create_user("alice", "pw")
    session = store.conversations.create_session(alice.id)
    store.conversations.append_message(session.id, 1, "user", "remember the lighthouse")
    store.documents.add_document(alice.id, "notes.txt", "text/plain",
                                 "The lighthouse keeper lives on the island.",
                                 session_id=session.id)
    store.memories.add(alice.id, "Alice likes lighthouses")
    assert store.documents.search(alice.id, "lighthouse keeper")
    assert store.conversations.delete_session(alice.id, session.id)
    assert not store.conversations.delete_session(alice.id, session.id)
    assert store.conversations.get_session(alice.id, session.id) is None
    assert store.conversations.messages(session.id) == []
    # the document is in Alice's library, not the conversation's
    assert store.documents.search(alice.id, "lighthouse keeper")

    other = store.conversations.create_session(alice.id)
    store.conversations.append_message(other.id, 1, "user", "hello")
    store.users.issue_token(alice)
    assert store.users.delete_user(alice)
    assert store.conversations.list_sessions(alice.id) == []
    assert store.conversations.messages(other.id) == []
    assert store.documents.list_documents(alice.id) == []
    assert store.memories.list(alice.id) == []
    with store.database.engine.connect() as conn:
        for table in ("messages", "library_documents", "library_chunks",
                      "library_chunks_fts", "memories"):
            assert conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == 0
        conn.exec_driver_sql(
            "INSERT INTO library_chunks_fts(library_chunks_fts) VALUES ('integrity-check')")


async def test_concurrent_appends_from_worker_threads(store: Store):
    sessions = [store.conversations.create_session(None) for _ in range(4)]

    async def writer(session_id: str) -> None:
        for turn in range(25):
            await asyncio.to_thread(store.conversations.append_message, session_id, turn,
                                    "user" if turn % 2 == 0 else "assistant", f"m{turn}")
            await asyncio.to_thread(store.conversations.list_sessions, None)

    await asyncio.gather(*(writer(s.id) for s in sessions))
    for session in sessions:
        assert [m["content"] for m in store.conversations.messages(session.id)] == \
            [f"m{t}" for t in range(25)]
