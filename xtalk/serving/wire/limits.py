"""Per-connection limits: frame sizes, message rate, idle timeout, sessions per user.

All values come from ``service_config`` (flat keys, see :data:`LIMIT_KEYS`) and have safe
defaults; ``xtalk-server`` exposes them as flags. Violations and the close codes they lead
to are documented in ``docs/protocol.md`` ("Limits").
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from xtalk.serving.wire.inbound import DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_TEXT_BYTES

# Close codes of limit violations (refusals of the HTTP layer use 4400-4409).
WS_IDLE_TIMEOUT = 4408
WS_RATE_LIMITED = 4429
WS_TOO_MANY_SESSIONS = 4430
WS_CLIENT_TOO_SLOW = 1013  # the client does not read what the server sends


@dataclass(frozen=True)
class ConnectionLimits:
    """Limits of one client connection.

    Args:
        max_frame_bytes: Largest binary (audio) message; larger ones are rejected.
        max_text_bytes: Largest JSON text message; larger ones are rejected.
        max_messages_per_s: Sustained message rate (text and binary) per connection.
        max_message_burst: Messages allowed at once above the sustained rate.
        max_dropped_messages: Messages dropped for exceeding the rate, without a pause,
            after which the connection is closed (4429).
        idle_timeout_s: A connection that sends nothing for this long is closed (4408).
        max_sessions_per_user: Concurrent connections (running or queued) of one user;
            more are refused (4430).
    """

    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES
    max_messages_per_s: float = 200.0
    max_message_burst: int = 400
    max_dropped_messages: int = 400
    idle_timeout_s: float = 600.0
    max_sessions_per_user: int = 8

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            integral = f.type in ("int", int)
            if isinstance(value, bool) or not isinstance(value, int | float) or (
                    integral and not float(value).is_integer()):
                raise ValueError(f"limit {f.name} must be a {'whole ' if integral else ''}"
                                 f"number, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"limit {f.name} must be positive, got {value!r}")
            object.__setattr__(self, f.name, int(value) if integral else float(value))

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> ConnectionLimits:
        """The limits named in a ``service_config`` (missing keys keep their defaults).

        Raises:
            ValueError: A limit that is not a positive number.
        """
        return cls().updated(config)

    def updated(self, config: Mapping[str, Any] | None) -> ConnectionLimits:
        """These limits with the ones ``config`` names replaced (``self`` when it names
        none).

        Raises:
            ValueError: A limit that is not a positive number.
        """
        values = {key: config[key] for key in LIMIT_KEYS
                  if config and config.get(key) is not None}
        return replace(self, **values) if values else self

    @property
    def hard_frame_bytes(self) -> int:
        """Messages larger than this are refused by the WebSocket layer itself (1009): the
        server does not even buffer them. Between the limits and this size a message is
        rejected with an ``error`` and the session goes on."""
        return max(1 << 20, 4 * max(self.max_frame_bytes, self.max_text_bytes))


LIMIT_KEYS: tuple[str, ...] = tuple(f.name for f in fields(ConnectionLimits))


class TokenBucket:
    """``rate`` tokens per second up to ``capacity``; each message takes one."""

    def __init__(self, rate: float, capacity: int, clock: Any = time.monotonic) -> None:
        self.rate = float(rate)
        self.capacity = float(capacity)
        self.tokens = float(capacity)
        self._clock = clock
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._last) * self.rate)
        self._last = now

    def take(self) -> bool:
        """Take a token; ``False`` when the bucket is empty (the message is over the rate)."""
        self._refill()
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    @property
    def recovered(self) -> bool:
        """At least half full again: the client has slowed down."""
        self._refill()
        return self.tokens >= self.capacity / 2


class FloodGuard:
    """The message-rate policy of one connection.

    Messages over the rate are dropped; the first drop of an episode is reported to the
    client (``rate_limited`` error). An episode ends when the bucket has recovered to half
    its capacity. More than ``max_dropped`` drops in one episode close the connection.
    """

    ACCEPT, DROP, REPORT, CLOSE = "accept", "drop", "report", "close"

    def __init__(self, limits: ConnectionLimits, clock: Any = time.monotonic) -> None:
        self.bucket = TokenBucket(limits.max_messages_per_s, limits.max_message_burst, clock)
        self.max_dropped = limits.max_dropped_messages
        self.dropped = 0  # in the current episode

    def check(self) -> str:
        """What to do with the next message: accept, drop, drop and report, or close."""
        if self.dropped and self.bucket.recovered:
            self.dropped = 0
        if self.bucket.take():
            return self.ACCEPT
        self.dropped += 1
        if self.dropped > self.max_dropped:
            return self.CLOSE
        return self.REPORT if self.dropped == 1 else self.DROP
