"""Durability under a real ``kill -9``: every message a process reported as committed is
in the database afterwards, and the database is not corrupt."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from paths import ROOT

from xtalk.store import Store

REPO = ROOT

CHILD = textwrap.dedent("""
    import sys
    from xtalk.store import Store

    store = Store.open(sys.argv[1])
    session_id, turn = sys.argv[2], int(sys.argv[3])
    print("ready", flush=True)
    while True:
        turn += 1
        role = "user" if turn % 2 else "assistant"
        store.conversations.append_message(session_id, turn, role,
                                           f"message {turn} " + "lorem ipsum " * 40,
                                           interrupted=turn % 7 == 0)
        if turn % 10 == 0:
            store.documents.add_document(None, f"doc{turn}.txt", "text/plain",
                                         f"document number {turn} about topic{turn}",
                                         session_id=session_id)
        print(turn, flush=True)  # reported only after the commit returned
""")


def _run_and_kill(db_url: str, session_id: str, start: int, kill_after: int) -> list[int]:
    """Run the child, SIGKILL it after it reported ``kill_after`` commits; return every
    turn it reported."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, db_url, session_id, str(start)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    reported: list[int] = []
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        while len(reported) < kill_after:
            line = proc.stdout.readline()
            assert line, f"child exited early: {proc.stderr.read()}"
            reported.append(int(line))
        os.kill(proc.pid, signal.SIGKILL)  # mid-way through the next transaction
        proc.wait(timeout=10)
        # lines already written before the kill are still in the pipe
        reported += [int(line) for line in proc.stdout.read().split()]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return reported


def test_committed_messages_survive_kill_9(db_url: str):
    path = Path(db_url.removeprefix("sqlite:///"))
    with Store.open(db_url) as store:
        session_id = store.conversations.create_session(None).id
    turn = 0
    for kill_after in (25, 61, 103):
        reported = _run_and_kill(db_url, session_id, turn, kill_after)
        assert reported == list(range(turn + 1, turn + len(reported) + 1))
        assert Path(f"{path}-wal").exists()  # the reopen below recovers from the WAL

        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
        with Store.open(db_url) as store:
            records = store.conversations.message_records(session_id)
            turns = [m.turn_id for m in records]
            # everything reported is there, in order; at most the turn in progress more
            assert turns[:reported[-1]] == list(range(1, reported[-1] + 1))
            assert len(turns) - reported[-1] in (0, 1)
            assert all(m.interrupted == (m.turn_id % 7 == 0) for m in records)
            assert all(m.content.startswith(f"message {m.turn_id} ") for m in records)
            docs = store.documents.list_documents(None)
            assert {d.name for d in docs} >= {f"doc{t}.txt" for t in reported if t % 10 == 0}
            last_doc = max(t for t in reported if t % 10 == 0)
            assert store.documents.search(None, f"topic{last_doc}") == \
                [f"document number {last_doc} about topic{last_doc}"]
            with store.database.engine.connect() as conn:
                conn.exec_driver_sql("INSERT INTO library_chunks_fts(library_chunks_fts) "
                                     "VALUES ('integrity-check')")
            turn = turns[-1]
