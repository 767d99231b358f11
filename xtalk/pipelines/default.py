"""The standard model bundle of an Xtalk session."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    UnsupportedFeatureError,
    WakeWordDetector,
)
from xtalk.pipelines.interfaces import Pipeline

DEFAULT_RESPONSE = "Sorry, I didn't catch that. Could you please say it again?"


def _slot(init_key: str, clone: bool, **kwargs: Any) -> Any:
    return field(metadata={"init_key": init_key, "clone": clone}, **kwargs)


@dataclass(init=False)
class DefaultPipeline(Pipeline):
    """Store the standard Xtalk model bundle for a session.

    Subclasses add slots as dataclass fields with an ``init_key`` (and ``clone``) metadata
    entry; :meth:`xtalk.api.Xtalk.create_pipeline_from_config` resolves them from config.
    """

    asr_model: ASR = _slot("asr", True)
    llm_agent: Agent = _slot("llm_agent", True)
    tts_model: TTS = _slot("tts", True)
    default_response: str = _slot("default_response", False, default=DEFAULT_RESPONSE)
    use_streaming_tts: bool = _slot("use_streaming_tts", False, default=True)
    captioner_model: Captioner | None = _slot("captioner", False, default=None)
    punt_restorer_model: PuntRestorer | None = _slot("punt_restorer_model", False, default=None)
    caption_rewriter: Rewriter | None = _slot("caption_rewriter", False, default=None)
    vad_model: VAD | None = _slot("vad", True, default=None)
    enhancer_model: SpeechEnhancer | None = _slot("speech_enhancer", True, default=None)
    speaker_encoder: SpeakerEncoder | None = _slot("speaker_encoder", False, default=None)
    speech_speed_controller: SpeechSpeedController | None = _slot(
        "speech_speed_controller", False, default=None
    )
    embeddings_model: Embeddings | None = _slot("embeddings", False, default=None)
    turn_detector_model: TurnDetector | None = _slot("turn_detector", True, default=None)
    wake_word_model: WakeWordDetector | None = _slot("wake_word", True, default=None)

    def __init__(
        self,
        asr: ASR,
        llm_agent: Agent,
        tts: TTS,
        default_response: str = DEFAULT_RESPONSE,
        use_streaming_tts: bool = True,
        captioner: Captioner | None = None,
        punt_restorer_model: PuntRestorer | None = None,
        caption_rewriter: Rewriter | Any | None = None,
        vad: VAD | None = None,
        speech_enhancer: SpeechEnhancer | None = None,
        speaker_encoder: SpeakerEncoder | None = None,
        speech_speed_controller: SpeechSpeedController | None = None,
        embeddings: Embeddings | None = None,
        turn_detector: TurnDetector | None = None,
        *,
        wake_word: WakeWordDetector | None = None,
    ) -> None:
        self.asr_model = asr
        self.llm_agent = llm_agent
        self.tts_model = tts
        self.default_response = default_response
        self.use_streaming_tts = use_streaming_tts
        self.captioner_model = captioner
        self.punt_restorer_model = punt_restorer_model
        self.caption_rewriter = _as_rewriter(caption_rewriter)
        self.vad_model = vad
        self.enhancer_model = speech_enhancer
        self.speaker_encoder = speaker_encoder
        self.speech_speed_controller = speech_speed_controller
        self.embeddings_model = embeddings
        self.turn_detector_model = turn_detector
        self.wake_word_model = wake_word

    def clone(self) -> DefaultPipeline:
        """Clone per field metadata: ``clone=True`` fields get their own ``clone()``,
        the rest are shared by reference."""
        return super().clone()  # type: ignore[return-value]

    def get_asr_model(self) -> ASR | None:
        return self.asr_model

    def get_tts_model(self) -> TTS | None:
        return self.tts_model

    def get_agent(self) -> Agent | None:
        return self.llm_agent

    def get_captioner_model(self) -> Captioner | None:
        return self.captioner_model

    def get_punt_restorer_model(self) -> PuntRestorer | None:
        return self.punt_restorer_model

    def get_caption_rewriter_model(self) -> Rewriter | None:
        return self.caption_rewriter

    def get_vad_model(self) -> VAD | None:
        return self.vad_model

    def get_enhancer_model(self) -> SpeechEnhancer | None:
        return self.enhancer_model

    def get_speaker_encoder(self) -> SpeakerEncoder | None:
        return self.speaker_encoder

    def get_speed_controller(self) -> SpeechSpeedController | None:
        return self.speech_speed_controller

    def get_embeddings_model(self) -> Embeddings | None:
        return self.embeddings_model

    def get_turn_detector_model(self) -> TurnDetector | None:
        return self.turn_detector_model

    def get_wake_word_model(self) -> WakeWordDetector | None:
        return self.wake_word_model

    def set_tts_model(self, model_type: str, config: dict) -> None:
        """Switch the active TTS model at run time.

        Args:
            model_type: A TTS class name found through the ``tts`` slot of the model
                registry (e.g. ``"Piper"``, ``"IndexTTS"``, ``"IndexTTS2"``).
            config: Keyword arguments for the new model's constructor.

        Raises:
            ValueError: If ``model_type`` is not a known TTS or ``config`` does not fit it.
        """
        from xtalk.registry import ConfigError, build_model

        try:
            model = build_model("tts", {"type": model_type, "params": dict(config or {})})
        except ConfigError as exc:
            raise ValueError(str(exc)) from exc
        if not isinstance(model, TTS):
            raise ValueError(f"{model_type!r} is not a TTS model")
        self.tts_model = model

    def set_llm_model(
        self,
        model: str,
        base_url: str = "",
        api_key: str = "",
        extra_body: dict | None = None,
    ) -> None:
        """Replace the agent's LLM with a ``ChatOpenAI`` model.

        Args:
            model: Model name passed to ``ChatOpenAI``.
            base_url: OpenAI-compatible API base URL (empty: the SDK default /
                ``OPENAI_BASE_URL``).
            api_key: API key; falls back to ``OPENAI_API_KEY`` when empty.
            extra_body: Extra request payload fields.

        Raises:
            UnsupportedFeatureError: If the agent cannot switch language models.
        """
        setter = getattr(self.llm_agent, "set_chat_model", None)
        if setter is None:
            raise UnsupportedFeatureError(
                f"{type(self.llm_agent).__name__} cannot switch language models"
            )
        from xtalk.models.agents.chat_openai import make_chat_openai

        setter(make_chat_openai(model=model, base_url=base_url, api_key=api_key,
                                extra_body=extra_body))


def _as_rewriter(value: Any) -> Rewriter | None:
    """Wrap a LangChain chat model given as ``caption_rewriter`` into a :class:`Rewriter`."""
    if value is None or isinstance(value, Rewriter):
        return value
    if hasattr(value, "invoke"):
        from xtalk.models.rewriters.chat_model import ChatModelRewriter

        return ChatModelRewriter(value)
    raise TypeError(f"caption_rewriter must be a Rewriter or a chat model, got {value!r}")
