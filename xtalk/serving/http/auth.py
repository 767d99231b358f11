"""Authentication and request-origin checks of the HTTP/WebSocket serving layer.

Who must authenticate is decided for every request (:meth:`AuthGate.required`), and
:meth:`AuthGate.principal` is the one check of origin, host and token that the HTTP routes,
the session WebSocket and ``/metrics`` share:

* mode ``"required"``, or LAN mode (the server listens beyond loopback): always;
* mode ``"auto"`` (default): only the single-user desktop case runs without a token —
  the server is bound to loopback, the request comes from loopback, and the store has no
  users. As soon as one user exists every route and the WebSocket need a bearer token.

Tokens come from ``Authorization: Bearer <token>``; the WebSocket also accepts
``?token=<token>`` because browsers cannot set headers on a WebSocket. Tokens are
redacted from uvicorn's log lines (:class:`TokenRedactingFilter`).

Browser origin checks (cross-site WebSocket hijacking / CSRF): a request that carries an
``Origin`` header must come from the server's own origin (``Origin`` host:port equals the
``Host`` header) or from an explicitly allowed origin. Requests without ``Origin`` come
from non-browser clients and are fine. While authentication is off, the ``Host`` header
must also name a loopback host (or an allowed origin's host), so a DNS-rebinding page
cannot reach the token-less desktop server under a name of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import socket
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from xtalk.store import DEFAULT_TOKEN_TTL, Store, UserInfo

logger = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_BYTES = 5 * 1024 * 1024
AUTH_MODES = ("auto", "required")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class AuthSettings:
    """Security settings of the mounted routes.

    Args:
        mode: ``"auto"`` (authentication off only for the loopback desktop without users)
            or ``"required"`` (always on).
        lan: The server listens on a LAN interface: authentication is always required.
        allowed_origins: Browser origins (``"https://host:port"``) allowed besides the
            server's own origin.
        token_ttl: Lifetime of tokens issued by login and pairing.
        max_upload_bytes: Largest document accepted by the upload route.
        max_failed_logins: Failed logins/pairings per client address within
            ``failed_login_window_s`` before further attempts are refused (429).
        failed_login_window_s: The window of ``max_failed_logins``.
    """

    mode: str = "auto"
    lan: bool = False
    allowed_origins: tuple[str, ...] = ()
    token_ttl: timedelta = DEFAULT_TOKEN_TTL
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_failed_logins: int = 10
    failed_login_window_s: float = 60.0

    def __post_init__(self) -> None:
        if self.mode not in AUTH_MODES:
            raise ValueError(f"auth mode must be one of {AUTH_MODES}, got {self.mode!r}")
        origins = []
        for origin in self.allowed_origins or ():
            normalized = normalize_origin(origin)
            if normalized is None:
                raise ValueError(f"allowed origin {origin!r} is not an http(s)://host[:port] "
                                 "origin")
            origins.append(normalized)
        object.__setattr__(self, "allowed_origins", tuple(dict.fromkeys(origins)))
        ttl = self.token_ttl
        if not isinstance(ttl, timedelta):
            ttl = timedelta(seconds=float(ttl))
        if ttl <= timedelta(0):
            raise ValueError("token_ttl must be positive")
        object.__setattr__(self, "token_ttl", ttl)
        if (not isinstance(self.max_upload_bytes, int) or isinstance(self.max_upload_bytes, bool)
                or self.max_upload_bytes < 1):
            raise ValueError("max_upload_bytes must be a positive integer")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, **overrides: Any) -> AuthSettings:
        """Settings from a ``service_config["auth"]``-style mapping (unknown keys are an
        error), with keyword overrides on top."""
        values = dict(data or {})
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "token_ttl_s" in values:  # JSON has no timedelta
            values["token_ttl"] = timedelta(seconds=float(values.pop("token_ttl_s")))
        known = set(cls.__dataclass_fields__)
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown auth settings {sorted(unknown)}; known: "
                             f"{sorted(known | {'token_ttl_s'})}")
        if "allowed_origins" in values:
            values["allowed_origins"] = tuple(values["allowed_origins"] or ())
        return cls(**values)


# --------------------------------------------------------------------------- origins / hosts
def normalize_origin(origin: str) -> str | None:
    """``scheme://host:port`` (lowercase, explicit port) of an http(s) origin, else None."""
    if not isinstance(origin, str):
        return None
    try:
        parsed = urlsplit(origin.strip())
        port = parsed.port
    except ValueError:
        return None
    scheme = parsed.scheme.lower()
    if scheme not in ("http", "https") or not parsed.hostname:
        return None
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment or parsed.username:
        return None
    host = parsed.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port or _DEFAULT_PORTS[scheme]}"


