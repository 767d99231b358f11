"""The public surface matches the API contract (shared/spec/xtalk-api-reference.txt).

Signatures are written here exactly as the contract states them and parsed with ``ast``, so
the expected parameter names, kinds and defaults are the contract's own text.
"""

from __future__ import annotations

import abc
import ast
import dataclasses
import inspect
from typing import Any

import pytest

import xtalk
from xtalk.api import Xtalk
from xtalk.pipelines.default import DefaultPipeline
from xtalk.pipelines.interfaces import Pipeline
from xtalk.registry import SHARED_MODEL_REGISTRY
from xtalk.serving.event_bus import EventBus
from xtalk.serving.events import BaseEvent, create_event_class
from xtalk.serving.interfaces import EventListenerMixin, Manager, ShutdownMixin
from xtalk.serving.managers import (
    ASRManager,
    CaptionerManager,
    DirectAudioManager,
    EmbeddingsManager,
    EnhancerManager,
    LatencyManager,
    LLMAgentConsumptionManager,
    LLMAgentContextManager,
    RecordingManager,
    RetrievalManager,
    SpeakerManager,
    TTSManager,
    TTSPlaybackManager,
    TurnDetectorManager,
    TurnTakingManager,
    VADManager,
)
from xtalk.serving.service import DefaultService, Service

DEFAULT_RESPONSE = "Sorry, I didn't catch that. Could you please say it again?"

# --------------------------------------------------------------------------- helpers
_KIND = {
    "posonly": inspect.Parameter.POSITIONAL_ONLY,
    "arg": inspect.Parameter.POSITIONAL_OR_KEYWORD,
    "kwonly": inspect.Parameter.KEYWORD_ONLY,
}
_NO_DEFAULT = inspect.Parameter.empty


def parse_contract_signature(source: str) -> list[tuple[str, inspect._ParameterKind, Any]]:
    """(name, kind, default) of each parameter of a contract ``def`` line."""
    text = source.strip()
    if not text.endswith(":"):
        text += ":"
    func = ast.parse(text + "\n    pass").body[0]
    assert isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
    args = func.args
    assert args.vararg is None and args.kwarg is None
    params: list[tuple[str, inspect._ParameterKind, Any]] = []
    positional = [*args.posonlyargs, *args.args]
    defaults: list[Any] = [_NO_DEFAULT] * (len(positional) - len(args.defaults)) + [
        ast.literal_eval(d) for d in args.defaults
    ]
    for i, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        kind = _KIND["posonly"] if i < len(args.posonlyargs) else _KIND["arg"]
        params.append((arg.arg, kind, default))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params.append((arg.arg, _KIND["kwonly"],
                       _NO_DEFAULT if default is None else ast.literal_eval(default)))
    return params


