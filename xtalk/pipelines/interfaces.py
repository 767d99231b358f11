"""The :class:`Pipeline` interface: model accessors consumed by the service managers.

Concrete pipelines are dataclasses whose fields carry two metadata entries:

* ``init_key`` — the constructor / configuration key of the field (``"asr"``, ``"tts"``...);
* ``clone`` — whether a new session gets its own copy (``model.clone()``) or shares the
  object. Stateful per-session models are cloned; read-only weights are shared.
"""

from __future__ import annotations

import copy
import dataclasses
from abc import ABC
from typing import Any

from xtalk.models.interfaces import (
    ASR,
    TTS,
    VAD,
    Agent,
    Captioner,
    Embeddings,
    PuntRestorer,
    Rewriter,
    SpeakerEncoder,
    SpeechEnhancer,
    SpeechSpeedController,
    TurnDetector,
    WakeWordDetector,
)


class Pipeline(ABC):  # noqa: B024 - the accessors have "slot absent" defaults on purpose
    """Define the model accessors expected by Xtalk services.

    Every accessor returns ``None`` when the pipeline has no such model, so a pipeline
    only overrides what it provides.
    """

    def clone(self) -> Pipeline:
        """Clone the pipeline for a new session.

        Dataclass pipelines are cloned according to their field metadata: fields marked
        ``clone=True`` call their value's ``clone()`` when it has one; every other field is
        shared by reference. Non-dataclass pipelines are shallow-copied.
        """
        new = copy.copy(self)
        if dataclasses.is_dataclass(self):
            for f in dataclasses.fields(self):
                if not f.metadata.get("clone", False):
                    continue
                value = getattr(self, f.name, None)
                cloner = getattr(value, "clone", None)
                if value is not None and callable(cloner):
                    setattr(new, f.name, cloner())
        return new

    @classmethod
    def init_fields(cls) -> dict[str, dataclasses.Field[Any]]:
        """Map each ``init_key`` to its dataclass field."""
        if not dataclasses.is_dataclass(cls):
            return {}
        return {
            f.metadata.get("init_key", f.name): f
            for f in dataclasses.fields(cls)
        }

    def get_asr_model(self) -> ASR | None:
        return None

    def get_tts_model(self) -> TTS | None:
        return None

    def get_agent(self) -> Agent | None:
        return None

    def get_captioner_model(self) -> Captioner | None:
        return None

    def get_punt_restorer_model(self) -> PuntRestorer | None:
        return None

    def get_caption_rewriter_model(self) -> Rewriter | None:
        return None

    def get_vad_model(self) -> VAD | None:
        return None

    def get_enhancer_model(self) -> SpeechEnhancer | None:
        return None

    def get_speaker_encoder(self) -> SpeakerEncoder | None:
        return None

    def get_speed_controller(self) -> SpeechSpeedController | None:
        return None

    def get_embeddings_model(self) -> Embeddings | None:
        return None

    def get_turn_detector_model(self) -> TurnDetector | None:
        return None

    def get_wake_word_model(self) -> WakeWordDetector | None:
        return None
