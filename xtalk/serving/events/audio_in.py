"""Audio in: input frames at each stage of the input chain, voice activity and onsets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

import numpy as np

from xtalk.serving.events import BaseEvent


# --------------------------------------------------------------------------- audio in
@dataclass
class InputFrame(BaseEvent):
    """A block of canonical input audio (PCM16 mono 16 kHz) at one stage of the input chain.

    ``start_sample`` is the position of the first sample in the session's input stream;
    ``received_time`` is when it arrived (monotonic).
    """

    pcm: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    start_sample: int = 0
    received_time: float = 0.0
    source: str = "websocket"
    TYPE: ClassVar[str] = "audio.frame"  # never published: the stages below are

    def staged(self, stage: type[_Frame], pcm: np.ndarray) -> _Frame:
        """This block at the next ``stage`` of the chain, now holding ``pcm``."""
        return stage(session_id=self.session_id, pcm=pcm, start_sample=self.start_sample,
                     received_time=self.received_time, source=self.source)


_Frame = TypeVar("_Frame", bound=InputFrame)


@dataclass
class AudioFrameReceived(InputFrame):
    """A block of canonical input audio as the conversation hears it: PCM16 mono 16 kHz.

    ``start_sample`` is the position of the first sample in the session's input stream;
    ``received_time`` is when it arrived (monotonic). With a speech enhancer in the
    pipeline this is the enhanced frame (see :class:`AudioFrameCaptured`).
    """

    TYPE: ClassVar[str] = "audio.frame_received"


@dataclass
class AudioFrameCaptured(InputFrame):
    """A block of canonical input audio before the speech enhancer and the wake word
    (published only when the pipeline has either); the enhancer manager turns it into
    AudioFrameEnhanced / AudioFrameReceived, else the wake-word manager handles it."""

    TYPE: ClassVar[str] = "audio.frame_captured"


@dataclass
class AudioFrameEnhanced(InputFrame):
    """A block of canonical input audio after the speech enhancer, published only when the
    pipeline also has a wake word: the wake-word manager turns it into AudioFrameReceived."""

    TYPE: ClassVar[str] = "audio.frame_enhanced"


@dataclass
class WakeWordDetected(BaseEvent):
    """The wake phrase ended at ``end_sample`` (``score``: the detector's): the user's
    audio is heard from the next sample on (``wake_word_detected`` on the wire)."""

    phrase: str = ""
    score: float = 0.0
    end_sample: int = 0
    TYPE: ClassVar[str] = "audio.wake_word_detected"


@dataclass
class WakeWordAwaited(BaseEvent):
    """Nothing of the user's audio is heard until ``phrase`` (``wake_word_waiting`` on the
    wire): at the session's start, and when the follow-up window ran out (``reason``:
    ``"start"`` / ``"timeout"``)."""

    phrase: str = ""
    reason: str = "start"
    TYPE: ClassVar[str] = "audio.wake_word_awaited"


@dataclass
class DirectAudioSubmitted(BaseEvent):
    """Audio from a non-WebSocket source (desktop microphone, file) in any format.

    ``samples`` is int16 or float32 (range -1..1), shape ``(n,)`` or ``(n, channels)``.
    The DirectAudioManager converts it to the canonical format.
    """

    samples: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    sample_rate: int = 16000
    source: str = "direct"
    TYPE: ClassVar[str] = "audio.direct_submitted"


@dataclass
class RecordingSaved(BaseEvent):
    """The RecordingManager wrote the session's input audio to ``path``."""

    path: str = ""
    TYPE: ClassVar[str] = "audio.recording_saved"


# --------------------------------------------------------------------------- VAD
@dataclass
class SpeechStarted(BaseEvent):
    """Voice activity began at ``start_sample`` (``source`` is ``server`` or ``client``)."""

    start_sample: int = 0
    source: str = "server"
    TYPE: ClassVar[str] = "vad.speech_started"


@dataclass
class SpeechOnsetDetected(BaseEvent):
    """A frame at ``start_sample`` scored as speech, before the segmenter's
    ``min_speech_s`` confirmed it: speech may be starting. A playing reply pauses at once
    (barge-in one frame earlier); SpeechStarted or SpeechOnsetDismissed follows."""

    start_sample: int = 0
    TYPE: ClassVar[str] = "vad.speech_onset_detected"


@dataclass
class SpeechOnsetDismissed(BaseEvent):
    """The frames after a SpeechOnsetDetected were not speech (a click, a blip): nothing
    started."""

    TYPE: ClassVar[str] = "vad.speech_onset_dismissed"


@dataclass
class SpeechEnded(BaseEvent):
    """Voice activity ended at ``end_sample`` (followed by the minimum silence).

    ``end_time`` is the monotonic time at which the last speech sample arrived: the
    reference point for end-to-end latency. ``reason`` is e.g. ``silence`` or ``muted``.
    """

    end_sample: int = 0
    end_time: float = 0.0
    source: str = "server"
    reason: str = "silence"
    TYPE: ClassVar[str] = "vad.speech_ended"


@dataclass
class SpeechPaused(BaseEvent):
    """Silence began at ``pause_sample`` inside speech; the turn may be ending (the ASR
    starts its final decode speculatively)."""

    pause_sample: int = 0
    TYPE: ClassVar[str] = "vad.speech_paused"


@dataclass
class SpeechResumed(BaseEvent):
    """Speech came back before the silence was long enough to end the segment."""

    TYPE: ClassVar[str] = "vad.speech_resumed"


@dataclass
class ClientVADSignalled(BaseEvent):
    """The client's own VAD reported speech start (``kind="start"``) or end (``"end"``);
    placed on the input timeline by the VAD manager."""

    kind: str = "start"
    reason: str = ""
    TYPE: ClassVar[str] = "vad.client_signalled"


@dataclass
class SpeechLevelMeasured(BaseEvent):
    """Per-frame speech probability and level, for meters."""

    probability: float = 0.0
    rms: float = 0.0
    TYPE: ClassVar[str] = "vad.level"


__all__ = [name for name, obj in list(globals().items())
           if isinstance(obj, type) and issubclass(obj, BaseEvent) and obj is not BaseEvent]
