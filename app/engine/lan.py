"""LAN access: the engine served to phones and other PCs, always behind a login.

:class:`LanAccess` owns the ``desktop`` user (created with a random password on the first
start; phones pair with a one-time code) and a uvicorn server in a background thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from app.engine.messages import EngineError
from xtalk.serving.http.auth import lan_address

if TYPE_CHECKING:
    from xtalk.api import Xtalk
    from xtalk.store import Store

LAN_USER = "desktop"


class LanError(EngineError):
    """LAN access cannot do what was asked (already serving, not paired yet...)."""


class LanAccess:
    """Serves ``xtalk`` on the LAN with the users of ``store``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._server: LanServer | None = None

    @property
    def url(self) -> str | None:
        return self._server.url if self._server is not None else None

    async def start(self, xtalk: Xtalk, host: str = "0.0.0.0", port: int = 0
                    ) -> tuple[str, str]:
        """Serve on ``host:port`` (0: a free port); returns ``(url, pairing_code)``.

        Raises:
            LanError: Already serving.
            OSError: The address cannot be bound.
            ConfigError: A connection limit in the configuration is not a positive number.
        """
        if self._server is not None:
            raise LanError(f"the LAN server is already running at {self._server.url}")
        code = await asyncio.to_thread(self._pairing_code, True)
        server = LanServer(xtalk, self.store, host, port)
        await asyncio.to_thread(server.start)
        self._server = server
        return server.url, code

    async def new_pairing_code(self) -> str:
        """A fresh one-time pairing code for the desktop user (replaces the previous).

        Raises:
            LanError: LAN access was never started.
        """
        return await asyncio.to_thread(self._pairing_code, False)

    def _pairing_code(self, create: bool) -> str:
        users = self.store.users
        user = users.get_user_by_name(LAN_USER)
        if user is None:
            if not create:
                raise LanError("start LAN mode first")
            user = users.create_user(LAN_USER, secrets.token_urlsafe(24), is_admin=True)
        return users.rotate_pairing_code(user)

    async def stop(self) -> None:
        """Stop serving (LAN clients are disconnected)."""
        server, self._server = self._server, None
        if server is not None:
            await asyncio.to_thread(server.stop)


class LanServer:
    """uvicorn in a background thread, on a socket bound here (port 0: a free port).

    WebSocket messages over the hard size cap of the sessions' connection limits are
    refused by uvicorn itself (close 1009), as in ``xtalk-server``.

    Raises:
        ConfigError: A connection limit in the configuration is not a positive number.
        OSError: The address cannot be bound.
    """

    def __init__(self, xtalk: Xtalk, store: Store, host: str, port: int) -> None:
        from xtalk.server_cli import build_app
        from xtalk.serving.http.auth import AuthSettings

        self.ws_max_size = xtalk.max_message_bytes
        self.app = build_app(xtalk, store=store, auth=AuthSettings(mode="required", lan=True))
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.port = int(self.sock.getsockname()[1])
        shown = (lan_address() or "127.0.0.1") if host in ("0.0.0.0", "::", "") else host
        if ":" in shown:
            shown = f"[{shown}]"
        self.url = f"http://{shown}:{self.port}/"
        self.server: Any = None
        self.thread: threading.Thread | None = None

    def start(self, timeout: float = 15.0) -> None:
        import uvicorn

        config = uvicorn.Config(self.app, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=3, ws_max_size=self.ws_max_size,
                                ws_per_message_deflate=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       name="xtalk-lan-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise OSError(f"the LAN server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout)
            if self.thread.is_alive() and self.server is not None:
                self.server.force_exit = True
                self.thread.join(timeout)
        with contextlib.suppress(OSError):
            self.sock.close()


__all__ = ["LAN_USER", "LanAccess", "LanError", "LanServer"]
