"""The conversation's phase as the desktop app shows it: an enum and a pure transition.

:func:`step` takes the host's :class:`HostState` and one :class:`Signal` (what the session
said or the user did) and returns the next state; :func:`shown` says what the user sees.
Nothing here does I/O, so every transition is tested on its own
(``tests/app/engine/test_phase.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum, StrEnum


class Phase(Enum):
    """Where the conversation is."""

    LOADING = "loading"
    IDLE = "idle"          # shown as "listening" (or "muted")
    HEARING = "hearing"
    THINKING = "thinking"
    SPEAKING = "speaking"
    ERROR = "error"


class Shown(StrEnum):
    """The state shown to the user."""

    LOADING = "loading"
    LISTENING = "listening"
    HEARING = "hearing"
    THINKING = "thinking"
    SPEAKING = "speaking"
    MUTED = "muted"
    WAITING = "waiting"  # for the wake phrase
    ERROR = "error"


class Signal(Enum):
    """What moves the phase."""

    LOADING = "loading"                     # the models are loading
    FAILED = "failed"                       # the engine or the conversation failed
    OPENED = "opened"                       # a conversation is open
    SPEECH_STARTED = "speech_started"       # the microphone's VAD heard speech
    CLIENT_SPEECH_STARTED = "client_speech_started"  # push-to-talk / a client VAD
    TRANSCRIPT_PARTIAL = "update_asr"
    TRANSCRIPT_FINAL = "finish_asr"
    UTTERANCE_DISMISSED = "dismissed"       # noise, or a backchannel under the reply
    REPLY_STARTED = "start_tts"
    REPLY_RESUMED = "resume_tts"
    REPLY_STOPPED = "stop_tts"
    REPLY_FINISHED = "tts_finished"         # the engine sent the reply's last chunk
    AUDIO_RECEIVED = "audio"
    PLAYBACK_DRAINED = "drained"            # the speaker played everything it got
    TEXT_SENT = "text_sent"
    PUSH_TO_TALK_PRESSED = "ptt_pressed"
    PUSH_TO_TALK_RELEASED = "ptt_released"
    MUTED = "muted"
    UNMUTED = "unmuted"
    WAKE_AWAITED = "wake_word_waiting"      # nothing is heard until the phrase (detail)
    WAKE_DETECTED = "wake_word_detected"


#: Protocol messages that move the phase, by action.
MESSAGE_SIGNALS: dict[str, Signal] = {
    "update_asr": Signal.TRANSCRIPT_PARTIAL,
    "finish_asr": Signal.TRANSCRIPT_FINAL,
    "invalid_asr_result": Signal.UTTERANCE_DISMISSED,
    "backchannel": Signal.UTTERANCE_DISMISSED,
    "start_tts": Signal.REPLY_STARTED,
    "resume_tts": Signal.REPLY_RESUMED,
    "stop_tts": Signal.REPLY_STOPPED,
    "tts_finished": Signal.REPLY_FINISHED,
    "wake_word_waiting": Signal.WAKE_AWAITED,
    "wake_word_detected": Signal.WAKE_DETECTED,
}


@dataclass(frozen=True)
class HostState:
    """The phase and what it depends on.

    ``reply_turn`` is the reply last started; ``tts_finished`` whether the engine sent all
    of it; ``awaiting_drain`` whether a local speaker (``playback_attached``) still plays
    it; ``wake_phrase`` what the engine waits for before it hears anything (``None``: it
    hears everything).
    """

    phase: Phase = Phase.LOADING
    detail: str = ""
    muted: bool = False
    push_to_talk: bool = False
    playback_attached: bool = False
    reply_turn: int | None = None
    tts_finished: bool = True
    awaiting_drain: bool = False
    wake_phrase: str | None = None

    @property
    def reply_audible(self) -> bool:
        return self.reply_turn is not None and (not self.tts_finished or self.awaiting_drain)


def _to(state: HostState, phase: Phase, detail: str = "", **changes: object) -> HostState:
    return replace(state, phase=phase, detail=detail, **changes)  # type: ignore[arg-type]


def step(state: HostState, signal: Signal, *, turn_id: int | None = None,
         detail: str = "") -> HostState:
    """The state after ``signal`` (``turn_id``: the reply it is about, if any)."""
    phase = state.phase
    match signal:
        case Signal.LOADING:  # a new engine: it says again whether it waits for a phrase
            return _to(state, Phase.LOADING, detail, wake_phrase=None)
        case Signal.FAILED:
            return _to(state, Phase.ERROR, detail)
        case Signal.OPENED:
            # (a wake_word_waiting may already have come with the session's first messages)
            return _to(state, Phase.IDLE, push_to_talk=False, reply_turn=None,
                       tts_finished=True, awaiting_drain=False)
        case Signal.WAKE_AWAITED:
            return replace(state, wake_phrase=detail or "the wake word")
        case Signal.WAKE_DETECTED:
            return replace(state, wake_phrase=None)
        case Signal.SPEECH_STARTED:
            return state if state.muted else _to(state, Phase.HEARING)
        case Signal.CLIENT_SPEECH_STARTED:
            return _to(state, Phase.HEARING)
        case Signal.TRANSCRIPT_PARTIAL:
            if phase in (Phase.IDLE, Phase.HEARING, Phase.SPEAKING):
                return _to(state, Phase.HEARING)
            return state
        case Signal.TRANSCRIPT_FINAL | Signal.TEXT_SENT:
            return _to(state, Phase.THINKING)
        case Signal.UTTERANCE_DISMISSED:
            if state.reply_audible:
                return _to(state, Phase.SPEAKING)
            return state if state.push_to_talk else _to(state, Phase.IDLE)
        case Signal.REPLY_STARTED:
            return _to(state, Phase.SPEAKING, reply_turn=turn_id, tts_finished=False,
                       awaiting_drain=False)
        case Signal.REPLY_RESUMED:
            return _to(state, Phase.SPEAKING)
        case Signal.REPLY_STOPPED:
            return replace(state, awaiting_drain=False)
        case Signal.REPLY_FINISHED:
            return _reply_finished(state, turn_id)
        case Signal.AUDIO_RECEIVED:
            if state.playback_attached:
                state = replace(state, awaiting_drain=True)
            return state if phase is Phase.HEARING else _to(state, Phase.SPEAKING)
        case Signal.PLAYBACK_DRAINED:
            if not state.awaiting_drain:
                return state
            state = replace(state, awaiting_drain=False)
            if state.tts_finished and phase is Phase.SPEAKING:
                return _to(state, Phase.IDLE)
            return state
        case Signal.PUSH_TO_TALK_PRESSED:
            return _to(state, Phase.HEARING, "push-to-talk", push_to_talk=True)
        case Signal.PUSH_TO_TALK_RELEASED:
            return replace(state, push_to_talk=False)
        case Signal.MUTED:
            return replace(state, muted=True, push_to_talk=False)
        case Signal.UNMUTED:
            return replace(state, muted=False)
    raise ValueError(f"unknown signal {signal!r}")  # pragma: no cover - exhaustive


def _reply_finished(state: HostState, turn_id: int | None) -> HostState:
    state = replace(state, tts_finished=True)
    if turn_id == state.reply_turn and state.playback_attached and state.awaiting_drain:
        return state  # back to listening when the speaker has played it all
    state = replace(state, awaiting_drain=False)
    if state.phase is Phase.SPEAKING or (state.phase is Phase.THINKING
                                         and turn_id == state.reply_turn):
        return _to(state, Phase.IDLE)
    return state


def ends_turn_when_muted(state: HostState) -> bool:
    """Muting now ends the user's turn (what was said is answered)."""
    return state.phase is Phase.HEARING or state.push_to_talk


def shown(state: HostState) -> tuple[Shown, str]:
    """What the user sees: the state and its detail."""
    if state.phase in (Phase.IDLE, Phase.HEARING) and state.muted:
        return Shown.MUTED, "microphone muted"
    if state.phase is Phase.IDLE and state.wake_phrase is not None:
        return Shown.WAITING, f"Say “{state.wake_phrase}”"
    if state.phase is Phase.IDLE:
        return Shown.LISTENING, state.detail
    return Shown(state.phase.value), state.detail


__all__ = ["MESSAGE_SIGNALS", "HostState", "Phase", "Shown", "Signal",
           "ends_turn_when_muted", "shown", "step"]
