"""Fuzzing the session WebSocket of a real server (uvicorn on loopback): malformed JSON,
random binary, odd-length PCM, oversized frames, unknown actions, wrong field types and
floods. Every bad message gets a clear error (never a traceback), the server process keeps
running, and afterwards it serves a normal conversation on a new connection and on a
parallel connection that was talking all along."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from fastapi import FastAPI
from harness import WebSocketTestClient, close_clients, make_config
from live_server import serve_app
from routes_server import converse as typed_turn
from routes_server import open_client

from xtalk import Xtalk
from xtalk.serving.wire.inbound import INBOUND_ACTIONS
from xtalk.serving.wire.limits import WS_RATE_LIMITED, ConnectionLimits
from xtalk.store import Store, sqlite_url

TIMEOUT = 20.0
MAX_FRAME = 8192
MAX_TEXT = 4096
# Every error code the server may answer bad input with (docs/protocol.md).
INPUT_ERRORS = {"empty_frame", "misaligned_frame", "frame_too_large", "message_too_large",
                "invalid_json", "invalid_message", "missing_action", "unknown_action",
                "invalid_field", "forbidden", "unsupported", "invalid_model",
                "rate_limited"}
WRONG_VALUES: list[Any] = [None, True, -1, 0, 1e308, -1e308, 10**400, "", "x" * 300,
                           [], [1, "a"], {}, {"nested": {"deep": [None]}}, "NaN"]


@contextlib.asynccontextmanager
async def serve(tmp_path: Path) -> AsyncIterator[tuple[Xtalk, str]]:
    service = {"max_frame_bytes": MAX_FRAME, "max_text_bytes": MAX_TEXT,
               "max_messages_per_s": 300, "max_message_burst": 2000,
               "max_dropped_messages": 300}
    xtalk = Xtalk.from_config(make_config(service=service))
    store = Store.open(sqlite_url(tmp_path / "fuzz.db"))
    xtalk.attach_store(store)
    app = FastAPI()
    xtalk.mount_routes(app)
    hard_cap = xtalk.service_prototype.connection_limits
    try:
        async with serve_app(app, ws_max_size=hard_cap.hard_frame_bytes) as port:
            yield xtalk, f"ws://127.0.0.1:{port}/ws"
    finally:
        store.close()


@pytest.fixture
async def clients() -> AsyncIterator[list[WebSocketTestClient]]:
    opened: list[WebSocketTestClient] = []
    yield opened
    await close_clients(opened)
    leaks = [(c.name, m) for c in opened for m in c.tracebacks()]
    assert not leaks, f"traceback text sent to a client: {leaks}"


async def open_session(url: str, clients: list[WebSocketTestClient]) -> WebSocketTestClient:
    client = await open_client(url, clients, None)
    await client.wait_for("session_info", timeout=TIMEOUT)
    return client


async def converse(client: WebSocketTestClient, text: str) -> None:
    start = await typed_turn(client, text, TIMEOUT)
    audio = client.of("audio", start=start)
    assert audio and all(m.pcm is not None and m.pcm.size for m in audio)


def fuzz_messages(rng: random.Random, count: int) -> list[str | bytes]:
    """``count`` hostile messages, reproducible from the seed."""
    actions = sorted(INBOUND_ACTIONS)
    out: list[str | bytes] = []
    for _ in range(count):
        kind = rng.randrange(12)
        if kind == 0:  # random binary (any length, even ones are played as noise)
            out.append(rng.randbytes(rng.randrange(1, 3000)))
        elif kind == 1:  # odd-length PCM
            out.append(rng.randbytes(2 * rng.randrange(0, 600) + 1))
        elif kind == 2:  # oversized binary (below the hard cap)
            out.append(bytes(MAX_FRAME + 2 * rng.randrange(1, 5000)))
        elif kind == 3:
            out.append(b"")
        elif kind == 4:  # malformed JSON
            good = json.dumps({"action": rng.choice(actions), "data": {"x": 1}})
            out.append(rng.choice([good[:rng.randrange(1, len(good))], "{", "}{", "nul\x00l",
                                   "[" * 5000, '{"action": "ping"' + "," * 50 + "}",
                                   rng.randbytes(40).decode("latin-1")]))
        elif kind == 5:  # valid JSON, not a message
            out.append(json.dumps(rng.choice([[], 1, "ping", None, [{"action": "ping"}],
                                               {"data": {}}, {"action": 7},
                                               {"action": "ping", "data": [1]}])))
        elif kind == 6:  # unknown actions
            out.append(json.dumps({"action": rng.choice(["", "PING", "pingx", "__init__",
                                                         "x" * 500, "session_info"]),
                                   "data": {}}))
        elif kind == 7:  # oversized text
            out.append(json.dumps({"action": "text_input",
                                   "data": {"text": "y" * (MAX_TEXT + rng.randrange(10))}}))
        else:  # a known action with fields of wrong types
            action = rng.choice(actions)
            keys = ["text", "timestamp", "chunk_index", "speed", "voice_name",
                    "emotion_name", "emotion_vector", "client_send_ts", "server_recv_ts",
                    "client_recv_ts", "reason", "model_type", "config", "model_name",
                    "base_url", "api_key", "extra_body"]
            data = {key: rng.choice(WRONG_VALUES) for key in rng.sample(keys, 3)}
            if action == "text_input":
                data["text"] = rng.choice(WRONG_VALUES[:11])  # never a valid turn
            out.append(json.dumps({"action": action, "data": data}))
    return out


async def test_fuzzed_input_gets_errors_and_the_server_keeps_serving(
        tmp_path: Path, clients: list[WebSocketTestClient]) -> None:
    async with serve(tmp_path) as (xtalk, url):
        bystander = await open_session(url, clients)
        await converse(bystander, "before the fuzz")
        target = await open_session(url, clients)

        async def talk_meanwhile() -> None:
            for n in range(3):
                await converse(bystander, f"during the fuzz {n}")

        talking = asyncio.create_task(talk_meanwhile())
        messages = fuzz_messages(random.Random(4), 600)
        for message in messages:
            if isinstance(message, bytes):
                await target.send_bytes(message)
            else:
                await target.send_text(message)
        # A marker after the fuzz: its pong shows every message before it was handled.
        await target.send_json({"action": "ping", "data": {"timestamp": 424242}})
        await target.wait_for("pong", predicate=lambda m: m.data.get("client_timestamp")
                              == 424242, timeout=TIMEOUT)
        await talking

        assert not target.closed, target.dump()
        codes = [m.data.get("code") for m in target.of("error")]
        assert set(codes) <= INPUT_ERRORS, set(codes) - INPUT_ERRORS
        assert "rate_limited" not in codes
        for code in ("invalid_json", "misaligned_frame", "frame_too_large", "empty_frame",
                     "message_too_large", "unknown_action", "invalid_field",
                     "invalid_message", "missing_action"):
            assert code in codes, f"no {code} error"
        assert all(isinstance(m.data.get("message"), str) and m.data["message"]
                   for m in target.of("error"))
        # The fuzzed connection itself still holds a conversation.
        await target.send_bytes(bytes(32000))  # a second of silence ends any noise turn
        await asyncio.sleep(1.0)
        await converse(target, "after the fuzz")

        # A new connection and the one that talked all along both work normally.
        await converse(await open_session(url, clients), "a new connection")
        await converse(bystander, "after the fuzz")
        assert not bystander.of("error"), bystander.dump()
        assert len(xtalk.sessions) == 3  # nothing crashed or leaked


async def test_floods_and_oversized_frames_close_only_the_offender(
        tmp_path: Path, clients: list[WebSocketTestClient]) -> None:
    async with serve(tmp_path) as (xtalk, url):
        bystander = await open_session(url, clients)

        # A flood of garbage far over the message rate: errors, then a 4429 close.
        flooder = await open_session(url, clients)
        garbage = fuzz_messages(random.Random(7), 400)
        with contextlib.suppress(websockets.ConnectionClosed):
            for _ in range(10):
                for message in garbage:
                    await flooder.ws.send(message)
        await flooder.wait_closed(timeout=TIMEOUT)
        assert flooder.ws.close_code == WS_RATE_LIMITED
        assert flooder.of("error")[-1].data["code"] == "rate_limited"

        # A frame beyond the hard cap: closed by the WebSocket layer (1009).
        giant = await open_session(url, clients)
        await giant.send_bytes(bytes(ConnectionLimits().hard_frame_bytes + 2))
        await giant.wait_closed(timeout=TIMEOUT)
        assert giant.ws.close_code == 1009

        # A client that vanishes mid-frame (TCP reset, no close handshake).
        rude = await open_session(url, clients)
        rude.ws.transport.abort()
        await rude.wait_closed(timeout=TIMEOUT)

        await converse(bystander, "still fine")
        await converse(await open_session(url, clients), "fresh start")
        deadline = time.monotonic() + TIMEOUT
        while len(xtalk.sessions) > 2:  # the offenders' sessions were cleaned up
            assert time.monotonic() < deadline, list(xtalk.sessions)
            await asyncio.sleep(0.1)
