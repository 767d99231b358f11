"""Model interfaces: one small base class per capability.

Audio contracts:

* Input audio handed to ASR, VAD, enhancers, captioners and speaker encoders is PCM16 mono
  at 16 kHz (``numpy.int16`` arrays), the engine's canonical input format.
* Every TTS says its output rate in :attr:`TTS.sample_rate` and returns PCM16 mono at that
  rate; the output edge (WebSocket gateway, local player) resamples once.

Cloning: ``clone()`` returns the object a new session uses. Stateless models return
``self``; models with per-session state (VAD state, voice/speed choice, conversation tools)
return a new object that **shares** the read-only weights of the original.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

INPUT_SAMPLE_RATE = 16000


class UnsupportedFeatureError(RuntimeError):
    """A model was asked for something it cannot do (e.g. an emotion the voice lacks)."""


class LLMEndpointError(RuntimeError):
    """A request to the language model failed (the message never contains the API key)."""


class Clonable:
    """Default cloning: the model is stateless and shared by every session."""

    def clone(self) -> Any:
        return self


# --------------------------------------------------------------------------- ASR
@dataclass
class Transcription:
    """Result of a recognition pass.

    ``last_word_probability``: how sure the recogniser was of the transcript's last word
    (the lowest probability among its tokens, its punctuation included), when it says.
    """

    text: str
    confidence: float = 1.0
    language: str | None = None
    no_speech_prob: float = 0.0
    last_word_probability: float | None = None


class ASR(Clonable, ABC):
    """Speech recognition on 16 kHz PCM16 mono audio (called from a worker thread)."""

    sample_rate: int = INPUT_SAMPLE_RATE

    @abstractmethod
    def transcribe(self, audio: np.ndarray) -> Transcription:
        """Recognise a whole utterance."""

    def transcribe_partial(self, audio: np.ndarray) -> Transcription:
        """Recognise the utterance so far (interim result); defaults to :meth:`transcribe`."""
        return self.transcribe(audio)


# --------------------------------------------------------------------------- VAD
class VAD(Clonable, ABC):
    """Frame-wise voice activity detection with per-session state."""

    sample_rate: int = INPUT_SAMPLE_RATE
    frame_samples: int = 512

    @abstractmethod
    def speech_probability(self, frame: np.ndarray) -> float:
        """Probability that ``frame`` (exactly ``frame_samples`` samples) is speech."""

    def reset(self) -> None:
        """Forget the stream state (new session or after a discontinuity)."""


# --------------------------------------------------------------------------- TTS
class TTS(Clonable, ABC):
    """Text to speech. ``synthesize`` is called from a worker thread."""

    sample_rate: int = 24000

    @abstractmethod
    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Yield PCM16 mono chunks at :attr:`sample_rate` for ``text``."""

    @property
    def voices(self) -> list[str]:
        """Names of the selectable voices."""
        return []

    @property
    def voice(self) -> str | None:
        return None

    def set_voice(self, name: str) -> None:
        raise UnsupportedFeatureError(f"{type(self).__name__} has no selectable voices")

    def set_speed(self, speed: float) -> None:
        raise UnsupportedFeatureError(f"{type(self).__name__} cannot change speed")

    @property
    def emotions(self) -> list[str]:
        return []

    def set_emotion(self, name: str, vector: Sequence[float] | None = None) -> None:
        raise UnsupportedFeatureError(f"{type(self).__name__} does not support emotions")


# --------------------------------------------------------------------------- agent
@dataclass
class TextDelta:
    """A piece of reply text."""

    text: str


@dataclass
class ToolInvocation:
    """The agent called a tool (already executed when yielded)."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    result: str | None = None


@dataclass
class ToolCallPending:
    """The agent is about to run a tool: it runs when the consumer asks for the next item
    (so a consumer can hold a tool call back, e.g. in a speculative reply)."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)


AgentOutput = TextDelta | ToolCallPending | ToolInvocation


#: ``handler(action, args)`` (sync or async): a tool asks the session for an action
#: (``"set_voice"``, ``"set_speed"``); returns an error text for the model, or ``None``.
ToolActionHandler = Callable[[str, dict[str, Any]], Any]
#: ``await search(query)``: passages of the session's documents.
Retriever = Callable[[str], Awaitable[list[str]]]


class MemoryBook(ABC):
    """What the assistant remembers about the session's user, across conversations."""

    @abstractmethod
    async def remember(self, fact: str) -> str:
        """Keep ``fact``; returns it as stored. Raises ValueError for an unusable fact."""

    @abstractmethod
    async def forget(self, about: str) -> list[str]:
        """Forget the facts ``about`` describes; returns them."""

    @abstractmethod
    async def recall(self) -> list[str]:
        """Every remembered fact, oldest first."""


class Agent(ABC):
    """Generates replies from a conversation.

    The conversation itself is owned by the session (the context manager); an agent is
    handed the messages (``{"role": "system"|"user"|"assistant", "content": str}``) and
    streams its reply. Cancellation is by cancelling the consuming task. The hooks below
    are optional: an agent that has no use for them ignores them.
    """

    #: The agent's own system prompt, if it has one: the engine then uses it instead of its
    #: default and still adds its context (retrieved excerpts) to it.
    system_prompt: str | None = None

    @abstractmethod
    def astream(self, messages: list[dict[str, Any]]) -> AsyncIterator[AgentOutput]:
        """Stream the reply to ``messages``."""

    def add_tools(self, tools: Sequence[Any]) -> None:
        """Make LangChain tools available to the agent."""
        raise UnsupportedFeatureError(f"{type(self).__name__} does not use tools")

    @property
    def tools(self) -> list[Any]:
        return []

    def set_retriever(self, search: Retriever | None) -> None:  # noqa: B027 (optional)
        """The session's document search, for a search tool of the agent's own."""

    def set_tool_action_handler(  # noqa: B027 (optional)
            self, handler: ToolActionHandler | None) -> None:
        """Where the agent's tools send the actions they ask of the session."""

    def set_memory(self, book: MemoryBook | None) -> None:  # noqa: B027 (optional)
        """The user's remembered facts, for remember / forget tools of the agent's own."""

    async def aresolve(self) -> bool:
        """Prepare the connection to the model before the first reply (called when a
        session starts); ``True`` when a model is reachable."""
        return True

    def describe_endpoint(self) -> str:
        """Which model the agent talks to, for people (never a secret)."""
        return type(self).__name__

    def clone(self) -> Agent:
        return self


