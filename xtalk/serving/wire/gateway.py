"""The boundary between one client connection and the session's event bus.

Inbound: each WebSocket message is validated (:mod:`.inbound`) and published; binary
audio enters as :class:`~xtalk.serving.events.DirectAudioSubmitted` so that one manager owns
the input timeline. Inbound errors are answered with an ``error`` message and logged; the
session lives on.

Limits (:mod:`.limits`): messages over the connection's rate are dropped (a persistent
flood closes the connection with 4429), and a connection that sends nothing for
``idle_timeout_s`` is closed with 4408. In-process connections (the desktop app) are
trusted and exempt from the rate and idle limits.

Outbound: events listed in :data:`.outbound.OUTBOUND_TABLE` are serialised and sent by a
single writer task, so sends never interleave and a slow client never blocks the bus.
Reply audio is resampled once, here, from the TTS rate to the connection's output rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from starlette.websockets import WebSocketDisconnect, WebSocketState

from xtalk.audio.pcm import resample_int16
from xtalk.serving import events as ev
from xtalk.serving.event_bus import EventBus
from xtalk.serving.wire.inbound import (
    InboundLimits,
    WireError,
    parse_audio_frame,
    parse_text_message,
)
from xtalk.serving.wire.limits import (
    WS_CLIENT_TOO_SLOW,
    WS_IDLE_TIMEOUT,
    WS_RATE_LIMITED,
    ConnectionLimits,
    FloodGuard,
)
from xtalk.serving.wire.outbound import OUTBOUND_TABLE

logger = logging.getLogger(__name__)

OUTBOUND_PRIORITY = -1000  # after every manager has seen the event
WIRE_OUTPUT_SAMPLE_RATE = 48000
MAX_OUTBOX = 2000
# Reply text of a turn that was stopped or cancelled may still be queued on the bus when the
# stop happens; none of it may reach the client after ``stop_tts``.
_REPLY_TEXT_EVENTS = (ev.ReplyTextDelta, ev.ReplyTextCompleted)


class SessionGateway:
    """Moves messages between a WebSocket-like connection and a session bus."""

    def __init__(self, websocket: Any, bus: EventBus, session_id: str,
                 config: dict[str, Any], limits: ConnectionLimits) -> None:
        self.websocket = websocket
        self.bus = bus
        self.session_id = session_id
        self.output_sample_rate = int(config.get("output_sample_rate") or WIRE_OUTPUT_SAMPLE_RATE)
        self.connection_limits = limits
        self.limits = InboundLimits(max_frame_bytes=self.connection_limits.max_frame_bytes,
                                    max_text_bytes=self.connection_limits.max_text_bytes)
        # In-process connections (the desktop app's own microphone) are not rate limited
        # and never time out.
        self.in_process = bool(getattr(websocket, "in_process", False))
        self.enforce_limits = not self.in_process
        self.flood = FloodGuard(self.connection_limits)
        self.allow_model_changes = bool(config.get("allow_client_model_changes", False))
        self._outbox: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue(MAX_OUTBOX)
        self._writer: asyncio.Task[None] | None = None
        self.closed = False
        self.stats = {"frames": 0, "messages": 0, "rejected": 0, "sent": 0}
        self._dropped_turns: set[int] = set()
        for event_cls in OUTBOUND_TABLE:
            bus.subscribe(event_cls, self._on_event, priority=OUTBOUND_PRIORITY)
        bus.subscribe(ev.PlaybackStopped, self._on_turn_dropped, priority=OUTBOUND_PRIORITY)
        bus.subscribe(ev.GenerationCancelRequested, self._on_turn_dropped,
                      priority=OUTBOUND_PRIORITY)
        bus.subscribe(ev.AudioChunkSent, self._on_audio, priority=OUTBOUND_PRIORITY)

    # ------------------------------------------------------------------ outbound
    def start(self) -> None:
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(
                self._write_loop(), name=f"xtalk-writer-{self.session_id}")

    def send_json(self, message: dict[str, Any]) -> None:
        """Queue a JSON message for the client (an in-process client gets the object)."""
        if self.in_process:
            self._enqueue("object", message)
        else:
            self._enqueue("text", json.dumps(message, ensure_ascii=False))

    def _enqueue(self, kind: str, payload: Any) -> None:
        if self.closed:
            return
        try:
            self._outbox.put_nowait((kind, payload))
        except asyncio.QueueFull:
            logger.warning("session %s: client is not reading; closing", self.session_id)
            self.closed = True
            self._outbox = asyncio.Queue()
            self._outbox.put_nowait(("close", (WS_CLIENT_TOO_SLOW, "client too slow")))

    def close_for(self, ws_code: int, code: str, message: str) -> None:
        """Tell the client why (an ``error`` message), then close with ``ws_code`` once
        everything queued before has been sent. No more input is read."""
        if self.closed:
            return
        logger.warning("session %s: closing the connection: %s", self.session_id, code)
        self.send_json({"action": "error", "data": {"code": code, "message": message}})
        self._enqueue("close", (ws_code, message[:120]))
        self.closed = True

    def _on_turn_dropped(self, event: ev.PlaybackStopped | ev.GenerationCancelRequested
                         ) -> None:
        """No more reply text of a stopped or cancelled turn goes out (a discarded
        speculation sent nothing, and the turn's real reply may still come)."""
        if isinstance(event, ev.GenerationCancelRequested) and event.speculative:
            return
        if event.turn_id is not None:
            self._dropped_turns.add(event.turn_id)

    def _on_event(self, event: ev.BaseEvent) -> None:
        serializer = OUTBOUND_TABLE.get(type(event))
        if serializer is None:
            return
        if isinstance(event, _REPLY_TEXT_EVENTS) and event.turn_id in self._dropped_turns:
            return
        message = serializer(event)
        if message is not None:
            self.send_json(message)

    def _on_audio(self, event: ev.AudioChunkSent) -> None:
        pcm = resample_int16(event.pcm, event.sample_rate, self.output_sample_rate)
        data = {"chunk_index": event.chunk_index, "turn_id": event.turn_id,
                "sample_rate": self.output_sample_rate, "text": event.text}
        if event.cue:
            data["cue"] = True  # a thinking cue ("Hmm."), not the reply's words
        self.send_json({"action": "tts_chunk_meta", "data": data})
        self._enqueue("bytes", pcm.astype("<i2").tobytes())

    async def _write_loop(self) -> None:
        while True:
            item = await self._outbox.get()
            if item is None:
                return
            kind, payload = item
            try:
                if kind == "text":
                    await self.websocket.send_text(payload)
                elif kind == "object":
                    await self.websocket.send_json(payload)
                elif kind == "bytes":
                    await self.websocket.send_bytes(payload)
                elif kind == "close":
                    await self.websocket.close(code=payload[0], reason=payload[1])
                    return
                self.stats["sent"] += 1
            except (WebSocketDisconnect, RuntimeError, ConnectionError) as exc:
                logger.info("session %s: send failed (%s); client gone", self.session_id,
                            type(exc).__name__)
                self.closed = True
                return
            except Exception:
                logger.exception("session %s: unexpected send failure", self.session_id)
                self.closed = True
                return

    async def flush(self, timeout: float = 2.0) -> None:
        """Wait until queued messages were written (or the timeout passes)."""
        deadline = time.monotonic() + timeout
        while not self._outbox.empty() and not self.closed and time.monotonic() < deadline:
            await asyncio.sleep(0.005)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Flush, stop the writer, and close the connection."""
        await self.flush()
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(asyncio.QueueFull):
                self._outbox.put_nowait(None)
            try:
                await asyncio.wait_for(writer, 2.0)
            except (TimeoutError, asyncio.CancelledError):
                writer.cancel()
        self.closed = True
        if getattr(self.websocket, "application_state", None) is not WebSocketState.DISCONNECTED:
            with contextlib.suppress(Exception):
                await self.websocket.close(code=code, reason=reason)

    # ------------------------------------------------------------------ inbound
    async def receive_loop(self) -> None:
        """Read client messages until the client disconnects or the gateway closes; a
        connection quiet for ``idle_timeout_s`` is closed (4408)."""
        idle = self.connection_limits.idle_timeout_s if self.enforce_limits else None
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not self.closed:
            try:
                # One deadline for many messages: it is moved on only when a tenth of the
                # idle time has passed (a timer per message costs too much with hundreds
                # of sessions); when it fires, the last message decides.
                async with asyncio.timeout_at(None if idle is None else last + idle) as cm:
                    while not self.closed:
                        message = await self.websocket.receive()
                        last = loop.time()
                        if idle is not None and cm.when() - last < 0.9 * idle:
                            cm.reschedule(last + idle)
                        if not await self._handle(message):
                            return
                return
            except TimeoutError:
                if idle is not None and loop.time() - last < idle:
                    continue  # a message came since the deadline was set: wait the rest
                self.close_for(WS_IDLE_TIMEOUT, "idle_timeout",
                               f"No message for {idle:g} s; the connection was "
                               "closed. Reconnect to continue the conversation.")
                return
            except (WebSocketDisconnect, RuntimeError):
                return

    async def _handle(self, message: dict[str, Any]) -> bool:
        """Handle one ASGI message; ``False`` when the client disconnected."""
        kind = message.get("type")
        if kind == "websocket.disconnect":
            return False
        if kind != "websocket.receive":
            return True
        if self.enforce_limits and not self._within_rate():
            return True
        if message.get("bytes") is not None:
            await self.handle_bytes(message["bytes"])
        elif message.get("text") is not None:
            await self.handle_text(message["text"])
        return True

    async def handle_bytes(self, data: bytes) -> None:
        try:
            pcm = parse_audio_frame(data, self.limits)
        except WireError as exc:
            self._reject(exc)
            return
        self.stats["frames"] += 1
        await self.bus.publish(ev.DirectAudioSubmitted(
            session_id=self.session_id, samples=pcm, sample_rate=16000, source="websocket"))

    async def handle_text(self, text: str) -> None:
        try:
            event = parse_text_message(self.session_id, text, self.limits)
            if isinstance(event, ev.ModelChangeRequested) and not self.allow_model_changes:
                raise WireError("forbidden", f"change_{event.kind}_model is disabled for "
                                             "clients on this server.")
        except WireError as exc:
            self._reject(exc)
            return
        self.stats["messages"] += 1
        if event is not None:
            await self.bus.publish(event)

    def _within_rate(self) -> bool:
        """Apply the message rate; ``False``: drop the message (maybe closing)."""
        verdict = self.flood.check()
        if verdict == FloodGuard.ACCEPT:
            return True
        self.stats["rejected"] += 1
        limits = self.connection_limits
        if verdict == FloodGuard.REPORT:
            logger.info("session %s: message rate exceeded; dropping messages",
                        self.session_id)
            self.send_json({"action": "error", "data": {
                "code": "rate_limited",
                "message": f"Too many messages (more than {limits.max_messages_per_s:g} per "
                           "second); messages are being dropped. Slow down or the "
                           "connection will be closed."}})
        elif verdict == FloodGuard.CLOSE:
            self.close_for(WS_RATE_LIMITED, "rate_limited",
                           "Message rate limit exceeded; the connection was closed.")
        return False

    def _reject(self, exc: WireError) -> None:
        self.stats["rejected"] += 1
        logger.info("session %s: rejected client input: %s (%s)", self.session_id,
                    exc.code, exc.message)
        self.send_json({"action": "error", "data": {"code": exc.code, "message": exc.message}})
