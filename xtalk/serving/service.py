"""Session services: a pipeline, a bus, a stack of managers, and a client connection.

A :class:`Service` created without a connection is a *prototype*: it holds the pipeline
prototype, the configuration, the manager classes and the subscription overrides.
:meth:`Service.clone` makes a *live* session from it with its own cloned pipeline, bus and
manager instances, so two sessions never share mutable state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

from xtalk.pipelines.interfaces import Pipeline
from xtalk.registry import ConfigError
from xtalk.serving import events as ev
from xtalk.serving.event_bus import EventBus
from xtalk.serving.interfaces import (
    EventListenerMixin,
    EventOverrides,
    HandlerLike,
    HandlerSpec,
    Manager,
)
from xtalk.serving.managers import DEFAULT_MANAGER_CLASSES, EXTRA_MANAGER_CLASSES
from xtalk.serving.wire.gateway import SessionGateway
from xtalk.serving.wire.limits import ConnectionLimits

logger = logging.getLogger(__name__)

WebSocket = Any  # Starlette WebSocket or xtalk.serving.connection.InProcessConnection


class Service:
    """Orchestrate a session-scoped pipeline and manager stack.

    Args:
        pipeline: Pipeline prototype (cloned for each live session).
        service_config: Session configuration shared with managers and the gateway.
        manager_classes: Manager classes to instantiate for live sessions.
        _websocket: Connection of a live session; ``None`` makes a prototype.
        _session_id: Session id of a live session (generated when omitted).
        _event_overrides: Subscription overrides copied into cloned sessions.
    """

    MANAGER_CLASSES: ClassVar[list[type[Manager]]] = []

    def __init__(
        self,
        *,
        pipeline: Pipeline,
        service_config: dict[str, Any] | None = None,
        manager_classes: list[type[Manager]] | None = None,
        _websocket: WebSocket | None = None,
        _session_id: str | None = None,
        _event_overrides: dict[type[EventListenerMixin], EventOverrides] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.service_config: dict[str, Any] = dict(service_config or {})
        self.manager_classes: list[type[Manager]] = list(
            manager_classes if manager_classes is not None
            else type(self).default_manager_classes()
        )
        self._event_overrides: dict[type[EventListenerMixin], EventOverrides] = {
            cls: ov.copy() for cls, ov in (_event_overrides or {}).items()
        }
        self._websocket = _websocket
        self.session_id = _session_id or uuid.uuid4().hex
        self.user_id: str | None = None
        self.managers: dict[type[Manager], Manager] = {}
        self.event_bus: EventBus | None = None
        self.gateway: SessionGateway | None = None
        self._retired: list[Manager] = []
        self._stopped = False
        self._connection_limits: ConnectionLimits | None = None
        if _websocket is not None:
            self._start_live()

    @classmethod
    def default_manager_classes(cls) -> list[type[Manager]]:
        """The managers of a service created without ``manager_classes``."""
        return list(cls.MANAGER_CLASSES)

    @property
    def is_prototype(self) -> bool:
        return self._websocket is None

    @property
    def connection_limits(self) -> ConnectionLimits:
        """The limits of this service's client connections: parsed from ``service_config``
        once, on first use, unless set (``xtalk-server`` sets them from the configuration
        and its flags); sessions cloned from a prototype get the prototype's object.

        Raises:
            ConfigError: A limit in ``service_config`` is not a positive number.
        """
        if self._connection_limits is None:
            self._connection_limits = _parse_limits(None, self.service_config)
        return self._connection_limits

    @connection_limits.setter
    def connection_limits(self, limits: ConnectionLimits) -> None:
        if not isinstance(limits, ConnectionLimits):
            raise TypeError(f"connection_limits must be ConnectionLimits, got {limits!r}")
        self._connection_limits = limits

    # ------------------------------------------------------------------ live setup
    def _start_live(self) -> None:
        self.event_bus = EventBus(
            enable_history=bool(self.service_config.get("event_history", False)),
            max_history=int(self.service_config.get("event_history_size", 1000)),
        )
        self.gateway = SessionGateway(self._websocket, self.event_bus, self.session_id,
                                      self.service_config, self.connection_limits)
        for manager_cls in self.manager_classes:
            self._instantiate(manager_cls)

    def _instantiate(self, manager_cls: type[Manager]) -> None:
        assert self.event_bus is not None
        manager = manager_cls(self.event_bus, self.session_id, self.pipeline,
                              self.service_config)
        manager.bind_handlers(self.event_bus, self._overrides_for(manager_cls))
        self.managers[manager_cls] = manager

    def _overrides_for(self, cls: type[EventListenerMixin]) -> EventOverrides | None:
        merged: EventOverrides | None = None
        for klass in reversed(cls.__mro__):
            override = self._event_overrides.get(klass)  # type: ignore[arg-type]
            if override is not None:
                merged = merged or EventOverrides()
                merged.added.extend(override.added)
                merged.removed.extend(override.removed)
        return merged

    # ------------------------------------------------------------------ configuration
    def subscribe_event(
        self,
        *,
        event_listener_cls: type[EventListenerMixin],
        event_type: type[ev.BaseEvent],
        method_or_handler: HandlerLike,
        priority: int = 0,
        enabled_if: Callable[[EventListenerMixin], bool] | None = None,
    ) -> None:
        """Add a subscription for instances of ``event_listener_cls``.

        ``method_or_handler`` is a method name of the listener or an external sync/async
        callable taking ``(event)`` or ``(listener, event)``. Applies to sessions cloned
        afterwards and, on a live session, to its running listener at once.
        """
        spec = HandlerSpec(event_type, method_or_handler, priority, enabled_if)
        self._event_overrides.setdefault(event_listener_cls, EventOverrides()).added.append(spec)
        live = self.managers.get(event_listener_cls)  # type: ignore[call-overload]
        if live is not None and self.event_bus is not None and (
                enabled_if is None or enabled_if(live)):
            self.event_bus.subscribe(event_type, live._resolve_handler(method_or_handler),
                                     priority)

    def unsubscribe_event(
        self,
        *,
        event_listener_cls: type[EventListenerMixin],
        event_type: type[ev.BaseEvent],
        method_name: str | None = None,
    ) -> None:
        """Disable automatic subscriptions of ``event_listener_cls`` to ``event_type``
        (one method, or all of them when ``method_name`` is ``None``)."""
        overrides = self._event_overrides.setdefault(event_listener_cls, EventOverrides())
        overrides.removed.append((event_type, method_name))
        # Subscriptions added earlier with subscribe_event are disabled too.
        dropped = [s for s in overrides.added if s.event_type is event_type
                   and method_name in (None, s.name)]
        overrides.added = [s for s in overrides.added if not any(s is d for d in dropped)]
        live = self.managers.get(event_listener_cls)  # type: ignore[call-overload]
        if live is not None and self.event_bus is not None:
            for spec in [*live.declared_handlers(), *dropped]:
                if spec.event_type is event_type and (method_name in (None, spec.name)):
                    with contextlib.suppress(AttributeError):
                        self.event_bus.unsubscribe(
                            event_type, live._resolve_handler(spec.method_or_handler))

    def register_manager(self, manager_cls: type[Manager]) -> None:
        """Add a manager class (started at once on a live session)."""
        if manager_cls in self.manager_classes:
            return
        self.manager_classes.append(manager_cls)
        if not self.is_prototype:
            self._instantiate(manager_cls)

    def unregister_manager(self, manager_cls: type[Manager]) -> None:
        """Remove a manager class (its live instance is unsubscribed; shut down by
        :meth:`stop` or by the caller awaiting ``manager.shutdown()``)."""
        if manager_cls in self.manager_classes:
            self.manager_classes.remove(manager_cls)
        live = self.managers.pop(manager_cls, None)
        if live is not None and self.event_bus is not None:
            for spec in live.declared_handlers():
                if spec.name:
                    self.event_bus.unsubscribe(spec.event_type, getattr(live, spec.name))
            self._retired.append(live)

    def get_manager(self, manager_cls: type[Manager]) -> Manager | None:
        """The live instance of ``manager_cls`` (or of a subclass), if any."""
        for cls, manager in self.managers.items():
            if issubclass(cls, manager_cls):
                return manager
        return None

    # ------------------------------------------------------------------ sessions
    def clone(
        self,
        new_websocket: WebSocket,
        *,
        session_id: str | None = None,
        service_config_overrides: dict[str, Any] | None = None,
    ) -> Service:
        """Make a live session of the same concrete type for ``new_websocket``.

        The session gets this service's :attr:`connection_limits` (the same object), with
        the limits that ``service_config_overrides`` name replaced.

        Raises:
            ConfigError: An overridden limit is not a positive number.
        """
        overrides = service_config_overrides or {}
        limits = _parse_limits(self.connection_limits, overrides)
        session = type(self)(  # built as a prototype, then given its connection
            pipeline=self.pipeline.clone(),
            service_config={**self.service_config, **overrides},
            manager_classes=list(self.manager_classes),
            _session_id=session_id,
            _event_overrides=self._event_overrides,
        )
        session.connection_limits = limits
        session._websocket = new_websocket
        session._start_live()
        return session

    def restore_conversation(self, *, messages: list[dict[str, Any]]) -> None:
        """Replace the session's conversation with persisted ``messages``
        (``{"role", "content"}`` dicts): a ``ConversationRestored`` event, delivered
        before anything published after it."""
        for message in messages:
            if not isinstance(message, dict) or message.get("role") not in (
                    "system", "user", "assistant") or not isinstance(
                    message.get("content"), str):
                raise ValueError("messages must be {'role', 'content'} dicts with a "
                                 "system/user/assistant role and string content")
        if self.event_bus is None:
            raise RuntimeError("restore_conversation needs a live session")
        self.event_bus.post(ev.ConversationRestored(
            session_id=self.session_id, messages=[dict(m) for m in messages]))

    def conversation(self) -> list[dict[str, Any]]:
        """The session's conversation so far (user and assistant messages)."""
        for manager in self.managers.values():
            messages = manager.conversation_messages()
            if messages is not None:
                return messages
        return []

    async def send_session_attached(self) -> None:
        """Tell the client which session it is attached to, with the history to render."""
        self._require_live()
        assert self.gateway is not None
        self.gateway.send_json({"action": "session_attached", "data": {
            "session_id": self.session_id, "messages": self.conversation()}})

    async def handle_message_loop(self, already_accepted: bool = False) -> None:
        """Run the session until the client disconnects, then stop it.

        Raises:
            RuntimeError: If called on a prototype.
        """
        self._require_live()
        assert self.gateway is not None and self.event_bus is not None
        try:
            if not already_accepted:
                await self._websocket.accept()
            self.gateway.start()
            self.gateway.send_json({"action": "session_info",
                                    "data": {"session_id": self.session_id}})
            await self.event_bus.publish(
                ev.SessionStarted(session_id=self.session_id, user_id=self.user_id))
            await self.gateway.receive_loop()
        finally:
            await self.stop()

    def _require_live(self) -> None:
        if self.is_prototype:
            raise RuntimeError("this Service is a prototype; clone() it with a connection")

    async def stop(self) -> None:
        """Stop the session: every manager is shut down, even if one of them fails."""
        if self._stopped or self.is_prototype:
            self._stopped = True
            return
        self._stopped = True
        assert self.event_bus is not None and self.gateway is not None
        await self.event_bus.publish(
            ev.SessionStopping(session_id=self.session_id, reason="stop"),
            wait_for_completion=True)
        for manager in [*self.managers.values(), *self._retired]:
            try:
                await asyncio.wait_for(manager.shutdown(), timeout=5.0)
            except Exception:
                logger.exception("session %s: %s failed to shut down", self.session_id,
                                 type(manager).__name__)
        await self.gateway.close()
        await self.event_bus.shutdown()


class DefaultService(Service):
    """Convenience Service with the standard Xtalk manager stack."""

    MANAGER_CLASSES: ClassVar[list[type[Manager]]] = list(DEFAULT_MANAGER_CLASSES)
    #: Added after MANAGER_CLASSES (the documented stack): the wake word's gate.
    EXTRA_MANAGER_CLASSES: ClassVar[list[type[Manager]]] = list(EXTRA_MANAGER_CLASSES)

    @classmethod
    def default_manager_classes(cls) -> list[type[Manager]]:
        return [*cls.MANAGER_CLASSES, *cls.EXTRA_MANAGER_CLASSES]


def _parse_limits(base: ConnectionLimits | None, config: dict[str, Any]) -> ConnectionLimits:
    """The limits ``config`` names, over ``base`` (``None``: the defaults)."""
    try:
        return ConnectionLimits.from_config(config) if base is None else base.updated(config)
    except ValueError as exc:
        raise ConfigError(f"invalid service_config limits: {exc}") from exc
