"""An in-process stand-in for a WebSocket, for clients living in the same process.

The desktop app feeds its microphone into a :class:`~xtalk.serving.service.Service`
through :class:`InProcessConnection` with no network in between. The server side offers
the subset of Starlette's ``WebSocket`` that the service uses (``accept``, ``receive``,
``send_text``, ``send_bytes``, ``close``, ``client_state``, ``application_state``); the
client side is :attr:`InProcessConnection.client`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.websockets import WebSocketDisconnect, WebSocketState


class InProcessClient:
    """The client end: send audio/JSON to the service, receive its messages."""

    def __init__(self, connection: InProcessConnection) -> None:
        self._conn = connection

    async def send_bytes(self, data: bytes) -> None:
        self._conn._check_open()
        await self._conn._to_server.put({"type": "websocket.receive", "bytes": bytes(data)})

    async def send_text(self, text: str) -> None:
        self._conn._check_open()
        await self._conn._to_server.put({"type": "websocket.receive", "text": text})

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.send_text(json.dumps(message))

    async def receive(self, timeout: float | None = None) -> str | bytes | dict[str, Any]:
        """Next message from the service: a JSON message as the object itself (the
        service never serialises for an in-process client), ``bytes`` for audio.

        Raises:
            WebSocketDisconnect: When the service closed the connection.
        """
        item = await asyncio.wait_for(self._conn._to_client.get(), timeout)
        if isinstance(item, WebSocketDisconnect):
            self._conn._to_client.put_nowait(item)  # keep reporting the closure
            raise item
        return item

    async def close(self, code: int = 1000) -> None:
        """Disconnect from the service."""
        if self._conn.client_state is WebSocketState.DISCONNECTED:
            return
        self._conn.client_state = WebSocketState.DISCONNECTED
        await self._conn._to_server.put({"type": "websocket.disconnect", "code": code})


class InProcessConnection:
    """Server end of an in-process connection (duck-types Starlette's ``WebSocket``).

    In-process clients are the local user's own app: the per-connection message rate and
    idle timeout (:mod:`xtalk.serving.wire.limits`) do not apply to them.
    """

    in_process = True

    def __init__(self, headers: dict[str, str] | None = None) -> None:
        self._to_server: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._to_client: asyncio.Queue[Any] = asyncio.Queue()
        self.client_state = WebSocketState.CONNECTING
        self.application_state = WebSocketState.CONNECTING
        self.headers = headers or {}
        self.close_code: int | None = None
        self.close_reason: str = ""
        self.client = InProcessClient(self)

    def _check_open(self) -> None:
        if self.application_state is WebSocketState.DISCONNECTED or \
                self.client_state is WebSocketState.DISCONNECTED:
            raise WebSocketDisconnect(self.close_code or 1000, self.close_reason)

    async def accept(self, subprotocol: str | None = None) -> None:
        self.application_state = WebSocketState.CONNECTED
        self.client_state = WebSocketState.CONNECTED

    async def receive(self) -> dict[str, Any]:
        return await self._to_server.get()

    async def send_text(self, data: str) -> None:
        self._check_open()
        await self._to_client.put(data)

    async def send_bytes(self, data: bytes) -> None:
        self._check_open()
        await self._to_client.put(bytes(data))

    async def send_json(self, data: Any) -> None:
        """Hand the object itself to the client (no JSON round trip in one process)."""
        self._check_open()
        await self._to_client.put(data)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        if self.application_state is WebSocketState.DISCONNECTED:
            return
        self.application_state = WebSocketState.DISCONNECTED
        self.close_code, self.close_reason = code, reason or ""
        await self._to_client.put(WebSocketDisconnect(code, reason or ""))
        # the server's own reader ends too, as with a real WebSocket
        await self._to_server.put({"type": "websocket.disconnect", "code": code})
