"""Turn-taking behaviours on the wire, with test models over both transports: client VAD
authority, backchannels that do not cancel a reply, and no reply over the user."""

from __future__ import annotations

import time

import numpy as np
import pytest
from harness import Transport, build_xtalk, silence, speech, tones, wait_until

from xtalk.serving.managers.agent.context import LLMAgentContextManager
from xtalk.serving.managers.recognition.asr import ASRManager

pytestmark = pytest.mark.timeout(30)

STORY = ("Once upon a time, there was a little robot who loved to sing. Every morning it "
         "climbed the tallest hill and sang to the rising sun. Then it went home.")
RULES = [{"pattern": r"\bstory\b", "reply": STORY},
         {"pattern": r"\bhello\b", "reply": "Hello to you."}]


def vad(kind: str) -> dict:
    return {"action": f"vad_speech_{kind}", "data": {"timestamp": time.time() * 1000}}


async def test_client_vad_keeps_a_paused_utterance_one_turn(transport: Transport) -> None:
    """Between vad_speech_start and vad_speech_end the server's VAD does not end the turn,
    however long the pause inside (it would: 1 s of silence is four times its limit)."""
    xt = build_xtalk(rules=RULES)
    client = await transport.open_session(xt)
    await client.send_audio(silence(0.2))
    await client.send_json(vad("start"))
    await client.send_audio(tones("and so my fellow"), speed=2.0)
    await client.send_audio(silence(1.0), speed=2.0)
    await client.send_audio(tones("ask not"), speed=2.0)
    await client.send_audio(silence(0.3), speed=2.0)
    await client.send_json(vad("end"))
    final = await client.wait_for("finish_asr")
    await client.wait_for("tts_finished", turn_id=final.turn_id)
    await client.send_audio(silence(0.5), speed=2.0)
    await client.quiet(0.3)
    assert final.data["text"] == "and so my fellow ask not"
    assert len(client.of("finish_asr")) == 1 and len(client.of("tts_finished")) == 1, \
        client.dump()
    # the client's end was placed where the voice stopped: the pause's decode was the final
    asr = xt.sessions[client.session_id].get_manager(ASRManager)
    assert isinstance(asr, ASRManager) and asr.speculative_hits == 1


async def test_without_client_vad_the_server_vad_ends_at_the_pause(transport: Transport
                                                                   ) -> None:
    client = await transport.open_session(build_xtalk(rules=RULES))
    await client.send_audio(silence(0.2))
    await client.send_audio(tones("and so my fellow"), speed=2.0)
    await client.send_audio(silence(1.0), speed=2.0)
    await client.send_audio(tones("ask not"), speed=2.0)
    await client.send_audio(silence(0.6), speed=2.0)
    await wait_until(lambda: len(client.of("finish_asr")) == 2, what="two turns")


async def story_playing(transport: Transport):
    xt = build_xtalk(rules=RULES, agent={"token_delay_s": 0.02})
    client = await transport.open_session(xt)
    await client.say("tell me a story")
    final = await client.wait_for("finish_asr")
    await client.wait_for("audio", turn_id=final.turn_id)
    # the reply is under way: later speech is over it, no longer more of the request
    await client.send_audio(silence(1.6), speed=4.0)
    return xt, client, final.turn_id


@pytest.mark.parametrize("backchannel", ["yeah", "mm hmm", "okay okay", "game"])
async def test_a_backchannel_pauses_the_reply_and_it_goes_on(transport: Transport,
                                                             backchannel: str) -> None:
    xt, client, story = await story_playing(transport)
    mark = len(client.messages)
    await client.send_audio(speech(backchannel, tail_s=0.5), speed=2.0)
    heard = await client.wait_for("backchannel", start=mark)
    assert heard.data["text"] == backchannel and heard.turn_id > story
    pause = await client.wait_for("pause_tts", turn_id=story, start=mark)
    resume = await client.wait_for("resume_tts", turn_id=story, start=mark)
    assert pause.index < resume.index
    await client.wait_for("tts_finished", turn_id=story, timeout=10)
    assert not client.of("stop_tts", start=mark), client.dump(mark)
    assert not client.of("finish_resp", turn_id=heard.turn_id)  # no reply to "yeah"
    assert client.first("finish_resp", turn_id=story).data["text"] == STORY
    context = xt.sessions[client.session_id].get_manager(LLMAgentContextManager)
    assert isinstance(context, LLMAgentContextManager)
    assert [m["content"] for m in context.conversation_messages()
            if m["role"] == "user"] == ["tell me a story"]


