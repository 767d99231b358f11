"""DefaultPipeline: accessors, per-session cloning, rewriter wrapping, runtime switches."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import numpy as np
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from xtalk.models.agents.rules import RuleAgent
from xtalk.models.asr.testing import ToneCodeASR
from xtalk.models.interfaces import (
    Agent,
    AgentOutput,
    Captioner,
    Embeddings,
    PuntRestorer,
    Rewriter,
    SpeakerEncoder,
    SpeechEnhancer,
    SpeechSpeedController,
    TextDelta,
    TurnDetector,
    TurnVerdict,
    UnsupportedFeatureError,
)
from xtalk.models.tts.testing import ToneCodeTTS
from xtalk.models.vad.energy import EnergyVAD
from xtalk.pipelines.default import DEFAULT_RESPONSE, DefaultPipeline
from xtalk.pipelines.interfaces import Pipeline


# --------------------------------------------------------------------------- fakes
class CloneCounting:
    """Fake model whose clone() returns a new object and counts the calls."""

    def __init__(self) -> None:
        self.clones = 0

    def clone(self):
        self.clones += 1
        return type(self)()


class FakeEnhancer(CloneCounting, SpeechEnhancer):
    def enhance(self, frame: np.ndarray) -> np.ndarray:
        return frame


class FakeTurnDetector(CloneCounting, TurnDetector):
    def decide(self, text: str, silence_s: float) -> TurnVerdict:
        return TurnVerdict(is_end=True)


class FakeCaptioner(CloneCounting, Captioner):
    def caption(self, audio: np.ndarray) -> str:
        return "applause"


class FakePunct(CloneCounting, PuntRestorer):
    def restore(self, text: str) -> str:
        return text.capitalize() + "."


class FakeRewriter(CloneCounting, Rewriter):
    def rewrite(self, text: str) -> str:
        return text.upper()


class FakeSpeaker(CloneCounting, SpeakerEncoder):
    def embed(self, audio: np.ndarray) -> np.ndarray:
        return np.ones(4)


class FakeSpeed(CloneCounting, SpeechSpeedController):
    def apply(self, pcm: np.ndarray, sample_rate: int, speed: float) -> np.ndarray:
        return pcm


class FakeEmbeddings(Embeddings):
    def __init__(self) -> None:
        self.clones = 0

    def clone(self):
        self.clones += 1
        return FakeEmbeddings()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        return [1.0, 0.0]


class ChattyAgent(Agent):
    """An agent that can switch chat models."""

    def __init__(self) -> None:
        self.chat_model = None

    def set_chat_model(self, model) -> None:
        self.chat_model = model

    async def astream(self, messages) -> AsyncIterator[AgentOutput]:
        yield TextDelta("hi")


def full_pipeline() -> tuple[DefaultPipeline, dict[str, object]]:
    models: dict[str, object] = {
        "asr": ToneCodeASR(),
        "llm_agent": RuleAgent(),
        "tts": ToneCodeTTS(sample_rate=16000),
        "captioner": FakeCaptioner(),
        "punt_restorer_model": FakePunct(),
        "caption_rewriter": FakeRewriter(),
        "vad": EnergyVAD(),
        "speech_enhancer": FakeEnhancer(),
        "speaker_encoder": FakeSpeaker(),
        "speech_speed_controller": FakeSpeed(),
        "embeddings": FakeEmbeddings(),
        "turn_detector": FakeTurnDetector(),
    }
    pipeline = DefaultPipeline(default_response="Pardon?", use_streaming_tts=False,
                               **models)  # type: ignore[arg-type]
    return pipeline, models


GETTERS = {
    "asr": "get_asr_model",
    "llm_agent": "get_agent",
    "tts": "get_tts_model",
    "captioner": "get_captioner_model",
    "punt_restorer_model": "get_punt_restorer_model",
    "caption_rewriter": "get_caption_rewriter_model",
    "vad": "get_vad_model",
    "speech_enhancer": "get_enhancer_model",
    "speaker_encoder": "get_speaker_encoder",
    "speech_speed_controller": "get_speed_controller",
    "embeddings": "get_embeddings_model",
    "turn_detector": "get_turn_detector_model",
}
CLONED = {"asr", "llm_agent", "tts", "vad", "speech_enhancer", "turn_detector"}
SHARED = set(GETTERS) - CLONED


# --------------------------------------------------------------------------- accessors
@pytest.mark.parametrize("key", list(GETTERS))
def test_getters_return_what_was_passed(key: str) -> None:
    pipeline, models = full_pipeline()
    assert getattr(pipeline, GETTERS[key])() is models[key]


def test_plain_values_and_defaults() -> None:
    pipeline, _ = full_pipeline()
    assert pipeline.default_response == "Pardon?"
    assert pipeline.use_streaming_tts is False
    minimal = DefaultPipeline(ToneCodeASR(), RuleAgent(), ToneCodeTTS())
    assert minimal.default_response == DEFAULT_RESPONSE
    assert minimal.use_streaming_tts is True
    for key in GETTERS.keys() - {"asr", "llm_agent", "tts"}:
        assert getattr(minimal, GETTERS[key])() is None, key
    assert isinstance(minimal, Pipeline)


def test_base_pipeline_accessors_default_to_none() -> None:
    class Bare(Pipeline):
        pass

    bare = Bare()
    for getter in GETTERS.values():
        assert getattr(bare, getter)() is None
    assert isinstance(bare.clone(), Bare)
    assert bare.clone() is not bare


# --------------------------------------------------------------------------- clone
def test_clone_is_same_concrete_type_and_new_object() -> None:
    pipeline, _ = full_pipeline()
    clone = pipeline.clone()
    assert type(clone) is DefaultPipeline
    assert clone is not pipeline
    assert clone.default_response == "Pardon?"
    assert clone.use_streaming_tts is False


@pytest.mark.parametrize("key", sorted(CLONED - {"asr"}))
def test_clone_true_fields_get_their_own_clone(key: str) -> None:
    pipeline, models = full_pipeline()
    clone = pipeline.clone()
    original = models[key]
    copy = getattr(clone, GETTERS[key])()
    assert copy is not original
    assert type(copy) is type(original)
    assert getattr(pipeline, GETTERS[key])() is original  # the prototype is unchanged


def test_stateless_asr_clone_shares_the_model() -> None:
    pipeline, models = full_pipeline()
    clone = pipeline.clone()
    # clone=True, but ToneCodeASR.clone() returns self: read-only state stays shared.
    assert models["asr"].clone() is models["asr"]
    assert clone.get_asr_model() is models["asr"]


@pytest.mark.parametrize("key", sorted(SHARED))
def test_clone_false_fields_are_shared(key: str) -> None:
    pipeline, models = full_pipeline()
    clone = pipeline.clone()
    assert getattr(clone, GETTERS[key])() is models[key]
    assert models[key].clones == 0  # their clone() was never called


def test_clone_of_fakes_called_once_per_clone() -> None:
    pipeline, models = full_pipeline()
    pipeline.clone()
    pipeline.clone()
    for key in ("speech_enhancer", "turn_detector"):
        assert models[key].clones == 2


def test_clone_metadata_matches_fields() -> None:
    for f in dataclasses.fields(DefaultPipeline):
        key = f.metadata["init_key"]
        if key in GETTERS:
            assert f.metadata["clone"] is (key in CLONED), key


def test_clone_isolation_tts_voice() -> None:
    pipeline, _ = full_pipeline()
    a, b = pipeline.clone(), pipeline.clone()
    a.get_tts_model().set_voice("warm")
    a.get_tts_model().set_speed(1.25)
    assert a.get_tts_model().voice == "warm"
    assert b.get_tts_model().voice == "sine"
    assert b.get_tts_model().speed == 1.0
    assert pipeline.get_tts_model().voice == "sine"


def test_clone_isolation_agent_tools() -> None:
    pipeline, _ = full_pipeline()
    a, b = pipeline.clone(), pipeline.clone()
    a.get_agent().add_tools([object()])
    assert len(a.get_agent().tools) == 1
    assert b.get_agent().tools == []
    assert pipeline.get_agent().tools == []


def test_clone_isolation_runtime_switch() -> None:
    pipeline, _ = full_pipeline()
    a, b = pipeline.clone(), pipeline.clone()
    a.set_tts_model("ToneCodeTTS", {"sample_rate": 22050})
    assert a.get_tts_model().sample_rate == 22050
    assert b.get_tts_model().sample_rate == 16000
    assert pipeline.get_tts_model().sample_rate == 16000


def test_clone_of_subclass_keeps_extra_fields() -> None:
    @dataclasses.dataclass(init=False)
    class WithExtras(DefaultPipeline):
        counter: object = dataclasses.field(
            default=None, metadata={"init_key": "counter", "clone": True})
        notes: object = dataclasses.field(
            default=None, metadata={"init_key": "notes", "clone": False})

    pipeline = WithExtras(ToneCodeASR(), RuleAgent(), ToneCodeTTS())
    pipeline.counter = FakeEnhancer()
    pipeline.notes = FakeRewriter()
    clone = pipeline.clone()
    assert type(clone) is WithExtras
    assert clone.counter is not pipeline.counter
    assert clone.notes is pipeline.notes


# --------------------------------------------------------------------------- rewriter
def test_caption_rewriter_chat_model_is_wrapped() -> None:
    chat = FakeListChatModel(responses=["Applause."])
    pipeline = DefaultPipeline(ToneCodeASR(), RuleAgent(), ToneCodeTTS(),
                               caption_rewriter=chat)
    rewriter = pipeline.get_caption_rewriter_model()
    assert isinstance(rewriter, Rewriter)
    assert rewriter is not chat
    assert rewriter.rewrite("people clapping") == "Applause."
    # Shared (clone=False) across sessions.
    assert pipeline.clone().get_caption_rewriter_model() is rewriter


def test_caption_rewriter_instance_used_as_is() -> None:
    rewriter = FakeRewriter()
    pipeline = DefaultPipeline(ToneCodeASR(), RuleAgent(), ToneCodeTTS(),
                               caption_rewriter=rewriter)
    assert pipeline.get_caption_rewriter_model() is rewriter


def test_caption_rewriter_rejects_other_objects() -> None:
    with pytest.raises(TypeError):
        DefaultPipeline(ToneCodeASR(), RuleAgent(), ToneCodeTTS(), caption_rewriter=42)


# --------------------------------------------------------------------------- set_tts_model
def test_set_tts_model_switches_the_model() -> None:
    pipeline, models = full_pipeline()
    pipeline.set_tts_model("ToneCodeTTS", {"sample_rate": 16000, "voice": "warm"})
    tts = pipeline.get_tts_model()
    assert isinstance(tts, ToneCodeTTS)
    assert tts is not models["tts"]
    assert tts.sample_rate == 16000
    assert tts.voice == "warm"


def test_set_tts_model_empty_config() -> None:
    pipeline, _ = full_pipeline()
    pipeline.set_tts_model("ToneCodeTTS", {})
    assert pipeline.get_tts_model().sample_rate == 24000


def test_set_tts_model_unknown_type() -> None:
    pipeline, models = full_pipeline()
    with pytest.raises(ValueError, match="NoSuchTTS"):
        pipeline.set_tts_model("NoSuchTTS", {})
    assert pipeline.get_tts_model() is models["tts"]


@pytest.mark.parametrize("config", [{"bogus": 1}, {"sample_rate": 100}, {"voice": "robot"}])
def test_set_tts_model_bad_params(config: dict) -> None:
    pipeline, models = full_pipeline()
    with pytest.raises(ValueError):
        pipeline.set_tts_model("ToneCodeTTS", config)
    assert pipeline.get_tts_model() is models["tts"]


def test_set_tts_model_rejects_non_tts_class() -> None:
    from xtalk.api import Xtalk

    registry = Xtalk.MODEL_REGISTRY
    saved = list(registry["tts"])
    registry["tts"] = [{"NotATTS": EnergyVAD}, *saved]
    try:
        pipeline, models = full_pipeline()
        with pytest.raises(ValueError):
            pipeline.set_tts_model("NotATTS", {})
        assert pipeline.get_tts_model() is models["tts"]
    finally:
        registry["tts"] = saved


# --------------------------------------------------------------------------- set_llm_model
def test_set_llm_model_unsupported_agent() -> None:
    pipeline, _ = full_pipeline()
    with pytest.raises(UnsupportedFeatureError, match="RuleAgent"):
        pipeline.set_llm_model("gpt-4o-mini")


def test_set_llm_model_on_agent_with_set_chat_model(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    agent = ChattyAgent()
    pipeline = DefaultPipeline(ToneCodeASR(), agent, ToneCodeTTS())
    pipeline.set_llm_model("local-model", base_url="http://127.0.0.1:9/v1", api_key="k",
                           extra_body={"top_k": 5})
    model = agent.chat_model
    assert model is not None
    assert model.model_name == "local-model"
    assert str(model.openai_api_base).startswith("http://127.0.0.1:9")
    assert model.extra_body == {"top_k": 5}
