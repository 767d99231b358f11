"""Xtalk: a local-first, full-duplex voice-dialogue engine.

The public surface (see ``docs/`` and the API contract)::

    from xtalk import Xtalk, DefaultPipeline, DefaultService, EventBus, Manager
"""

from xtalk.api import Xtalk
from xtalk.pipelines.default import DefaultPipeline
from xtalk.pipelines.interfaces import Pipeline
from xtalk.registry import ConfigError
from xtalk.serving.connection import InProcessConnection
from xtalk.serving.event_bus import EventBus
from xtalk.serving.events import BaseEvent, create_event_class
from xtalk.serving.interfaces import Manager
from xtalk.serving.service import DefaultService, Service

__version__ = "0.1.0"

__all__ = [
    "BaseEvent",
    "ConfigError",
    "DefaultPipeline",
    "DefaultService",
    "EventBus",
    "InProcessConnection",
    "Manager",
    "Pipeline",
    "Service",
    "Xtalk",
    "__version__",
    "create_event_class",
]
