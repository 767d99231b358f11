"""EngineHost: the Xtalk engine inside the desktop app (asyncio, no Qt).

The host builds the engine from a configuration in a worker thread (model loading never
blocks the event loop), runs one in-process session (an
:class:`~xtalk.serving.connection.InProcessConnection`: no network) and turns everything
the session says into plain dicts for listeners (the GUI, the speaker, the headless
runner)::

    host = EngineHost(config, store=store, output_sample_rate=48000)
    host.add_listener(on_message)          # {"action": ..., "data": {...}}
    await host.start(progress=on_progress) # ("asr" | "vad" | "tts" | "agent" | "ready", 0..1)
    host.submit_microphone(block, 44100)   # from the PortAudio thread
    await host.send_text("what time is it")
    await host.stop()

Messages for listeners:

* every server→client JSON message of the protocol (``docs/protocol.md``) as a dict;
* reply audio: ``{"action": "audio", "data": {"turn_id", "chunk_index", "sample_rate"},
  "pcm": np.ndarray int16}`` at ``output_sample_rate`` (the session's gateway resamples
  the TTS audio once, straight to the device rate);
* ``{"action": "engine_state", "data": {"state", "detail"}}`` whenever the state shown to
  the user changes: ``loading``, ``listening``, ``hearing``, ``thinking``, ``speaking``,
  ``muted``, ``error``;
* ``{"action": "speech_level", "data": {"probability", "rms"}}`` (the VAD's meter values).

Listeners are called on the event loop's thread and must return quickly.

Playback feedback: a player that plays the reply audio sets :attr:`playback_attached` and
reports :meth:`chunk_played` / :meth:`playback_drained`; the state then returns to
``listening`` when the speaker has really finished, not when the engine has sent the
last chunk.

LAN mode (:meth:`start_lan_server`) serves the same engine to phones and other PCs with a
uvicorn server in a background thread; it always requires a login (pairing code).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from starlette.websockets import WebSocketDisconnect

from xtalk.serving import events as ev
from xtalk.serving.connection import InProcessConnection
from xtalk.serving.http.auth import lan_address

if TYPE_CHECKING:
    from xtalk.api import Xtalk
    from xtalk.serving.service import Service
    from xtalk.store import Store

logger = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], None]
Progress = Callable[[str, float], None]

STATES = ("loading", "listening", "hearing", "thinking", "speaking", "muted", "error")
LOAD_STAGES = (("asr", "asr"), ("vad", "vad"), ("tts", "tts"), ("llm_agent", "agent"))
MICROPHONE_SOURCE = "microphone"
LAN_USER = "desktop"
SESSION_OPEN_TIMEOUT_S = 30.0


class EngineError(RuntimeError):
    """The engine cannot do what was asked (not started, no store, session in use...)."""


class EngineHost:
    """Runs the Xtalk engine for the desktop app on the current asyncio loop.

    Args:
        config: An ``Xtalk.from_config`` configuration dict.
        store: The store shared with the server (conversations, users); ``None``: nothing
            is persisted, and neither :meth:`open_conversation` nor LAN mode is available.
        output_sample_rate: Rate of the reply audio handed to listeners (the output
            device's rate).
        echo_gate: Put :class:`xtalk.models.enhancers.echo.EchoGate` in the pipeline's
            ``speech_enhancer`` slot when the configuration names none.
    """

    def __init__(self, config: dict[str, Any], *, store: Store | None = None,
                 output_sample_rate: int = 48000, echo_gate: bool = True) -> None:
        self.config: dict[str, Any] = dict(config)
        self.store = store
        self.output_sample_rate = int(output_sample_rate)
        self.echo_gate = echo_gate
        self.xtalk: Xtalk | None = None          # the engine; LAN sessions run on it
        self._desktop: Xtalk | None = None       # the same pipeline, for the local session
        self._listeners: list[Listener] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: InProcessConnection | None = None
        self._session_task: asyncio.Task[None] | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._session_id: str | None = None
        self._session_ready: asyncio.Event | None = None
        self._new_session = False
        self._muted = False
        self._phase = "loading"                  # loading|idle|hearing|thinking|speaking|error
        self._detail = ""
        self._shown: tuple[str, str] | None = None
        self._reply_turn: int | None = None      # reply audible (sent or playing)
        self._chunk_texts: dict[Any, str] = {}   # chunk index → clause, current reply
        self._tts_finished = True
        self._awaiting_drain = False
        self._push_to_talk = False
        self.playback_attached = False
        self.latency_history: list[dict[str, Any]] = []
        self._lan: _LanServer | None = None
        self._stopping = False

    # ------------------------------------------------------------------ listeners
    def add_listener(self, callback: Listener) -> None:
        """Call ``callback(message)`` for every message (see the module docstring)."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(callback)

    def _emit(self, message: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            try:
                listener(message)
            except Exception:
                logger.exception("engine listener failed on %s", message.get("action"))

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> str:
        """The state shown to the user (one of :data:`STATES`)."""
        return self._shown[0] if self._shown else "loading"

    @property
    def muted(self) -> bool:
        return self._muted

    @property
    def session_id(self) -> str | None:
        """The id of the open conversation (``None`` before :meth:`start`)."""
        return self._session_id

    @property
    def running(self) -> bool:
        return self._session_id is not None and not self._stopping

    def _set_phase(self, phase: str, detail: str = "") -> None:
        self._phase, self._detail = phase, detail
        self._publish_state()

    def _publish_state(self) -> None:
        if self._phase in ("idle", "hearing") and self._muted:
            shown = ("muted", "microphone muted")
        elif self._phase == "idle":
            shown = ("listening", self._detail)
        else:
            shown = (self._phase, self._detail)
        if shown != self._shown:
            self._shown = shown
            self._emit({"action": "engine_state", "data": {"state": shown[0],
                                                           "detail": shown[1]}})

    def _reply_audible(self) -> bool:
        return self._reply_turn is not None and (not self._tts_finished or self._awaiting_drain)

    # ------------------------------------------------------------------ start / stop
    async def start(self, progress: Progress | None = None) -> None:
        """Load the models (worker thread) and open a new conversation.

        Args:
            progress: Called on the loop's thread with ``(stage, fraction)``; stages are
                ``"asr"``, ``"vad"``, ``"tts"``, ``"agent"`` and ``"ready"``.

        Raises:
            xtalk.registry.ConfigError: The configuration is invalid (also shown as the
                ``error`` state).
        """
        if self.xtalk is not None:
            raise EngineError("the engine is already started")
        loop = self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._set_phase("loading", "loading models")

        def report(stage: str, fraction: float) -> None:
            if progress is not None:
                loop.call_soon_threadsafe(progress, stage, fraction)

        try:
            self.xtalk = await asyncio.to_thread(self._build, report)
        except Exception as exc:
            self._set_phase("error", f"the engine could not start: {exc}")
            raise
        self._desktop = self._desktop_xtalk(self.xtalk)
        await self._open_session()
        if progress is not None:
            progress("ready", 1.0)

    def _build(self, report: Callable[[str, float], None]) -> Xtalk:
        """Build the engine stage by stage (worker thread), reporting progress."""
        from xtalk.api import Xtalk
        from xtalk.pipelines.default import DefaultPipeline
        from xtalk.registry import ConfigError, build_model
        from xtalk.serving.service import DefaultService

        config = dict(self.config)
        if self.echo_gate and config.get("speech_enhancer") is None:
            config["speech_enhancer"] = "EchoGate"
        registry = {slot: list(specs) for slot, specs in Xtalk.MODEL_REGISTRY.items()}
        prebuilt: dict[str, Any] = {}
        for index, (slot, stage) in enumerate(LOAD_STAGES):
            report(stage, index / len(LOAD_STAGES))
            entry = config.get(slot)
            if entry is not None and registry.get(slot) and isinstance(entry, str | dict):
                prebuilt[slot] = build_model(slot, entry, registry)
        pipeline = Xtalk.create_pipeline_from_config(
            pipeline_cls=DefaultPipeline, config_path_or_dict=config,
            additional_model_registry=prebuilt)
        service_config = config.get("service_config") or {}
        if not isinstance(service_config, dict):
            raise ConfigError('"service_config" must be an object')
        max_sessions = config.get("max_connections")
        if max_sessions is not None and (not isinstance(max_sessions, int)
                                         or isinstance(max_sessions, bool) or max_sessions < 1):
            raise ConfigError('"max_connections" must be a positive integer')
        service = DefaultService(pipeline=pipeline, service_config=service_config)
        return Xtalk(service_prototype=service, max_sessions=max_sessions)

    def _desktop_xtalk(self, xtalk: Xtalk) -> Xtalk:
        """An Xtalk sharing the engine's pipeline for the local session: its own output
        rate (the device's), no session limit (the desktop is never queued behind LAN
        clients) and the store's persistence."""
        from xtalk.api import Xtalk
        from xtalk.serving.service import DefaultService

        proto = xtalk.service_prototype
        config = {**proto.service_config, "output_sample_rate": self.output_sample_rate}
        service = DefaultService(pipeline=proto.pipeline, service_config=config,
                                 manager_classes=list(proto.manager_classes))
        if self.store is not None:
            from xtalk.serving.http.persistence import PersistenceManager

            service.register_manager(PersistenceManager.bound_to(self.store))
        return Xtalk(service_prototype=service)

    async def stop(self) -> None:
        """Close the conversation and the LAN server (if running)."""
        self._stopping = True
        with contextlib.suppress(Exception):
            await self.stop_lan_server()
        await self._close_session()
        self.xtalk = None
        self._desktop = None

    # ------------------------------------------------------------------ sessions
    async def _open_session(self, session_id: str | None = None,
                            messages: list[dict[str, Any]] | None = None) -> None:
        assert self._desktop is not None and self._loop is not None
        conn = InProcessConnection()
        self._conn = conn
        self._session_ready = asyncio.Event()
        self._new_session = session_id is None
        self._reset_turn_state()
        self.latency_history = []  # the open conversation's turns
        self._session_task = self._loop.create_task(
            self._desktop.connect(conn, None, session_id=session_id, messages=messages,
                                  attached=session_id is not None),
            name="xtalk-desktop-session")
        self._reader_task = self._loop.create_task(self._read_loop(conn),
                                                   name="xtalk-desktop-reader")
        ready = self._session_ready
        waiter = self._loop.create_task(ready.wait())
        await asyncio.wait({waiter, self._session_task}, timeout=SESSION_OPEN_TIMEOUT_S,
                           return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if not ready.is_set():
            self._set_phase("error", "the conversation could not be opened")
            raise EngineError("the conversation could not be opened")
        service = self._service()
        if service is not None and service.event_bus is not None:
            service.event_bus.subscribe(ev.SpeechStarted, self._on_speech_started)
            service.event_bus.subscribe(ev.SpeechLevelMeasured, self._on_level)
        self._set_phase("idle")

    def _reset_turn_state(self) -> None:
        self._reply_turn = None
        self._tts_finished = True
        self._awaiting_drain = False
        self._push_to_talk = False
        self._audio_meta: dict[str, Any] | None = None

    async def _close_session(self) -> None:
        conn, task, reader = self._conn, self._session_task, self._reader_task
        session_id, new = self._session_id, self._new_session
        self._conn = self._session_task = self._reader_task = None
        self._session_id = None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.client.close()
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=10.0)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
            except Exception:
                logger.exception("the desktop session failed")
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        if new and session_id and self.store is not None:
            await self._drop_if_empty(session_id)

    async def _drop_if_empty(self, session_id: str) -> None:
        store = self.store
        assert store is not None
        try:
            await asyncio.to_thread(store.delete_if_empty, None, session_id)
        except Exception:
            logger.warning("could not clean up empty session %s", session_id, exc_info=True)

    def _service(self) -> Service | None:
        if self._desktop is None or self._session_id is None:
            return None
        return self._desktop.sessions.get(self._session_id)

    def conversation(self) -> list[dict[str, Any]]:
        """The open conversation so far (``{"role", "content"}`` dicts)."""
        service = self._service()
        return service.conversation() if service is not None else []

    async def new_conversation(self) -> str:
        """Close the conversation and start a new one; returns its session id."""
        self._require_started()
        await self._close_session()
        await self._open_session()
        assert self._session_id is not None
        return self._session_id

    async def open_conversation(self, session_id: str) -> str:
        """Continue a stored desktop conversation (its history is restored and announced
        with ``session_attached``).

        Raises:
            EngineError: No store, no such desktop session, or it is open on a LAN client.
        """
        self._require_started()
        store = self.store
        if store is None:
            raise EngineError("conversations can only be reopened with a store")
        if session_id == self._session_id:
            return session_id
        owned = await asyncio.to_thread(store.conversations.owns_session, None, session_id)
        if not owned:
            raise EngineError(f"no stored conversation {session_id!r}")
        if self.xtalk is not None and session_id in self.xtalk.sessions:
            raise EngineError("this conversation is open on another device")
        messages = await asyncio.to_thread(store.conversations.messages, session_id)
        await self._close_session()
        await self._open_session(session_id, messages)
        return session_id

    def _require_started(self) -> None:
        if self._desktop is None or self._loop is None:
            raise EngineError("the engine is not started")

    # ------------------------------------------------------------------ reading
    async def _read_loop(self, conn: InProcessConnection) -> None:
        meta: dict[str, Any] | None = None
        while True:
            try:
                item = await conn.client.receive()
            except WebSocketDisconnect:
                break
            if conn is not self._conn:
                break
            if isinstance(item, bytes):
                pcm = np.frombuffer(item, dtype="<i2").astype(np.int16)
                data = dict(meta or {"turn_id": self._reply_turn, "chunk_index": None,
                                     "sample_rate": self.output_sample_rate})
                meta = None
                self._on_audio(data)
                self._emit({"action": "audio", "data": data, "pcm": pcm})
                continue
            try:
                message = json.loads(item)
            except ValueError:
                continue
            if not isinstance(message, dict):
                continue
            action = message.get("action") or message.get("type")
            if action == "tts_chunk_meta":
                meta = dict(message.get("data") or {})
                self._chunk_texts[meta.get("chunk_index")] = str(meta.get("text") or "")
                continue  # the audio message carries it
            self._emit(message)
            self._on_message(str(action), message)
        if conn is self._conn and not self._stopping:
            self._set_phase("error", "the conversation ended unexpectedly")

    def _on_message(self, action: str, message: dict[str, Any]) -> None:
        data = message.get("data") if isinstance(message.get("data"), dict) else {}
        if action in ("session_info", "session_attached"):
            self._session_id = str(data.get("session_id") or self._session_id or "")
            # a reopened conversation is ready once its history has been announced
            if self._session_ready is not None and (action == "session_attached"
                                                    or self._new_session):
                self._session_ready.set()
        elif action == "update_asr":
            if self._phase in ("idle", "hearing", "speaking"):
                self._set_phase("hearing")
        elif action == "finish_asr":
            self._set_phase("thinking")
        elif action in ("invalid_asr_result", "backchannel"):
            if self._reply_audible():
                self._set_phase("speaking")
            elif not self._push_to_talk:
                self._set_phase("idle")
        elif action == "start_tts":
            self._reply_turn = data.get("turn_id")
            self._chunk_texts = {}
            self._tts_finished = False
            self._awaiting_drain = False
            self._set_phase("speaking")
        elif action == "pause_tts":
            self._gate("pause_reference", True)
        elif action == "resume_tts":
            self._gate("pause_reference", False)
            self._set_phase("speaking")
        elif action == "stop_tts":
            self._gate("clear_reference")
            self._awaiting_drain = False
        elif action == "tts_finished":
            self._tts_finished = True
            if data.get("turn_id") == self._reply_turn and self.playback_attached and \
                    self._awaiting_drain:
                return  # back to listening when the speaker has played it all
            self._awaiting_drain = False
            if self._phase == "speaking" or (self._phase == "thinking"
                                             and data.get("turn_id") == self._reply_turn):
                self._set_phase("idle")
        elif action == "latency_metrics":
            self.latency_history.append(dict(data))

    def _on_audio(self, data: dict[str, Any]) -> None:
        if self.playback_attached:
            self._awaiting_drain = True
        if self._phase != "hearing":
            self._set_phase("speaking")

    def _on_speech_started(self, event: ev.SpeechStarted) -> None:
        if not self._muted or event.source == "client":
            self._set_phase("hearing")

    def _on_level(self, event: ev.SpeechLevelMeasured) -> None:
        self._emit({"action": "speech_level", "data": {"probability": event.probability,
                                                       "rms": event.rms}})

    # ------------------------------------------------------------------ input
    def submit_microphone(self, samples: np.ndarray, sample_rate: int) -> None:
        """Hand a captured block to the engine (any rate, mono or ``(n, channels)``,
        int16 or float32). Thread-safe: PortAudio callbacks call it. Dropped while muted
        or before the conversation is open. The block must not be reused by the caller."""
        loop = self._loop
        if self._muted or loop is None or self._session_id is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(self._publish_audio, samples, int(sample_rate))

    def _publish_audio(self, samples: np.ndarray, sample_rate: int) -> None:
        if self._muted:
            return
        service = self._service()
        if service is None or service.event_bus is None:
            return
        event = ev.DirectAudioSubmitted(session_id=service.session_id, samples=samples,
                                        sample_rate=sample_rate, source=MICROPHONE_SOURCE)
        assert self._loop is not None
        # Publishing without waiting only enqueues: tasks run in creation order, so the
        # blocks keep their order.
        self._loop.create_task(service.event_bus.publish(event))

    async def send(self, message: dict[str, Any]) -> None:
        """Send a protocol message (``docs/protocol.md``) to the session."""
        conn = self._conn
        if conn is None:
            raise EngineError("no conversation is open")
        try:
            await conn.client.send_json(message)
        except WebSocketDisconnect as exc:
            raise EngineError("the conversation is closed") from exc

    async def send_text(self, text: str) -> None:
        """A typed user turn (answered like a spoken one)."""
        text = str(text).strip()
        if not text:
            return
        await self.send({"action": "text_input", "data": {"text": text}})
        self._set_phase("thinking")

    def set_muted(self, muted: bool) -> None:
        """Mute or unmute the microphone. Muting while the user speaks ends the turn
        (``vad_speech_end`` with reason ``muted``), so what was said is answered."""
        muted = bool(muted)
        if muted == self._muted:
            return
        self._muted = muted
        if muted and (self._phase == "hearing" or self._push_to_talk):
            self._push_to_talk = False
            self._send_soon({"action": "vad_speech_end",
                             "data": {"timestamp": time.time() * 1000.0, "reason": "muted"}})
        self._publish_state()

    def _send_soon(self, message: dict[str, Any]) -> None:
        if self._loop is None or self._conn is None:
            return

        async def send() -> None:
            with contextlib.suppress(EngineError):
                await self.send(message)

        self._loop.create_task(send())

    async def push_to_talk(self, pressed: bool) -> None:
        """Push-to-talk: pressed = the user speaks now (``vad_speech_start``), released =
        the turn ends (``vad_speech_end``). Works with or without the server VAD."""
        pressed = bool(pressed)
        if pressed == self._push_to_talk:
            return
        self._push_to_talk = pressed
        action = "vad_speech_start" if pressed else "vad_speech_end"
        await self.send({"action": action, "data": {"timestamp": time.time() * 1000.0}})
        if pressed:
            self._set_phase("hearing", "push-to-talk")

    async def interrupt(self) -> None:
        """Stop the reply being played now."""
        await self.send({"action": "interrupt", "data": {}})

    # ------------------------------------------------------------------ playback feedback
    def chunk_played(self, chunk_index: int) -> None:
        """The speaker played reply chunk ``chunk_index`` (``tts_chunk_played``); listeners
        get ``reply_spoken`` with the clause it spoke."""
        self._call_in_loop(self._send_soon, {"action": "tts_chunk_played",
                                             "data": {"chunk_index": int(chunk_index)}})
        self._call_in_loop(self._spoken, int(chunk_index))

    def _spoken(self, chunk_index: int) -> None:
        self._emit({"action": "reply_spoken",
                    "data": {"turn_id": self._reply_turn, "chunk_index": chunk_index,
                             "text": self._chunk_texts.get(chunk_index, "")}})

    def playback_drained(self) -> None:
        """The speaker's queue ran dry after ``tts_finished`` (``tts_playback_finished``)."""
        self._call_in_loop(self._drained)

    def _drained(self) -> None:
        self._send_soon({"action": "tts_playback_finished",
                         "data": {"timestamp": time.time() * 1000.0}})
        if self._awaiting_drain:
            self._awaiting_drain = False
            if self._tts_finished and self._phase == "speaking":
                self._set_phase("idle")

    def _call_in_loop(self, func: Callable[..., Any], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            func(*args)
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(func, *args)

    def report_played(self, samples: np.ndarray, sample_rate: int,
                      start: float | None = None) -> None:
        """Audio the speaker plays from ``start`` (``time.monotonic()`` seconds; ``None``:
        now): the echo gate's reference (more exact than the chunks as sent). Call on
        the loop's thread."""
        self._gate("note_played", samples, sample_rate, start)

    def _gate(self, method: str, *args: Any) -> None:
        func = getattr(self.enhancer(), method, None)
        if callable(func):
            try:
                func(*args)
            except Exception:
                logger.exception("speech enhancer %s failed", method)

    def enhancer(self) -> Any:
        """The open session's speech enhancer (e.g. the echo gate), if any."""
        service = self._service()
        return service.pipeline.get_enhancer_model() if service is not None else None

    # ------------------------------------------------------------------ LAN
    @property
    def lan_url(self) -> str | None:
        return self._lan.url if self._lan is not None else None

    async def start_lan_server(self, host: str = "0.0.0.0", port: int = 0) -> tuple[str, str]:
        """Serve the engine (web client, login, sessions, WebSocket) on ``host:port``
        (0: a free port) with login required; returns ``(url, pairing_code)``.

        The first LAN start creates the ``desktop`` user with a random password; phones
        pair with the one-time code (``POST /api/auth/login/pairing {"code"}``).

        Raises:
            EngineError: Not started, no store, or already serving.
            OSError: The address cannot be bound.
            ConfigError: A connection limit in the configuration is not a positive number.
        """
        self._require_started()
        if self.store is None:
            raise EngineError("LAN mode needs a store (users and sessions)")
        if self._lan is not None:
            raise EngineError(f"the LAN server is already running at {self._lan.url}")
        store = self.store
        assert self.xtalk is not None

        def prepare() -> str:
            user = store.users.get_user_by_name(LAN_USER)
            if user is None:
                user = store.users.create_user(LAN_USER, secrets.token_urlsafe(24),
                                               is_admin=True)
            if not store.users.has_users():  # pragma: no cover - just created
                raise EngineError("LAN mode refuses to start without a user")
            return store.users.rotate_pairing_code(user)

        code = await asyncio.to_thread(prepare)
        lan = _LanServer(self.xtalk, store, host, port)
        await asyncio.to_thread(lan.start)
        self._lan = lan
        return lan.url, code

    async def new_pairing_code(self) -> str:
        """A fresh one-time pairing code for the desktop user (replaces the previous)."""
        if self.store is None:
            raise EngineError("LAN mode needs a store")
        store = self.store

        def rotate() -> str:
            user = store.users.get_user_by_name(LAN_USER)
            if user is None:
                raise EngineError("start LAN mode first")
            return store.users.rotate_pairing_code(user)

        return await asyncio.to_thread(rotate)

    async def stop_lan_server(self) -> None:
        """Stop the LAN server (LAN clients are disconnected)."""
        lan, self._lan = self._lan, None
        if lan is not None:
            await asyncio.to_thread(lan.stop)


class _LanServer:
    """uvicorn in a background thread, on a socket bound here (port 0: a free port).

    WebSocket messages over the hard size cap of the sessions' connection limits
    (``service_prototype.connection_limits.hard_frame_bytes``, as in ``xtalk-server``) are
    refused by uvicorn itself (close 1009).

    Raises:
        ConfigError: A connection limit in the configuration is not a positive number.
        OSError: The address cannot be bound.
    """

    def __init__(self, xtalk: Xtalk, store: Store, host: str, port: int) -> None:
        from xtalk.server_cli import build_app
        from xtalk.serving.http.auth import AuthSettings

        self.ws_max_size = xtalk.service_prototype.connection_limits.hard_frame_bytes
        self.app = build_app(xtalk, store=store, auth=AuthSettings(mode="required", lan=True))
        self.host = host
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
                                timeout_graceful_shutdown=3, ws_max_size=self.ws_max_size)
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


__all__ = ["STATES", "EngineError", "EngineHost"]
