"""A FIFO session limiter: at most ``limit`` live sessions (None: no count limit), none
admitted while ``busy()`` (the server is saturated: :mod:`xtalk.serving.load`); the rest
wait in line.

Waiting clients are told their place (``queue_status``) whenever it changes and get
``queue_granted`` when admitted. A client that leaves while waiting gives up its place.
When ``max_waiting`` clients already wait, the next one is refused: an ``error``
(``server_busy``) and close code :data:`WS_SERVER_BUSY`. Every admitted session must
``release()`` its slot (the caller does it in ``finally``); :meth:`poke` admits waiting
clients after ``busy()`` cleared.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocketDisconnect

logger = logging.getLogger(__name__)

WS_SERVER_BUSY = 4503
DEFAULT_MAX_WAITING = 64
#: With a ``busy`` signal, at most this many clients are admitted at once, then the
#: signal gets ``ADMIT_PAUSE_S`` to show their effect before the next ones.
ADMIT_BURST = 4
ADMIT_PAUSE_S = 0.5


class SessionLimiter:
    """Admits sessions first come, first served."""

    def __init__(self, limit: int | None, *, busy: Callable[[], bool] | None = None,
                 max_waiting: int = DEFAULT_MAX_WAITING) -> None:
        self.limit = None if limit is None else self._check(limit)
        self.busy = busy
        self.max_waiting = max_waiting
        self.active = 0
        self.refused = 0
        self._waiting: deque[tuple[Any, asyncio.Future[bool]]] = deque()

    @staticmethod
    def _check(limit: int) -> int:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(f"session limit must be a positive integer, got {limit!r}")
        return limit

    def set_limit(self, limit: int | None) -> None:
        self.limit = None if limit is None else self._check(limit)
        self._grant()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _has_room(self) -> bool:
        return ((self.limit is None or self.active < self.limit)
                and not (self.busy is not None and self.busy()))

    def poke(self) -> None:
        """Admit whoever can be admitted now (``busy()`` may have cleared)."""
        self._grant()

    async def acquire(self, websocket: Any) -> bool:
        """Wait for a slot; ``False`` if the client disconnected while waiting or was
        refused (the line was full).

        The websocket must already be accepted (queue messages are sent on it).
        """
        if self._has_room() and not self._waiting:
            self.active += 1
            return True
        if len(self._waiting) >= self.max_waiting:
            self.refused += 1
            logger.warning("session refused: the server is busy and %d clients wait",
                           len(self._waiting))
            await self._send(websocket, {"action": "error", "data": {
                "code": "server_busy",
                "message": "The server is busy; try again in a minute."}})
            with contextlib.suppress(Exception):
                await websocket.close(code=WS_SERVER_BUSY, reason="server busy")
            return False
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        entry = (websocket, future)
        self._waiting.append(entry)
        await self._notify_positions()
        watcher = asyncio.get_running_loop().create_task(self._watch(websocket, future))
        try:
            granted = await future
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
            if entry in self._waiting:
                self._waiting.remove(entry)
        if granted:
            await self._send(websocket, {"action": "queue_granted", "position": 0,
                                         "limit": self.limit, "active": self.active})
        else:
            await self._notify_positions()
        return granted

    async def _watch(self, websocket: Any, future: asyncio.Future[bool]) -> None:
        """Detect a client that leaves while queued (its messages are discarded)."""
        try:
            while not future.done():
                message = await websocket.receive()
                if message.get("type") == "websocket.disconnect":
                    break
        except (WebSocketDisconnect, RuntimeError):
            pass
        if not future.done():
            future.set_result(False)

    def release(self) -> None:
        """Give a slot back and admit the next waiting client."""
        self.active = max(0, self.active - 1)
        self._grant()

    def _grant(self) -> None:
        changed = False
        admitted = 0
        while self._waiting and self._has_room():
            if self.busy is not None and admitted >= ADMIT_BURST:
                with contextlib.suppress(RuntimeError):
                    asyncio.get_running_loop().call_later(ADMIT_PAUSE_S, self._grant)
                break
            _, future = self._waiting.popleft()
            if future.done():
                continue
            self.active += 1
            admitted += 1
            future.set_result(True)
            changed = True
        if changed and self._waiting:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().create_task(self._notify_positions())

    async def _notify_positions(self) -> None:
        for position, (websocket, future) in enumerate(list(self._waiting), start=1):
            if not future.done():
                await self._send(websocket, {"action": "queue_status", "position": position,
                                             "limit": self.limit, "active": self.active})

    @staticmethod
    async def _send(websocket: Any, message: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):
            await websocket.send_text(json.dumps(message))
