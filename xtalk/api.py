"""The main integration surface: build pipelines from configuration, keep a prototype
service, and run a session for each connection.

Configuration format (JSON file or dict)::

    {
      "asr": "ToneCodeASR",                                    # slot → class name
      "tts": {"type": "ToneCodeTTS", "params": {"sample_rate": 24000}},
      "llm_agent": {"type": "RuleAgent", "params": {}},
      "vad": "EnergyVAD",
      "default_response": "Sorry?",                            # plain values pass through
      "max_connections": 4,                                    # session limit
      "service_config": {"system_prompt": "..."}               # shared with managers
    }
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from xtalk.pipelines.default import DefaultPipeline
from xtalk.pipelines.interfaces import Pipeline
from xtalk.registry import (
    SHARED_MODEL_REGISTRY,
    ConfigError,
    ImportSpec,
    build_model,
    parse_entry,
)
from xtalk.serving.config_check import check_service_config
from xtalk.serving.events import SessionStarted, TextEmbeddingRequested
from xtalk.serving.limiter import SessionLimiter
from xtalk.serving.load import LoadMonitor
from xtalk.serving.service import DefaultService, Service

if TYPE_CHECKING:
    from xtalk.serving.http.auth import AuthSettings
    from xtalk.store import Store

logger = logging.getLogger(__name__)

TOP_LEVEL_KEYS = frozenset({"max_connections", "service_config"})
#: The slots whose models take a while to load: (slot, progress stage).
LOAD_WORKERS = 3
LOAD_STAGES = (("asr", "asr"), ("vad", "vad"), ("turn_detector", "turn_detector"),
               ("tts", "tts"), ("llm_agent", "agent"))
WebSocket = Any

ToolLike = Any  # langchain_core.tools.BaseTool


def _return_freed_memory() -> None:
    """Give the memory that loading freed back to the system (glibc keeps it in each
    loader thread's arena otherwise: ~40 MB here); a no-op elsewhere."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _load_config(path_or_dict: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(path_or_dict, Mapping):
        return dict(path_or_dict)
    path = Path(path_or_dict).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a JSON object")
    return data


def _is_spec(value: Any) -> bool:
    return isinstance(value, str | Path | ModuleType | Mapping)


class Xtalk:
    """Create Xtalk pipelines, services, and session entry points.

    Args:
        service_prototype: Prototype service cloned for every session.
        max_sessions: Maximum number of concurrent sessions (``None``: no limit).
    """

    MODEL_REGISTRY: dict[str, list[ImportSpec]] = SHARED_MODEL_REGISTRY

    def __init__(self, *, service_prototype: Service, max_sessions: int | None = None) -> None:
        if not isinstance(service_prototype, Service) or not service_prototype.is_prototype:
            raise TypeError("service_prototype must be a prototype Service (no connection)")
        self.service_prototype = service_prototype
        #: The server's load; new sessions wait while it is saturated.
        self.load = LoadMonitor(on_change=self._load_changed,
                                sessions=lambda: len(self.sessions))
        self._admission = SessionLimiter(
            max_sessions, busy=lambda: self.load.saturated
            or not self.load.has_room(self._admission.active))
        self.sessions: dict[str, Service] = {}
        self._session_users: dict[str, str | None] = {}
        self._sessions_created = 0
        self.store: Store | None = None
        self._auth_settings: AuthSettings | None = None
        self._persistence_store: Store | None = None

    # ------------------------------------------------------------------ registry
    @classmethod
    def register_model_search_spec(
        cls, *, slot: str, spec: ImportSpec, prepend: bool = True
    ) -> None:
        """Register another place to look for model classes of ``slot``.

        Args:
            slot: Registry slot such as ``"llm_agent"`` or ``"tts"``.
            spec: A module path, ``"module:attribute"``, a ``.py`` file path (``str`` or
                ``Path``, Windows drive letters included), a module or a mapping.
            prepend: Try the new location before the existing ones.
        """
        if not isinstance(slot, str) or not slot:
            raise ValueError("slot must be a non-empty string")
        if not _is_spec(spec):
            raise TypeError(f"unsupported import spec {spec!r}")
        specs = cls.MODEL_REGISTRY.setdefault(slot, [])
        if spec in specs:
            specs.remove(spec)
        if prepend:
            specs.insert(0, spec)
        else:
            specs.append(spec)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, path_or_dict: str | dict) -> Xtalk:
        """Build an Xtalk backed by a :class:`DefaultPipeline` and :class:`DefaultService`.

        Raises:
            ConfigError: (a ``ValueError``) naming the slot, type, places searched or the
                offending parameter.
        """
        return cls.build(path_or_dict)

    @classmethod
    def build(cls, path_or_dict: str | dict,
              progress: Callable[[str, float], None] | None = None) -> Xtalk:
        """:meth:`from_config`, loading the slow models side by side and telling
        ``progress(stage, fraction)`` as each is loaded: the stage still loading
        (``"asr"``, ``"vad"``, ``"turn_detector"``, ``"tts"``, ``"agent"``) and the share
        done; called on this thread — for a splash screen."""
        config = _load_config(path_or_dict)
        registry = {slot: list(specs) for slot, specs in cls.MODEL_REGISTRY.items()}
        stages = [(slot, stage) for slot, stage in LOAD_STAGES
                  if registry.get(slot) and isinstance(config.get(slot), str | dict)]
        prebuilt: dict[str, Any] = {}
        # The slow models load side by side (model files are read and set up in native
        # code: Whisper's while Python builds the rest); progress follows completion.
        with ThreadPoolExecutor(max_workers=LOAD_WORKERS,
                                thread_name_prefix="xtalk-load") as pool:
            futures = {pool.submit(build_model, slot, config[slot], registry): (slot, stage)
                       for slot, stage in stages}
            if progress is not None and stages:
                progress(stages[0][1], 0.0)
            for done, future in enumerate(as_completed(futures), start=1):
                slot, stage = futures[future]
                prebuilt[slot] = future.result()
                waiting = [s for k, s in stages if k not in prebuilt]
                if progress is not None:  # what is still being loaded, and how far
                    progress(waiting[0] if waiting else stage, done / len(stages))
        _return_freed_memory()
        pipeline = cls.create_pipeline_from_config(
            pipeline_cls=DefaultPipeline, config_path_or_dict=config,
            additional_model_registry=prebuilt)
        service_config = config.get("service_config") or {}
        if not isinstance(service_config, dict):
            raise ConfigError('"service_config" must be an object')
        check_service_config(service_config)  # a misspelt key fails here, not per session
        max_sessions = config.get("max_connections")
        if max_sessions is not None and (not isinstance(max_sessions, int)
                                         or isinstance(max_sessions, bool) or max_sessions < 1):
            raise ConfigError('"max_connections" must be a positive integer')
        service = DefaultService(pipeline=pipeline, service_config=service_config)
        return cls(service_prototype=service, max_sessions=max_sessions)

    @classmethod
    def create_pipeline_from_config(
        cls,
        *,
        pipeline_cls: type[Pipeline],
        config_path_or_dict: str | dict,
        additional_model_registry: dict[str, Any],
    ) -> Pipeline:
        """Instantiate ``pipeline_cls`` with every slot resolved from configuration.

        Args:
            pipeline_cls: Dataclass pipeline type whose fields carry ``init_key`` metadata.
            config_path_or_dict: JSON file path or configuration dict.
            additional_model_registry: Per-slot extras merged over the model registry: a
                ready model instance (used as is), or import spec(s) tried first.
        """
        config = _load_config(config_path_or_dict)
        fields = pipeline_cls.init_fields()
        if not fields:
            raise ConfigError(f"{pipeline_cls.__name__} is not a dataclass pipeline")
        unknown = set(config) - set(fields) - TOP_LEVEL_KEYS
        if unknown:
            raise ConfigError(
                f"unknown configuration keys {sorted(unknown)} for {pipeline_cls.__name__}; "
                f"known slots: {', '.join(fields)}")
        registry = {slot: list(specs) for slot, specs in cls.MODEL_REGISTRY.items()}
        instances: dict[str, Any] = {}
        for slot, extra in (additional_model_registry or {}).items():
            if isinstance(extra, list):
                registry[slot] = [*extra, *registry.get(slot, [])]
            elif _is_spec(extra):
                registry[slot] = [extra, *registry.get(slot, [])]
            else:
                instances[slot] = extra

        values: dict[str, Any] = {}
        for key, f in fields.items():
            if key in instances:
                values[key] = instances[key]
            elif key in config:
                values[key] = cls._resolve_slot(key, config[key], registry)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(
                    f"slot {key!r} is required by {pipeline_cls.__name__} but missing "
                    f"from the configuration")
        return cls._construct(pipeline_cls, fields, values)

    @staticmethod
    def _resolve_slot(slot: str, entry: Any, registry: dict[str, list[ImportSpec]]) -> Any:
        if entry is None:
            return None
        if registry.get(slot) and isinstance(entry, str | Mapping):
            return build_model(slot, entry, registry)
        if isinstance(entry, Mapping) and "type" in entry:
            parse_entry(slot, entry)  # validates the shape before the lookup error
            return build_model(slot, entry, registry)
        if registry.get(slot) and isinstance(entry, bool | int | float | list | tuple):
            parse_entry(slot, entry)  # a model slot given a JSON scalar/array: ConfigError
        return entry  # plain values (default_response, use_streaming_tts, ...)

    @staticmethod
    def _construct(pipeline_cls: type[Pipeline], fields: dict[str, dataclasses.Field[Any]],
                   values: dict[str, Any]) -> Pipeline:
        import inspect

        params = inspect.signature(pipeline_cls.__init__).parameters
        takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
        kwargs = {k: v for k, v in values.items() if k in params or takes_kwargs}
        try:
            pipeline = pipeline_cls(**kwargs)
        except TypeError as exc:
            raise ConfigError(f"cannot create {pipeline_cls.__name__}: {exc}") from exc
        for key, value in values.items():
            if key not in kwargs:
                setattr(pipeline, fields[key].name, value)
        return pipeline

    # ------------------------------------------------------------------ sessions
    def set_session_limit(self, limit: int) -> None:
        """Set or replace the number of sessions allowed at the same time."""
        self._admission.set_limit(SessionLimiter._check(limit))

    @property
    def limiter(self) -> SessionLimiter | None:
        """The session queue when a session limit is set (None: no count limit; the
        queue still holds new sessions while the server is saturated)."""
        return self._admission if self._admission.limit is not None else None

    @property
    def waiting_sessions(self) -> int:
        """Clients waiting for a session (a full limit, or a saturated server)."""
        return self._admission.waiting

    @property
    def refused_sessions(self) -> int:
        """Clients refused since the start because too many were waiting."""
        return self._admission.refused

    def _load_changed(self, saturated: bool) -> None:
        if not saturated:
            self._admission.poke()

    @property
    def max_message_bytes(self) -> int:
        """The largest WebSocket message worth reading (a web server's ``ws_max_size``):
        larger ones are refused before they reach a session."""
        return self.service_prototype.connection_limits.hard_frame_bytes

    def is_session_live(self, session_id: str) -> bool:
        """Whether the session ``session_id`` runs now (on any connection)."""
        return session_id in self.sessions

    async def embed_text(self, session_id: str, text: str, user_id: str | None = None) -> None:
        """Queue ``text`` for retrieval in session ``session_id``.

        Raises:
            ValueError: If no such live session exists (or it belongs to another user).
        """
        service = self.sessions.get(session_id)
        if service is None or (user_id is not None
                               and self._session_users.get(session_id) != user_id):
            raise ValueError(f"no active session {session_id!r}")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text to embed must be a non-empty string")
        assert service.event_bus is not None
        await service.event_bus.publish(TextEmbeddingRequested(session_id=session_id,
                                                               text=text))

    def add_agent_tools(self, tools_or_factories: list[ToolLike | Callable[[], ToolLike]]
                        ) -> None:
        """Give the prototype agent more tools (instances or zero-argument factories).

        Raises:
            RuntimeError: If a session has already been created.
        """
        if self._sessions_created:
            raise RuntimeError("add_agent_tools must be called before the first session")
        tools = []
        for item in tools_or_factories:
            is_tool = hasattr(item, "name") and (hasattr(item, "invoke")
                                                 or hasattr(item, "ainvoke"))
            tools.append(item if is_tool else item() if callable(item) else item)
        agent = self.service_prototype.pipeline.get_agent()
        if agent is None:
            raise RuntimeError("the pipeline has no agent to give tools to")
        agent.add_tools(tools)

    # ------------------------------------------------------------------ serving
    def attach_store(self, store: Store, *, auth: AuthSettings | None = None) -> None:
        """Keep every session in ``store`` as it happens (every committed turn) from now
        on, give every session its user's remembered facts and document library from it,
        and use it and the security settings ``auth`` for :meth:`mount_routes`.
        Without it, ``mount_routes`` opens the database named by
        ``service_config["database_url"]`` (or the ``XTALK_DATABASE_URL`` environment
        variable, else the default SQLite file) and reads ``service_config["auth"]``.

        Raises:
            RuntimeError: Another store is already attached.
        """
        from xtalk.serving.http.auth import AuthSettings

        if self._persistence_store is not None and store is not self._persistence_store:
            raise RuntimeError("sessions are already kept in another store")
        if auth is not None and not isinstance(auth, AuthSettings):
            raise TypeError("auth must be an AuthSettings")
        self.store = store
        if auth is not None:
            self._auth_settings = auth
        self._persist_to(store)

    def _persist_to(self, store: Store) -> None:
        from xtalk.serving.http.persistence import PersistenceManager
        from xtalk.serving.managers.knowledge import LibraryManager, MemoryManager

        if self._persistence_store is None:
            for manager in (PersistenceManager, MemoryManager, LibraryManager):
                self.service_prototype.register_manager(manager.bound_to(store))
            self._persistence_store = store

    @property
    def auth_settings(self) -> AuthSettings | None:
        """The security settings of the mounted routes (None before ``mount_routes``
        unless given to ``attach_store``)."""
        return self._auth_settings

    def mount_routes(self, app: Any, *, login_path: str = "/api/auth/login",
                     sessions_path: str = "/api/sessions",
                     session_detail_path: str = "/api/sessions/{session_id}",
                     upload_path: str = "/api/upload", ws_path: str = "/ws") -> None:
        """Mount the built-in auth, session, upload, and websocket routes.

        See :mod:`xtalk.serving.http.routes`. Sessions run through these routes are
        stored as they happen (every committed turn) and can be attached again later,
        also after a restart.
        """
        from xtalk.serving.http.auth import AuthSettings
        from xtalk.serving.http.routes import mount
        from xtalk.store import Store, database_url_from_env

        config = self.service_prototype.service_config
        if self.store is None:
            url = config.get("database_url") or database_url_from_env()
            self.store = Store.open(url)
        if self._auth_settings is None:
            auth_config = config.get("auth") or {}
            if not isinstance(auth_config, Mapping):
                raise ConfigError('"service_config.auth" must be an object')
            try:
                self._auth_settings = AuthSettings.from_mapping(
                    auth_config, max_upload_bytes=config.get("max_upload_bytes"))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"invalid auth settings: {exc}") from exc
        self._persist_to(self.store)
        mount(self, app, store=self.store, settings=self._auth_settings,
              login_path=login_path, sessions_path=sessions_path,
              session_detail_path=session_detail_path, upload_path=upload_path,
              ws_path=ws_path)

    async def connect(self, websocket: WebSocket, user_id: str | None = None,
                      *, session_id: str | None = None,
                      messages: list[dict[str, Any]] | None = None,
                      attached: bool = False,
                      service_config_overrides: dict[str, Any] | None = None,
                      queued: bool = True) -> None:
        """Accept a connection and run a session on it until the client leaves.

        The client first waits in the FIFO queue while the session limit is reached or
        the server is saturated (:attr:`load`), and is refused (close 4503) when too many
        already wait — unless ``queued`` is false: the local user's own app is never
        queued behind LAN clients. ``session_id`` and ``messages`` attach to (and
        restore) an existing conversation; with ``attached`` the client is sent
        ``session_attached`` (right after ``session_info``). ``service_config_overrides``
        change this session's configuration (e.g. ``output_sample_rate``).
        """
        await websocket.accept()
        if queued:
            self.load.ensure_started()  # (the local user's own app is never held back)
        limiter = self._admission if queued else None
        admitted = True
        if limiter is not None:
            admitted = await limiter.acquire(websocket)
            if not admitted:
                return
        service: Service | None = None
        try:
            service = self.service_prototype.clone(
                websocket, session_id=session_id,
                service_config_overrides=service_config_overrides)
            service.user_id = user_id
            self._sessions_created += 1
            self.sessions[service.session_id] = service
            self._session_users[service.session_id] = user_id
            if messages:
                service.restore_conversation(messages=messages)
            if attached:
                live = service

                async def announce(_event: SessionStarted) -> None:
                    await live.send_session_attached()

                assert service.event_bus is not None
                service.event_bus.subscribe(SessionStarted, announce, priority=-100)
            await service.handle_message_loop(already_accepted=True)
        except Exception:
            logger.exception("session failed")
            with contextlib.suppress(Exception):
                await websocket.close(code=1011, reason="internal error")
        finally:
            if service is not None:
                self.sessions.pop(service.session_id, None)
                self._session_users.pop(service.session_id, None)
                with contextlib.suppress(Exception):
                    await asyncio.shield(service.stop())
            if limiter is not None and admitted:
                limiter.release()
            if not self.sessions and not self._admission.waiting:
                await self.load.stop()  # nothing to protect: no sampling while idle
