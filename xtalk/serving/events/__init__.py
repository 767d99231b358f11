"""Typed events exchanged on a session's :class:`~xtalk.serving.event_bus.EventBus`.

Events are the only coupling between managers. Names follow one rule: facts are in the
past tense (``SpeechStarted``, ``TranscriptFinalized``), commands end in ``Requested``
(``PlaybackPauseRequested``). Each class has a stable dotted ``TYPE`` string used by the
bus for subscriptions and by the history filters.

The events are grouped the way a conversation flows::

    audio in  ->  VAD  ->  turn-taking  ->  ASR  ->  agent  ->  TTS  ->  playback
                                                               \\-> latency metrics

Audio positions are given in samples of the session's 16 kHz input stream (``*_sample``)
so that an utterance is an exact slice of the input, whatever order events arrive in.
Times named ``*_time`` are :func:`time.monotonic` seconds.

:class:`BaseEvent` and :func:`create_event_class` are defined here; the events live in
one module per stage (``session``, ``audio_in``, ``turns``, ``recognition``, ``agent``,
``speech_out``, ``metrics``) and are all importable from this package.
"""

from __future__ import annotations

import copy
import dataclasses
import keyword
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class BaseEvent:
    """Base dataclass for all Xtalk events.

    Attributes:
        session_id: Session identifier associated with the event.
        timestamp: Unix time recorded when the event instance was created.
        monotonic: :func:`time.monotonic` at creation, for latency measurements.
        TYPE: Stable event type string used by the event bus.
    """

    session_id: str
    timestamp: float = field(init=False)
    monotonic: float = field(init=False, repr=False, compare=False)
    TYPE: ClassVar[str] = "base"

    def __post_init__(self) -> None:
        self.timestamp = time.time()
        self.monotonic = time.monotonic()

    def event_type(self) -> str:
        """Return the bus type string of this event."""
        return type(self).TYPE


_RESERVED_FIELDS = frozenset({"session_id", "timestamp", "monotonic", "TYPE", "event_type"})


def create_event_class(
    *, name: str, fields: dict[str, Any] | None = None, type_name: str | None = None
) -> type[BaseEvent]:
    """Create a :class:`BaseEvent` subclass dynamically.

    Args:
        name: Class name of the generated dataclass.
        fields: Field names mapped to default values; each field's type is inferred from
            its default. Mutable defaults (lists, dicts, sets) are copied per instance.
        type_name: Event bus type string; defaults to ``name.lower()``.

    Returns:
        A new dataclass type inheriting from :class:`BaseEvent`.

    Raises:
        ValueError: If ``name`` is not an identifier or a field name is invalid.
    """
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"event class name must be an identifier, got {name!r}")
    spec: list[tuple[str, Any, Any]] = []
    for field_name, default in (fields or {}).items():
        if not field_name.isidentifier() or keyword.iskeyword(field_name) \
                or field_name in _RESERVED_FIELDS:
            raise ValueError(f"invalid or reserved event field name {field_name!r}")
        annotation: Any = Any if default is None else type(default)
        if isinstance(default, list | dict | set):
            spec.append(
                (field_name, annotation, field(default_factory=lambda d=default: copy.copy(d)))
            )
        else:
            spec.append((field_name, annotation, field(default=default)))
    cls = dataclasses.make_dataclass(name, spec, bases=(BaseEvent,))
    cls.TYPE = type_name or name.lower()
    return cls


# The events, by stage (defined after BaseEvent, which they all extend).
from xtalk.serving.events.agent import *  # noqa: E402, F403
from xtalk.serving.events.audio_in import *  # noqa: E402, F403
from xtalk.serving.events.metrics import *  # noqa: E402, F403
from xtalk.serving.events.recognition import *  # noqa: E402, F403
from xtalk.serving.events.session import *  # noqa: E402, F403
from xtalk.serving.events.speech_out import *  # noqa: E402, F403
from xtalk.serving.events.turns import *  # noqa: E402, F403

__all__ = [name for name, obj in list(globals().items()) if isinstance(obj, type)
           and issubclass(obj, BaseEvent)] + ["create_event_class"]