def _split_host(value: str) -> tuple[str, int | None] | None:
    """(hostname, explicit port or None) of a ``Host`` header value."""
    try:
        parsed = urlsplit("//" + value.strip())
        port = parsed.port
    except ValueError:
        return None
    if not parsed.hostname or parsed.path or parsed.username:
        return None
    return parsed.hostname.lower(), port


def lan_address() -> str | None:
    """The address of the interface that routes to the LAN/internet (no packet is sent),
    or ``None`` without a network."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed, only resolves a route
        address = sock.getsockname()[0]
        if not ipaddress.ip_address(address).is_loopback and address != "0.0.0.0":
            return address
    return None


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_SINGLE = ("host", "origin", "authorization")
_AMBIGUOUS = "\x00ambiguous"


def _headers(scope: Mapping[str, Any]) -> dict[str, str]:
    """The request headers by lowercase name; a repeated Host, Origin or Authorization
    header (never sent by browsers) reads as an unusable value, so it is refused."""
    result: dict[str, str] = {}
    for key, value in scope.get("headers") or ():
        name = key.decode("latin-1").lower()
        if name in result:
            if name in _SINGLE:
                result[name] = _AMBIGUOUS
            continue
        result[name] = value.decode("latin-1")
    return result


def origin_allowed(scope: Mapping[str, Any], allowed_origins: Iterable[str] = ()) -> bool:
    """Whether the request's ``Origin`` (if any) may use this server."""
    headers = _headers(scope)
    origin = headers.get("origin")
    if origin is None:
        return True  # not a browser: nothing to hijack
    normalized = normalize_origin(origin)
    if normalized is None:
        return False  # "null", file://, garbage
    if normalized in set(allowed_origins):
        return True
    host = _split_host(headers.get("host", ""))
    if host is None:
        return False
    origin_parts = urlsplit(normalized)
    origin_host = (origin_parts.hostname or "").lower()
    if origin_host != host[0]:
        return False
    if host[1] is not None:
        return origin_parts.port == host[1]
    # Host without a port: the origin must use its scheme's default port.
    return origin_parts.port == _DEFAULT_PORTS[origin_parts.scheme]


def host_is_local(scope: Mapping[str, Any], allowed_origins: Iterable[str] = ()) -> bool:
    """Whether the ``Host`` header names a loopback host or an allowed origin's host."""
    host = _split_host(_headers(scope).get("host", ""))
    if host is None:
        return False
    if is_loopback_host(host[0]):
        return True
    return any((urlsplit(o).hostname or "").lower() == host[0] for o in allowed_origins)


def client_is_loopback(scope: Mapping[str, Any]) -> bool:
    client = scope.get("client")
    if not client:
        return False
    return is_loopback_host(str(client[0]))


