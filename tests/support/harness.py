"""End-to-end test harness: an :class:`~xtalk.Xtalk` of test models, driven over a transport.

Models: ToneCodeASR / ToneCodeTTS (text <-> tones, exact), EnergyVAD (loudness = speech) and
RuleAgent (regex rules, optionally slow token streaming). Two transports share one client API:

* ``inprocess`` — :class:`xtalk.InProcessConnection`, session task in the test's loop;
* ``websocket`` — a FastAPI app (``/ws`` → ``xtalk.connect``) served by uvicorn on a free
  port of 127.0.0.1 in the test's loop, with a ``websockets`` client.

The client records every server message in order: JSON messages as :class:`Message` with
their ``action``; binary audio as ``action == "audio"`` with the data of the preceding
``tts_chunk_meta`` (``turn_id``, ``chunk_index``, ``sample_rate``) and the PCM in ``pcm``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import soxr
import uvicorn
import websockets
from fastapi import FastAPI, WebSocket
from starlette.websockets import WebSocketDisconnect

from xtalk import InProcessConnection, Xtalk
from xtalk.client.wire import ReplyAudio, WireDecoder
from xtalk.models import tone_code

SAMPLE_RATE = 16000
FRAME_SAMPLES = 512
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
WIRE_SAMPLE_RATE = 48000
DEFAULT_SPEED = 4.0  # audio is sent this many times faster than real time
DEFAULT_TIMEOUT = 5.0
TRACEBACK_MARKERS = ("Traceback", 'File "')


# --------------------------------------------------------------------------- configuration
def make_config(
    *,
    rules: list[dict[str, Any]] | None = None,
    agent: dict[str, Any] | None = None,
    tts: dict[str, Any] | None = None,
    vad: dict[str, Any] | None = None,
    service: dict[str, Any] | None = None,
    turn_detector: dict[str, Any] | None = None,
    max_connections: int | None = None,
) -> dict[str, Any]:
    """A configuration dict of test models.

    Args:
        rules: RuleAgent rules (``None``: the agent's defaults).
        agent: More RuleAgent params (``token_delay_s``, ``default_reply``...).
        tts: ToneCodeTTS params (default: 24 kHz, 0.5 s chunks).
        vad: Service-config VAD settings merged over ``min_silence_s=0.25``.
        service: More service-config keys (merged over the defaults).
        turn_detector: A turn detector slot (``None``: the VAD's end ends the turn).
        max_connections: Session limit.
    """
    agent_params = dict(agent or {})
    if rules is not None:
        agent_params["rules"] = rules
    service_config: dict[str, Any] = {
        "vad": {"min_silence_s": 0.25, **(vad or {})},
        "asr": {"partial_interval_s": 0.1},
    }
    service_config.update(service or {})
    config: dict[str, Any] = {
        "asr": "ToneCodeASR",
        "tts": {"type": "ToneCodeTTS", "params": {"sample_rate": 24000, **(tts or {})}},
        "llm_agent": {"type": "RuleAgent", "params": agent_params},
        "vad": "EnergyVAD",
        "service_config": service_config,
    }
    if turn_detector is not None:
        config["turn_detector"] = turn_detector
    if max_connections is not None:
        config["max_connections"] = max_connections
    return config


def build_xtalk(**kwargs: Any) -> Xtalk:
    """``Xtalk.from_config(make_config(**kwargs))``."""
    return Xtalk.from_config(make_config(**kwargs))


# --------------------------------------------------------------------------- audio helpers
def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


def tones(text: str) -> np.ndarray:
    """Tone-coded "speech" for ``text`` at 16 kHz (no padding)."""
    return tone_code.encode(text, SAMPLE_RATE)


def speech(text: str, lead_s: float = 0.1, tail_s: float = 0.6) -> np.ndarray:
    """An utterance: a little silence, the tones of ``text``, then enough silence for the
    VAD to end the turn."""
    return np.concatenate([silence(lead_s), tones(text), silence(tail_s)])


def noise(seconds: float, level: float = 0.1, seed: int = 1) -> np.ndarray:
    """White noise (``level`` = RMS relative to full scale, 0.1 ≈ -20 dBFS: "speech" for
    EnergyVAD, nothing for ToneCodeASR)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, level, round(seconds * SAMPLE_RATE)) * 32767
    return np.clip(x, -32768, 32767).astype(np.int16)


def words(text: str) -> list[str]:
    """The words of ``text`` as the tone code can carry them (lowercase, no punctuation)."""
    return tone_code.normalize_text(text).split()


def decode_wire_audio(pcm: np.ndarray, sample_rate: int = WIRE_SAMPLE_RATE) -> str:
    """Decode reply audio received from the server (PCM16 at ``sample_rate``)."""
    if pcm.size == 0:
        return ""
    audio = soxr.resample(pcm.astype(np.int16), sample_rate, SAMPLE_RATE)
    text, _ = tone_code.decode(np.asarray(audio, dtype=np.int16), SAMPLE_RATE)
    return text


# --------------------------------------------------------------------------- client
@dataclass
class Message:
    """One message from the server, in arrival order."""

    index: int
    action: str
    data: dict[str, Any]
    t: float  # monotonic arrival time
    raw: Any = None  # the JSON object, or the binary frame
    pcm: np.ndarray | None = None  # binary audio only (int16)

    @property
    def turn_id(self) -> int | None:
        return self.data.get("turn_id")

    def __repr__(self) -> str:
        if self.action == "audio":
            return (f"#{self.index} audio t{self.turn_id} c{self.data.get('chunk_index')} "
                    f"{0 if self.pcm is None else self.pcm.size} samples")
        body = {k: v for k, v in self.data.items() if k != "turn_id"}
        text = json.dumps(body, ensure_ascii=False)
        if len(text) > 100:
            text = text[:97] + "..."
        return f"#{self.index} {self.action} t{self.turn_id} {text}"


Predicate = Callable[[Message], bool]


class Client:
    """Transport-independent test client; subclasses provide the raw I/O."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.messages: list[Message] = []
        self.closed = False
        self.close_error: BaseException | None = None
        self._cond = asyncio.Condition()
        self._decoder = WireDecoder()
        self._reader: asyncio.Task[None] | None = None
        self._t0 = time.monotonic()

    # ---------------------------------------------------------------- raw I/O (subclasses)
    async def _send_bytes(self, data: bytes) -> None:
        raise NotImplementedError

    async def _send_text(self, text: str) -> None:
        raise NotImplementedError

    async def _receive(self) -> str | bytes | dict[str, Any] | None:
        """Next message, ``None`` when the connection is closed."""
        raise NotImplementedError

    async def _close(self) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- sending
    async def send_bytes(self, data: bytes) -> None:
        await self._send_bytes(bytes(data))

    async def send_text(self, text: str) -> None:
        await self._send_text(text)

    async def send_json(self, message: Any) -> None:
        await self._send_text(json.dumps(message))

    async def send_audio(self, pcm: np.ndarray, speed: float = DEFAULT_SPEED) -> None:
        """Send 16 kHz PCM16 in 512-sample frames, paced at ``speed`` × real time."""
        pcm = np.asarray(pcm, dtype=np.int16)
        period = FRAME_SECONDS / speed
        start = time.monotonic()
        for n, i in enumerate(range(0, pcm.size, FRAME_SAMPLES)):
            delay = start + n * period - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._send_bytes(pcm[i:i + FRAME_SAMPLES].astype("<i2").tobytes())

    async def say(self, text: str, speed: float = DEFAULT_SPEED, **kwargs: Any) -> None:
        """Speak ``text`` as a complete utterance (see :func:`speech`)."""
        await self.send_audio(speech(text, **kwargs), speed=speed)

    async def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(Exception):
                await self._close()

    # ---------------------------------------------------------------- receiving
    def start(self) -> None:
        self._reader = asyncio.get_running_loop().create_task(
            self._read_loop(), name=f"test-reader-{self.name}")

    async def _read_loop(self) -> None:
        try:
            while True:
                item = await self._receive()
                if item is None:
                    break
                await self._record(item)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # reported by wait_for
            self.close_error = exc
        finally:
            self.closed = True
            with contextlib.suppress(RuntimeError):
                async with self._cond:
                    self._cond.notify_all()

    async def _record(self, item: str | bytes | dict[str, Any]) -> None:
        now = time.monotonic()
        index = len(self.messages)
        decoded = self._decoder.decode(item)
        if isinstance(decoded, ReplyAudio):
            data = ({"turn_id": decoded.turn_id, "chunk_index": decoded.chunk_index,
                     "sample_rate": decoded.sample_rate, "text": decoded.text,
                     "cue": decoded.cue}
                    if decoded.announced else {"_no_meta": True})
            message = Message(index, "audio", data, now, raw=decoded.raw, pcm=decoded.pcm)
        else:
            message = Message(index, decoded.action, decoded.data, now, raw=decoded.raw)
        async with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    # ---------------------------------------------------------------- queries
    def of(self, action: str | None = None, *, turn_id: int | None = None, start: int = 0,
           predicate: Predicate | None = None) -> list[Message]:
        """Messages (from index ``start``) with that action / turn id / property."""
        return [m for m in self.messages[start:]
                if (action is None or m.action == action)
                and (turn_id is None or m.turn_id == turn_id)
                and (predicate is None or predicate(m))]

    def first(self, action: str, **kwargs: Any) -> Message | None:
        found = self.of(action, **kwargs)
        return found[0] if found else None

    def count(self, action: str, **kwargs: Any) -> int:
        return len(self.of(action, **kwargs))

    def actions(self, start: int = 0, with_audio: bool = False) -> list[str]:
        return [m.action for m in self.messages[start:] if with_audio or m.action != "audio"]

    def dump(self, start: int = 0) -> str:
        """The message log, for assertion messages."""
        lines, audio_run = [], 0
        for m in self.messages[start:]:
            if m.action == "audio":
                audio_run += 1
                continue
            if audio_run:
                lines.append(f"   ({audio_run} audio frame(s))")
                audio_run = 0
            lines.append(f"  {m.t - self._t0:6.2f} {m!r}")
        if audio_run:
            lines.append(f"   ({audio_run} audio frame(s))")
        return f"[{self.name}] closed={self.closed}\n" + "\n".join(lines)

    @property
    def session_id(self) -> str:
        info = self.first("session_info")
        assert info is not None, "no session_info yet\n" + self.dump()
        return info.data["session_id"]

    async def wait_for(self, action: str, predicate: Predicate | None = None, *,
                       turn_id: int | None = None, start: int = 0,
                       timeout: float = DEFAULT_TIMEOUT) -> Message:
        """The first message (from index ``start``) matching; fails after ``timeout``."""
        def find() -> Message | None:
            found = self.of(action, turn_id=turn_id, start=start, predicate=predicate)
            return found[0] if found else None

        async with self._cond:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._cond.wait_for(lambda: find() is not None or self.closed), timeout)
        message = find()
        if message is None:
            state = "connection closed" if self.closed else f"timed out after {timeout}s"
            raise AssertionError(
                f"{self.name}: no {action!r} (turn {turn_id}, from #{start}): {state}"
                f"{f' ({self.close_error!r})' if self.close_error else ''}\n{self.dump()}")
        return message

    async def wait_closed(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        async with self._cond:
            await asyncio.wait_for(self._cond.wait_for(lambda: self.closed), timeout)

    async def quiet(self, seconds: float) -> None:
        """Keep receiving for ``seconds`` (to catch late messages)."""
        await asyncio.sleep(seconds)

    # ---------------------------------------------------------------- reply audio
    def reply_pcm(self, turn_id: int, words_only: bool = False) -> np.ndarray:
        """Reply audio of ``turn_id`` as received (PCM16 at the wire rate); ``words_only``:
        without a thinking cue ("Hmm.") that opened it."""
        chunks = [m.pcm for m in self.of("audio", turn_id=turn_id) if m.pcm is not None
                  and not (words_only and m.data.get("cue"))]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    def reply_text_heard(self, turn_id: int) -> str:
        """The reply audio of ``turn_id`` decoded back to text."""
        rates = {m.data.get("sample_rate") for m in self.of("audio", turn_id=turn_id)}
        rates.discard(None)
        assert len(rates) <= 1, f"mixed sample rates {rates}"
        rate = rates.pop() if rates else WIRE_SAMPLE_RATE
        return decode_wire_audio(self.reply_pcm(turn_id), int(rate))

    def tracebacks(self) -> list[Message]:
        """Messages that leak traceback text."""
        return [m for m in self.messages if m.action != "audio"
                and any(marker in json.dumps(m.raw, ensure_ascii=False)
                        for marker in TRACEBACK_MARKERS)]


class InProcessTestClient(Client):
    def __init__(self, name: str, connection: InProcessConnection,
                 session_task: asyncio.Task[None]) -> None:
        super().__init__(name)
        self.connection = connection
        self.session_task = session_task

    async def _send_bytes(self, data: bytes) -> None:
        await self.connection.client.send_bytes(data)

    async def _send_text(self, text: str) -> None:
        await self.connection.client.send_text(text)

    async def _receive(self) -> str | bytes | None:
        try:
            return await self.connection.client.receive()
        except WebSocketDisconnect:
            return None

    async def _close(self) -> None:
        await self.connection.client.close()


class WebSocketTestClient(Client):
    def __init__(self, name: str, ws: Any) -> None:
        super().__init__(name)
        self.ws = ws

    async def _send_bytes(self, data: bytes) -> None:
        await self.ws.send(data)

    async def _send_text(self, text: str) -> None:
        await self.ws.send(text)

    async def _receive(self) -> str | bytes | None:
        try:
            return await self.ws.recv()
        except websockets.ConnectionClosed:
            return None

    async def _close(self) -> None:
        await self.ws.close()


async def close_clients(clients: Sequence[Client], wait_s: float = 3.0) -> None:
    """Close every client, then give each reader ``wait_s`` to see the close before it is
    cancelled."""
    for client in clients:
        await client.close()
    for client in clients:
        if client._reader is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(client._reader), wait_s)
            client._reader.cancel()


# --------------------------------------------------------------------------- transports
class Transport:
    """Opens client sessions on an :class:`Xtalk`; closes everything at teardown."""

    name = "?"

    def __init__(self) -> None:
        self.clients: list[Client] = []

    async def connect(self, xtalk: Xtalk) -> Client:
        """Open a connection (does not wait for ``session_info``: it may be queued)."""
        raise NotImplementedError

    async def open_session(self, xtalk: Xtalk, timeout: float = DEFAULT_TIMEOUT) -> Client:
        """Connect and wait for ``session_info``."""
        client = await self.connect(xtalk)
        await client.wait_for("session_info", timeout=timeout)
        return client

    async def aclose(self) -> None:
        await close_clients(self.clients)


class InProcessTransport(Transport):
    name = "inprocess"

    async def connect(self, xtalk: Xtalk) -> Client:
        connection = InProcessConnection()
        n = len(self.clients) + 1
        task = asyncio.get_running_loop().create_task(
            xtalk.connect(connection), name=f"test-session-{n}")
        client = InProcessTestClient(f"inprocess-{n}", connection, task)
        client.start()
        self.clients.append(client)
        return client

    async def aclose(self) -> None:
        for client in self.clients:
            await client.close()
        for client in self.clients:
            assert isinstance(client, InProcessTestClient)
            task = client.session_task
            if not task.done():
                with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                    await asyncio.wait_for(asyncio.shield(task), 5.0)
            if not task.done():
                task.cancel()
            # A client that left while queued is never closed from the server side: its
            # reader would wait forever.
            if client._reader is not None and not client._reader.done():
                with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                    await asyncio.wait_for(asyncio.shield(client._reader), 0.5)
                client._reader.cancel()


@dataclass
class _Server:
    xtalk: Xtalk
    server: uvicorn.Server
    task: asyncio.Task[None]
    port: int
    sockets: list[socket.socket] = field(default_factory=list)


def make_app(xtalk: Xtalk) -> FastAPI:
    """A FastAPI app with one WebSocket route running Xtalk sessions."""
    app = FastAPI()

    @app.websocket("/ws")
    async def ws_endpoint(websocket: WebSocket) -> None:
        await xtalk.connect(websocket)

    return app


class WebSocketTransport(Transport):
    name = "websocket"

    def __init__(self) -> None:
        super().__init__()
        self._servers: dict[int, _Server] = {}

    async def serve(self, xtalk: Xtalk) -> int:
        """Serve ``xtalk`` on a free port of 127.0.0.1 (once); returns the port."""
        running = self._servers.get(id(xtalk))
        if running is not None:
            return running.port
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(make_app(xtalk), host="127.0.0.1", port=port,
                                log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=3)
        server = uvicorn.Server(config)
        task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]),
                                                      name=f"test-uvicorn-{port}")
        self._servers[id(xtalk)] = _Server(xtalk, server, task, port, [sock])
        deadline = time.monotonic() + 5.0
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped during startup")
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 5 s")
            await asyncio.sleep(0.01)
        return port

    async def connect(self, xtalk: Xtalk) -> Client:
        port = await self.serve(xtalk)
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws", max_size=None,
                                      ping_interval=None, open_timeout=5)
        client = WebSocketTestClient(f"websocket-{len(self.clients) + 1}", ws)
        client.start()
        self.clients.append(client)
        return client

    async def aclose(self) -> None:
        await super().aclose()
        for entry in self._servers.values():
            entry.server.should_exit = True
        for entry in self._servers.values():
            try:
                await asyncio.wait_for(entry.task, 8.0)
            except (TimeoutError, asyncio.CancelledError):
                entry.task.cancel()
            for sock in entry.sockets:
                sock.close()
        self._servers.clear()


TRANSPORTS: dict[str, type[Transport]] = {
    InProcessTransport.name: InProcessTransport,
    WebSocketTransport.name: WebSocketTransport,
}


async def wait_until(condition: Callable[[], bool], timeout: float = DEFAULT_TIMEOUT,
                     what: str = "condition") -> None:
    """Poll ``condition`` every 10 ms; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.01)
