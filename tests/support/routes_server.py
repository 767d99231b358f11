"""Clients of ``Xtalk.mount_routes`` served by a real uvicorn in the test's loop
(tests/support/live_server.py): an HTTP client, WebSocket session clients, login."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import websockets
from argon2 import PasswordHasher
from harness import WebSocketTestClient, close_clients

from xtalk import Xtalk

TIMEOUT = 15.0


def fast_hasher() -> PasswordHasher:
    """argon2 at its cheapest: the store's password checks cost nothing in tests."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


async def open_client(ws_url: str, clients: list[WebSocketTestClient], token: str | None,
                      *, session_id: str | None = None, headers: dict[str, str] | None = None,
                      origin: str | None = None) -> WebSocketTestClient:
    """A started WebSocket client on ``ws_url`` (token and session id in the query),
    appended to ``clients``; does not wait for ``session_info``."""
    query = []
    if token:
        query.append(f"token={token}")
    if session_id:
        query.append(f"session_id={session_id}")
    url = ws_url + ("?" + "&".join(query) if query else "")
    kwargs: dict[str, Any] = {"max_size": None, "ping_interval": None, "open_timeout": 5}
    if headers:
        kwargs["additional_headers"] = headers
    if origin:
        kwargs["origin"] = origin
    ws = await websockets.connect(url, **kwargs)
    client = WebSocketTestClient(f"ws-{len(clients) + 1}", ws)
    client.start()
    clients.append(client)
    return client


async def converse(client: WebSocketTestClient, text: str, timeout: float = TIMEOUT) -> int:
    """A typed turn answered with the test agent's default reply ("I heard you say: ...")
    and played out; returns the index of its first message in ``client.messages``."""
    start = len(client.messages)
    await client.send_json({"action": "text_input", "data": {"text": text}})
    final = await client.wait_for("finish_resp", start=start, timeout=timeout)
    assert final.data["text"] == f"I heard you say: {text}."
    await client.wait_for("tts_finished", start=start, timeout=timeout)
    return start


class RoutesServer:
    """The routes of ``xtalk`` on 127.0.0.1:``port``; users log in with ``password``."""

    def __init__(self, xtalk: Xtalk, port: int, password: str) -> None:
        self.xtalk = xtalk
        self.port = port
        self.password = password
        self.base = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/ws"
        self.http = httpx.AsyncClient(base_url=self.base, timeout=TIMEOUT)
        self.clients: list[WebSocketTestClient] = []

    async def login(self, username: str, password: str | None = None) -> str:
        response = await self.http.post("/api/auth/login", json={
            "username": username, "password": password or self.password})
        assert response.status_code == 200, response.text
        return response.json()["token"]

    async def session(self, token: str | None = None, *, session_id: str | None = None,
                      headers: dict[str, str] | None = None,
                      origin: str | None = None) -> WebSocketTestClient:
        """A running session client (waits for ``session_info``)."""
        client = await self.open(token, session_id=session_id, headers=headers,
                                 origin=origin)
        await client.wait_for("session_info", timeout=TIMEOUT)
        return client

    async def open(self, token: str | None = None, *, session_id: str | None = None,
                   headers: dict[str, str] | None = None,
                   origin: str | None = None) -> WebSocketTestClient:
        return await open_client(self.ws_url, self.clients, token, session_id=session_id,
                                 headers=headers, origin=origin)

    async def aclose(self) -> None:
        await close_clients(self.clients)
        await self.http.aclose()


@contextlib.asynccontextmanager
async def serve_routes(xtalk: Xtalk, store: Any, password: str, *,
                       auth: Any = None) -> AsyncIterator[RoutesServer]:
    """``xtalk`` with ``store`` attached, its routes mounted on a FastAPI app and served
    (tests/support/live_server.py) while the block runs."""
    from fastapi import FastAPI
    from live_server import serve_app

    xtalk.attach_store(store, auth=auth)
    app = FastAPI()
    xtalk.mount_routes(app)
    async with serve_app(app) as port:
        server = RoutesServer(xtalk, port, password)
        try:
            yield server
        finally:
            await server.aclose()
