"""LocalSession: a session of an :class:`~xtalk.api.Xtalk` for a program that embeds it
(the desktop app), in the same process and without a network::

    session = LocalSession(xtalk, output_sample_rate=48000)   # the speaker's rate
    await session.open()
    session.subscribe(SpeechStarted, on_speech)          # typed events (xtalk.serving.events)
    session.submit_audio(block, 44100)                   # any thread (a PortAudio callback)
    session.report_played(block, 48000, start)           # what the speaker played, and when
    await session.send({"action": "text_input", "data": {"text": "hi"}})   # docs/protocol.md
    message = await session.receive()    # ServerMessage / ReplyAudio (xtalk.client.wire)
    await session.close()

This is the door an embedding program uses: it never needs the session table, the event
bus or the pipeline of the engine. A local session counts as a live session of the engine
(:meth:`~xtalk.api.Xtalk.is_session_live`) but never waits in its queue, and it is kept in
the engine's store (``Xtalk.attach_store``) like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from starlette.websockets import WebSocketDisconnect

from xtalk.client.wire import ReplyAudio, ServerMessage, WireDecoder
from xtalk.serving import events as ev
from xtalk.serving.connection import InProcessConnection

if TYPE_CHECKING:
    from xtalk.api import Xtalk
    from xtalk.serving.service import Service

OPEN_TIMEOUT_S = 30.0


def call_on_loop(loop: asyncio.AbstractEventLoop, func: Callable[..., Any], *args: Any
                 ) -> None:
    """Run ``func(*args)`` on ``loop``: now when called on it, else as soon as the loop
    can (from any thread; dropped when the loop is closing)."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        func(*args)
    else:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(func, *args)


class LocalSessionError(RuntimeError):
    """The session is not open (or could not be opened)."""


@dataclass(frozen=True)
class AgentStatus:
    """Whether the session's agent reaches a language model, and which (never a key)."""

    connected: bool
    endpoint: str


class LocalSession:
    """One in-process session of ``xtalk``.

    Args:
        xtalk: The engine.
        output_sample_rate: The rate of the reply audio received (``None``: the
            configuration's).
        source: The name input audio is submitted under (each source is resampled on its
            own).
        session_id: An existing conversation to attach to (``None``: a new one).
        messages: That conversation's history, restored into the session.
        attached: Announce the attachment to the client side (``session_attached``).
    """

    def __init__(self, xtalk: Xtalk, *, output_sample_rate: int | None = None,
                 source: str = "microphone",
                 session_id: str | None = None,
                 messages: list[dict[str, Any]] | None = None, attached: bool = False) -> None:
        self.xtalk = xtalk
        self.source = source
        self.session_id = session_id or uuid.uuid4().hex
        self._messages = messages
        self._attached = attached
        self._overrides = ({"output_sample_rate": int(output_sample_rate)}
                           if output_sample_rate else None)
        self._connection = InProcessConnection()
        self._decoder = WireDecoder(int(output_sample_rate or 48000))
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._service: Service | None = None

    # ------------------------------------------------------------------ lifecycle
    async def open(self, timeout: float = OPEN_TIMEOUT_S) -> None:
        """Start the session and wait until it runs.

        Raises:
            LocalSessionError: It did not start within ``timeout`` (or failed).
        """
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(
            self.xtalk.connect(self._connection, None, session_id=self.session_id,
                               messages=self._messages, attached=self._attached,
                               service_config_overrides=self._overrides, queued=False),
            name=f"xtalk-local-{self.session_id}")
        deadline = time.monotonic() + timeout
        while self._service is None:
            self._service = self.xtalk.sessions.get(self.session_id)
            if self._service is not None:
                break
            if self._task.done() or time.monotonic() > deadline:
                await self.close()
                raise LocalSessionError("the session could not be opened")
            await asyncio.sleep(0.005)

    @property
    def is_open(self) -> bool:
        return self._service is not None and self._task is not None and not self._task.done()

    async def close(self, timeout: float = 10.0) -> None:
        """End the session (the conversation is kept in the store, if any)."""
        task, self._task = self._task, None
        self._service = None
        with contextlib.suppress(Exception):
            await self._connection.client.close()
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()

    # ------------------------------------------------------------------ events
    def subscribe(self, event_cls: type[ev.BaseEvent], handler: Callable[[Any], Any]) -> None:
        """Call ``handler(event)`` (sync or async, on the loop) for the session's
        ``event_cls`` events; it must return quickly."""
        service = self._require()
        assert service.event_bus is not None
        service.event_bus.subscribe(event_cls, handler)

    def _post(self, event: ev.BaseEvent) -> None:
        service = self._service
        if service is not None and service.event_bus is not None:
            service.event_bus.post(event)

    def _on_loop(self, func: Callable[..., None], *args: Any) -> None:
        if self._loop is not None:
            call_on_loop(self._loop, func, *args)

    # ------------------------------------------------------------------ audio
    def submit_audio(self, samples: np.ndarray, sample_rate: int) -> None:
        """Input audio (any rate, mono or ``(n, channels)``, int16 or float32). Any thread;
        blocks keep their order. The block must not be reused by the caller."""
        self._on_loop(lambda: self._post(ev.DirectAudioSubmitted(
            session_id=self.session_id, samples=samples, sample_rate=int(sample_rate),
            source=self.source)))

    def report_played(self, samples: np.ndarray, sample_rate: int,
                      start: float | None = None) -> None:
        """The speaker played ``samples`` from ``start`` (``time.monotonic()`` seconds;
        ``None``: now): the echo canceller's reference, more exact than what was sent.
        Any thread."""
        self._on_loop(lambda: self._post(ev.AudioPlayed(
            session_id=self.session_id, pcm=samples, sample_rate=int(sample_rate),
            start_time=start)))

    # ------------------------------------------------------------------ messages
    async def send(self, message: dict[str, Any]) -> None:
        """A protocol message from the client side (``docs/protocol.md``).

        Raises:
            LocalSessionError: The session is closed.
        """
        try:
            await self._connection.client.send_json(message)
        except WebSocketDisconnect as exc:
            raise LocalSessionError("the session is closed") from exc

    async def receive(self) -> ServerMessage | ReplyAudio:
        """The next message a client would receive (``tts_chunk_meta`` included), with
        each chunk of reply audio as a :class:`~xtalk.client.wire.ReplyAudio`.

        Raises:
            LocalSessionError: The session ended.
        """
        try:
            item = await self._connection.client.receive()
        except WebSocketDisconnect as exc:
            raise LocalSessionError("the session ended") from exc
        return self._decoder.decode(item)

    # ------------------------------------------------------------------ state
    def conversation(self) -> list[dict[str, Any]]:
        """The conversation so far (``{"role", "content"}`` dicts)."""
        service = self._service
        return service.conversation() if service is not None else []

    async def agent_status(self) -> AgentStatus:
        """Resolve the session's agent's model endpoint (without blocking the loop)."""
        agent = self._require().pipeline.get_agent()
        if agent is None:
            return AgentStatus(False, "no agent")
        connected = await agent.aresolve()
        return AgentStatus(bool(connected), agent.describe_endpoint())

    def _require(self) -> Service:
        if self._service is None:
            raise LocalSessionError("the session is not open")
        return self._service


__all__ = ["AgentStatus", "LocalSession", "LocalSessionError", "call_on_loop"]
