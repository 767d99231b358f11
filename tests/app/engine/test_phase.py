"""The desktop app's phase machine (app/engine/phase.py): each transition on its own."""

from __future__ import annotations

import pytest
from paths import ROOT

from app.engine.phase import (
    MESSAGE_SIGNALS,
    HostState,
    Phase,
    Shown,
    Signal,
    ends_turn_when_muted,
    shown,
    step,
)

IDLE = step(HostState(), Signal.OPENED)


def run(state: HostState, *signals: Signal | tuple[Signal, int]) -> HostState:
    for item in signals:
        signal, turn = item if isinstance(item, tuple) else (item, None)
        state = step(state, signal, turn_id=turn)
    return state


def test_loading_then_open_shows_listening() -> None:
    state = step(HostState(), Signal.LOADING, detail="loading models")
    assert shown(state) == (Shown.LOADING, "loading models")
    assert shown(step(state, Signal.OPENED)) == (Shown.LISTENING, "")


def test_a_spoken_turn_and_its_reply_without_a_local_speaker() -> None:
    state = run(IDLE, Signal.SPEECH_STARTED, Signal.TRANSCRIPT_PARTIAL)
    assert state.phase is Phase.HEARING
    state = run(state, Signal.TRANSCRIPT_FINAL)
    assert state.phase is Phase.THINKING
    state = run(state, (Signal.REPLY_STARTED, 3), Signal.AUDIO_RECEIVED)
    assert state.phase is Phase.SPEAKING and state.reply_turn == 3 and state.reply_audible
    state = run(state, (Signal.REPLY_FINISHED, 3))
    assert state.phase is Phase.IDLE and not state.reply_audible


def test_with_a_speaker_listening_returns_when_it_drained() -> None:
    state = run(HostState(phase=Phase.IDLE, playback_attached=True),
                (Signal.REPLY_STARTED, 1), Signal.AUDIO_RECEIVED, (Signal.REPLY_FINISHED, 1))
    assert state.phase is Phase.SPEAKING and state.awaiting_drain  # still playing
    state = run(state, Signal.PLAYBACK_DRAINED)
    assert state.phase is Phase.IDLE


def test_a_stopped_reply_does_not_wait_for_the_speaker() -> None:
    attached = HostState(phase=Phase.IDLE, playback_attached=True)
    state = run(attached, (Signal.REPLY_STARTED, 1), Signal.AUDIO_RECEIVED,
                Signal.REPLY_STOPPED, (Signal.REPLY_FINISHED, 1))
    assert state.phase is Phase.IDLE


def test_noise_under_a_reply_keeps_speaking_and_otherwise_listens() -> None:
    speaking = run(IDLE, (Signal.REPLY_STARTED, 1), Signal.SPEECH_STARTED)
    assert speaking.phase is Phase.HEARING
    assert step(speaking, Signal.UTTERANCE_DISMISSED).phase is Phase.SPEAKING
    heard = run(IDLE, Signal.SPEECH_STARTED, Signal.UTTERANCE_DISMISSED)
    assert heard.phase is Phase.IDLE


def test_push_to_talk_keeps_hearing_through_noise() -> None:
    state = run(IDLE, Signal.PUSH_TO_TALK_PRESSED)
    assert shown(state) == (Shown.HEARING, "push-to-talk")
    assert step(state, Signal.UTTERANCE_DISMISSED).phase is Phase.HEARING
    released = step(state, Signal.PUSH_TO_TALK_RELEASED)
    assert not released.push_to_talk and released.phase is Phase.HEARING


def test_muted_shows_muted_and_ignores_the_microphone_but_not_a_client() -> None:
    muted = step(IDLE, Signal.MUTED)
    assert shown(muted) == (Shown.MUTED, "microphone muted")
    assert step(muted, Signal.SPEECH_STARTED) == muted
    assert step(muted, Signal.CLIENT_SPEECH_STARTED).phase is Phase.HEARING
    thinking = run(muted, Signal.TEXT_SENT)
    assert shown(thinking)[0] is Shown.THINKING  # muted only hides listening / hearing
    assert shown(step(muted, Signal.UNMUTED))[0] is Shown.LISTENING


def test_muting_ends_a_turn_being_spoken() -> None:
    assert not ends_turn_when_muted(IDLE)
    assert ends_turn_when_muted(step(IDLE, Signal.SPEECH_STARTED))
    assert ends_turn_when_muted(step(IDLE, Signal.PUSH_TO_TALK_PRESSED))
    assert not step(step(IDLE, Signal.PUSH_TO_TALK_PRESSED), Signal.MUTED).push_to_talk


def test_a_partial_transcript_while_thinking_does_not_go_back_to_hearing() -> None:
    thinking = run(IDLE, Signal.TRANSCRIPT_FINAL)
    assert step(thinking, Signal.TRANSCRIPT_PARTIAL).phase is Phase.THINKING


def test_while_thinking_only_the_last_reply_finishing_returns_to_listening() -> None:
    thinking = run(IDLE, (Signal.REPLY_STARTED, 1), Signal.TRANSCRIPT_FINAL)
    assert step(thinking, Signal.REPLY_FINISHED, turn_id=7).phase is Phase.THINKING
    assert step(thinking, Signal.REPLY_FINISHED, turn_id=1).phase is Phase.IDLE


def test_failure_shows_the_error() -> None:
    assert shown(step(IDLE, Signal.FAILED, detail="it broke")) == (Shown.ERROR, "it broke")


@pytest.mark.parametrize("action", sorted(MESSAGE_SIGNALS))
def test_every_mapped_message_names_a_protocol_action(action: str) -> None:

    protocol = (ROOT / "docs" / "protocol.md").read_text()
    assert f"`{action}`" in protocol


def test_waiting_for_the_wake_word_is_shown_with_the_phrase() -> None:
    waiting = step(IDLE, Signal.WAKE_AWAITED, detail="Hey Jarvis")
    assert shown(waiting) == (Shown.WAITING, "Say “Hey Jarvis”")
    assert shown(step(waiting, Signal.MUTED)) == (Shown.MUTED, "microphone muted")
    heard = step(waiting, Signal.WAKE_DETECTED)
    assert shown(heard) == (Shown.LISTENING, "")
    # a reply in progress is shown as such; when it is over the gate may wait again
    speaking = run(heard, Signal.TRANSCRIPT_FINAL, (Signal.REPLY_STARTED, 1))
    assert shown(step(speaking, Signal.WAKE_AWAITED, detail="Hey Jarvis"))[0] is Shown.SPEAKING


def test_the_wake_phrase_survives_the_open_and_not_a_new_engine() -> None:
    loading = step(HostState(), Signal.LOADING)
    waiting = step(loading, Signal.WAKE_AWAITED, detail="Alexa")  # with the first messages
    assert shown(step(waiting, Signal.OPENED)) == (Shown.WAITING, "Say “Alexa”")
    assert step(step(waiting, Signal.OPENED), Signal.LOADING).wake_phrase is None
