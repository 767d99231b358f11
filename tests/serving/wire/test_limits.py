"""Connection limits over real sockets (uvicorn on loopback, ``websockets``/``httpx``
clients): frame sizes, message rate, idle timeout, sessions per user. Every violation gets
a clear error and/or close code, is logged, and leaves other sessions alone."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from fastapi import FastAPI
from harness import WebSocketTestClient, make_config
from live_server import serve_app
from paths import TONE_CONFIG
from routes_server import RoutesServer, converse, fast_hasher

from xtalk import Xtalk
from xtalk.registry import ConfigError
from xtalk.server_cli import main as server_main
from xtalk.serving.connection import InProcessConnection
from xtalk.serving.http.auth import AuthSettings
from xtalk.serving.http.routes import mount
from xtalk.serving.wire.limits import (
    WS_IDLE_TIMEOUT,
    WS_RATE_LIMITED,
    WS_TOO_MANY_SESSIONS,
    ConnectionLimits,
    FloodGuard,
)
from xtalk.store import Store, sqlite_url

PASSWORD = "limits test password"
TIMEOUT = 15.0


# --------------------------------------------------------------------------- server
@contextlib.asynccontextmanager
async def serve(store: Store, **service: Any) -> AsyncIterator[RoutesServer]:
    """The mounted routes with ``service`` config keys, served like ``xtalk-server``
    (uvicorn's own message size cap set to the limits' hard cap)."""
    xtalk = Xtalk.from_config(make_config(service=service))
    xtalk.attach_store(store)
    app = FastAPI()
    xtalk.mount_routes(app)
    hard_cap = xtalk.service_prototype.connection_limits
    async with serve_app(app, ws_max_size=hard_cap.hard_frame_bytes) as port:
        server = RoutesServer(xtalk, port, PASSWORD)
        try:
            yield server
        finally:
            await server.aclose()


@pytest.fixture
def store(tmp_path: Path):
    store = Store.open(sqlite_url(tmp_path / "limits.db"), password_hasher=fast_hasher())
    yield store
    store.close()


async def closed_with(client: WebSocketTestClient) -> int | None:
    await client.wait_closed(timeout=TIMEOUT)
    return client.ws.close_code


def errors(client: WebSocketTestClient, code: str, start: int = 0) -> list[dict[str, Any]]:
    return [m.data for m in client.of("error", start=start) if m.data.get("code") == code]


async def flood(client: WebSocketTestClient, count: int) -> None:
    """``count`` pings as fast as the socket takes them (stops once the server closed)."""
    for n in range(count):
        try:
            await client.send_json({"action": "ping", "data": {"timestamp": n}})
        except websockets.ConnectionClosed:
            return


# --------------------------------------------------------------------------- frame sizes
async def test_oversized_frames_are_rejected_and_the_session_goes_on(store: Store) -> None:
    async with serve(store, max_frame_bytes=4096, max_text_bytes=2048) as server:
        client = await server.session()
        start = len(client.messages)
        await client.send_bytes(b"\x00\x01" * 4096)  # 8 KiB > 4 KiB
        await client.send_text('{"action": "text_input", "data": {"text": "'
                               + "a" * 3000 + '"}}')
        await client.wait_for("error", predicate=lambda m: m.data["code"] ==
                              "message_too_large", start=start, timeout=TIMEOUT)
        [frame_error] = errors(client, "frame_too_large", start)
        assert "4096 bytes" in frame_error["message"]
        await client.send_bytes(b"\x00\x00" * 2048)  # exactly at the limit: accepted
        await converse(client, "still here")
        assert not errors(client, "frame_too_large", start + 3)
        assert not client.closed and not client.tracebacks()


async def test_a_frame_beyond_the_hard_cap_closes_only_that_connection(store: Store) -> None:
    async with serve(store) as server:
        other = await server.session()
        client = await server.session()
        hard_cap = ConnectionLimits().hard_frame_bytes
        await client.send_bytes(b"\x00" * (hard_cap + 2))
        assert await closed_with(client) == 1009  # message too big, never buffered
        await converse(other, "unaffected")
        await converse(await server.session(), "new connection")


# --------------------------------------------------------------------------- message rate
def test_flood_guard_policy() -> None:
    now = [0.0]
    guard = FloodGuard(ConnectionLimits(max_messages_per_s=10, max_message_burst=4,
                                        max_dropped_messages=3), clock=lambda: now[0])
    assert [guard.check() for _ in range(7)] == ["accept"] * 4 + ["report", "drop", "drop"]
    now[0] += 0.1  # one token back, but not recovered (half of 4)
    assert guard.check() == "accept"
    assert guard.check() == "close"  # fourth drop of the episode
    now[0] += 1.0  # the client paused: a new episode
    assert guard.check() == "accept"
    assert [guard.check() for _ in range(5)] == ["accept"] * 3 + ["report", "drop"]


async def test_a_burst_is_reported_and_a_persistent_flood_closes(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="xtalk")
    async with serve(store, max_messages_per_s=5, max_message_burst=10,
                     max_dropped_messages=25) as server:
        bystander = await server.session()
        client = await server.session()
        # A burst of 30: about 10 accepted, the rest dropped; one error, no close.
        await flood(client, 30)
        await client.wait_for("error", predicate=lambda m: m.data["code"] == "rate_limited",
                              timeout=TIMEOUT)
        await asyncio.sleep(2.5)  # the bucket recovers: the burst episode is over
        assert not client.closed
        assert 10 <= client.count("pong") < 30
        assert len(errors(client, "rate_limited")) == 1
        start = len(client.messages)
        await client.send_json({"action": "ping", "data": {"timestamp": 1}})
        await client.wait_for("pong", start=start, timeout=TIMEOUT)
        # A second burst is a new episode (its drops do not add to the first one's).
        await flood(client, 30)
        await client.wait_for("error", predicate=lambda m: m.data["code"] == "rate_limited",
                              start=start, timeout=TIMEOUT)
        await asyncio.sleep(2.5)
        assert not client.closed
        # A flood that does not stop: closed with 4429 after the error.
        await flood(client, 400)
        assert await closed_with(client) == WS_RATE_LIMITED
        assert "limit exceeded" in errors(client, "rate_limited")[-1]["message"]
        await converse(bystander, "the flood was elsewhere")
        await converse(await server.session(), "a new connection")
    assert "message rate exceeded" in caplog.text
    assert "closing the connection: rate_limited" in caplog.text


async def test_normal_audio_streaming_is_within_the_default_rate(store: Store) -> None:
    """A client streaming 512-sample frames 4x faster than real time (125 frames/s) with
    its control messages is never rate limited by the defaults."""
    async with serve(store) as server:
        client = await server.session()
        await client.say("hello there")
        await client.wait_for("tts_finished", timeout=TIMEOUT)
        assert not errors(client, "rate_limited")


# --------------------------------------------------------------------------- idle timeout
async def test_an_idle_connection_is_closed_and_an_active_one_is_not(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="xtalk")
    async with serve(store, idle_timeout_s=1.5) as server:
        idle = await server.session()
        active = await server.session()
        started = time.monotonic()
        while time.monotonic() - started < 4.0:  # keeps talking (pings every 0.3 s)
            await active.send_json({"action": "ping", "data": {"timestamp": 0}})
            await asyncio.sleep(0.3)
        assert await closed_with(idle) == WS_IDLE_TIMEOUT
        [error] = errors(idle, "idle_timeout")
        assert "1.5 s" in error["message"]
        assert not active.closed
        await converse(active, "i was not idle")
    assert "closing the connection: idle_timeout" in caplog.text


# --------------------------------------------------------------------------- sessions per user
async def test_sessions_per_user_are_limited_without_affecting_other_users(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="xtalk")
    store.users.create_user("ada", PASSWORD)
    store.users.create_user("bob", PASSWORD)
    async with serve(store, max_sessions_per_user=2) as server:
        ada, bob = await server.login("ada"), await server.login("bob")
        first = await server.session(ada)
        await server.session(ada)
        third = await server.open(ada)
        assert await closed_with(third) == WS_TOO_MANY_SESSIONS
        assert third.first("session_info") is None
        [error] = errors(third, "too_many_sessions")
        assert "limit is 2" in error["message"]
        # Another user is unaffected.
        bobs = [await server.session(bob), await server.session(bob)]
        await converse(bobs[1], "bob talks")
        # A closed session frees its place.
        await first.close()
        await first.wait_closed(timeout=TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        while True:
            again = await server.open(ada)
            with contextlib.suppress(AssertionError):
                await again.wait_for("session_info", timeout=TIMEOUT)
                break
            assert time.monotonic() < deadline, again.dump()
            await asyncio.sleep(0.2)  # the server may not have seen the close yet
        await converse(again, "ada is back")
    assert "too_many_sessions" in caplog.text
    assert ada not in caplog.text and bob not in caplog.text  # tokens are never logged


async def test_in_process_connections_are_exempt_from_rate_and_idle_limits() -> None:
    """The desktop app's own connection is trusted: a silent microphone never times out."""
    xtalk = Xtalk.from_config(make_config(service={"idle_timeout_s": 0.5,
                                                   "max_messages_per_s": 1,
                                                   "max_message_burst": 1,
                                                   "max_dropped_messages": 1}))
    conn = InProcessConnection()
    task = asyncio.create_task(xtalk.connect(conn))
    try:
        first = await conn.client.receive(timeout=TIMEOUT)
        assert isinstance(first, dict) and first["action"] == "session_info"
        await asyncio.sleep(1.5)  # three idle timeouts
        for n in range(5):  # five times the burst
            await conn.client.send_json({"action": "ping", "data": {"timestamp": n}})
        pongs = 0
        while pongs < 5:
            message = await conn.client.receive(timeout=TIMEOUT)
            assert isinstance(message, dict) and message["action"] != "error", message
            pongs += message["action"] == "pong"
        assert not task.done()
    finally:
        await conn.client.close()
        await asyncio.wait_for(task, TIMEOUT)