async def test_a_backchannel_does_not_wait_for_an_unsure_turn_detector(
        transport: Transport) -> None:
    """Smart Turn often hears a hum as unfinished and would hold the reply paused until its
    maximum silence; a pause whose transcript is a backchannel ends the turn at once. Here
    the detector waits 8 s of silence for anything (the tones score 0.98 < 0.99), and the
    hum is followed by 0.6 s of silence and then no audio at all."""
    client = await transport.open_session(build_xtalk(
        rules=RULES, agent={"token_delay_s": 0.02},
        turn_detector={"type": "SmartTurnDetector", "params": {
            "threshold": 0.99, "unpunctuated_threshold": 0.99, "max_silence_s": 8.0}}))
    await client.say("tell me a story", tail_s=0.3)
    await client.send_audio(silence(8.2), speed=8.0)  # the detector's maximum ends it
    story = (await client.wait_for("finish_asr")).turn_id
    await client.wait_for("audio", turn_id=story)
    # later than the request's continuation window: a hum right after it may lead into
    # more of the request, and waits for the detector (tests/serving/test_turn_continuation)
    await client.send_audio(silence(1.6), speed=4.0)
    mark = len(client.messages)
    await client.send_audio(speech("mm hmm", tail_s=0.6), speed=2.0)
    heard = await client.wait_for("backchannel", start=mark, timeout=5)
    await client.wait_for("resume_tts", turn_id=story, start=mark, timeout=5)
    assert heard.data["text"] == "mm hmm"
    mark = len(client.messages)  # a request over the reply still waits for the detector
    await client.send_audio(speech("hello", tail_s=0.6), speed=2.0)
    await client.quiet(1.0)
    assert not client.of("finish_asr", start=mark) and not client.of("backchannel", start=mark)
    await client.send_audio(silence(8.0), speed=8.0)
    final = await client.wait_for("finish_asr", start=mark, timeout=10)
    assert final.data["text"] == "hello"
    await client.wait_for("stop_tts", turn_id=story, start=mark)


async def test_a_hummed_reaction_lets_the_reply_go_on_a_clear_request_does_not(
        transport: Transport) -> None:
    """A hum among a few words is a reaction (Whisper's "and then hm." for a hum); a few
    clear words are a request ("sing a chant": recognised with full confidence)."""
    _, client, story = await story_playing(transport)
    mark = len(client.messages)
    await client.send_audio(speech("so mm nice", tail_s=0.5), speed=2.0)
    await client.wait_for("backchannel", start=mark)
    await client.wait_for("resume_tts", turn_id=story, start=mark)
    assert not client.of("stop_tts", start=mark)
    mark = len(client.messages)
    await client.send_audio(speech("sing a chant", tail_s=0.5), speed=2.0)
    await client.wait_for("stop_tts", turn_id=story, start=mark)
    assert not client.of("backchannel", start=mark)


@pytest.mark.parametrize("words", ["yeah but hello", "stop", "bye"])
async def test_more_than_a_backchannel_interrupts(transport: Transport, words: str) -> None:
    _, client, story = await story_playing(transport)
    mark = len(client.messages)
    await client.send_audio(speech(words, tail_s=0.5), speed=2.0)
    stop = await client.wait_for("stop_tts", turn_id=story, start=mark)
    final = await client.wait_for("finish_asr", start=mark)
    assert final.data["text"] == words and final.index > stop.index
    assert not client.of("backchannel", start=mark)


async def test_a_reply_never_plays_over_a_user_who_speaks_again(transport: Transport
                                                              ) -> None:
    """The turn ends, and the user starts again before its reply began: the reply is held
    without a word to the client, and dropped when the new speech becomes a turn."""
    xt = build_xtalk(rules=RULES, agent={"first_token_delay_s": 0.5})
    client = await transport.open_session(xt)
    await client.send_audio(silence(0.1))
    await client.send_audio(np.concatenate([tones("hello"), silence(0.3)]), speed=1.0)
    first = await client.wait_for("finish_asr")
    await client.send_audio(np.concatenate([tones("tell me a story"), silence(0.4)]),
                            speed=1.0)
    second = await client.wait_for("finish_asr", start=first.index + 1)
    await client.wait_for("tts_finished", turn_id=second.turn_id, timeout=15)
    old = [m.action for m in client.of(turn_id=first.turn_id)
           if m.action in ("start_tts", "tts_chunk_meta", "audio", "pause_tts")]
    assert old == [], client.dump()
    assert client.first("finish_resp", turn_id=second.turn_id).data["text"] == STORY
