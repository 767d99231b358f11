"""Users, passwords, tokens and pairing codes."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from xtalk.store import Store, UserExistsError, UserNotFoundError
from xtalk.store.models import AuthToken, User
from xtalk.store.users import MAX_PAIRING_ATTEMPTS

PASSWORD = "correct horse battery staple"


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verifications = 0

    def verify(self, hash, password):
        self.verifications += 1
        return super().verify(hash, password)


def _rows(db_url: str, sql: str) -> list[tuple]:
    with sqlite3.connect(Path(db_url.removeprefix("sqlite:///"))) as raw:
        return raw.execute(sql).fetchall()


def test_passwords_are_argon2id_hashes(open_store, db_url):
    store: Store = open_store(password_hasher=None)  # the production default hasher
    alice = store.users.create_user("alice", PASSWORD, is_admin=True)
    assert alice.username == "alice" and alice.is_admin
    [(stored,)] = _rows(db_url, "SELECT password_hash FROM users")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert store.users.authenticate("alice", PASSWORD) == alice
    assert PASSWORD not in repr(alice) and stored not in repr(alice)


def test_authenticate(store: Store):
    alice = store.users.create_user(" alice ", PASSWORD)
    assert alice.username == "alice"
    assert store.users.authenticate("alice", PASSWORD) == alice
    assert store.users.authenticate("alice", PASSWORD + "x") is None
    assert store.users.authenticate("alice", "") is None
    assert store.users.authenticate("mallory", PASSWORD) is None
    assert store.users.authenticate("", PASSWORD) is None
    assert store.users.authenticate("alice", "x" * 10_000) is None
    with pytest.raises(UserExistsError):
        store.users.create_user("alice", "other")
    with pytest.raises(ValueError):
        store.users.create_user("bob", "")
    with pytest.raises(ValueError):
        store.users.create_user("   ", PASSWORD)
    assert store.users.has_users()
    assert [u.username for u in store.users.list_users()] == ["alice"]


def test_unknown_user_still_spends_a_hash_verification(open_store):
    hasher = CountingHasher()
    store: Store = open_store(password_hasher=hasher)
    store.users.create_user("alice", PASSWORD)
    store.users.authenticate("alice", "wrong")
    known = hasher.verifications
    store.users.authenticate("nobody", "wrong")
    assert hasher.verifications == known + 1
    store.users.authenticate("x" * 500, "wrong")  # too long to exist: still one hash
    assert hasher.verifications == known + 2


def test_hashes_are_upgraded_on_login(open_store, db_url):
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    open_store(password_hasher=weak).users.create_user("alice", PASSWORD)
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    assert open_store(password_hasher=stronger).users.authenticate("alice", PASSWORD)
    [(stored,)] = _rows(db_url, "SELECT password_hash FROM users")
    assert "m=16,t=2" in stored


def test_change_password_revokes_tokens(store: Store):
    alice = store.users.create_user("alice", PASSWORD)
    token = store.users.issue_token(alice)
    assert not store.users.change_password(alice, "new pass", current_password="wrong")
    assert store.users.verify_token(token) == alice
    assert store.users.change_password(alice, "new pass", current_password=PASSWORD)
    assert store.users.authenticate("alice", PASSWORD) is None
    assert store.users.authenticate("alice", "new pass") == alice
    assert store.users.verify_token(token) is None
    assert not store.users.change_password(999, "x")


def test_tokens_are_stored_hashed(store: Store, db_url):
    alice = store.users.create_user("alice", PASSWORD)
    token = store.users.issue_token(alice, label="phone")
    assert len(token) >= 40
    rows = _rows(db_url, "SELECT * FROM auth_tokens")
    assert len(rows) == 1
    assert all(token not in str(value) for value in rows[0])
    assert hashlib.sha256(token.encode()).hexdigest() in rows[0]
    assert store.users.verify_token(token) == alice
    assert store.users.verify_token(token + "x") is None
    assert store.users.verify_token("") is None
    assert store.users.verify_token(None) is None
    with pytest.raises(UserNotFoundError):
        store.users.issue_token(12345)


def test_token_expiry_with_injected_clock(store: Store, clock):
    alice = store.users.create_user("alice", PASSWORD)
    token = store.users.issue_token(alice, ttl=timedelta(minutes=5))
    short = store.users.issue_token(alice.id, ttl=30)  # seconds
    clock.advance(seconds=29)
    assert store.users.verify_token(short) == alice
    clock.advance(seconds=2)
    assert store.users.verify_token(short) is None
    clock.advance(minutes=4, seconds=28)
    assert store.users.verify_token(token) == alice
    clock.advance(seconds=1)
    assert store.users.verify_token(token) is None
    with pytest.raises(ValueError):
        store.users.issue_token(alice, ttl=0)
    assert store.users.purge_expired() == 2


def test_revoke(store: Store):
    alice = store.users.create_user("alice", PASSWORD)
    bob = store.users.create_user("bob", PASSWORD)
    t1, t2 = store.users.issue_token(alice), store.users.issue_token(alice)
    tb = store.users.issue_token(bob)
    assert store.users.revoke_token(t1)
    assert not store.users.revoke_token(t1)
    assert store.users.verify_token(t1) is None
    assert store.users.verify_token(t2) == alice
    assert store.users.revoke_user_tokens(alice) == 1
    assert store.users.verify_token(t2) is None
    assert store.users.verify_token(tb) == bob


def test_pairing_code_single_use(store: Store, db_url):
    alice = store.users.create_user("alice", PASSWORD)
    code = store.users.rotate_pairing_code(alice)
    assert code.isdigit() and len(code) == 8
    assert len(store.users.rotate_pairing_code(alice, digits=6)) == 6
    with pytest.raises(ValueError):
        store.users.rotate_pairing_code(alice, digits=4)
    code = store.users.rotate_pairing_code(alice)
    [(stored,)] = _rows(db_url, "SELECT code_hash FROM pairing_codes")  # rotation replaced
    assert stored.startswith("$argon2id$") and code not in stored
    token = store.users.redeem_pairing_code(f" {code[:4]} {code[4:]} ")
    assert token and store.users.verify_token(token) == alice
    assert store.users.redeem_pairing_code(code) is None  # single use


def test_rotation_invalidates_the_previous_code(store: Store):
    alice = store.users.create_user("alice", PASSWORD)
    old = store.users.rotate_pairing_code(alice)
    new = store.users.rotate_pairing_code(alice)
    if old != new:
        assert store.users.redeem_pairing_code(old) is None
    assert store.users.redeem_pairing_code(new)


def test_pairing_code_expires(store: Store, clock):
    alice = store.users.create_user("alice", PASSWORD)
    code = store.users.rotate_pairing_code(alice, ttl=timedelta(minutes=10))
    clock.advance(minutes=10, seconds=1)
    assert store.users.redeem_pairing_code(code) is None
    code = store.users.rotate_pairing_code(alice, ttl=60)
    clock.advance(seconds=59)
    assert store.users.redeem_pairing_code(code)


def test_pairing_code_is_burned_after_wrong_attempts(store: Store):
    alice = store.users.create_user("alice", PASSWORD)
    code = store.users.rotate_pairing_code(alice)
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    for _ in range(MAX_PAIRING_ATTEMPTS):
        assert store.users.redeem_pairing_code(wrong) is None
    assert store.users.redeem_pairing_code(code) is None
    with pytest.raises(UserNotFoundError):
        store.users.rotate_pairing_code(4242)


def test_secrets_never_reach_logs_or_reprs(store: Store, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # SQL statement logging on
    alice = store.users.create_user("alice", PASSWORD)
    store.users.authenticate("alice", PASSWORD)
    store.users.authenticate("alice", "wrong-password-123")
    token = store.users.issue_token(alice)
    store.users.verify_token(token)
    code = store.users.rotate_pairing_code(alice)
    paired = store.users.redeem_pairing_code(code)
    store.users.revoke_token(token)
    with pytest.raises(UserExistsError) as info:
        store.users.create_user("alice", PASSWORD)
    assert "INSERT INTO users" in caplog.text  # SQL was logged, parameters were not
    secrets = [PASSWORD, "wrong-password-123", token, code, paired,
               hashlib.sha256(token.encode()).hexdigest(), "$argon2"]
    texts = [caplog.text, str(info.value), repr(info.value.__cause__), repr(store),
             repr(store.users), repr(alice)]
    with store.database.session() as s:
        texts += [repr(u) for u in s.query(User)] + [repr(t) for t in s.query(AuthToken)]
    for text in texts:
        for secret in secrets:
            assert secret not in text