# --------------------------------------------------------------------------- optional slots
class Captioner(Clonable, ABC):
    """Describes non-speech audio (applause, music...)."""

    @abstractmethod
    def caption(self, audio: np.ndarray) -> str:
        """A short caption of ``audio`` (16 kHz PCM16), empty when nothing notable."""


class PuntRestorer(Clonable, ABC):
    """Restores punctuation and casing of a transcript."""

    @abstractmethod
    def restore(self, text: str) -> str: ...


class Rewriter(Clonable, ABC):
    """Rewrites a caption or transcript (e.g. with a chat model)."""

    @abstractmethod
    def rewrite(self, text: str) -> str: ...


class SpeechEnhancer(Clonable, ABC):
    """Denoises / cancels echo on input frames (stateful per session).

    The reference methods tell an echo canceller what is being played (the far end); an
    enhancer without one ignores them.
    """

    @abstractmethod
    def enhance(self, frame: np.ndarray) -> np.ndarray:
        """Return the enhanced frame (same length, PCM16 16 kHz)."""

    def set_reference(self, pcm: np.ndarray, sample_rate: int) -> None:
        """A chunk of reply audio as it was sent to the player."""

    def note_played(self, pcm: np.ndarray, sample_rate: int,
                    start: float | None = None) -> None:
        """Audio a local speaker played from ``start`` (monotonic seconds; ``None``: now):
        more exact than the chunks as sent."""

    def pause_reference(self, paused: bool) -> None:
        """The reply was paused (``True``) or resumed."""

    def clear_reference(self) -> None:
        """The reply was stopped: what was queued for it will not be played."""


class SpeakerEncoder(Clonable, ABC):
    """Maps speech to a speaker embedding."""

    @abstractmethod
    def embed(self, audio: np.ndarray) -> np.ndarray: ...


class SpeechSpeedController(Clonable, ABC):
    """Changes the tempo of synthesised audio without changing pitch."""

    @abstractmethod
    def apply(self, pcm: np.ndarray, sample_rate: int, speed: float) -> np.ndarray: ...


@dataclass
class TurnVerdict:
    """Whether a pause ends the user's turn; if not, how much more silence ends it anyway.

    ``probability`` is the detector's estimate that the user is done, when it has one.
    """

    is_end: bool
    wait_s: float = 0.0
    probability: float | None = None


class TurnDetector(Clonable, ABC):
    """Decides whether a pause in speech ends the user's turn (called from a worker thread).

    Detectors that judge the voice itself set :attr:`uses_audio`; they are then handed the
    turn's audio so far (16 kHz PCM16, the pause included) with every question. A detector
    whose ``decide`` takes ``last_word_probability`` is also told how sure the recogniser
    was of the transcript's last word, when it knows (``None`` otherwise).
    """

    uses_audio: bool = False

    @abstractmethod
    def decide(self, text: str, silence_s: float, audio: np.ndarray | None = None
               ) -> TurnVerdict:
        """Judge a pause of ``silence_s`` after ``text`` (the transcript so far)."""

    def voice_probability(self, audio: np.ndarray) -> float | None:
        """Probability that the voice in ``audio`` sounds finished, for a detector whose
        verdict rests on one (``None``: it has none). A caller may compute it while the
        transcript is still being recognised and hand it to a ``decide`` that takes
        ``voice_probability``, for the same audio."""
        return None


class WakeWordDetector(Clonable, ABC):
    """Listens for one wake phrase in a stream of 16 kHz PCM16 mono frames (called from a
    worker thread, one stream per instance: :meth:`clone` gives a session its own state).

    :attr:`phrase` is what the user says (``"Hey Jarvis"``); a frame whose score reaches
    :attr:`threshold` contains the end of the phrase.
    """

    phrase: str = ""
    threshold: float = 0.5

    @abstractmethod
    def process(self, frame: np.ndarray) -> float:
        """Feed the next frame; the highest score (0..1) the frame produced."""

    def reset(self) -> None:
        """Forget the audio heard so far (after a detection, or a gap in the stream)."""


try:  # Embeddings follow LangChain's interface when langchain-core is available.
    from langchain_core.embeddings import Embeddings
except ModuleNotFoundError:  # pragma: no cover - langchain-core is a core dependency

    class Embeddings(ABC):  # type: ignore[no-redef]
        @abstractmethod
        def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

        @abstractmethod
        def embed_query(self, text: str) -> list[float]: ...


__all__ = [
    "ASR", "INPUT_SAMPLE_RATE", "TTS", "VAD", "Agent", "AgentOutput", "Captioner",
    "Embeddings", "MemoryBook", "PuntRestorer", "Retriever", "Rewriter", "SpeakerEncoder",
    "SpeechEnhancer", "SpeechSpeedController", "TextDelta", "ToolActionHandler",
    "ToolCallPending", "ToolInvocation", "Transcription", "TurnDetector", "TurnVerdict",
    "UnsupportedFeatureError", "WakeWordDetector",
]
