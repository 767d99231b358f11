"""A user who goes on right after a pause the assistant took for the end of the turn: the
unfinished turn and its reply give way to the whole request (UserTurnMerged), in the
conversation, the store and on the wire; a backchannel, a lone command, or speech after
the continuation window does not merge."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import Transport, build_xtalk, silence, tones, wait_until

from xtalk.serving.managers.agent.context import LLMAgentContextManager
from xtalk.store import Store
from xtalk.store.database import sqlite_url

pytestmark = pytest.mark.timeout(30)

STORY = ("Once upon a time, there was a little robot who loved to sing. Every morning it "
         "climbed the tallest hill and sang to the rising sun. Then it went home.")
RULES = [{"pattern": r"\bstory\b", "reply": STORY},
         {"pattern": r"\bmoon\b", "reply": "About three hundred and eighty thousand km."}]
FIRST, REST = "what is the distance between", "the earth and the moon"


async def first_part_answered(transport: Transport, store: Store | None = None,
                              detector: dict | None = None, **service):
    """The user said FIRST and paused; the assistant took the turn and began its reply
    (its generation is slow, so the reply is still going when the user goes on)."""
    xt = build_xtalk(rules=RULES, agent={"token_delay_s": 0.05}, service=service or None,
                     turn_detector=detector)
    if store is not None:
        xt.attach_store(store)
    client = await transport.open_session(xt)
    await client.send_audio(silence(0.2))
    await client.send_audio(tones(FIRST), speed=2.0)
    # the VAD ends the turn at 0.25 s; a detector at its maximum silence
    await client.send_audio(silence(0.4 if detector is None else 1.7), speed=2.0)
    first = await client.wait_for("finish_asr")
    await client.wait_for("audio", turn_id=first.turn_id)
    return xt, client, first.turn_id


async def go_on(client, words: str) -> None:
    """The user says ``words`` (with the silence that ends a turn)."""
    await client.send_audio(tones(words), speed=2.0)
    await client.send_audio(silence(0.6), speed=2.0)


def user_messages(xt, client) -> list[str]:
    context = xt.sessions[client.session_id].get_manager(LLMAgentContextManager)
    assert isinstance(context, LLMAgentContextManager)
    return [m["content"] for m in context.conversation_messages() if m["role"] == "user"]


async def test_a_lone_word_that_goes_on_is_merged_too(transport: Transport) -> None:
    """Over a reply a lone word is taken for a reaction; right after the user's own
    request it is more of the request ("… between | mars")."""
    _, client, first = await first_part_answered(transport)
    mark = len(client.messages)
    await go_on(client, "mars")
    merged = await client.wait_for("turn_merged", start=mark)
    assert merged.turn_id == first and merged.data["text"] == f"{FIRST} mars"
    assert not client.of("backchannel")


async def test_going_on_after_a_pause_merges_the_turns(transport: Transport) -> None:
    xt, client, first = await first_part_answered(transport)
    mark = len(client.messages)
    await go_on(client, REST)
    merged = await client.wait_for("turn_merged", start=mark)
    whole = f"{FIRST} {REST}"
    assert merged.turn_id == first and merged.data["text"] == whole
    second = merged.data["into_turn_id"]
    stop = await client.wait_for("stop_tts", turn_id=first, start=mark)
    assert stop.index < merged.index
    await client.wait_for("tts_finished", turn_id=second, timeout=10)
    assert "three hundred and eighty thousand" in client.reply_text_heard(second)
    final = client.first("finish_asr", turn_id=second)
    assert final.data["text"] == REST and final.index < merged.index  # then the whole
    # the unfinished turn left no trace in the conversation: one request, one reply
    await wait_until(lambda: user_messages(xt, client) == [whole], what="one request")
    context = xt.sessions[client.session_id].get_manager(LLMAgentContextManager)
    assert isinstance(context, LLMAgentContextManager)
    assert [m["role"] for m in context.conversation_messages()] in (
        ["user"], ["user", "assistant"])


async def test_a_backchannel_after_the_request_lets_the_reply_go_on(transport: Transport
                                                                    ) -> None:
    xt, client, first = await first_part_answered(transport)
    mark = len(client.messages)
    await go_on(client, "mm hmm")
    await client.wait_for("backchannel", start=mark)
    await client.wait_for("resume_tts", turn_id=first, start=mark)
    assert not client.of("turn_merged") and not client.of("stop_tts", start=mark)
    assert user_messages(xt, client) == [FIRST]


async def test_a_hum_leading_into_more_of_the_request_is_merged(transport: Transport
                                                                ) -> None:
    """Right after the user's own request "hmm" may lead into more of it: the rest joins
    it and the whole request is answered (a backchannel's quick end over a reply does not
    apply to a turn that may continue the request)."""
    holding = {"type": "SmartTurnDetector", "params": {
        "threshold": 0.99, "unpunctuated_threshold": 0.99, "max_silence_s": 1.5}}
    _, client, first = await first_part_answered(transport, detector=holding)
    mark = len(client.messages)
    await client.send_audio(tones("hmm"), speed=2.0)
    await client.send_audio(silence(0.8), speed=1.0)  # longer than a backchannel's end
    await client.send_audio(tones(REST), speed=2.0)
    await client.send_audio(silence(1.7), speed=2.0)
    merged = await client.wait_for("turn_merged", start=mark)
    assert merged.turn_id == first and merged.data["text"].endswith(REST)
    assert not client.of("backchannel", start=mark)


@pytest.mark.parametrize("reaction", ["stop", "no thanks"])
async def test_a_lone_command_is_no_continuation(transport: Transport, reaction: str) -> None:
    xt, client, first = await first_part_answered(transport)
    mark = len(client.messages)
    await go_on(client, reaction)
    final = await client.wait_for("finish_asr", start=mark)
    await client.wait_for("stop_tts", turn_id=first, start=mark)
    assert final.data["text"] == reaction and not client.of("turn_merged")
    await wait_until(lambda: user_messages(xt, client) == [FIRST, reaction],
                     what="two turns")


@pytest.mark.parametrize("service", [{}, {"turn": {"continuation_s": 0}}],
                         ids=["after the window", "merging off"])
async def test_no_merge_after_the_window_or_when_off(transport: Transport,
                                                     service: dict) -> None:
    _, client, first = await first_part_answered(transport, **service)
    if not service:
        await client.send_audio(silence(1.6), speed=4.0)  # 1.85 s after the voice ended
    mark = len(client.messages)
    await go_on(client, REST)
    final = await client.wait_for("finish_asr", start=mark)
    await client.wait_for("stop_tts", turn_id=first, start=mark)
    assert final.data["text"] == REST and not client.of("turn_merged")


async def test_the_store_keeps_only_the_whole_request(tmp_path: Path,
                                                      transport: Transport) -> None:
    store = Store.open(sqlite_url(tmp_path / "x.db"))
    try:
        _, client, first = await first_part_answered(transport, store)
        await wait_until(lambda: [m.content for m in store.conversations.message_records(
            client.session_id)] == [FIRST], what="the first part stored")
        await go_on(client, REST)
        merged = await client.wait_for("turn_merged")
        second = merged.data["into_turn_id"]
        await wait_until(lambda: [(m.turn_id, m.role) for m in store.conversations
                                  .message_records(client.session_id)][:1] == [(second, "user")],
                         what="the merged request stored in place of the first part")
        records = store.conversations.message_records(client.session_id)
        assert records[0].content == f"{FIRST} {REST}"
        assert all(r.turn_id != first for r in records)
        await client.close()
    finally:
        store.close()