def actual_params(func: Any) -> list[tuple[str, inspect._ParameterKind, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(func).parameters.values()]


def raw_function(owner: type, name: str) -> Any:
    """The function behind ``owner.name`` (classmethod/staticmethod unwrapped, self/cls
    kept in its signature)."""
    attr = inspect.getattr_static(owner, name)
    if isinstance(attr, classmethod | staticmethod):
        return attr.__func__
    return attr


def assert_signature(owner: type, name: str, contract: str, *,
                     allow_extra_kwonly: bool = False) -> None:
    expected = parse_contract_signature(contract)
    actual = actual_params(raw_function(owner, name))
    if allow_extra_kwonly:
        extra = actual[len(expected):]
        actual = actual[: len(expected)]
        for pname, kind, default in extra:
            assert kind is inspect.Parameter.KEYWORD_ONLY, (
                f"{owner.__name__}.{name}: extra parameter {pname!r} must be keyword-only")
            assert default is not _NO_DEFAULT, (
                f"{owner.__name__}.{name}: extra parameter {pname!r} needs a default")
    assert actual == expected, f"{owner.__name__}.{name}: {actual} != {expected}"


# --------------------------------------------------------------------------- module paths
@pytest.mark.parametrize(
    ("obj", "module", "name"),
    [
        (Xtalk, "xtalk.api", "Xtalk"),
        (Pipeline, "xtalk.pipelines.interfaces", "Pipeline"),
        (DefaultPipeline, "xtalk.pipelines.default", "DefaultPipeline"),
        (Service, "xtalk.serving.service", "Service"),
        (DefaultService, "xtalk.serving.service", "DefaultService"),
        (BaseEvent, "xtalk.serving.events", "BaseEvent"),
        (create_event_class, "xtalk.serving.events", "create_event_class"),
        (Manager, "xtalk.serving.interfaces", "Manager"),
        (EventBus, "xtalk.serving.event_bus", "EventBus"),
    ],
)
def test_defined_in_contract_module(obj: Any, module: str, name: str) -> None:
    assert obj.__module__ == module
    assert obj.__name__ == name


@pytest.mark.parametrize(
    "name",
    ["Xtalk", "Pipeline", "DefaultPipeline", "Service", "DefaultService", "BaseEvent",
     "create_event_class", "Manager", "EventBus"],
)
def test_reexported_from_package(name: str) -> None:
    module = {
        "Xtalk": Xtalk, "Pipeline": Pipeline, "DefaultPipeline": DefaultPipeline,
        "Service": Service, "DefaultService": DefaultService, "BaseEvent": BaseEvent,
        "create_event_class": create_event_class, "Manager": Manager, "EventBus": EventBus,
    }
    assert getattr(xtalk, name) is module[name]
    assert name in xtalk.__all__


def test_class_hierarchy() -> None:
    assert abc.ABC in Pipeline.__bases__
    assert issubclass(DefaultPipeline, Pipeline)
    assert dataclasses.is_dataclass(DefaultPipeline)
    assert issubclass(DefaultService, Service)
    assert Manager.__bases__ == (EventListenerMixin, ShutdownMixin)
    assert dataclasses.is_dataclass(BaseEvent)


# --------------------------------------------------------------------------- Xtalk
XTALK_SIGNATURES = {
    "__init__": "def __init__(self, *, service_prototype: Service, "
                "max_sessions: int | None = None)",
    "register_model_search_spec": "def register_model_search_spec(cls, *, slot: str, "
                                  "spec: ImportSpec, prepend: bool = True) -> None",
    "from_config": "def from_config(cls, path_or_dict: str | dict) -> 'Xtalk'",
    "create_pipeline_from_config": "def create_pipeline_from_config(cls, *, "
                                   "pipeline_cls: Type[Pipeline], "
                                   "config_path_or_dict: str | dict, "
                                   "additional_model_registry: dict[str, Any]) -> Pipeline",
    "set_session_limit": "def set_session_limit(self, limit: int)",
    "embed_text": "async def embed_text(self, session_id: str, text: str, "
                  "user_id: str | None = None)",
    "add_agent_tools": "def add_agent_tools(self, tools_or_factories: "
                       "list[BaseTool | Callable[[], BaseTool]])",
}


@pytest.mark.parametrize("name", sorted(XTALK_SIGNATURES))
def test_xtalk_signatures(name: str) -> None:
    assert_signature(Xtalk, name, XTALK_SIGNATURES[name])


def test_xtalk_connect_signature_allows_extra_keyword_only_params() -> None:
    assert_signature(Xtalk, "connect",
                     "async def connect(self, websocket: WebSocket, user_id: str | None = None)",
                     allow_extra_kwonly=True)


@pytest.mark.parametrize(
    "name", ["register_model_search_spec", "from_config", "create_pipeline_from_config"])
def test_xtalk_classmethods(name: str) -> None:
    assert isinstance(inspect.getattr_static(Xtalk, name), classmethod)


@pytest.mark.parametrize(
    ("name", "is_async"),
    [("embed_text", True), ("connect", True), ("set_session_limit", False),
     ("add_agent_tools", False), ("from_config", False), ("create_pipeline_from_config", False),
     ("register_model_search_spec", False)],
)
def test_xtalk_async_ness(name: str, is_async: bool) -> None:
    assert inspect.iscoroutinefunction(raw_function(Xtalk, name)) is is_async


def test_xtalk_model_registry_is_the_shared_registry() -> None:
    assert Xtalk.MODEL_REGISTRY is SHARED_MODEL_REGISTRY
    assert isinstance(Xtalk.MODEL_REGISTRY, dict)
    for slot, specs in Xtalk.MODEL_REGISTRY.items():
        assert isinstance(slot, str)
        assert isinstance(specs, list)
    for slot in ("asr", "tts", "llm_agent", "vad"):
        assert Xtalk.MODEL_REGISTRY[slot], slot


# --------------------------------------------------------------------------- Pipeline
PIPELINE_GETTERS = [
    "get_asr_model", "get_tts_model", "get_agent", "get_captioner_model",
    "get_punt_restorer_model", "get_caption_rewriter_model", "get_vad_model",
    "get_enhancer_model", "get_speaker_encoder", "get_speed_controller",
    "get_embeddings_model", "get_turn_detector_model",
]


@pytest.mark.parametrize("owner", [Pipeline, DefaultPipeline])
@pytest.mark.parametrize("name", ["clone", *PIPELINE_GETTERS])
def test_pipeline_methods(owner: type, name: str) -> None:
    assert_signature(owner, name, f"def {name}(self)")
    assert not inspect.iscoroutinefunction(raw_function(owner, name))


def test_default_pipeline_init_signature() -> None:
    assert_signature(
        DefaultPipeline, "__init__",
        "def __init__(self, asr: ASR, llm_agent: Agent, tts: TTS, "
        "default_response: str = \"Sorry, I didn't catch that. Could you please say it "
        "again?\", use_streaming_tts: bool = True, captioner: Optional[Captioner] = None, "
        "punt_restorer_model: Optional[PuntRestorer] = None, "
        "caption_rewriter: Optional[Rewriter | BaseChatModel] = None, "
        "vad: Optional[VAD] = None, speech_enhancer: Optional[SpeechEnhancer] = None, "
        "speaker_encoder: Optional[SpeakerEncoder] = None, "
        "speech_speed_controller: Optional[SpeechSpeedController] = None, "
        "embeddings: Optional[Embeddings] = None, "
        "turn_detector: Optional[TurnDetector] = None)",
        allow_extra_kwonly=True,  # wake_word
    )


def test_default_pipeline_setters_signatures() -> None:
    assert_signature(DefaultPipeline, "set_tts_model",
                     "def set_tts_model(self, model_type: str, config: dict) -> None")
    assert_signature(DefaultPipeline, "set_llm_model",
                     "def set_llm_model(self, model: str, base_url: str = '', "
                     "api_key: str = '', extra_body: dict | None = None) -> None")


# The contract's "Class Fields" list: name -> (init_key, clone, default)
CONTRACT_FIELDS: dict[str, tuple[str, bool, Any]] = {
    "asr_model": ("asr", True, dataclasses.MISSING),
    "llm_agent": ("llm_agent", True, dataclasses.MISSING),
    "tts_model": ("tts", True, dataclasses.MISSING),
    "default_response": ("default_response", False, DEFAULT_RESPONSE),
    "use_streaming_tts": ("use_streaming_tts", False, True),
    "captioner_model": ("captioner", False, None),
    "punt_restorer_model": ("punt_restorer_model", False, None),
    "caption_rewriter": ("caption_rewriter", False, None),
    "vad_model": ("vad", True, None),
    "enhancer_model": ("speech_enhancer", True, None),
    "speaker_encoder": ("speaker_encoder", False, None),
    "embeddings_model": ("embeddings", False, None),
    "turn_detector_model": ("turn_detector", True, None),
}


@pytest.mark.parametrize("name", list(CONTRACT_FIELDS))
def test_default_pipeline_field_metadata(name: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(DefaultPipeline)}
    assert name in fields
    f = fields[name]
    init_key, clone, default = CONTRACT_FIELDS[name]
    assert f.metadata["init_key"] == init_key
    assert f.metadata["clone"] is clone
    assert f.default == default if default is not dataclasses.MISSING \
        else f.default is dataclasses.MISSING
    assert f.default_factory is dataclasses.MISSING


def test_default_pipeline_fields_are_in_contract_order() -> None:
    names = [f.name for f in dataclasses.fields(DefaultPipeline)]
    contract_order = [n for n in names if n in CONTRACT_FIELDS]
    assert contract_order == list(CONTRACT_FIELDS)


def test_default_pipeline_every_field_has_init_key_in_init() -> None:
    init_params = inspect.signature(DefaultPipeline.__init__).parameters
    for f in dataclasses.fields(DefaultPipeline):
        assert "init_key" in f.metadata, f.name
        assert f.metadata["init_key"] in init_params, f.name


# --------------------------------------------------------------------------- Service
SERVICE_INIT = (
    "def __init__(self, *, pipeline: Pipeline, service_config: dict[str, Any] | None = None, "
    "manager_classes: list[Type[Manager]] | None = None, _websocket: WebSocket | None = None, "
    "_session_id: str | None = None, "
    "_event_overrides: dict[Type[EventListenerMixin], EventOverrides] | None = None)"
)
SERVICE_SIGNATURES = {
    "unsubscribe_event": "def unsubscribe_event(self, *, event_listener_cls, event_type, "
                         "method_name: str | None = None) -> None",
    "subscribe_event": "def subscribe_event(self, *, event_listener_cls, event_type, "
                       "method_or_handler, priority: int = 0, enabled_if = None) -> None",
    "register_manager": "def register_manager(self, manager_cls: Type[Manager])",
    "unregister_manager": "def unregister_manager(self, manager_cls: Type[Manager])",
    "handle_message_loop": "async def handle_message_loop(self, "
                           "already_accepted: bool = False) -> None",
    "restore_conversation": "def restore_conversation(self, *, "
                            "messages: list[dict[str, Any]]) -> None",
    "send_session_attached": "async def send_session_attached(self) -> None",
    "stop": "async def stop(self) -> None",
    "clone": "def clone(self, new_websocket: WebSocket, *, session_id: str | None = None, "
             "service_config_overrides: dict[str, Any] | None = None) -> 'Service'",
}


@pytest.mark.parametrize("owner", [Service, DefaultService])
def test_service_init_signature(owner: type) -> None:
    assert_signature(owner, "__init__", SERVICE_INIT)


@pytest.mark.parametrize("owner", [Service, DefaultService])
@pytest.mark.parametrize("name", sorted(SERVICE_SIGNATURES))
def test_service_signatures(owner: type, name: str) -> None:
    assert_signature(owner, name, SERVICE_SIGNATURES[name])
    is_async = SERVICE_SIGNATURES[name].startswith("async ")
    assert inspect.iscoroutinefunction(raw_function(owner, name)) is is_async


def test_default_service_manager_classes_in_contract_order() -> None:
    expected = [
        ASRManager, LLMAgentContextManager, LLMAgentConsumptionManager, DirectAudioManager,
        TTSManager, TTSPlaybackManager, CaptionerManager, RetrievalManager, TurnTakingManager,
        LatencyManager, VADManager, EnhancerManager, SpeakerManager, EmbeddingsManager,
        RecordingManager, TurnDetectorManager,
    ]
    assert [c.__name__ for c in DefaultService.MANAGER_CLASSES] == [
        "ASRManager", "LLMAgentContextManager", "LLMAgentConsumptionManager",
        "DirectAudioManager", "TTSManager", "TTSPlaybackManager", "CaptionerManager",
        "RetrievalManager", "TurnTakingManager", "LatencyManager", "VADManager",
        "EnhancerManager", "SpeakerManager", "EmbeddingsManager", "RecordingManager",
        "TurnDetectorManager",
    ]
    assert expected == DefaultService.MANAGER_CLASSES
    assert all(issubclass(c, Manager) for c in expected)


# --------------------------------------------------------------------------- events
def test_base_event_fields() -> None:
    fields = {f.name: f for f in dataclasses.fields(BaseEvent)}
    assert fields["session_id"].init is True
    assert fields["session_id"].default is dataclasses.MISSING
    assert fields["timestamp"].init is False
    assert "TYPE" not in fields
    assert BaseEvent.TYPE == "base"
    event = BaseEvent(session_id="s1")
    assert event.session_id == "s1"
    assert isinstance(event.timestamp, float)
    assert event.event_type() == "base"
    assert_signature(BaseEvent, "event_type", "def event_type(self) -> str")


def test_create_event_class_signature_and_defaults() -> None:
    assert actual_params(create_event_class) == parse_contract_signature(
        "def create_event_class(*, name: str, fields: dict[str, Any] | None = None, "
        "type_name: str | None = None) -> Type[BaseEvent]")
    custom = create_event_class(name="CustomEvent", fields={"text": ""})
    assert issubclass(custom, BaseEvent)
    assert dataclasses.is_dataclass(custom)
    assert custom.__name__ == "CustomEvent"
    assert custom.TYPE == "customevent"
    event = custom(session_id="s")
    assert event.text == ""
    assert event.event_type() == "customevent"
    named = create_event_class(name="Other", type_name="x.other")
    assert named.TYPE == "x.other"


def test_manager_event_handler_signature() -> None:
    assert isinstance(inspect.getattr_static(Manager, "event_handler"), staticmethod)
    assert_signature(
        Manager, "event_handler",
        "def event_handler(event_type: Type[BaseEvent], *, priority: int = 0, "
        "enabled_if: Callable[['EventListenerMixin'], bool] | None = None)")


# --------------------------------------------------------------------------- EventBus
EVENT_BUS_SIGNATURES = {
    "__init__": "def __init__(self, enable_history: bool = False, max_history: int = 1000)",
    "subscribe": "def subscribe(self, event_class, handler, priority: int = 0) -> None",
    "unsubscribe": "def unsubscribe(self, event_class, handler) -> bool",
    "publish": "async def publish(self, event: BaseEvent, "
               "wait_for_completion: bool = False) -> bool",
    "get_history": "def get_history(self, event_type: Optional[str] = None, "
                   "session_id: Optional[str] = None) -> List[BaseEvent]",
    "get_stats": "def get_stats(self) -> Dict[str, Any]",
    "clear_history": "def clear_history(self) -> None",
    "reset_error_tracking": "def reset_error_tracking(self) -> None",
    "shutdown": "async def shutdown(self) -> None",
}


@pytest.mark.parametrize("name", sorted(EVENT_BUS_SIGNATURES))
def test_event_bus_signatures(name: str) -> None:
    assert_signature(EventBus, name, EVENT_BUS_SIGNATURES[name])
    is_async = EVENT_BUS_SIGNATURES[name].startswith("async ")
    assert inspect.iscoroutinefunction(raw_function(EventBus, name)) is is_async


def test_event_bus_constants() -> None:
    assert EventBus.MAX_ERROR_EVENT_DEPTH == 3
    assert EventBus.ERROR_EVENT_COOLDOWN == 1.0
    assert isinstance(EventBus.ERROR_EVENT_COOLDOWN, float)
    assert EventBus.ERROR_EVENT_RATE_LIMIT == 10


def test_contract_parser_sanity() -> None:
    """The helper itself: kinds and defaults come out as written."""
    parsed = parse_contract_signature("def f(self, a, b: int = 2, *, c, d: str = 'x')")
    assert parsed == [
        ("self", _KIND["arg"], _NO_DEFAULT),
        ("a", _KIND["arg"], _NO_DEFAULT),
        ("b", _KIND["arg"], 2),
        ("c", _KIND["kwonly"], _NO_DEFAULT),
        ("d", _KIND["kwonly"], "x"),
    ]
