"""A FIFO session limiter: at most ``limit`` live sessions; the rest wait in line.

Waiting clients are told their place (``queue_status``) whenever it changes and get
``queue_granted`` when admitted. A client that leaves while waiting gives up its place.
Every admitted session must ``release()`` its slot (the caller does it in ``finally``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from typing import Any

from starlette.websockets import WebSocketDisconnect


class SessionLimiter:
    """Admits sessions first come, first served."""

    def __init__(self, limit: int) -> None:
        self.limit = self._check(limit)
        self.active = 0
        self._waiting: deque[tuple[Any, asyncio.Future[bool]]] = deque()

    @staticmethod
    def _check(limit: int) -> int:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(f"session limit must be a positive integer, got {limit!r}")
        return limit

    def set_limit(self, limit: int) -> None:
        self.limit = self._check(limit)
        self._grant()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def acquire(self, websocket: Any) -> bool:
        """Wait for a slot; ``False`` if the client disconnected while waiting.

        The websocket must already be accepted (queue messages are sent on it).
        """
        if self.active < self.limit and not self._waiting:
            self.active += 1
            return True
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
        while self._waiting and self.active < self.limit:
            _, future = self._waiting.popleft()
            if future.done():
                continue
            self.active += 1
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
