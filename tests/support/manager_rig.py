"""One manager on its own event bus, over a real :class:`DefaultPipeline` of the test models
plus whatever optional models a test gives it; every event the bus carries is recorded."""

from __future__ import annotations

from typing import Any

from xtalk.models.agents.rules import RuleAgent
from xtalk.models.asr.testing import ToneCodeASR
from xtalk.models.tts.testing import ToneCodeTTS
from xtalk.pipelines.default import DefaultPipeline
from xtalk.serving.event_bus import EventBus
from xtalk.serving.interfaces import Manager

SESSION = "s"


class ManagerRig:
    """``ManagerRig(CaptionerManager, captioner=...)``: the manager bound to ``bus``;
    ``await rig.publish(event)`` runs it to completion; ``rig.seen(cls)`` lists what was
    published of ``cls``."""

    def __init__(self, manager_cls: type[Manager], config: dict[str, Any] | None = None,
                 **models: Any) -> None:
        self.pipeline = DefaultPipeline(ToneCodeASR(), RuleAgent(),
                                        ToneCodeTTS(sample_rate=16000), **models)
        self.bus = EventBus(enable_history=True)
        self.manager = manager_cls(self.bus, SESSION, self.pipeline, config or {})
        self.manager.bind_handlers(self.bus)

    async def publish(self, event: Any) -> None:
        await self.bus.publish(event, wait_for_completion=True)
        await self.bus.drain()

    def seen(self, cls: type) -> list[Any]:
        return [e for e in self.bus.get_history() if isinstance(e, cls)]