# --------------------------------------------------------------------------- uploads
async def test_an_oversized_upload_is_refused_while_streaming_and_logged(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="xtalk")
    async with serve(store, max_upload_bytes=10_000) as server:
        client = await server.session()
        sid = client.session_id

        async def body(size: int) -> AsyncIterator[bytes]:  # no Content-Length
            for _ in range(size // 1000):
                yield b"word " * 200

        params = {"session_id": sid, "filename": "big.txt"}
        headers = {"Content-Type": "text/plain"}
        big = await server.http.post("/api/upload", params=params, headers=headers,
                                     content=body(50_000))
        assert big.status_code == 413 and "10000 bytes" in big.json()["detail"]
        fine = await server.http.post("/api/upload", params=params, headers=headers,
                                      content=body(5_000))
        assert fine.status_code == 201, fine.text
        await converse(client, "uploads done")
    assert "upload to session" in caplog.text and "refused" in caplog.text


# --------------------------------------------------------------------------- configuration
@pytest.mark.parametrize("bad", [{"max_sessions_per_user": 0}, {"idle_timeout_s": -1},
                                 {"max_messages_per_s": "fast"}, {"max_frame_bytes": 1.5},
                                 {"max_message_burst": True}])
def test_invalid_limits_are_configuration_errors(store: Store, bad: dict[str, Any]) -> None:
    xtalk = Xtalk.from_config(make_config(service=bad))
    xtalk.attach_store(store)
    with pytest.raises(ConfigError, match=next(iter(bad))):
        xtalk.mount_routes(FastAPI())


def test_limit_defaults_and_config_keys() -> None:
    limits = ConnectionLimits.from_config({"idle_timeout_s": 30, "max_frame_bytes": 2048,
                                           "unrelated": 1})
    assert limits.idle_timeout_s == 30.0 and limits.max_frame_bytes == 2048
    assert limits.max_sessions_per_user == ConnectionLimits().max_sessions_per_user
    assert limits.hard_frame_bytes >= 4 * limits.max_text_bytes


async def test_a_clone_overriding_one_limit_keeps_the_others() -> None:
    """Limits set on the prototype (xtalk-server sets its flags so, not in service_config)
    survive a session whose config overrides another limit; a bad override is refused."""
    xtalk = Xtalk.from_config(make_config())
    prototype = xtalk.service_prototype
    prototype.connection_limits = ConnectionLimits(max_sessions_per_user=2,
                                                   idle_timeout_s=30)
    custom = prototype.clone(InProcessConnection(),
                             service_config_overrides={"max_frame_bytes": 4096})
    try:
        assert custom.connection_limits.max_frame_bytes == 4096
        assert custom.connection_limits.max_sessions_per_user == 2
        assert custom.connection_limits.idle_timeout_s == 30.0
        assert prototype.connection_limits.max_frame_bytes != 4096
    finally:
        await custom.stop()
    with pytest.raises(ConfigError, match="max_frame_bytes"):
        prototype.clone(InProcessConnection(),
                        service_config_overrides={"max_frame_bytes": -1})


async def test_limits_are_parsed_once_and_passed_on(store: Store,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The prototype parses the limits once; the routes and every session (its gateway)
    use that object; a session whose config overrides a limit gets the prototype's limits
    with that one replaced."""
    parsed: list[dict[str, Any]] = []
    parse = ConnectionLimits.from_config.__func__  # type: ignore[attr-defined]

    def counting(cls: type[ConnectionLimits], config: Any) -> ConnectionLimits:
        parsed.append(dict(config or {}))
        return parse(cls, config)

    monkeypatch.setattr(ConnectionLimits, "from_config", classmethod(counting))
    xtalk = Xtalk.from_config(make_config(service={"idle_timeout_s": 30}))
    xtalk.attach_store(store)
    ctx = mount(xtalk, FastAPI(), store=store, settings=AuthSettings(), login_path="/login",
                sessions_path="/s", session_detail_path="/s/{session_id}",
                upload_path="/u", ws_path="/ws")
    prototype = xtalk.service_prototype
    sessions = [prototype.clone(InProcessConnection()) for _ in range(3)]
    custom = prototype.clone(InProcessConnection(),
                             service_config_overrides={"max_frame_bytes": 4096})
    try:
        assert len(parsed) == 1 and parsed[0]["idle_timeout_s"] == 30
        limits = prototype.connection_limits
        assert limits.idle_timeout_s == 30.0 and ctx.limits is limits
        assert all(s.gateway is not None and s.gateway.connection_limits is limits
                   for s in sessions)
        assert custom.gateway is not None
        assert custom.gateway.connection_limits.max_frame_bytes == 4096
        assert custom.gateway.limits.max_frame_bytes == 4096  # what inbound frames meet
        assert custom.gateway.connection_limits.idle_timeout_s == 30.0
    finally:
        for session in [*sessions, custom]:
            await session.stop()


def test_server_flags_override_the_configured_limits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run",
                        lambda app, **kwargs: served.update(app=app, **kwargs))
    config = make_config(service={"idle_timeout_s": 30, "max_sessions_per_user": 5})
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    code = server_main(["--config", str(config_file), "--database",
                        sqlite_url(tmp_path / "x.db"), "--max-sessions-per-user", "2"])
    assert code == 0
    limits = served["app"].state.xtalk.service_prototype.connection_limits
    assert (limits.max_sessions_per_user, limits.idle_timeout_s) == (2, 30.0)
    assert served["ws_max_size"] == limits.hard_frame_bytes


def test_server_flags_validate_limits(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    code = server_main(["--config", str(TONE_CONFIG), "--database",
                        sqlite_url(tmp_path / "x.db"), "--max-sessions-per-user", "0"])
    assert code == 2
    assert "max_sessions_per_user must be positive" in capsys.readouterr().err