def client_address(scope: Mapping[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "?"


# --------------------------------------------------------------------------- tokens
def bearer_token(scope: Mapping[str, Any], *, allow_query: bool = False) -> str | None:
    """The bearer token of a request: the ``Authorization`` header, or (WebSocket only)
    the ``token`` query parameter."""
    header = _headers(scope).get("authorization")
    if header:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    if allow_query:
        from urllib.parse import parse_qs

        query = scope.get("query_string", b"").decode("latin-1")
        values = parse_qs(query).get("token")
        if values and values[0]:
            return values[0]
    return None


class TokenRedactingFilter(logging.Filter):
    """Hides ``token=...`` query values in log records (uvicorn logs request paths)."""

    PATTERN = re.compile(r"((?:^|[?&])token=)[^&\s\"']*", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(self.PATTERN.sub(r"\1[redacted]", a) if isinstance(a, str)
                                else a for a in record.args)
        if isinstance(record.msg, str) and "token=" in record.msg.lower():
            record.msg = self.PATTERN.sub(r"\1[redacted]", record.msg)
        return True


_REDACTOR = TokenRedactingFilter()


def install_token_redaction(logger_names: Iterable[str] = ("uvicorn.error", "uvicorn.access")
                            ) -> None:
    for name in logger_names:
        target = logging.getLogger(name)
        if _REDACTOR not in target.filters:
            target.addFilter(_REDACTOR)


# --------------------------------------------------------------------------- throttling
@dataclass
class FailureThrottle:
    """Counts failed logins per client address in a sliding window."""

    limit: int
    window_s: float
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, key: str, now: float) -> deque[float]:
        entries = self._failures.setdefault(key, deque())
        while entries and entries[0] <= now - self.window_s:
            entries.popleft()
        return entries

    def blocked_for(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        now = time.monotonic()
        entries = self._recent(key, now)
        if len(entries) < self.limit:
            if not entries:
                self._failures.pop(key, None)
            return 0.0
        return max(0.0, entries[0] + self.window_s - now)

    def failed(self, key: str) -> None:
        self._recent(key, time.monotonic()).append(time.monotonic())
        if len(self._failures) > 10_000:  # bound memory: forget the oldest clients
            for stale in list(self._failures)[:5_000]:
                self._failures.pop(stale, None)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


# --------------------------------------------------------------------------- the gate
WS_UNAUTHORIZED = 4401
WS_FORBIDDEN = 4403


@dataclass
class Principal:
    """The caller of a route: a user, or nobody while authentication is off."""

    user: UserInfo | None
    token: str | None = None

    @property
    def owner(self) -> int | None:
        return self.user.id if self.user is not None else None

    @property
    def user_id(self) -> str | None:
        """The user id as ``Xtalk.connect`` takes it."""
        return str(self.user.id) if self.user is not None else None


class AuthRefused(Exception):
    """A request refused by :meth:`AuthGate.principal`: the HTTP ``status``, the WebSocket
    close code ``ws_code``, a machine-readable ``code`` and a ``message`` for the client."""

    def __init__(self, status: int, ws_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.ws_code, self.code, self.message = status, ws_code, code, message


def _unauthorized(message: str = "Authentication required.") -> AuthRefused:
    return AuthRefused(401, WS_UNAUTHORIZED, "unauthorized", message)


class AuthGate:
    """Decides per request whether a token is needed and whom it names.

    Without a ``store`` nobody can log in: only requests that need no token (loopback
    clients of a loopback server in mode ``"auto"``) are let through.
    """

    def __init__(self, store: Store | None, settings: AuthSettings) -> None:
        self.store = store
        self.settings = settings
        self.throttle = FailureThrottle(settings.max_failed_logins,
                                        settings.failed_login_window_s)

    async def required(self, scope: Mapping[str, Any]) -> bool:
        """Whether this request must carry a valid token."""
        if self.settings.mode == "required" or self.settings.lan:
            return True
        if not client_is_loopback(scope):
            return True
        if self.store is None:
            return False
        return await asyncio.to_thread(self.store.users.has_users)

    async def user_for(self, token: str | None) -> UserInfo | None:
        if not token or self.store is None:
            return None
        return await asyncio.to_thread(self.store.users.verify_token, token)

    async def principal(self, scope: Mapping[str, Any], *, websocket: bool = False
                        ) -> Principal:
        """Who makes the request ``scope``, after the origin, host and token checks.

        ``websocket`` also accepts the token as ``?token=`` (browsers cannot set headers
        on a WebSocket).

        Raises:
            AuthRefused: A cross-origin request, a non-local ``Host`` while no login is
                needed, or a missing / invalid token where one is.
        """
        if not origin_allowed(scope, self.settings.allowed_origins):
            raise AuthRefused(403, WS_FORBIDDEN, "forbidden_origin",
                              "Cross-origin requests are not allowed.")
        token = bearer_token(scope, allow_query=websocket)
        if not await self.required(scope):
            if not host_is_local(scope, self.settings.allowed_origins):
                raise AuthRefused(403, WS_FORBIDDEN, "forbidden_host",
                                  "This server only answers to localhost names.")
            return Principal(None, None)
        if token is None:
            raise _unauthorized()
        user = await self.user_for(token)
        if user is None:
            raise _unauthorized("Invalid or expired token.")
        return Principal(user, token)


__all__ = [
    "AUTH_MODES", "DEFAULT_MAX_UPLOAD_BYTES", "WS_FORBIDDEN", "WS_UNAUTHORIZED", "AuthGate",
    "AuthRefused", "AuthSettings", "FailureThrottle", "Principal",
    "TokenRedactingFilter", "bearer_token", "client_address", "client_is_loopback",
    "host_is_local", "install_token_redaction", "is_loopback_host", "lan_address",
    "normalize_origin",
    "origin_allowed",
]
