"""Session event bus: ordered publish/subscribe with bounded error reporting.

Delivery guarantees (tested in ``tests/serving/test_event_bus*.py``):

* **Publication order.** Events published without ``wait_for_completion`` go into one FIFO
  queue per bus and are dispatched one at a time by a single task: every handler of event
  *n* has finished before any handler of event *n+1* starts. Consecutive audio frames are
  therefore never handled out of order.
* **Priority order.** The handlers of one event run one after another, higher priority
  first; handlers of equal priority run **sequentially in subscription order** (never
  concurrently), so a higher-priority handler may prepare an event (e.g. the speech
  enhancer rewriting a frame) before the others see it.
* **Immediate dispatch.** ``publish(event, wait_for_completion=True)`` runs the handlers
  right away in the caller's task (it may overtake queued events) and returns when they
  are done; its result says whether every handler succeeded.
* Handlers must return quickly: long work (model inference, LLM streaming) belongs in tasks
  or executors owned by the manager, which publish further events as results arrive. A
  handler still running after ``STALL_WARN_S`` is logged as a warning (the session's
  events wait behind it), once per handler call.

Errors: a handler that raises is logged with its traceback and reported as an
:class:`~xtalk.serving.events.ErrorOccurred` event. Errors raised while handling error
events are reported again at most ``MAX_ERROR_EVENT_DEPTH`` levels deep, and at most
``ERROR_EVENT_RATE_LIMIT`` error events are published per second; beyond that error events
are suppressed (and counted) for ``ERROR_EVENT_COOLDOWN`` seconds. The bus never loops or
floods.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from xtalk.serving.events import BaseEvent, ErrorOccurred

logger = logging.getLogger(__name__)

_STOP = object()


@dataclass
class _Subscription:
    handler: Callable[[BaseEvent], Any]
    priority: int
    order: int


@dataclass(eq=False)
class _Awaited:
    """An async handler call being awaited (``eq=False``: each call is its own entry)."""

    handler: Callable[[BaseEvent], Any]
    event: BaseEvent
    started: float
    warned: bool = False


def _type_key(event_class: type[BaseEvent] | str) -> str:
    if isinstance(event_class, str):
        return event_class
    if isinstance(event_class, type) and issubclass(event_class, BaseEvent):
        return event_class.TYPE
    raise TypeError(f"expected an event class or type string, got {event_class!r}")


def _handler_name(handler: Callable[..., Any]) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)


class EventBus:
    """Publish and subscribe session events with async dispatch support.

    Args:
        enable_history: Record published events in memory for later inspection.
        max_history: Maximum number of events kept in the history.
    """

    MAX_ERROR_EVENT_DEPTH = 3
    ERROR_EVENT_COOLDOWN = 1.0
    ERROR_EVENT_RATE_LIMIT = 10
    STALL_WARN_S = 5.0

    def __init__(self, enable_history: bool = False, max_history: int = 1000) -> None:
        if max_history < 1:
            raise ValueError("max_history must be at least 1")
        self._subscriptions: dict[str, list[_Subscription]] = defaultdict(list)
        self._order = 0
        self._enable_history = enable_history
        self._history: deque[BaseEvent] = deque(maxlen=max_history)
        self._queue: asyncio.Queue[Any] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._closed = False
        self._busy = False
        self._counts: dict[str, int] = defaultdict(int)
        self._error_times: deque[float] = deque()
        self._suppressed_until = 0.0
        #: async handler calls being awaited, innermost last
        self._awaited: list[_Awaited] = []
        self._watchdog: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ subscriptions
    def subscribe(
        self,
        event_class: type[BaseEvent] | str,
        handler: Callable[[BaseEvent], Any],
        priority: int = 0,
    ) -> None:
        """Subscribe a sync or async ``handler`` to an event class or type string.

        Higher ``priority`` runs earlier. Subscribing the same handler twice to the same
        type is a no-op.
        """
        if not callable(handler):
            raise TypeError("handler must be callable")
        key = _type_key(event_class)
        subs = self._subscriptions[key]
        if any(s.handler == handler for s in subs):
            return
        self._order += 1
        subs.append(_Subscription(handler, int(priority), self._order))
        subs.sort(key=lambda s: (-s.priority, s.order))

    def unsubscribe(self, event_class: type[BaseEvent] | str, handler: Callable) -> bool:
        """Remove ``handler``; returns ``True`` if it was subscribed."""
        key = _type_key(event_class)
        subs = self._subscriptions.get(key, [])
        for sub in subs:
            if sub.handler == handler:
                subs.remove(sub)
                return True
        return False

    def subscriber_count(self, event_class: type[BaseEvent] | str) -> int:
        """Number of handlers subscribed to an event type."""
        return len(self._subscriptions.get(_type_key(event_class), []))

    # ------------------------------------------------------------------ publishing
    async def publish(self, event: BaseEvent, wait_for_completion: bool = False) -> bool:
        """Publish ``event`` to its subscribers.

        Args:
            event: The event to deliver.
            wait_for_completion: Run the handlers now and wait for them.

        Returns:
            ``True`` on success. ``False`` if the bus is shut down, or (when waiting) if a
            handler raised.
        """
        if not self._admit(event):
            return False
        if wait_for_completion:
            return await self._dispatch(event)
        self._enqueue(event)
        return True

    def post(self, event: BaseEvent) -> bool:
        """Queue ``event`` for delivery from synchronous code (what ``publish`` without
        waiting does); it is delivered, in order, once an event loop runs the bus.

        Returns:
            ``False`` if the bus is shut down.
        """
        if not self._admit(event):
            return False
        self._enqueue(event)
        return True

    def _admit(self, event: BaseEvent) -> bool:
        """Count and record ``event``; ``False`` when the bus is shut down."""
        if not isinstance(event, BaseEvent):
            raise TypeError(f"expected a BaseEvent, got {type(event).__name__}")
        if self._closed:
            self._counts["dropped_after_shutdown"] += 1
            return False
        self._counts["published"] += 1
        if self._enable_history:
            self._history.append(event)
        return True

    def _enqueue(self, event: BaseEvent) -> None:
        self._queue = self._queue or asyncio.Queue()
        self._queue.put_nowait(event)
        with contextlib.suppress(RuntimeError):  # no running loop: a later publish starts it
            self._ensure_dispatcher()

    def _ensure_dispatcher(self) -> None:
        if self._dispatcher is None or self._dispatcher.done():
            self._queue = self._queue or asyncio.Queue()
            self._dispatcher = asyncio.get_running_loop().create_task(
                self._dispatch_loop(), name="xtalk-event-bus"
            )

    async def _dispatch_loop(self) -> None:
        assert self._queue is not None
        while True:
            event = await self._queue.get()
            if event is _STOP or self._closed:
                return
            self._busy = True
            try:
                await self._dispatch(event)
            except asyncio.CancelledError:
                raise
            except Exception:  # pragma: no cover - _dispatch handles handler errors
                logger.exception("event bus dispatch failed")
            finally:
                self._busy = False

    async def _dispatch(self, event: BaseEvent) -> bool:
        ok = True
        for sub in list(self._subscriptions.get(event.TYPE, ())):
            if self._closed:
                break
            try:
                result = sub.handler(event)
                if inspect.isawaitable(result):
                    entry = _Awaited(sub.handler, event, time.monotonic())
                    self._awaited.append(entry)
                    if self._watchdog is None:
                        self._watchdog = asyncio.get_running_loop().create_task(
                            self._watch_stalls(), name="xtalk-event-bus-watchdog")
                    try:
                        await result
                    finally:
                        self._awaited.remove(entry)
                self._counts["handled"] += 1
            except asyncio.CancelledError as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # the bus (or the publisher) itself is being cancelled
                # A handler let a cancellation of something it awaited escape: report it
                # like any other failure instead of killing the dispatcher.
                ok = False
                self._counts["handler_errors"] += 1
                logger.warning("handler %s on %s raised CancelledError",
                               _handler_name(sub.handler), event.TYPE)
                await self._report_error(event, sub.handler, exc)
            except Exception as exc:
                ok = False
                self._counts["handler_errors"] += 1
                logger.exception(
                    "handler %s failed on %s (session %s)",
                    _handler_name(sub.handler), event.TYPE, event.session_id,
                )
                await self._report_error(event, sub.handler, exc)
        self._counts["dispatched"] += 1
        return ok

    async def _watch_stalls(self) -> None:
        """Warn, once per call, about an async handler still running after
        ``STALL_WARN_S``; runs while handlers are being awaited (one timer for the bus,
        not one per call: the audio path awaits several handlers per frame)."""
        try:
            while self._awaited and not self._closed:
                await asyncio.sleep(min(1.0, self.STALL_WARN_S / 2))
                now = time.monotonic()
                for entry in list(self._awaited):
                    if not entry.warned and now - entry.started >= self.STALL_WARN_S:
                        entry.warned = True
                        self._counts["stalled_handlers"] += 1
                        logger.warning(
                            "handler %s has been handling %s for %.0f s (session %s); the "
                            "session's events wait behind it", _handler_name(entry.handler),
                            entry.event.TYPE, now - entry.started, entry.event.session_id)
        finally:
            self._watchdog = None

    async def _report_error(
        self, event: BaseEvent, handler: Callable[..., Any], exc: BaseException
    ) -> None:
        depth = event.depth + 1 if isinstance(event, ErrorOccurred) else 1
        if depth > self.MAX_ERROR_EVENT_DEPTH:
            self._counts["error_events_dropped_depth"] += 1
            return
        now = time.monotonic()
        if now < self._suppressed_until:
            self._counts["error_events_rate_limited"] += 1
            return
        while self._error_times and now - self._error_times[0] > 1.0:
            self._error_times.popleft()
        if len(self._error_times) >= self.ERROR_EVENT_RATE_LIMIT:
            self._suppressed_until = now + self.ERROR_EVENT_COOLDOWN
            self._counts["error_events_rate_limited"] += 1
            logger.warning(
                "error storm on session %s: suppressing error events for %.1f s",
                event.session_id, self.ERROR_EVENT_COOLDOWN,
            )
            return
        self._error_times.append(now)
        self._counts["error_events"] += 1
        await self.publish(
            ErrorOccurred(
                session_id=event.session_id,
                code="internal_error",
                message="An internal error occurred; the session continues.",
                source=f"{_handler_name(handler)} on {event.TYPE}: {type(exc).__name__}",
                depth=depth,
            )
        )

    # ------------------------------------------------------------------ inspection
    def get_history(
        self, event_type: str | None = None, session_id: str | None = None
    ) -> list[BaseEvent]:
        """Return recorded events, optionally filtered by type string and session id."""
        return [
            e for e in self._history
            if (event_type is None or event_type == e.TYPE)
            and (session_id is None or e.session_id == session_id)
        ]

    def get_stats(self) -> dict[str, Any]:
        """Return counters and subscription statistics."""
        return {
            "published": self._counts["published"],
            "dispatched": self._counts["dispatched"],
            "handled": self._counts["handled"],
            "handler_errors": self._counts["handler_errors"],
            "error_events": self._counts["error_events"],
            "error_events_rate_limited": self._counts["error_events_rate_limited"],
            "error_events_dropped_depth": self._counts["error_events_dropped_depth"],
            "dropped_after_shutdown": self._counts["dropped_after_shutdown"],
            "queued": self._queue.qsize() if self._queue is not None else 0,
            "history_size": len(self._history),
            "history_enabled": self._enable_history,
            "subscriptions": {k: len(v) for k, v in self._subscriptions.items() if v},
            "closed": self._closed,
        }

    def clear_history(self) -> None:
        """Forget recorded events."""
        self._history.clear()

    def reset_error_tracking(self) -> None:
        """Reset the error rate limiter (useful for testing)."""
        self._error_times.clear()
        self._suppressed_until = 0.0

    async def drain(self) -> None:
        """Wait until every queued event has been dispatched (including events that
        handlers publish meanwhile)."""
        while self._queue is not None and self._dispatcher is not None \
                and not self._dispatcher.done() and (self._busy or not self._queue.empty()):
            await asyncio.sleep(0.001)

    async def shutdown(self) -> None:
        """Stop dispatching and release resources; later publishes return ``False``.

        Events still queued are dropped; a handler running right now is cancelled.
        """
        if self._closed:
            return
        self._closed = True
        self._subscriptions.clear()
        if self._queue is not None:
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(_STOP)
        if self._watchdog is not None:
            self._watchdog.cancel()
        task, self._dispatcher = self._dispatcher, None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
