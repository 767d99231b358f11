"""The wake word on the wire, over both transports, with deterministic signals: the tone
wake word (a 3 kHz tone stands for the phrase), tone-coded speech, the energy VAD.

Nothing before the wake phrase is recognised; a request may follow in the same breath or
after a pause; after a reply a follow-up window hears speech without the phrase, then the
gate waits again; barge-in during a reply needs no phrase."""

from __future__ import annotations

import numpy as np
from harness import Transport, make_config, silence, speech

from xtalk import Xtalk

RATE = 16000
FOLLOW_UP_S = 1.5
RULES = [{"pattern": "time", "reply": "It is noon."},
         {"pattern": "story", "reply": " ".join(["Once upon a time there was a robot."] * 8)}]


def wake_tone(seconds: float = 0.25) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (0.3 * 32767 * np.sin(2 * np.pi * 3000 * t)).astype(np.int16)


def xtalk_with_wake_word(**service) -> Xtalk:
    config = make_config(rules=RULES, service={"wake_word": {"follow_up_s": FOLLOW_UP_S},
                                               **service})
    config["wake_word"] = {"type": "ToneWakeWord", "params": {"phrase": "Hey Tone"}}
    return Xtalk.from_config(config)


async def _reply_heard(client, turn_id: int) -> None:
    await client.wait_for("tts_finished", turn_id=turn_id, timeout=10)
    await client.send_json({"action": "tts_playback_finished", "data": {"timestamp": 0}})


async def test_nothing_is_heard_before_the_wake_phrase(transport: Transport) -> None:
    client = await transport.open_session(xtalk_with_wake_word())
    waiting = await client.wait_for("wake_word_waiting")
    assert waiting.data == {"phrase": "Hey Tone", "reason": "start"}
    await client.send_audio(speech("what time is it"))
    await client.send_audio(silence(0.5))
    await client.quiet(0.3)
    assert client.count("update_asr") == client.count("finish_asr") == 0, client.dump()
    assert client.count("wake_word_detected") == 0


async def test_a_request_in_the_same_breath_is_answered(transport: Transport) -> None:
    client = await transport.open_session(xtalk_with_wake_word())
    await client.send_audio(np.concatenate([
        speech("what time is it"), wake_tone(), speech("what time is it", lead_s=0.05)]))
    detected = await client.wait_for("wake_word_detected")
    assert detected.data["phrase"] == "Hey Tone" and detected.data["score"] >= 0.5
    final = await client.wait_for("finish_asr", timeout=10)
    assert final.data["text"] == "what time is it"  # once: the first one was never heard
    assert final.index > detected.index
    reply = await client.wait_for("finish_resp", turn_id=final.turn_id, timeout=10)
    assert reply.data["text"] == "It is noon."
    assert client.count("finish_asr") == 1


async def test_the_follow_up_window_then_waiting_again(transport: Transport) -> None:
    client = await transport.open_session(xtalk_with_wake_word())
    await client.send_audio(np.concatenate([wake_tone(), silence(0.4),
                                            speech("what time is it")]))
    first = await client.wait_for("finish_asr", timeout=10)
    await _reply_heard(client, first.turn_id)
    await client.quiet(0.2)
    # within the window: no wake phrase needed
    await client.send_audio(np.concatenate([silence(0.5), speech("what time is it")]))
    second = await client.wait_for("finish_asr", lambda m: m.turn_id != first.turn_id,
                                   timeout=10)
    await _reply_heard(client, second.turn_id)
    await client.quiet(0.2)
    # the window runs out on the audio's clock, then nothing is heard again
    await client.send_audio(silence(FOLLOW_UP_S + 0.5))
    timeout = await client.wait_for("wake_word_waiting", lambda m: m.data["reason"] == "timeout")
    assert timeout.index > second.index
    await client.send_audio(speech("what time is it"))
    await client.send_audio(silence(0.5))
    await client.quiet(0.3)
    assert client.count("finish_asr") == 2, client.dump()


async def test_a_wake_phrase_without_a_request_times_out(transport: Transport) -> None:
    client = await transport.open_session(xtalk_with_wake_word())
    await client.send_audio(np.concatenate([wake_tone(), silence(FOLLOW_UP_S + 0.5)]))
    await client.wait_for("wake_word_detected")
    await client.wait_for("wake_word_waiting", lambda m: m.data["reason"] == "timeout")
    assert client.count("finish_asr") == 0


async def test_barge_in_during_a_reply_needs_no_wake_phrase(transport: Transport) -> None:
    client = await transport.open_session(xtalk_with_wake_word())
    await client.send_audio(np.concatenate([wake_tone(), silence(0.3),
                                            speech("tell me a story")]))
    story = await client.wait_for("finish_asr", timeout=10)
    await client.wait_for("start_tts", turn_id=story.turn_id, timeout=10)
    # no tts_playback_finished: the reply is still playing; a long silence changes nothing
    await client.send_audio(silence(FOLLOW_UP_S + 0.5))
    await client.send_audio(speech("what time is it"))
    interrupt = await client.wait_for("finish_asr", lambda m: m.turn_id != story.turn_id,
                                      timeout=10)
    assert interrupt.data["text"] == "what time is it"
    assert client.count("wake_word_waiting") == 1  # only the one at the start


async def test_typed_text_is_answered_and_opens_the_follow_up(transport: Transport) -> None:
    client = await transport.open_session(xtalk_with_wake_word())
    await client.send_json({"action": "text_input", "data": {"text": "what time is it"}})
    reply = await client.wait_for("finish_resp", timeout=10)
    assert reply.data["text"] == "It is noon."
    await _reply_heard(client, reply.turn_id)
    await client.quiet(0.2)
    await client.send_audio(speech("what time is it"))
    final = await client.wait_for("finish_asr", timeout=10)
    assert final.data["text"] == "what time is it"


async def test_client_vad_is_ignored_while_the_phrase_is_awaited(transport: Transport) -> None:
    client = await transport.open_session(xtalk_with_wake_word())
    await client.wait_for("wake_word_waiting")
    await client.send_json({"action": "vad_speech_start", "data": {"timestamp": 0}})
    await client.send_audio(speech("what time is it"))
    await client.send_json({"action": "vad_speech_end", "data": {"timestamp": 0}})
    await client.send_audio(silence(0.5))
    await client.quiet(0.3)
    assert not client.of("update_asr") and not client.of("finish_asr")
    assert not client.of("invalid_asr_result"), client.dump()
    # once woken, the client's VAD counts again
    await client.send_audio(np.concatenate([wake_tone(), silence(0.3)]))
    await client.wait_for("wake_word_detected")
    await client.send_json({"action": "vad_speech_start", "data": {"timestamp": 0}})
    await client.send_audio(speech("what time is it", tail_s=0.3))
    await client.send_json({"action": "vad_speech_end", "data": {"timestamp": 0}})
    final = await client.wait_for("finish_asr", timeout=10)
    assert final.data["text"] == "what time is it"
