"""Users, password authentication, bearer tokens and device pairing codes.

* Passwords are hashed with argon2id (argon2-cffi); verification is constant-time, and an
  unknown username still costs one hash verification so response times do not reveal
  which usernames exist. Hashes made with older parameters are upgraded on login.
* Tokens are ``secrets.token_urlsafe(32)`` strings handed to the client once; only their
  SHA-256 digest is stored (they are random, so a slow hash adds nothing). A token is
  valid until it expires or is revoked; changing a password revokes the user's tokens.
* A pairing code is a short numeric code (6–8 digits) a new device exchanges once for a
  token, before it expires. Only an argon2id hash of it is stored (a fast hash of a short
  code would be brute-forced offline from a leaked database), and every active code is
  burned after :data:`MAX_PAIRING_ATTEMPTS` wrong codes.

Raw passwords, tokens and codes are never logged and never appear in a ``repr``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from xtalk.store.database import Clock, Database, StoreError, utc_now
from xtalk.store.models import USERNAME_MAX, AuthToken, PairingCode, User

logger = logging.getLogger(__name__)

DEFAULT_TOKEN_TTL = timedelta(days=30)
DEFAULT_PAIRING_TTL = timedelta(minutes=10)
MAX_PAIRING_ATTEMPTS = 10
PASSWORD_MAX = 4096
TOKEN_MAX = 512
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UserExistsError(StoreError, ValueError):
    """A user with this username already exists."""


class UserNotFoundError(StoreError, LookupError):
    """No user has this id."""


@dataclass(frozen=True)
class UserInfo:
    """A user as callers see it (no password hash)."""

    id: int
    username: str
    is_admin: bool
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username, "is_admin": self.is_admin,
                "created_at": self.created_at.isoformat()}


def _info(user: User) -> UserInfo:
    return UserInfo(id=user.id, username=user.username, is_admin=bool(user.is_admin),
                    created_at=user.created_at)


def _user_id(user: UserInfo | int) -> int:
    return user.id if isinstance(user, UserInfo) else int(user)


def _ttl(ttl: timedelta | float) -> timedelta:
    ttl = ttl if isinstance(ttl, timedelta) else timedelta(seconds=float(ttl))
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    return ttl


def hash_token(raw: str) -> str:
    """The stored form of a raw token: its SHA-256 hex digest."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _check_username(username: str) -> str:
    if not isinstance(username, str):
        raise TypeError("username must be a string")
    username = username.strip()
    if not username or len(username) > USERNAME_MAX or _CONTROL.search(username):
        raise ValueError(f"username must be 1-{USERNAME_MAX} printable characters")
    return username


def _check_password(password: str) -> str:
    if not isinstance(password, str):
        raise TypeError("password must be a string")
    if not password or len(password) > PASSWORD_MAX:
        raise ValueError(f"password must be 1-{PASSWORD_MAX} characters")
    return password


