"""Turn flow on the wire (shared/spec/wire-protocol.md, "One turn" and "Known defects"),
end to end with test models, over the in-process connection and a real WebSocket server.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import numpy as np
import pytest
from harness import (
    Client,
    Transport,
    build_xtalk,
    noise,
    silence,
    speech,
    wait_until,
    words,
)

pytestmark = pytest.mark.timeout(30)

GREETING = "Hello! How can I help you?"
STORY = ("Once upon a time, there was a little robot who loved to sing. "
         "Every morning it climbed the tallest hill and sang to the rising sun.")
STOP_REPLY = "Okay, stopping."
RULES = [
    {"pattern": r"\bstory\b", "reply": STORY},
    {"pattern": r"\bstop\b", "reply": STOP_REPLY},
    {"pattern": r"^yes$", "reply": "Great, let's go."},
    {"pattern": r"\bquiet\b", "reply": ""},
    {"pattern": r"\b(hello|hi)\b", "reply": GREETING},
]
DEFAULT_REPLY = "I heard you say: {text}."
# Messages of a reply that must never follow its stop_tts.
REPLY_OUTPUT = ("tts_chunk_meta", "audio", "update_resp", "finish_resp")


def xtalk_for(**agent):
    return build_xtalk(rules=RULES, agent={"default_reply": DEFAULT_REPLY, **agent})


def same_letters(a: str, b: str) -> bool:
    """Equal word content (spaces between clauses may be lost in decoding)."""
    return "".join(words(a)) == "".join(words(b))


def assert_finished_once_after_audio(client: Client, turn_id: int) -> None:
    finished = client.of("tts_finished", turn_id=turn_id)
    assert len(finished) == 1, client.dump()
    audio = client.of("audio", turn_id=turn_id)
    if audio:
        assert audio[-1].index < finished[0].index, client.dump()


async def answered_turn(client: Client, text: str, start: int = 0, timeout: float = 6.0):
    """Say ``text``; return (finish_asr, tts_finished) of the turn it started."""
    await client.say(text)
    final = await client.wait_for("finish_asr", start=start, timeout=timeout)
    done = await client.wait_for("tts_finished", turn_id=final.turn_id, start=start,
                                 timeout=timeout)
    return final, done


# --------------------------------------------------------------------------- one turn
async def test_normal_turn(transport: Transport) -> None:
    xt = xtalk_for()
    client = await transport.open_session(xt)
    assert client.messages[0].action == "session_info"
    assert isinstance(client.session_id, str) and client.session_id

    utterance = "hello there how are you today"
    await client.send_audio(speech(utterance), speed=2.0)
    final = await client.wait_for("finish_asr")
    assert final.data["text"] == utterance
    assert final.data["is_final"] is True
    turn = final.turn_id
    done = await client.wait_for("tts_finished", turn_id=turn)
    await client.quiet(0.2)

    partials = client.of("update_asr", turn_id=turn)
    assert partials, "no partial transcript\n" + client.dump()
    assert all(p.index < final.index and p.data["is_final"] is False for p in partials)
    for p in partials:  # a partial is the beginning of the utterance (last symbol may be cut)
        assert utterance.startswith(p.data["text"][:-1]), p

    updates = client.of("update_resp", turn_id=turn)
    assert updates, client.dump()
    texts = [u.data["text"] for u in updates]
    assert all(b.startswith(a) for a, b in itertools.pairwise(texts)), texts
    finish = client.of("finish_resp", turn_id=turn)
    assert len(finish) == 1 and finish[0].data["text"] == GREETING == texts[-1]
    assert final.index < updates[0].index < finish[0].index

    start_tts = client.of("start_tts", turn_id=turn)
    assert len(start_tts) == 1
    metas = client.of("tts_chunk_meta", turn_id=turn)
    audio = client.of("audio", turn_id=turn)
    assert metas and len(metas) == len(audio), client.dump()
    assert start_tts[0].index < metas[0].index
    assert all(client.messages[a.index - 1].action == "tts_chunk_meta" for a in audio)
    assert [m.data["chunk_index"] for m in metas] == list(range(len(metas)))
    assert all(m.data["sample_rate"] == 48000 for m in metas)
    # each chunk names the clause it speaks; together they are the reply, in order
    clauses = [m.data["text"] for m in metas]
    assert all(clauses) and all(c.strip() in GREETING for c in clauses), clauses
    assert " ".join(dict.fromkeys(c.strip() for c in clauses)) == GREETING
    assert not client.of("audio", predicate=lambda m: "_no_meta" in m.data)

    latency = client.of("latency_metrics", turn_id=turn)
    assert len(latency) == 1, client.dump()
    fields = latency[0].data
    for key in ("network_ms", "asr_ms", "llm_first_token_ms", "llm_sentence_ms",
                "tts_first_chunk_ms", "e2e_ms", "endpoint_ms"):
        assert isinstance(fields[key], int | float) and fields[key] >= 0, (key, fields)
    assert fields["e2e_ms"] > 0 and fields["endpoint_ms"] > 0
    assert fields["e2e_ms"] >= fields["endpoint_ms"]

    assert client.count("tts_finished") == 1
    assert_finished_once_after_audio(client, turn)
    assert done.index > finish[0].index
    assert same_letters(client.reply_text_heard(turn), GREETING)


async def test_turn_ids_shared_and_increasing(transport: Transport) -> None:
    client = await transport.open_session(xtalk_for())
    first, _ = await answered_turn(client, "hello")
    # the reply is heard out before the user speaks again (sooner would continue the turn)
    await client.send_audio(silence(2.0), speed=4.0)
    mark = len(client.messages)
    second, _ = await answered_turn(client, "good morning", start=mark)
    assert second.data["text"] == "good morning"
    assert first.turn_id is not None and second.turn_id > first.turn_id
    for final, start, end in ((first, 0, mark), (second, mark, len(client.messages))):
        turn = final.turn_id
        for action in ("update_resp", "finish_resp", "start_tts", "tts_chunk_meta", "audio",
                       "latency_metrics", "tts_finished", "update_asr"):
            for m in client.messages[start:end]:
                if m.action == action:
                    assert m.turn_id == turn, (m, client.dump())
        for action in ("finish_resp", "tts_chunk_meta", "latency_metrics", "tts_finished"):
            assert client.of(action, turn_id=turn), (action, client.dump())
    assert same_letters(client.reply_text_heard(second.turn_id),
                        "I heard you say: good morning.")


# --------------------------------------------------------------------------- barge-in
async def test_barge_in_while_generating(transport: Transport) -> None:
    client = await transport.open_session(xtalk_for(token_delay_s=0.15))
    await client.say("tell me a story")
    first = await client.wait_for("finish_asr")
    old = first.turn_id
    await client.wait_for("audio", turn_id=old)
    assert not client.of("finish_resp", turn_id=old), "reply should still be generating"

    mark = len(client.messages)
    sent_at = time.monotonic()
    await client.say("stop")
    pause = await client.wait_for("pause_tts", start=mark)
    assert pause.turn_id == old
    assert pause.t - sent_at < 1.0, "pause_tts came late"
    stop = await client.wait_for("stop_tts", start=mark)
    assert stop.turn_id == old and stop.index > pause.index
    final = await client.wait_for("finish_asr", start=mark)
    assert final.data["text"] == "stop" and final.turn_id > old
    await client.wait_for("tts_finished", turn_id=final.turn_id, timeout=6)
    await client.quiet(0.4)

    late = client.of(turn_id=old, start=stop.index + 1,
                     predicate=lambda m: m.action in REPLY_OUTPUT)
    assert not late, "old reply continued after stop_tts\n" + client.dump()
    assert client.count("tts_finished", turn_id=old) <= 1
    new = final.turn_id
    finish = client.of("finish_resp", turn_id=new)
    assert len(finish) == 1 and finish[0].data["text"] == STOP_REPLY
    assert_finished_once_after_audio(client, new)
    assert same_letters(client.reply_text_heard(new), STOP_REPLY)


CHANT = " ".join(["la"] * 1500) + "."


async def test_barge_in_during_fast_streaming(transport: Transport) -> None:
    """The reply streams fast (a token every 2 ms) and the client streams audio faster than
    real time, so the bus is busy when the barge-in lands: the old reply's generation must
    still be cancelled at once and none of its text may follow stop_tts."""
    rules = [{"pattern": r"\bchant\b", "reply": CHANT}, *RULES]
    xt = build_xtalk(rules=rules, agent={"token_delay_s": 0.002})
    client = await transport.open_session(xt)
    for _ in range(3):
        mark = len(client.messages)
        await client.say("sing a chant")
        old = (await client.wait_for("finish_asr", start=mark)).turn_id
        await client.wait_for("audio", turn_id=old, start=mark)
        await client.send_audio(np.concatenate([speech("stop", tail_s=0.0), silence(2.0)]),
                                speed=100.0)
        stop = await client.wait_for("stop_tts", turn_id=old, start=mark)
        final = await client.wait_for("finish_asr", start=stop.index)
        assert final.data["text"] == "stop"
        assert final.t - stop.t < 1.0, \
            f"the new turn was held up {final.t - stop.t:.1f}s by the old generation"
        await client.wait_for("tts_finished", turn_id=final.turn_id, start=mark)
        await client.quiet(0.2)
        late = client.of(turn_id=old, start=stop.index + 1,
                         predicate=lambda m: m.action in REPLY_OUTPUT)
        assert not late, f"{len(late)} message(s) of the stopped reply after stop_tts, " \
                         f"first: {late[0]!r}"


async def test_barge_in_after_generation_finished(transport: Transport) -> None:
    client = await transport.open_session(xtalk_for())
    await client.say("tell me a story")
    first = await client.wait_for("finish_asr")
    old = first.turn_id
    await client.wait_for("tts_finished", turn_id=old)
    assert client.of("finish_resp", turn_id=old)

    mark = len(client.messages)
    await client.say("stop")  # the ~6.5 s reply is still "playing" on the client
    pause = await client.wait_for("pause_tts", start=mark)
    stop = await client.wait_for("stop_tts", start=mark)
    assert pause.turn_id == old and stop.turn_id == old and pause.index < stop.index
    final = await client.wait_for("finish_asr", start=mark)
    assert final.data["text"] == "stop"
    await client.wait_for("tts_finished", turn_id=final.turn_id)
    assert client.count("tts_finished", turn_id=old) == 1, client.dump()
    assert not client.of(turn_id=old, start=stop.index + 1,
                         predicate=lambda m: m.action in REPLY_OUTPUT)


async def test_noise_during_playback_resumes(transport: Transport) -> None:
    client = await transport.open_session(xtalk_for(token_delay_s=0.05))
    await client.say("tell me a story")
    first = await client.wait_for("finish_asr")
    turn = first.turn_id
    await client.wait_for("audio", turn_id=turn)

    mark = len(client.messages)
    await client.send_audio(silence(0.1))
    await client.send_audio(noise(0.4))
    await client.send_audio(silence(0.8))
    pause = await client.wait_for("pause_tts", start=mark)
    invalid = await client.wait_for("invalid_asr_result", start=mark)
    resume = await client.wait_for("resume_tts", start=mark)
    assert pause.turn_id == turn and resume.turn_id == turn
    assert pause.index < invalid.index < resume.index
    done = await client.wait_for("tts_finished", turn_id=turn, timeout=8)
    await client.quiet(0.2)

    assert not client.of("stop_tts"), client.dump()
    assert not client.of("finish_asr", start=mark), client.dump()
    held = client.of("audio", turn_id=turn, start=pause.index,
                     predicate=lambda m: m.index < resume.index)
    assert not held, "audio sent while paused"
    assert client.of("audio", turn_id=turn, start=resume.index), \
        "the reply did not continue after resume_tts\n" + client.dump()
    assert done.index > resume.index
    assert_finished_once_after_audio(client, turn)
    assert same_letters(client.reply_text_heard(turn), STORY)


async def test_a_blip_during_playback_pauses_the_reply_for_a_moment_only(
        transport: Transport) -> None:
    """The reply pauses on the VAD's first speech frame (barge-in does not wait for
    ``min_speech_s``); a blip shorter than that is dismissed without a turn and the reply
    goes on, whole."""
    client = await transport.open_session(build_xtalk(
        rules=RULES, agent={"token_delay_s": 0.05}, vad={"min_speech_s": 0.25}))
    await client.say("tell me a story")
    turn = (await client.wait_for("finish_asr")).turn_id
    await client.wait_for("audio", turn_id=turn)

    mark = len(client.messages)
    await client.send_audio(np.concatenate([silence(0.1), noise(0.08), silence(0.6)]))
    pause = await client.wait_for("pause_tts", start=mark)
    resume = await client.wait_for("resume_tts", start=mark)
    assert pause.turn_id == turn and resume.turn_id == turn and pause.index < resume.index
    done = await client.wait_for("tts_finished", turn_id=turn, timeout=8)
    await client.quiet(0.2)
    assert not client.of("invalid_asr_result", start=mark), "the blip became a turn"
    assert not client.of("finish_asr", start=mark) and not client.of("stop_tts"), \
        client.dump()
    assert done.index > resume.index
    assert same_letters(client.reply_text_heard(turn), STORY)


async def test_one_word_answer(transport: Transport) -> None:
    client = await transport.open_session(xtalk_for())
    assert speech("yes", 0, 0).size == int(0.15 * 16000)
    final, _ = await answered_turn(client, "yes")
    assert final.data["text"] == "yes"
    finish = client.of("finish_resp", turn_id=final.turn_id)
    assert finish and finish[0].data["text"] == "Great, let's go."
    assert not client.of("invalid_asr_result")


async def test_rejected_audio_does_not_leak(transport: Transport) -> None:
    client = await transport.open_session(xtalk_for())
    await client.send_audio(noise(0.4))
    await client.send_audio(silence(1.0))
    rejected = await client.wait_for("invalid_asr_result")
    await client.say("hello")
    final = await client.wait_for("finish_asr")
    assert final.data["text"] == "hello", client.dump()
    assert final.index > rejected.index
    assert final.turn_id != rejected.turn_id
    await client.wait_for("tts_finished", turn_id=final.turn_id)


# --------------------------------------------------------------------------- tts_finished
async def test_tts_finished_once_for_empty_reply(transport: Transport) -> None:
    client = await transport.open_session(xtalk_for())
    final, done = await answered_turn(client, "be quiet")
    turn = final.turn_id
    await client.quiet(0.3)
    finish = client.of("finish_resp", turn_id=turn)
    assert len(finish) == 1 and finish[0].data["text"] == ""
    assert client.count("tts_finished", turn_id=turn) == 1
    assert not client.of("audio", turn_id=turn)
    assert done.index > finish[0].index


async def test_text_input_turn(transport: Transport) -> None:
    client = await transport.open_session(xtalk_for())
    await client.send_json({"action": "text_input", "data": {"text": "hello"}})
    finish = await client.wait_for("finish_resp")
    assert finish.data["text"] == GREETING
    turn = finish.turn_id
    await client.wait_for("tts_finished", turn_id=turn)
    mark = len(client.messages)
    await client.send_json({"action": "text_input", "data": {"text": "be quiet"}})
    quiet = await client.wait_for("finish_resp", start=mark)
    assert quiet.data["text"] == "" and quiet.turn_id > turn
    await client.wait_for("tts_finished", turn_id=quiet.turn_id, start=mark)
    await client.quiet(0.3)
    assert client.count("tts_finished", turn_id=turn) == 1
    assert client.count("tts_finished", turn_id=quiet.turn_id) == 1
    assert_finished_once_after_audio(client, turn)
    assert same_letters(client.reply_text_heard(turn), GREETING)
    latency = client.of("latency_metrics", turn_id=turn)
    assert len(latency) == 1 and latency[0].data["e2e_ms"] > 0


# --------------------------------------------------------------------------- conversation
async def test_conversation_records_what_was_heard(transport: Transport) -> None:
    xt = xtalk_for(token_delay_s=0.15)
    client = await transport.open_session(xt)
    await client.say("tell me a story")
    old = (await client.wait_for("finish_asr")).turn_id
    await client.wait_for("audio", turn_id=old)
    await asyncio.sleep(1.0)  # the first clause has been playing for a while
    mark = len(client.messages)
    await client.say("stop")
    final = await client.wait_for("finish_asr", start=mark)
    await client.wait_for("tts_finished", turn_id=final.turn_id, timeout=6)
    # the last reply enters the conversation once it has had time to play
    await wait_until(lambda: len(xt.sessions[client.session_id].conversation()) == 4,
                     timeout=10, what="the last reply heard")

    messages = xt.sessions[client.session_id].conversation()
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"], \
        messages
    assert messages[0]["content"] == "tell me a story"
    cut = messages[1]["content"]
    assert cut.endswith("…"), cut
    heard, full = words(cut.rstrip("…")), words(STORY)
    assert heard and len(heard) < len(full) and full[:len(heard)] == heard, cut
    assert messages[2]["content"] == "stop"
    assert messages[3]["content"] == STOP_REPLY


async def test_interrupted_after_all_audio_was_sent_is_recorded_as_heard(
        transport: Transport) -> None:
    # Replies are sent faster than real time: tts_finished comes while the user is still
    # listening. Interrupting then must record the reply as heard, not in full.
    xt = xtalk_for()
    client = await transport.open_session(xt)
    await client.say("tell me a story")
    old = (await client.wait_for("finish_asr")).turn_id
    await client.wait_for("tts_finished", turn_id=old)  # all ~6.5 s of audio sent
    sent_at = time.monotonic()
    await asyncio.sleep(1.5)  # a few words of it have been heard
    mark = len(client.messages)
    await client.say("stop")
    final = await client.wait_for("finish_asr", start=mark)
    await client.wait_for("stop_tts", turn_id=old, start=mark)
    assert time.monotonic() - sent_at < 6.0  # still within the reply's playing time
    await client.wait_for("tts_finished", turn_id=final.turn_id)

    messages = xt.sessions[client.session_id].conversation()
    assert [m["role"] for m in messages[:3]] == ["user", "assistant", "user"], messages
    cut = messages[1]["content"]
    assert cut.endswith("…"), cut
    heard, full = words(cut.rstrip("…")), words(STORY)
    assert len(heard) < len(full) and full[:len(heard)] == heard, cut


async def test_reply_played_to_its_end_is_recorded_in_full(transport: Transport) -> None:
    xt = xtalk_for()
    client = await transport.open_session(xt)
    await answered_turn(client, "hello")
    # tts_finished alone is not "heard"; the client's drained queue is
    await client.send_json({"action": "tts_playback_finished", "data": {"timestamp": 0}})
    await wait_until(lambda: len(xt.sessions[client.session_id].conversation()) == 2,
                     timeout=5, what="the reply committed")
    assert xt.sessions[client.session_id].conversation()[1] == {
        "role": "assistant", "content": GREETING}

    # a client that never reports playback: committed once the audio has had time to play
    await answered_turn(client, "yes", start=len(client.messages))
    await wait_until(lambda: len(xt.sessions[client.session_id].conversation()) == 4,
                     timeout=10, what="the second reply committed")
    assert xt.sessions[client.session_id].conversation()[3]["content"] == "Great, let's go."


# --------------------------------------------------------------------------- robustness
async def test_invalid_input_keeps_session_alive(transport: Transport) -> None:
    client = await transport.open_session(xtalk_for())
    cases = [
        ("text", "{not json", "invalid_json"),
        ("text", '{"action": "dance", "data": {}}', "unknown_action"),
        ("bytes", b"\x01" * 1023, "misaligned_frame"),
        ("bytes", b"\x00\x01" * (64 * 1024 // 2 + 1), "frame_too_large"),
        ("text", "[1, 2, 3]", "invalid_message"),
    ]
    for kind, payload, code in cases:
        mark = len(client.messages)
        if kind == "text":
            await client.send_text(payload)
        else:
            await client.send_bytes(payload)
        error = await client.wait_for("error", start=mark)
        assert error.data.get("code") == code, (code, error)
        assert isinstance(error.data.get("message"), str) and error.data["message"]
    assert not client.tracebacks()
    final, _ = await answered_turn(client, "hello", start=len(client.messages))
    assert final.data["text"] == "hello"
    assert not client.closed


async def test_model_changes_forbidden(transport: Transport) -> None:
    client = await transport.open_session(xtalk_for())
    requests = [
        {"action": "change_llm_model", "data": {"model_name": "x", "base_url":
                                                "http://169.254.169.254/", "api_key": "k"}},
        {"action": "change_tts_model", "data": {"model_type": "remote",
                                                "config": {"host": "10.0.0.1", "port": 1}}},
    ]
    for request in requests:
        mark = len(client.messages)
        await client.send_json(request)
        error = await client.wait_for("error", start=mark)
        assert error.data["code"] == "forbidden", error


async def test_ping_pong(transport: Transport) -> None:
    client = await transport.open_session(xtalk_for())
    await client.send_json({"action": "ping", "data": {"timestamp": 123456.5}})
    pong = await client.wait_for("pong")
    assert pong.data["client_timestamp"] == 123456.5
    assert isinstance(pong.data["server_recv_timestamp"], int | float)


# --------------------------------------------------------------------------- sessions
async def test_concurrent_sessions_do_not_interfere(transport: Transport) -> None:
    xt = xtalk_for()
    a = await transport.open_session(xt)
    b = await transport.open_session(xt)
    assert a.session_id != b.session_id
    assert set(xt.sessions) == {a.session_id, b.session_id}

    await asyncio.gather(a.say("hello"), b.say("good morning"))
    fa, fb = await asyncio.gather(a.wait_for("finish_asr"), b.wait_for("finish_asr"))
    assert fa.data["text"] == "hello" and fb.data["text"] == "good morning"
    await asyncio.gather(a.wait_for("tts_finished", turn_id=fa.turn_id),
                         b.wait_for("tts_finished", turn_id=fb.turn_id))
    assert a.first("finish_resp").data["text"] == GREETING
    assert b.first("finish_resp").data["text"] == "I heard you say: good morning."
    assert same_letters(a.reply_text_heard(fa.turn_id), GREETING)
    assert same_letters(b.reply_text_heard(fb.turn_id), "I heard you say: good morning.")
    assert a.count("finish_asr") == 1 and b.count("finish_asr") == 1

    await a.send_json({"action": "change_voice", "data": {"voice_name": "warm"}})
    changed = await a.wait_for("voice_changed")
    assert changed.data["name"] == "warm"
    await b.quiet(0.2)
    assert xt.sessions[a.session_id].pipeline.get_tts_model().voice == "warm"
    assert xt.sessions[b.session_id].pipeline.get_tts_model().voice == "sine"
    assert xt.service_prototype.pipeline.get_tts_model().voice == "sine"
    assert not b.of("voice_changed")


async def test_session_limit_queue(transport: Transport) -> None:
    xt = build_xtalk(max_connections=1)
    first = await transport.open_session(xt)

    second = await transport.connect(xt)
    status = await second.wait_for("queue_status")
    assert status.data["position"] == 1 and status.data["limit"] == 1
    await second.quiet(0.2)
    assert not second.of("session_info")

    await first.close()
    granted = await second.wait_for("queue_granted")
    info = await second.wait_for("session_info")
    assert granted.index < info.index
    assert list(xt.sessions) == [second.session_id]

    third = await transport.connect(xt)
    assert (await third.wait_for("queue_status")).data["position"] == 1
    await third.close()  # a queued client that leaves frees its place
    await wait_until(lambda: xt.limiter is not None and xt.limiter.waiting == 0,
                     what="the queued client's place freed")
    fourth = await transport.connect(xt)
    assert (await fourth.wait_for("queue_status")).data["position"] == 1

    await second.close()
    await fourth.wait_for("queue_granted")
    await fourth.wait_for("session_info")
    final, _ = await answered_turn(fourth, "hello", start=len(fourth.messages))
    assert final.data["text"] == "hello"


async def test_session_stops_cleanly(transport: Transport) -> None:
    xt = xtalk_for(token_delay_s=0.15)
    client = await transport.open_session(xt)
    await client.say("tell me a story")
    turn = (await client.wait_for("finish_asr")).turn_id
    await client.wait_for("update_resp", turn_id=turn)
    assert any((t.get_name() or "").startswith("xtalk-gen") for t in asyncio.all_tasks())

    await client.close()  # in the middle of the reply
    await wait_until(lambda: not xt.sessions, what="session removed")
    await client.wait_closed()

    def leftovers() -> list[str]:
        names = [t.get_name() or "" for t in asyncio.all_tasks() if not t.done()]
        return [n for n in names if n.startswith(("xtalk-gen", "xtalk-writer"))]

    await wait_until(lambda: not leftovers(), timeout=3.0, what="session tasks ended")
    assert not leftovers()


async def test_cancelled_replies_are_not_kept(transport: Transport) -> None:
    """Barge-ins cancel replies; the synthesiser forgets them (their late text is still
    dropped)."""
    from xtalk.serving.managers.speech_out.tts import MAX_CANCELLED, TTSManager

    xt = xtalk_for(token_delay_s=0.05)
    client = await transport.open_session(xt)
    for _ in range(3):
        mark = len(client.messages)
        await client.say("tell me a story")
        first = await client.wait_for("finish_asr", start=mark)
        await client.wait_for("audio", turn_id=first.turn_id, start=mark)
        await client.say("stop")
        await client.wait_for("stop_tts", turn_id=first.turn_id, start=mark)
        final = await client.wait_for("finish_asr", start=first.index + 1)
        await client.wait_for("tts_finished", turn_id=final.turn_id)
    tts = xt.sessions[client.session_id].get_manager(TTSManager)
    assert isinstance(tts, TTSManager)
    assert len(tts._replies) == 0 and 3 <= len(tts._cancelled) <= MAX_CANCELLED
