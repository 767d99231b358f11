"""A real uvicorn server for an ASGI app on a free port of 127.0.0.1, in the test's own
event loop (the routes, the WebSocket and the limits run exactly as under xtalk-server)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn


@contextlib.asynccontextmanager
async def serve_app(app: Any, *, ws_max_size: int | None = None,
                    start_timeout: float = 5.0) -> AsyncIterator[int]:
    """Serve ``app`` while the block runs; yields the port.

    Args:
        app: The ASGI application (e.g. FastAPI with ``Xtalk.mount_routes``).
        ws_max_size: uvicorn's WebSocket message size cap (``xtalk-server`` sets it from
            the connection limits); uvicorn's default when ``None``.
        start_timeout: Seconds to wait for the server to accept connections.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    options: dict[str, Any] = {} if ws_max_size is None else {"ws_max_size": ws_max_size}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off",
                                           timeout_graceful_shutdown=3, **options))
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]),
                                                  name=f"test-uvicorn-{port}")
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped during startup")
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start within {start_timeout} s")
            await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 8)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
        sock.close()