class Users:
    """User accounts and credentials (synchronous; see :class:`xtalk.store.Store`)."""

    def __init__(self, db: Database, *, clock: Clock | None = None,
                 hasher: PasswordHasher | None = None) -> None:
        self.db = db
        self.clock = clock or utc_now
        self.hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self._dummy_hash: str | None = None
        self._dummy_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Users({self.db!r})"

    # ------------------------------------------------------------------ hashing helpers
    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        with self._dummy_lock:
            if self._dummy_hash is None:
                self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
            return self._dummy_hash

    # ------------------------------------------------------------------ accounts
    def create_user(self, username: str, password: str, *, is_admin: bool = False) -> UserInfo:
        """Create a user.

        Raises:
            UserExistsError: The username is taken.
            ValueError: The username or password is empty or too long.
        """
        username = _check_username(username)
        password_hash = self.hasher.hash(_check_password(password))
        try:
            with self.db.session(write=True) as s:
                user = User(username=username, password_hash=password_hash,
                            is_admin=is_admin, created_at=self.clock())
                s.add(user)
                s.flush()
                info = _info(user)
        except IntegrityError:
            raise UserExistsError(f"user {username!r} already exists") from None
        logger.info("created user %r (id %d, admin=%s)", username, info.id, is_admin)
        return info

    def get_user_by_name(self, username: str) -> UserInfo | None:
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.username == username.strip()))
            return _info(user) if user else None

    def list_users(self) -> list[UserInfo]:
        with self.db.session() as s:
            return [_info(u) for u in s.scalars(select(User).order_by(User.id))]

    def has_users(self) -> bool:
        """Whether any user exists (then every route requires a token)."""
        with self.db.session() as s:
            return bool(s.scalar(select(func.count()).select_from(User)))

    def delete_user(self, user: UserInfo | int) -> bool:
        """Delete a user with their tokens, pairing codes and sessions."""
        with self.db.session(write=True) as s:
            result = s.execute(delete(User).where(User.id == _user_id(user))
                               .execution_options(synchronize_session=False))
            return bool(result.rowcount)

    def authenticate(self, username: str, password: str) -> UserInfo | None:
        """The user when ``password`` is theirs, else None (also for unknown users,
        which still spend one hash verification)."""
        dummy = self._dummy()
        user: User | None = None
        if isinstance(username, str) and 0 < len(username.strip()) <= USERNAME_MAX:
            with self.db.session() as s:
                user = s.scalar(select(User).where(User.username == username.strip()))
        if not isinstance(password, str) or len(password) > PASSWORD_MAX:
            password = ""
        stored = user.password_hash if user is not None else dummy
        ok = self._verify(stored, password) and user is not None and bool(password)
        if not ok:
            logger.info("failed login for %r", username if isinstance(username, str) else "?")
            return None
        if self.hasher.check_needs_rehash(stored):
            with self.db.session(write=True) as s:
                s.execute(update(User).where(User.id == user.id, User.password_hash == stored)
                          .values(password_hash=self.hasher.hash(password)))
        return _info(user)

    def change_password(self, user: UserInfo | int, new_password: str, *,
                        current_password: str | None = None,
                        revoke_tokens: bool = True) -> bool:
        """Set a new password; with ``current_password``, only if it is right.

        Returns False when the user does not exist or ``current_password`` is wrong. By
        default all of the user's tokens are revoked (other devices must log in again).
        """
        user_id = _user_id(user)
        new_hash = self.hasher.hash(_check_password(new_password))
        if current_password is not None:
            with self.db.session() as s:
                row = s.get(User, user_id)
                stored = row.password_hash if row else self._dummy()
            if not self._verify(stored, current_password) or row is None:
                return False
        with self.db.session(write=True) as s:
            row = s.get(User, user_id)
            if row is None:
                return False
            row.password_hash = new_hash
            if revoke_tokens:
                self._revoke_all(s, user_id)
        logger.info("password changed for user id %d", user_id)
        return True

    # ------------------------------------------------------------------ tokens
    def _issue(self, s: Any, user_id: int, ttl: timedelta | float, label: str | None) -> str:
        raw = secrets.token_urlsafe(32)
        now = self.clock()
        s.add(AuthToken(token_hash=hash_token(raw), user_id=user_id, label=label,
                        created_at=now, expires_at=now + _ttl(ttl)))
        return raw

    def issue_token(self, user: UserInfo | int, ttl: timedelta | float = DEFAULT_TOKEN_TTL,
                    *, label: str | None = None) -> str:
        """A new raw bearer token for ``user``, valid for ``ttl`` (a timedelta or seconds).

        The raw token is returned once and never stored.

        Raises:
            UserNotFoundError: No such user.
        """
        user_id = _user_id(user)
        with self.db.session(write=True) as s:
            if s.get(User, user_id) is None:
                raise UserNotFoundError(f"no user with id {user_id}")
            return self._issue(s, user_id, ttl, label[:255] if label else None)

    def verify_token(self, raw: str | None) -> UserInfo | None:
        """The token's user, or None when the token is unknown, expired or revoked."""
        if not isinstance(raw, str) or not raw or len(raw) > TOKEN_MAX:
            return None
        with self.db.session() as s:
            user = s.scalar(
                select(User).join(AuthToken, AuthToken.user_id == User.id).where(
                    AuthToken.token_hash == hash_token(raw),
                    AuthToken.revoked_at.is_(None),
                    AuthToken.expires_at > self.clock()))
            return _info(user) if user else None

    def revoke_token(self, raw: str) -> bool:
        """Revoke a token (logout). True when a valid token was revoked."""
        if not isinstance(raw, str) or not raw or len(raw) > TOKEN_MAX:
            return False
        with self.db.session(write=True) as s:
            result = s.execute(
                update(AuthToken).where(AuthToken.token_hash == hash_token(raw),
                                        AuthToken.revoked_at.is_(None))
                .values(revoked_at=self.clock()))
            return bool(result.rowcount)

    def _revoke_all(self, s: Any, user_id: int) -> int:
        result = s.execute(
            update(AuthToken).where(AuthToken.user_id == user_id,
                                    AuthToken.revoked_at.is_(None))
            .values(revoked_at=self.clock()))
        return int(result.rowcount)

    def revoke_user_tokens(self, user: UserInfo | int) -> int:
        """Revoke every token of ``user``; returns how many were revoked."""
        with self.db.session(write=True) as s:
            return self._revoke_all(s, _user_id(user))

    def purge_expired(self) -> int:
        """Delete expired or revoked tokens and dead pairing codes; returns the count."""
        now = self.clock()
        with self.db.session(write=True) as s:
            n = s.execute(delete(AuthToken).where(
                or_(AuthToken.expires_at <= now, AuthToken.revoked_at.is_not(None)))).rowcount
            n += s.execute(delete(PairingCode).where(or_(
                PairingCode.expires_at <= now, PairingCode.used_at.is_not(None),
                PairingCode.failed_attempts >= MAX_PAIRING_ATTEMPTS))).rowcount
            return int(n)

    # ------------------------------------------------------------------ pairing codes
    def _active_codes(self, now: datetime) -> Any:
        return (PairingCode.used_at.is_(None), PairingCode.expires_at > now,
                PairingCode.failed_attempts < MAX_PAIRING_ATTEMPTS)

    def rotate_pairing_code(self, user: UserInfo | int, *,
                            ttl: timedelta | float = DEFAULT_PAIRING_TTL,
                            digits: int = 8) -> str:
        """A new raw pairing code for ``user`` (``digits`` digits, 6–8), replacing the
        user's previous codes. Valid once, until ``ttl`` has passed.

        Raises:
            UserNotFoundError: No such user.
        """
        if not 6 <= digits <= 8:
            raise ValueError("a pairing code has 6 to 8 digits")
        user_id = _user_id(user)
        ttl = _ttl(ttl)
        code = f"{secrets.randbelow(10 ** digits):0{digits}d}"
        code_hash = self.hasher.hash(code)
        with self.db.session(write=True) as s:
            if s.get(User, user_id) is None:
                raise UserNotFoundError(f"no user with id {user_id}")
            now = self.clock()
            s.execute(delete(PairingCode).where(
                or_(PairingCode.user_id == user_id, PairingCode.expires_at <= now)))
            s.add(PairingCode(code_hash=code_hash, user_id=user_id, created_at=now,
                              expires_at=now + ttl, failed_attempts=0))
        logger.info("new pairing code for user id %d", user_id)
        return code

    def redeem_pairing_code(self, code: str, *, ttl: timedelta | float = DEFAULT_TOKEN_TTL,
                            label: str | None = "paired device") -> str | None:
        """Exchange a pairing code for a new raw token of its user; None when the code is
        wrong, expired, already used or burned. Each wrong code counts against every
        active code."""
        normalized = re.sub(r"[\s-]", "", code) if isinstance(code, str) else ""
        now = self.clock()
        with self.db.session() as s:
            candidates = [(c.id, c.user_id, c.code_hash) for c in s.scalars(
                select(PairingCode).where(*self._active_codes(now)))]
        match = None
        if re.fullmatch(r"\d{6,8}", normalized):
            for code_id, user_id, code_hash in candidates:
                if self._verify(code_hash, normalized):
                    match = (code_id, user_id)
                    break
        with self.db.session(write=True) as s:
            if match is None:
                s.execute(update(PairingCode).where(*self._active_codes(now)).values(
                    failed_attempts=PairingCode.failed_attempts + 1))
                logger.info("wrong pairing code")
                return None
            code_id, user_id = match
            claimed = s.execute(
                update(PairingCode).where(PairingCode.id == code_id, *self._active_codes(now))
                .values(used_at=now))
            if not claimed.rowcount:  # redeemed or burned concurrently
                return None
            raw = self._issue(s, user_id, ttl, label)
        logger.info("pairing code redeemed for user id %d", user_id)
        return raw


__all__ = [
    "DEFAULT_PAIRING_TTL", "DEFAULT_TOKEN_TTL", "MAX_PAIRING_ATTEMPTS", "UserExistsError",
    "UserInfo", "UserNotFoundError", "Users", "hash_token",
]
