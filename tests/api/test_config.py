"""Building Xtalk / pipelines from configuration, and where model classes are found."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from xtalk import ConfigError
from xtalk.api import Xtalk
from xtalk.models.agents.rules import RuleAgent
from xtalk.models.asr.testing import ToneCodeASR
from xtalk.models.tts.testing import ToneCodeTTS
from xtalk.models.vad.energy import EnergyVAD
from xtalk.pipelines.default import DefaultPipeline
from xtalk.registry import _split_file_spec, load_spec_target, resolve_class
from xtalk.serving.service import DefaultService

FIXTURES = Path(__file__).parent / "fixtures"
FIRST_TTS = FIXTURES / "first_tts.py"
SECOND_TTS = FIXTURES / "second_tts.py"
CUSTOM_MODELS = FIXTURES / "xtalk_fixture_models.py"


def base_config(**extra: Any) -> dict[str, Any]:
    return {
        "asr": "ToneCodeASR",
        "llm_agent": {"type": "RuleAgent", "params": {"default_reply": "ok"}},
        "tts": {"type": "ToneCodeTTS", "params": {"sample_rate": 16000}},
        **extra,
    }


@pytest.fixture(autouse=True)
def restore_model_registry():
    """register_model_search_spec mutates the class-level registry: restore it in place."""
    registry = Xtalk.MODEL_REGISTRY
    saved = {slot: list(specs) for slot, specs in registry.items()}
    yield
    registry.clear()
    registry.update({slot: list(specs) for slot, specs in saved.items()})


@pytest.fixture
def fixtures_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(FIXTURES))


# --------------------------------------------------------------------------- from_config
def test_config_error_is_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


def test_from_config_with_dict() -> None:
    app = Xtalk.from_config(base_config(vad="EnergyVAD", default_response="Sorry?",
                                        use_streaming_tts=False))
    assert isinstance(app, Xtalk)
    service = app.service_prototype
    assert isinstance(service, DefaultService)
    assert service.is_prototype
    pipeline = service.pipeline
    assert isinstance(pipeline, DefaultPipeline)
    assert isinstance(pipeline.get_asr_model(), ToneCodeASR)
    agent = pipeline.get_agent()
    assert isinstance(agent, RuleAgent)
    assert agent.default_reply == "ok"
    tts = pipeline.get_tts_model()
    assert isinstance(tts, ToneCodeTTS)
    assert tts.sample_rate == 16000
    assert isinstance(pipeline.get_vad_model(), EnergyVAD)
    assert pipeline.default_response == "Sorry?"
    assert pipeline.use_streaming_tts is False
    assert pipeline.get_captioner_model() is None
    assert app.limiter is None


def test_from_config_with_json_file(tmp_path: Path) -> None:
    path = tmp_path / "server_config.json"
    path.write_text(json.dumps(base_config(max_connections=2)), encoding="utf-8")
    app = Xtalk.from_config(str(path))
    assert isinstance(app.service_prototype.pipeline.get_tts_model(), ToneCodeTTS)
    assert app.limiter is not None and app.limiter.limit == 2


def test_from_config_with_path_object(tmp_path: Path) -> None:
    path = tmp_path / "server_config.json"
    path.write_text(json.dumps(base_config()), encoding="utf-8")
    app = Xtalk.from_config(path)  # type: ignore[arg-type]
    assert isinstance(app.service_prototype.pipeline.get_asr_model(), ToneCodeASR)


def test_class_name_and_type_params_forms() -> None:
    app = Xtalk.from_config({
        "asr": {"type": "ToneCodeASR", "params": {"min_confidence": 0.9}},
        "llm_agent": "RuleAgent",
        "tts": "ToneCodeTTS",
        "vad": {"type": "EnergyVAD"},  # params may be omitted
    })
    pipeline = app.service_prototype.pipeline
    assert pipeline.get_asr_model().min_confidence == 0.9
    assert pipeline.get_tts_model().sample_rate == 24000
    assert pipeline.get_vad_model().threshold_dbfs == -35.0


def test_max_connections_sets_the_session_limiter() -> None:
    app = Xtalk.from_config(base_config(max_connections=3))
    assert app.limiter is not None
    assert app.limiter.limit == 3


@pytest.mark.parametrize("bad", [0, -1, "3", 2.5, True])
def test_bad_max_connections(bad: Any) -> None:
    with pytest.raises(ConfigError, match="max_connections"):
        Xtalk.from_config(base_config(max_connections=bad))


def test_service_config_passed_to_prototype_service() -> None:
    service_config = {"system_prompt": "Be brief.", "retrieval_top_k": 2}
    app = Xtalk.from_config(base_config(service_config=service_config))
    assert app.service_prototype.service_config == service_config


def test_service_config_must_be_an_object() -> None:
    with pytest.raises(ConfigError, match="service_config"):
        Xtalk.from_config(base_config(service_config=["x"]))


@pytest.mark.parametrize(("section", "message"), [
    ({"vad": {"min_silense_s": 0.3}}, r"service_config\.vad: unknown min_silense_s"),
    ({"vad": {"min_silence_s": "0.3"}}, r"service_config\.vad\.min_silence_s must be a number"),
    ({"asr": []}, r"service_config\.asr must be an object"),
    ({"asr": {"speculative_final": 1}}, r"speculative_final must be true or false"),
    ({"turn": {"continuation_s": True}}, r"turn\.continuation_s must be a number"),
    ({"turn": {"contination_s": 1.0}}, r"service_config\.turn: unknown contination_s"),
    ({"wake_word": {"follow_up_s": None}}, r"wake_word\.follow_up_s must be a number"),
])
def test_a_misspelt_or_mistyped_session_setting_fails_the_build(section: dict[str, Any],
                                                               message: str) -> None:
    """Read only when a session starts, these would otherwise fail every session."""
    with pytest.raises(ConfigError, match=message):
        Xtalk.from_config(base_config(service_config=section))


def test_the_default_session_settings_pass_the_check() -> None:
    default = json.loads((Path(__file__).parents[2] / "resources" / "default_config.json")
                         .read_text())
    sections = {k: default["service_config"][k] for k in ("vad", "asr", "thinking_cue")}
    sections["vad"] = {**sections["vad"], "neg_threshold": None}
    sections["turn"] = {"speculative_replies": False, "continuation_s": 0}
    Xtalk.from_config(base_config(service_config=sections))


def test_unknown_type_names_slot_type_and_every_place_searched() -> None:
    Xtalk.register_model_search_spec(slot="tts", spec=str(FIRST_TTS), prepend=False)
    Xtalk.register_model_search_spec(slot="tts", spec="no_such_pkg.voices:registry")
    with pytest.raises(ConfigError) as info:
        Xtalk.from_config(base_config(tts={"type": "NoSuchTTS", "params": {}}))
    message = str(info.value)
    assert "'tts'" in message
    assert "NoSuchTTS" in message
    for spec in Xtalk.MODEL_REGISTRY["tts"]:
        assert str(spec) in message
    assert "xtalk.models.tts" in message
    assert str(FIRST_TTS) in message
    assert "no_such_pkg.voices:registry" in message
    assert "could not be imported" in message  # and why that place failed


def test_unknown_type_in_slot_without_registered_locations() -> None:
    Xtalk.MODEL_REGISTRY.pop("captioner", None)
    with pytest.raises(ConfigError, match="captioner") as info:
        Xtalk.from_config(base_config(captioner={"type": "Whisperer"}))
    assert "Whisperer" in str(info.value)


def test_bad_param_names_class_and_parameter() -> None:
    with pytest.raises(ConfigError) as info:
        Xtalk.from_config(base_config(tts={"type": "ToneCodeTTS",
                                           "params": {"sample_rate": 16000, "pitch": 3}}))
    message = str(info.value)
    assert "ToneCodeTTS" in message
    assert "'pitch'" in message


def test_param_rejected_by_constructor_is_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        Xtalk.from_config(base_config(tts={"type": "ToneCodeTTS",
                                           "params": {"sample_rate": 100}}))
    assert "ToneCodeTTS" in str(info.value)
    assert "sample_rate" in str(info.value)


def test_missing_required_param_is_named() -> None:
    Xtalk.register_model_search_spec(slot="tts", spec=CUSTOM_MODELS)
    with pytest.raises(ConfigError) as info:
        Xtalk.from_config(base_config(tts={"type": "NeedsVoiceFileTTS",
                                           "params": {"sample_rate": 16000}}))
    assert "NeedsVoiceFileTTS" in str(info.value)
    assert "'voice_file'" in str(info.value)
    ok = Xtalk.from_config(base_config(tts={"type": "NeedsVoiceFileTTS",
                                            "params": {"voice_file": "v.onnx"}}))
    assert ok.service_prototype.pipeline.get_tts_model().voice_file == "v.onnx"


@pytest.mark.parametrize("slot", ["asr", "llm_agent", "tts"])
def test_missing_required_slot_is_named(slot: str) -> None:
    config = base_config()
    del config[slot]
    with pytest.raises(ConfigError) as info:
        Xtalk.from_config(config)
    assert repr(slot) in str(info.value)


@pytest.mark.parametrize(
    "entry",
    [
        {"type": 3},
        {"type": ""},
        {"params": {}},
        {"params": []},
        {"type": "ToneCodeTTS", "params": []},
        {"type": "ToneCodeTTS", "params": [1]},
        {"type": "ToneCodeTTS", "params": "sample_rate=16000"},
        {"type": "ToneCodeTTS", "params": {}, "extra": 1},
        {"type": "ToneCodeTTS", "args": {}},
        3,
        ["ToneCodeTTS"],
    ],
)
def test_malformed_entries(entry: Any) -> None:
    with pytest.raises(ConfigError) as info:
        Xtalk.from_config(base_config(tts=entry))
    assert isinstance(info.value, ValueError)
    assert "'tts'" in str(info.value)


def test_unknown_top_level_keys_rejected() -> None:
    with pytest.raises(ConfigError) as info:
        Xtalk.from_config(base_config(text_to_speech="ToneCodeTTS"))
    assert "text_to_speech" in str(info.value)


def test_missing_json_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(ConfigError) as info:
        Xtalk.from_config(str(path))
    assert str(path) in str(info.value)
    assert "Traceback" not in str(info.value)


@pytest.mark.parametrize("text", ["{not json", "", '["a list"]', "3"])
def test_invalid_json_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Xtalk.from_config(str(path))
    assert str(path) in str(info.value)


def test_config_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        Xtalk.from_config(str(tmp_path))


def test_from_config_does_not_mutate_the_given_dict() -> None:
    config = base_config(service_config={"a": 1})
    snapshot = json.loads(json.dumps(config))
    Xtalk.from_config(config)
    assert config == snapshot


# --------------------------------------------------------------------------- search specs
def test_register_module_path(fixtures_on_path) -> None:
    Xtalk.register_model_search_spec(slot="tts", spec="xtalk_fixture_models")
    assert Xtalk.MODEL_REGISTRY["tts"][0] == "xtalk_fixture_models"
    app = Xtalk.from_config(base_config(tts="FixtureTTS"))
    tts = app.service_prototype.pipeline.get_tts_model()
    assert type(tts).__name__ == "FixtureTTS"
    assert tts.ORIGIN == "module"


def test_register_module_attribute_registry(fixtures_on_path) -> None:
    Xtalk.register_model_search_spec(slot="tts", spec="xtalk_fixture_models:REGISTRY")
    app = Xtalk.from_config(base_config(tts={"type": "AliasTTS",
                                             "params": {"sample_rate": 22050}}))
    tts = app.service_prototype.pipeline.get_tts_model()
    assert type(tts).__name__ == "RegistryOnlyTTS"
    assert tts.sample_rate == 22050
    # Only the dict's keys are found through a "module:attribute" spec.
    Xtalk.MODEL_REGISTRY["tts"] = ["xtalk_fixture_models:REGISTRY"]
    with pytest.raises(ConfigError, match="xtalk_fixture_models:REGISTRY"):
        Xtalk.from_config(base_config(tts="FixtureTTS"))


def test_register_file_path_as_str() -> None:
    Xtalk.register_model_search_spec(slot="tts", spec=str(FIRST_TTS))
    tts = Xtalk.from_config(base_config(tts="SameNameTTS")).service_prototype.pipeline \
        .get_tts_model()
    assert tts.FLAVOUR == "first"


def test_register_file_path_as_path() -> None:
    Xtalk.register_model_search_spec(slot="tts", spec=SECOND_TTS)
    tts = Xtalk.from_config(base_config(tts="SameNameTTS")).service_prototype.pipeline \
        .get_tts_model()
    assert tts.FLAVOUR == "second"


def test_register_relative_file_path(monkeypatch) -> None:
    monkeypatch.chdir(FIXTURES)
    Xtalk.register_model_search_spec(slot="tts", spec=Path("./first_tts.py"))
    tts = Xtalk.from_config(base_config(tts="SameNameTTS")).service_prototype.pipeline \
        .get_tts_model()
    assert tts.FLAVOUR == "first"


def test_register_file_path_with_attribute() -> None:
    Xtalk.register_model_search_spec(slot="tts", spec=f"{SECOND_TTS}:registry")
    tts = Xtalk.from_config(base_config(tts="RegistryTTS")).service_prototype.pipeline \
        .get_tts_model()
    assert tts.FLAVOUR == "second"


def test_prepend_true_tries_the_new_spec_first() -> None:
    Xtalk.register_model_search_spec(slot="tts", spec=str(FIRST_TTS))
    Xtalk.register_model_search_spec(slot="tts", spec=str(SECOND_TTS), prepend=True)
    specs = Xtalk.MODEL_REGISTRY["tts"]
    assert specs[:2] == [str(SECOND_TTS), str(FIRST_TTS)]
    assert specs[-1] == "xtalk.models.tts"
    tts = Xtalk.from_config(base_config(tts="SameNameTTS")).service_prototype.pipeline \
        .get_tts_model()
    assert tts.FLAVOUR == "second"


def test_prepend_false_appends_after_existing_specs() -> None:
    Xtalk.register_model_search_spec(slot="tts", spec=str(FIRST_TTS), prepend=False)
    Xtalk.register_model_search_spec(slot="tts", spec=str(SECOND_TTS), prepend=False)
    specs = Xtalk.MODEL_REGISTRY["tts"]
    assert specs == ["xtalk.models.tts", str(FIRST_TTS), str(SECOND_TTS)]
    tts = Xtalk.from_config(base_config(tts="SameNameTTS")).service_prototype.pipeline \
        .get_tts_model()
    assert tts.FLAVOUR == "first"


def test_builtin_models_win_over_appended_specs() -> None:
    # An appended location cannot shadow a built-in class; a prepended one can.
    Xtalk.register_model_search_spec(slot="tts", spec=str(SECOND_TTS), prepend=False)
    tts = Xtalk.from_config(base_config()).service_prototype.pipeline.get_tts_model()
    assert type(tts) is ToneCodeTTS


def test_registering_again_moves_the_spec() -> None:
    Xtalk.register_model_search_spec(slot="tts", spec=str(FIRST_TTS))
    Xtalk.register_model_search_spec(slot="tts", spec=str(SECOND_TTS))
    Xtalk.register_model_search_spec(slot="tts", spec=str(FIRST_TTS))
    specs = Xtalk.MODEL_REGISTRY["tts"]
    assert specs.count(str(FIRST_TTS)) == 1
    assert specs[0] == str(FIRST_TTS)


def test_register_new_slot() -> None:
    Xtalk.register_model_search_spec(slot="reranker", spec=CUSTOM_MODELS)
    assert Xtalk.MODEL_REGISTRY["reranker"] == [CUSTOM_MODELS]


@pytest.mark.parametrize("bad", [3, None, ["a"]])
def test_register_rejects_unsupported_spec(bad: Any) -> None:
    with pytest.raises(TypeError):
        Xtalk.register_model_search_spec(slot="tts", spec=bad)


def test_register_rejects_empty_slot() -> None:
    with pytest.raises(ValueError):
        Xtalk.register_model_search_spec(slot="", spec="x")


def test_registry_fixture_isolation_sentinel() -> None:
    # Runs after the tests above registered specs: nothing leaked.
    specs = [str(spec) for spec in Xtalk.MODEL_REGISTRY["tts"]]
    assert "xtalk.models.tts" in specs
    assert not [s for s in specs if str(FIXTURES) in s or "custom_tts" in s
                or s.startswith("xtalk_fixture_models")]
    assert "reranker" not in Xtalk.MODEL_REGISTRY


# --------------------------------------------------------------------------- Windows paths
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("C:\\models\\custom_tts.py", ("C:\\models\\custom_tts.py", None)),
        ("C:\\models\\custom_tts.py:registry", ("C:\\models\\custom_tts.py", "registry")),
        ("c:/models/custom_tts.py", ("c:/models/custom_tts.py", None)),
        ("D:\\My Models\\tts.PY:REG", ("D:\\My Models\\tts.PY", "REG")),
        ("/abs/path/custom_tts.py", ("/abs/path/custom_tts.py", None)),
        ("/abs/path/custom_tts.py:registry", ("/abs/path/custom_tts.py", "registry")),
        ("./custom_tts.py", ("./custom_tts.py", None)),
        ("my_pkg.custom_tts", None),
        ("my_pkg.custom_tts:registry", None),
    ],
)
def test_split_file_spec(spec: str, expected: Any) -> None:
    assert _split_file_spec(spec) == expected


def test_missing_windows_file_is_reported_as_searched() -> None:
    spec = "C:\\models\\custom_tts.py"
    with pytest.raises(ConfigError) as info:
        resolve_class("tts", "CustomTTS", {"tts": [spec, "xtalk.models.tts"]})
    message = str(info.value)
    assert spec in message
    assert "could not be imported" in message
    assert "xtalk.models.tts" in message
    assert "CustomTTS" in message


def test_missing_windows_file_with_attribute_via_config() -> None:
    spec = "C:\\models\\custom_tts.py:registry"
    Xtalk.register_model_search_spec(slot="tts", spec=spec)
    with pytest.raises(ConfigError) as info:
        Xtalk.from_config(base_config(tts="CustomTTS"))
    assert spec in str(info.value)
    # A built-in class is still found after the unreachable location.
    app = Xtalk.from_config(base_config())
    assert isinstance(app.service_prototype.pipeline.get_tts_model(), ToneCodeTTS)


def test_broken_user_file_is_reported_not_fatal(tmp_path: Path) -> None:
    broken = tmp_path / "broken_tts.py"
    broken.write_text("raise RuntimeError('boom at import')\n", encoding="utf-8")
    Xtalk.register_model_search_spec(slot="tts", spec=broken)
    app = Xtalk.from_config(base_config())  # later locations are still searched
    assert isinstance(app.service_prototype.pipeline.get_tts_model(), ToneCodeTTS)
    with pytest.raises(ConfigError) as info:
        Xtalk.from_config(base_config(tts="Anything"))
    assert str(broken) in str(info.value)
    assert "boom at import" in str(info.value)


# --------------------------------------------------------------------------- pipelines
def test_additional_registry_ready_instance_is_used_as_is() -> None:
    asr = ToneCodeASR(min_confidence=0.3)
    pipeline = Xtalk.create_pipeline_from_config(
        pipeline_cls=DefaultPipeline, config_path_or_dict=base_config(),
        additional_model_registry={"asr": asr})
    assert pipeline.get_asr_model() is asr
    # Even without an "asr" entry in the configuration.
    config = base_config()
    del config["asr"]
    pipeline = Xtalk.create_pipeline_from_config(
        pipeline_cls=DefaultPipeline, config_path_or_dict=config,
        additional_model_registry={"asr": asr})
    assert pipeline.get_asr_model() is asr


def test_additional_registry_import_spec_for_a_slot() -> None:
    pipeline = Xtalk.create_pipeline_from_config(
        pipeline_cls=DefaultPipeline,
        config_path_or_dict=base_config(tts="SameNameTTS"),
        additional_model_registry={"tts": str(SECOND_TTS)})
    assert pipeline.get_tts_model().FLAVOUR == "second"
    # The spec was only used for this call.
    assert str(SECOND_TTS) not in Xtalk.MODEL_REGISTRY["tts"]
    with pytest.raises(ConfigError):
        Xtalk.create_pipeline_from_config(
            pipeline_cls=DefaultPipeline,
            config_path_or_dict=base_config(tts="SameNameTTS"),
            additional_model_registry={})


def test_additional_registry_list_of_specs_tried_first() -> None:
    Xtalk.register_model_search_spec(slot="tts", spec=str(SECOND_TTS))
    pipeline = Xtalk.create_pipeline_from_config(
        pipeline_cls=DefaultPipeline,
        config_path_or_dict=base_config(tts="SameNameTTS"),
        additional_model_registry={"tts": [str(FIRST_TTS)]})
    assert pipeline.get_tts_model().FLAVOUR == "first"


def test_create_pipeline_from_json_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(base_config()), encoding="utf-8")
    pipeline = Xtalk.create_pipeline_from_config(
        pipeline_cls=DefaultPipeline, config_path_or_dict=str(path),
        additional_model_registry={})
    assert isinstance(pipeline, DefaultPipeline)


@dataclass(init=False)
class MyPipeline(DefaultPipeline):
    reranker: Any = field(default=None, metadata={"init_key": "reranker", "clone": True})

    def get_reranker(self) -> Any:
        return self.reranker


def test_custom_pipeline_subclass_with_new_slot() -> None:
    Xtalk.register_model_search_spec(slot="reranker", spec=str(CUSTOM_MODELS))
    config = base_config(
        vad="EnergyVAD",
        reranker={"type": "KeywordReranker", "params": {"keywords": ["zebra"], "boost": 2.0}},
    )
    pipeline = Xtalk.create_pipeline_from_config(
        pipeline_cls=MyPipeline, config_path_or_dict=config, additional_model_registry={})
    assert type(pipeline) is MyPipeline
    reranker = pipeline.get_reranker()
    assert type(reranker).__name__ == "KeywordReranker"
    assert reranker.keywords == ["zebra"]
    assert reranker.boost == 2.0
    assert reranker.rerank(["a", "a zebra"]) == ["a zebra", "a"]

    clone = pipeline.clone()
    assert type(clone) is MyPipeline
    assert clone.reranker is not reranker  # clone=True: its own clone()
    assert clone.reranker.keywords == ["zebra"]
    assert clone.get_vad_model() is not pipeline.get_vad_model()
    assert clone.get_tts_model() is not pipeline.get_tts_model()
    assert clone.get_agent() is not pipeline.get_agent()
    # Stateless ASR clones to itself; shared fields stay shared.
    assert clone.get_asr_model() is pipeline.get_asr_model()
    assert clone.default_response == pipeline.default_response
    assert clone.get_embeddings_model() is pipeline.get_embeddings_model()


def test_custom_pipeline_slot_is_optional_and_validated() -> None:
    Xtalk.register_model_search_spec(slot="reranker", spec=str(CUSTOM_MODELS))
    pipeline = Xtalk.create_pipeline_from_config(
        pipeline_cls=MyPipeline, config_path_or_dict=base_config(),
        additional_model_registry={})
    assert pipeline.reranker is None
    with pytest.raises(ConfigError) as info:
        Xtalk.create_pipeline_from_config(
            pipeline_cls=MyPipeline,
            config_path_or_dict=base_config(reranker={"type": "KeywordReranker"}),
            additional_model_registry={})
    assert "'keywords'" in str(info.value)


def test_custom_pipeline_slot_from_ready_instance() -> None:
    reranker = load_spec_target(CUSTOM_MODELS).KeywordReranker(["x"])
    pipeline = Xtalk.create_pipeline_from_config(
        pipeline_cls=MyPipeline, config_path_or_dict=base_config(),
        additional_model_registry={"reranker": reranker})
    assert pipeline.reranker is reranker


def test_custom_pipeline_rejects_unknown_slot() -> None:
    with pytest.raises(ConfigError) as info:
        Xtalk.create_pipeline_from_config(
            pipeline_cls=MyPipeline, config_path_or_dict=base_config(ranker="X"),
            additional_model_registry={})
    assert "ranker" in str(info.value)
    assert "reranker" in str(info.value)  # the known slots are listed


def test_model_instance_inside_a_config_dict_is_used_as_is() -> None:
    asr = ToneCodeASR()
    app = Xtalk.from_config(base_config(asr=asr))
    assert app.service_prototype.pipeline.get_asr_model() is asr


def test_openai_embeddings_by_name() -> None:
    """The embeddings slot resolves ``OpenAIEmbeddings`` (langchain-openai) by name."""
    from langchain_openai import OpenAIEmbeddings

    xtalk = Xtalk.from_config({
        "asr": "ToneCodeASR", "vad": "EnergyVAD", "tts": "ToneCodeTTS",
        "llm_agent": "RuleAgent",
        "embeddings": {"type": "OpenAIEmbeddings", "params": {
            "base_url": "http://127.0.0.1:9/v1", "api_key": "sk-test", "model": "nomic",
            "check_embedding_ctx_length": False}}})
    model = xtalk.service_prototype.pipeline.get_embeddings_model()
    assert isinstance(model, OpenAIEmbeddings) and model.model == "nomic"
