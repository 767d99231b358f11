"""Manager base class and the event-subscription machinery shared by listeners.

A manager declares its handlers with :meth:`Manager.event_handler`; the
:class:`~xtalk.serving.service.Service` subscribes them on the session's bus when the
session starts, after applying the service's subscription overrides
(``Service.subscribe_event`` / ``Service.unsubscribe_event``). Managers never call each
other: they only publish and consume events.

Writing a manager::

    class EchoManager(Manager):
        \"\"\"Consumes: TranscriptFinalized. Emits: OutboundMessageRequested.\"\"\"

        @Manager.event_handler(TranscriptFinalized, priority=5)
        async def on_final(self, event: TranscriptFinalized) -> None:
            await self.publish(OutboundMessageRequested(
                session_id=self.session_id, message={"action": "echo", "text": event.text}))
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xtalk.serving.events import BaseEvent

if TYPE_CHECKING:
    from xtalk.pipelines.interfaces import Pipeline
    from xtalk.serving.event_bus import EventBus

logger = logging.getLogger(__name__)

HandlerLike = (
    str
    | Callable[[Any, BaseEvent], Any]
    | Callable[[BaseEvent], Any]
    | Callable[[Any, BaseEvent], Coroutine[Any, Any, Any]]
    | Callable[[BaseEvent], Coroutine[Any, Any, Any]]
)

_HANDLER_ATTR = "__xtalk_event_handlers__"


@dataclass(frozen=True)
class HandlerSpec:
    """One declared subscription of a listener class."""

    event_type: type[BaseEvent]
    method_or_handler: HandlerLike
    priority: int = 0
    enabled_if: Callable[[Any], bool] | None = None

    @property
    def name(self) -> str | None:
        """The method name when the handler is a method of the listener."""
        if isinstance(self.method_or_handler, str):
            return self.method_or_handler
        return None


@dataclass
class EventOverrides:
    """Subscription changes a service applies to one listener class."""

    added: list[HandlerSpec] = field(default_factory=list)
    # (event type, method name or None for "every handler of that event")
    removed: list[tuple[type[BaseEvent], str | None]] = field(default_factory=list)

    def copy(self) -> EventOverrides:
        return EventOverrides(list(self.added), list(self.removed))


class EventListenerMixin:
    """Collects ``@event_handler`` declarations and binds them to a bus."""

    @staticmethod
    def event_handler(
        event_type: type[BaseEvent],
        *,
        priority: int = 0,
        enabled_if: Callable[[EventListenerMixin], bool] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare a method as the handler of ``event_type``.

        Args:
            event_type: Event class handled by the decorated method.
            priority: Higher values run first among the handlers of one event.
            enabled_if: Predicate on the listener instance; the handler is only
                subscribed when it returns true (e.g. "my model slot is filled").
        """
        if not (isinstance(event_type, type) and issubclass(event_type, BaseEvent)):
            raise TypeError("event_handler expects a BaseEvent subclass")

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            specs = list(getattr(func, _HANDLER_ATTR, ()))
            specs.append((event_type, priority, enabled_if))
            setattr(func, _HANDLER_ATTR, specs)
            return func

        return decorator

    @classmethod
    def declared_handlers(cls) -> list[HandlerSpec]:
        """Handlers declared with ``@event_handler`` on this class and its bases."""
        specs: list[HandlerSpec] = []
        seen: set[str] = set()
        for klass in cls.__mro__:
            for name, member in vars(klass).items():
                if name in seen:
                    continue
                declared = getattr(member, _HANDLER_ATTR, None)
                if declared:
                    seen.add(name)
                    for event_type, priority, enabled_if in declared:
                        specs.append(HandlerSpec(event_type, name, priority, enabled_if))
        return specs

    def bind_handlers(
        self, bus: EventBus, overrides: EventOverrides | None = None
    ) -> list[tuple[type[BaseEvent], Callable[[BaseEvent], Any]]]:
        """Subscribe this listener's handlers on ``bus``; returns what was subscribed."""
        specs = self.declared_handlers()
        if overrides is not None:
            specs = [
                s for s in specs
                if not any(
                    ev is s.event_type and (name is None or name == s.name)
                    for ev, name in overrides.removed
                )
            ] + list(overrides.added)
        bound: list[tuple[type[BaseEvent], Callable[[BaseEvent], Any]]] = []
        for spec in specs:
            if spec.enabled_if is not None and not spec.enabled_if(self):
                continue
            handler = self._resolve_handler(spec.method_or_handler)
            bus.subscribe(spec.event_type, handler, priority=spec.priority)
            bound.append((spec.event_type, handler))
        return bound

    def _resolve_handler(self, method_or_handler: HandlerLike) -> Callable[[BaseEvent], Any]:
        if isinstance(method_or_handler, str):
            method = getattr(self, method_or_handler, None)
            if method is None or not callable(method):
                raise AttributeError(
                    f"{type(self).__name__} has no handler method {method_or_handler!r}"
                )
            return method
        func = method_or_handler
        try:
            params = [
                p for p in inspect.signature(func).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                and p.default is p.empty
            ]
        except (TypeError, ValueError):
            params = []
        if len(params) >= 2:
            listener = self

            def bound_handler(event: BaseEvent) -> Any:
                return func(listener, event)  # type: ignore[call-arg]

            bound_handler.__qualname__ = getattr(func, "__qualname__", "handler")
            return bound_handler
        return func  # type: ignore[return-value]


class ShutdownMixin:
    """Something with an async ``shutdown`` that releases its resources."""

    async def shutdown(self) -> None:
        """Release resources; must be safe to call more than once."""


class Manager(EventListenerMixin, ShutdownMixin):
    """Base class for Xtalk managers: one job per manager, events in and out.

    Args:
        event_bus: The session's bus.
        session_id: The session identifier.
        pipeline: The session's (cloned) pipeline.
        config: The service configuration shared by the session's managers.
    """

    def __init__(
        self,
        event_bus: EventBus,
        session_id: str,
        pipeline: Pipeline,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.event_bus = event_bus
        self.session_id = session_id
        self.pipeline = pipeline
        self.config: dict[str, Any] = config if config is not None else {}
        self.log = logging.LoggerAdapter(
            logging.getLogger(type(self).__module__), {"session_id": session_id}
        )

    async def publish(self, event: BaseEvent, wait_for_completion: bool = False) -> bool:
        """Publish ``event`` on the session bus."""
        return await self.event_bus.publish(event, wait_for_completion=wait_for_completion)

    def conversation_messages(self) -> list[dict[str, Any]] | None:
        """The session's conversation when this manager keeps it, else ``None``.

        The context manager answers; :meth:`Service.conversation` asks each manager."""
        return None

    def setting(self, key: str, default: Any) -> Any:
        """A value of the service configuration with a default."""
        value = self.config.get(key, default)
        return default if value is None else value
