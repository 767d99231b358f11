"""EngineHost: the Xtalk engine inside the desktop app (asyncio, no Qt).

The host builds the engine in a worker thread (model loading never blocks the event
loop), runs one conversation as a :class:`~xtalk.serving.local.LocalSession` and hands
what it says to listeners as typed messages (:mod:`app.engine.messages`)::

    host = EngineHost(config, store=store, output_sample_rate=48000)
    host.add_listener(on_message)          # message.action: "finish_asr", "audio", ...
    await host.start(progress=on_progress) # ("asr" | "vad" | ... | "ready", 0..1)
    host.submit_microphone(block, 44100)   # from the PortAudio thread
    await host.send_text("what time is it")
    await host.stop()

Listeners are called on the event loop's thread and must return quickly. A player that
plays the reply sets :attr:`playback_attached` and reports :meth:`chunk_played`,
:meth:`playback_drained` and :meth:`report_played`; the state then returns to
``listening`` when the speaker has really finished. LAN mode (:meth:`start_lan_server`)
serves the same engine to phones and other PCs, always behind a login.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from app.engine.lan import LanAccess
from app.engine.messages import (
    EngineError,
    EngineMessage,
    EngineStateChanged,
    ReplyAudio,
    ReplySpoken,
    ServerMessage,
    SpeechLevel,
)
from app.engine.phase import (
    MESSAGE_SIGNALS,
    HostState,
    Shown,
    Signal,
    ends_turn_when_muted,
    shown,
    step,
)
from xtalk.serving.events import BaseEvent, SpeechLevelMeasured, SpeechStarted
from xtalk.serving.local import AgentStatus, LocalSession, LocalSessionError, call_on_loop

if TYPE_CHECKING:
    from xtalk.api import Xtalk
    from xtalk.store import Store

logger = logging.getLogger(__name__)

Listener = Callable[[EngineMessage], None]
Progress = Callable[[str, float], None]
STATES = tuple(Shown)
ANNOUNCE_TIMEOUT_S = 10.0


class EngineHost:
    """Runs the Xtalk engine for the desktop app on the current asyncio loop.

    Args:
        config: An ``Xtalk.from_config`` configuration dict.
        store: Where conversations and users are kept; ``None``: nothing is kept, and
            neither :meth:`open_conversation` nor LAN mode is available.
        output_sample_rate: Rate of the reply audio handed to listeners (the output
            device's rate).
        echo_gate: Put the ``EchoGate`` echo canceller in the ``speech_enhancer`` slot
            when the configuration names none.
    """

    def __init__(self, config: dict[str, Any], *, store: Store | None = None,
                 output_sample_rate: int = 48000, echo_gate: bool = True) -> None:
        self.config: dict[str, Any] = dict(config)
        self.store = store
        self.output_sample_rate = int(output_sample_rate)
        self.echo_gate = echo_gate
        self.xtalk: Xtalk | None = None
        self.latency_history: list[dict[str, Any]] = []  # the open conversation's turns
        self._listeners: list[Listener] = []
        self._subscriptions: list[tuple[type[BaseEvent], Callable[[Any], Any]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: LocalSession | None = None
        self._reader: asyncio.Task[None] | None = None
        self._announced: asyncio.Event | None = None
        self._new_session = False
        self._state = HostState()
        self._shown: tuple[Shown, str] | None = None
        self._chunk_texts: dict[int | None, str] = {}  # chunk index → clause, this reply
        self._lan = LanAccess(store) if store is not None else None
        self._stopping = False

    # ------------------------------------------------------------------ listeners
    def add_listener(self, callback: Listener) -> None:
        """Call ``callback(message)`` for every message (:mod:`app.engine.messages`)."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(callback)

    def subscribe(self, event_cls: type[BaseEvent], handler: Callable[[Any], Any]) -> None:
        """Call ``handler(event)`` for the conversations' ``event_cls`` events
        (:mod:`xtalk.serving.events`), the open one and the next ones."""
        self._subscriptions.append((event_cls, handler))
        if self._session is not None and self._session.is_open:
            self._session.subscribe(event_cls, handler)

    def _emit(self, message: EngineMessage) -> None:
        for listener in list(self._listeners):
            try:
                listener(message)
            except Exception:
                logger.exception("engine listener failed on %s", message.action)

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> Shown:
        """The state shown to the user."""
        return self._shown[0] if self._shown else Shown.LOADING

    @property
    def muted(self) -> bool:
        return self._state.muted

    @property
    def playback_attached(self) -> bool:
        """A local speaker plays the reply (and reports what it played)."""
        return self._state.playback_attached

    @playback_attached.setter
    def playback_attached(self, value: bool) -> None:
        self._state = dataclasses.replace(self._state, playback_attached=bool(value))

    @property
    def session_id(self) -> str | None:
        """The id of the open conversation (``None`` before :meth:`start`)."""
        session = self._session
        return session.session_id if session is not None and session.is_open else None

    @property
    def running(self) -> bool:
        return self.session_id is not None and not self._stopping

    def _signal(self, signal: Signal, *, turn_id: int | None = None,
                detail: str = "") -> None:
        self._state = step(self._state, signal, turn_id=turn_id, detail=detail)
        self._publish_state()

    def _publish_state(self) -> None:
        now = shown(self._state)
        if now != self._shown:
            self._shown = now
            self._emit(EngineStateChanged(*now))

    # ------------------------------------------------------------------ start / stop
    async def start(self, progress: Progress | None = None) -> None:
        """Load the models (worker thread) and open a new conversation.

        Args:
            progress: Called on the loop's thread with ``(stage, fraction)``: the stages
                of ``Xtalk.build``, then ``"ready"``.

        Raises:
            xtalk.registry.ConfigError: The configuration is invalid (also shown as the
                ``error`` state).
        """
        from xtalk.api import Xtalk

        if self.xtalk is not None:
            raise EngineError("the engine is already started")
        loop = self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._signal(Signal.LOADING, detail="loading models")

        def report(stage: str, fraction: float) -> None:
            if progress is not None:
                loop.call_soon_threadsafe(progress, stage, fraction)

        config = dict(self.config)
        if self.echo_gate and config.get("speech_enhancer") is None:
            config["speech_enhancer"] = "EchoGate"
        try:
            xtalk = await asyncio.to_thread(Xtalk.build, config, report)
        except Exception as exc:
            self._signal(Signal.FAILED, detail=f"the engine could not start: {exc}")
            raise
        if self.store is not None:
            xtalk.attach_store(self.store)
        self.xtalk = xtalk
        await self._open_session()
        if progress is not None:
            progress("ready", 1.0)

    async def stop(self) -> None:
        """Close the conversation and the LAN server (if running)."""
        self._stopping = True
        with contextlib.suppress(Exception):
            await self.stop_lan_server()
        await self._close_session()
        self.xtalk = None

    # ------------------------------------------------------------------ conversations
    async def _open_session(self, session_id: str | None = None,
                            messages: list[dict[str, Any]] | None = None) -> None:
        assert self.xtalk is not None and self._loop is not None
        attached = session_id is not None
        session = LocalSession(self.xtalk, output_sample_rate=self.output_sample_rate,
                               session_id=session_id, messages=messages, attached=attached)
        self._session, self._new_session = session, not attached
        self._announced = asyncio.Event()
        self.latency_history = []
        self._chunk_texts = {}
        try:
            await session.open()
        except LocalSessionError as exc:
            self._signal(Signal.FAILED, detail="the conversation could not be opened")
            raise EngineError("the conversation could not be opened") from exc
        self._reader = self._loop.create_task(self._read_loop(session),
                                              name="xtalk-desktop-reader")
        with contextlib.suppress(TimeoutError):  # open once announced (with its history)
            await asyncio.wait_for(self._announced.wait(), ANNOUNCE_TIMEOUT_S)
        session.subscribe(SpeechStarted, self._on_speech_started)
        session.subscribe(SpeechLevelMeasured, self._on_level)
        for event_cls, handler in self._subscriptions:
            session.subscribe(event_cls, handler)
        self._signal(Signal.OPENED)

    async def _close_session(self) -> None:
        session, reader = self._session, self._reader
        self._session = self._reader = None
        if session is not None:
            await session.close()
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        if session is not None and self._new_session and self.store is not None:
            try:
                await asyncio.to_thread(self.store.delete_if_empty, None, session.session_id)
            except Exception:
                logger.warning("could not clean up empty session %s", session.session_id,
                               exc_info=True)

    def conversation(self) -> list[dict[str, Any]]:
        """The open conversation so far (``{"role", "content"}`` dicts)."""
        return self._session.conversation() if self._session is not None else []

    async def new_conversation(self) -> str:
        """Close the conversation and start a new one; returns its session id."""
        self._require_started()
        await self._close_session()
        await self._open_session()
        assert self._session is not None
        return self._session.session_id

    async def open_conversation(self, session_id: str) -> str:
        """Continue a stored desktop conversation (its history is restored and announced
        with ``session_attached``).

        Raises:
            EngineError: No store, no such desktop session, or it is open on a LAN client.
        """
        xtalk = self._require_started()
        store = self.store
        if store is None:
            raise EngineError("conversations can only be reopened with a store")
        if session_id == self.session_id:
            return session_id
        if not await asyncio.to_thread(store.conversations.owns_session, None, session_id):
            raise EngineError(f"no stored conversation {session_id!r}")
        if xtalk.is_session_live(session_id):
            raise EngineError("this conversation is open on another device")
        messages = await asyncio.to_thread(store.conversations.messages, session_id)
        await self._close_session()
        await self._open_session(session_id, messages)
        return session_id

    async def agent_status(self) -> AgentStatus:
        """Whether the assistant reaches a language model, and which."""
        session = self._session
        if session is None or not session.is_open:
            raise EngineError("no conversation is open")
        return await session.agent_status()

    def _require_started(self) -> Xtalk:
        if self.xtalk is None or self._loop is None:
            raise EngineError("the engine is not started")
        return self.xtalk

    # ------------------------------------------------------------------ what the session says
    async def _read_loop(self, session: LocalSession) -> None:
        while True:
            try:
                message = await session.receive()
            except LocalSessionError:
                break
            if session is not self._session:
                return
            if isinstance(message, ReplyAudio):
                self._on_audio(message)
            elif message.action == "tts_chunk_meta":
                index = message.data.get("chunk_index")
                self._chunk_texts[index if isinstance(index, int) else None] = \
                    "" if message.data.get("cue") else message.text()  # a cue is no words
            else:
                self._emit(message)
                self._on_message(message)
        if session is self._session and not self._stopping:
            self._signal(Signal.FAILED, detail="the conversation ended unexpectedly")

    def _on_message(self, message: ServerMessage) -> None:
        action = message.action
        if self._announced is not None and action == ("session_info" if self._new_session
                                                      else "session_attached"):
            self._announced.set()
        elif action == "start_tts":
            self._chunk_texts = {}
        elif action == "latency_metrics":
            self.latency_history.append(dict(message.data))
        signal = MESSAGE_SIGNALS.get(action)
        if signal is not None:
            self._signal(signal, turn_id=message.turn_id, detail=message.text("phrase"))

    def _on_audio(self, audio: ReplyAudio) -> None:
        if not audio.announced:
            audio = dataclasses.replace(audio, turn_id=self._state.reply_turn)
        self._signal(Signal.AUDIO_RECEIVED)
        self._emit(audio)

    def _on_speech_started(self, event: SpeechStarted) -> None:
        self._signal(Signal.CLIENT_SPEECH_STARTED if event.source == "client"
                     else Signal.SPEECH_STARTED)

    def _on_level(self, event: SpeechLevelMeasured) -> None:
        self._emit(SpeechLevel(event.probability, event.rms))

    # ------------------------------------------------------------------ input
    def submit_microphone(self, samples: np.ndarray, sample_rate: int) -> None:
        """Hand a captured block to the engine (any rate, mono or ``(n, channels)``,
        int16 or float32). Thread-safe: PortAudio callbacks call it. Dropped while muted
        or before the conversation is open. The block must not be reused by the caller."""
        session = self._session
        if self._state.muted or session is None:
            return
        session.submit_audio(samples, sample_rate)

    async def send(self, message: dict[str, Any]) -> None:
        """Send a protocol message (``docs/protocol.md``) to the session."""
        session = self._session
        if session is None:
            raise EngineError("no conversation is open")
        try:
            await session.send(message)
        except LocalSessionError as exc:
            raise EngineError("the conversation is closed") from exc

    async def send_text(self, text: str) -> None:
        """A typed user turn (answered like a spoken one)."""
        text = str(text).strip()
        if not text:
            return
        await self.send({"action": "text_input", "data": {"text": text}})
        self._signal(Signal.TEXT_SENT)

    def set_muted(self, muted: bool) -> None:
        """Mute or unmute the microphone. Muting while the user speaks ends the turn
        (``vad_speech_end`` with reason ``muted``), so what was said is answered."""
        muted = bool(muted)
        if muted == self._state.muted:
            return
        if muted and ends_turn_when_muted(self._state):
            self._send_soon({"action": "vad_speech_end",
                             "data": {"timestamp": time.time() * 1000.0, "reason": "muted"}})
        self._signal(Signal.MUTED if muted else Signal.UNMUTED)

    def _send_soon(self, message: dict[str, Any]) -> None:
        if self._loop is None or self._session is None:
            return

        async def send() -> None:
            with contextlib.suppress(EngineError):
                await self.send(message)

        self._loop.create_task(send())

    async def push_to_talk(self, pressed: bool) -> None:
        """Push-to-talk: pressed = the user speaks now (``vad_speech_start``), released =
        the turn ends (``vad_speech_end``). Works with or without the server VAD."""
        pressed = bool(pressed)
        if pressed == self._state.push_to_talk:
            return
        self._signal(Signal.PUSH_TO_TALK_PRESSED if pressed else Signal.PUSH_TO_TALK_RELEASED)
        action = "vad_speech_start" if pressed else "vad_speech_end"
        await self.send({"action": action, "data": {"timestamp": time.time() * 1000.0}})

    async def interrupt(self) -> None:
        """Stop the reply being played now."""
        await self.send({"action": "interrupt", "data": {}})

    # ------------------------------------------------------------------ playback feedback
    def chunk_played(self, chunk_index: int) -> None:
        """The speaker played reply chunk ``chunk_index`` (``tts_chunk_played``); listeners
        get :class:`~app.engine.messages.ReplySpoken`. Any thread."""
        self._call_in_loop(self._spoken, int(chunk_index))

    def _spoken(self, chunk_index: int) -> None:
        self._send_soon({"action": "tts_chunk_played", "data": {"chunk_index": chunk_index}})
        self._emit(ReplySpoken(self._state.reply_turn, chunk_index,
                               self._chunk_texts.get(chunk_index, "")))

    def playback_drained(self) -> None:
        """The speaker's queue ran dry after ``tts_finished`` (``tts_playback_finished``).
        Any thread."""
        self._call_in_loop(self._drained)

    def _drained(self) -> None:
        self._send_soon({"action": "tts_playback_finished",
                         "data": {"timestamp": time.time() * 1000.0}})
        self._signal(Signal.PLAYBACK_DRAINED)

    def report_played(self, samples: np.ndarray, sample_rate: int,
                      start: float | None = None) -> None:
        """Audio the speaker plays from ``start`` (``time.monotonic()`` seconds; ``None``:
        now): the echo canceller's reference. Any thread."""
        session = self._session
        if session is not None:
            session.report_played(samples, sample_rate, start)

    def _call_in_loop(self, func: Callable[..., Any], *args: Any) -> None:
        if self._loop is not None:
            call_on_loop(self._loop, func, *args)

    # ------------------------------------------------------------------ LAN
    @property
    def lan_url(self) -> str | None:
        return self._lan.url if self._lan is not None else None

    async def start_lan_server(self, host: str = "0.0.0.0", port: int = 0) -> tuple[str, str]:
        """Serve the engine (web client, login, sessions, WebSocket) on ``host:port``
        (0: a free port) with login required; returns ``(url, pairing_code)``. Phones
        pair with the one-time code (``POST /api/auth/login/pairing {"code"}``).

        Raises:
            EngineError: Not started, no store, or already serving.
            OSError: The address cannot be bound.
            ConfigError: A connection limit in the configuration is not a positive number.
        """
        xtalk = self._require_started()
        if self._lan is None:
            raise EngineError("LAN mode needs a store (users and sessions)")
        return await self._lan.start(xtalk, host, port)

    async def new_pairing_code(self) -> str:
        """A fresh one-time pairing code for the desktop user (replaces the previous)."""
        if self._lan is None:
            raise EngineError("LAN mode needs a store")
        return await self._lan.new_pairing_code()

    async def stop_lan_server(self) -> None:
        """Stop the LAN server (LAN clients are disconnected)."""
        if self._lan is not None:
            await self._lan.stop()


__all__ = ["STATES", "EngineError", "EngineHost"]
