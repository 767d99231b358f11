"""The standard manager stack, grouped the way a conversation flows:

``audio_in`` → ``recognition`` → ``turns`` → ``agent`` → ``speech_out``, plus ``metrics``.
"""

from xtalk.serving.managers.agent.consumption import LLMAgentConsumptionManager
from xtalk.serving.managers.agent.context import LLMAgentContextManager
from xtalk.serving.managers.agent.embeddings import EmbeddingsManager
from xtalk.serving.managers.agent.retrieval import RetrievalManager
from xtalk.serving.managers.audio_in.direct_audio import DirectAudioManager
from xtalk.serving.managers.audio_in.enhancer import EnhancerManager
from xtalk.serving.managers.audio_in.recording import RecordingManager
from xtalk.serving.managers.audio_in.vad import VADManager
from xtalk.serving.managers.audio_in.wake_word import WakeWordManager
from xtalk.serving.managers.metrics.latency import LatencyManager
from xtalk.serving.managers.recognition.asr import ASRManager
from xtalk.serving.managers.recognition.captioner import CaptionerManager
from xtalk.serving.managers.recognition.speaker import SpeakerManager
from xtalk.serving.managers.speech_out.playback import TTSPlaybackManager
from xtalk.serving.managers.speech_out.thinking_cue import ThinkingCueManager
from xtalk.serving.managers.speech_out.tts import TTSManager
from xtalk.serving.managers.turns.turn_detector import TurnDetectorManager
from xtalk.serving.managers.turns.turn_taking import TurnTakingManager

# The contract's order.
DEFAULT_MANAGER_CLASSES = [
    ASRManager,
    LLMAgentContextManager,
    LLMAgentConsumptionManager,
    DirectAudioManager,
    TTSManager,
    TTSPlaybackManager,
    CaptionerManager,
    RetrievalManager,
    TurnTakingManager,
    LatencyManager,
    VADManager,
    EnhancerManager,
    SpeakerManager,
    EmbeddingsManager,
    RecordingManager,
    TurnDetectorManager,
]

#: Managers beyond the documented stack (each switches itself off without its model).
EXTRA_MANAGER_CLASSES = [WakeWordManager, ThinkingCueManager]

__all__ = [cls.__name__ for cls in DEFAULT_MANAGER_CLASSES + EXTRA_MANAGER_CLASSES] + [
    "DEFAULT_MANAGER_CLASSES", "EXTRA_MANAGER_CLASSES"]
