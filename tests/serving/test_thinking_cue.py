"""The thinking cue: a slow language model's reply opens with "Hmm."; a quick one's never
does; the cue is reply audio (stopped with the reply) but never reply text or history."""

from __future__ import annotations

from typing import Any

import pytest
from harness import Transport, make_config, silence, speech, wait_until, words

from xtalk import Xtalk
from xtalk.registry import ConfigError
from xtalk.serving.managers.agent.context import LLMAgentContextManager

pytestmark = pytest.mark.timeout(30)

REPLY = "The answer is forty two."
CUE = {"after_s": 0.15, "phrases": ["Hmm."]}


def cue_xtalk(first_token_delay_s: float, cue: Any = CUE) -> Xtalk:
    service = {} if cue is None else {"thinking_cue": cue}
    return Xtalk.from_config(make_config(
        agent={"default_reply": REPLY, "first_token_delay_s": first_token_delay_s},
        service=service))


def history(xt: Xtalk, session_id: str) -> list[dict[str, Any]]:
    context = xt.sessions[session_id].get_manager(LLMAgentContextManager)
    assert isinstance(context, LLMAgentContextManager)
    return context.conversation_messages()


async def test_a_slow_reply_opens_with_the_cue(transport: Transport) -> None:
    xt = cue_xtalk(first_token_delay_s=1.0)
    client = await transport.open_session(xt)
    await client.say("what is the answer")
    final = await client.wait_for("finish_asr")
    await client.wait_for("tts_finished", turn_id=final.turn_id)
    metas = client.of("tts_chunk_meta", turn_id=final.turn_id)
    assert metas[0].data.get("cue") is True and metas[0].data["text"] == "Hmm.", client.dump()
    assert not any(m.data.get("cue") for m in metas[1:])
    assert [m.data["chunk_index"] for m in metas] == list(range(len(metas)))
    # heard: the cue, then the reply; read: the reply alone
    assert words(client.reply_text_heard(final.turn_id)) == words("Hmm. " + REPLY)
    texts = [m.data["text"] for m in client.of("update_resp") + client.of("finish_resp")]
    assert texts and not any("Hmm" in t for t in texts)
    metrics = await client.wait_for("latency_metrics", turn_id=final.turn_id)
    assert metrics.data["cue_ms"] > 0
    assert metrics.data["cue_ms"] < metrics.data["e2e_ms"]
    await wait_until(lambda: len(history(xt, client.session_id)) == 2, what="reply committed")
    assert history(xt, client.session_id)[1] == {"role": "assistant", "content": REPLY}


async def test_a_quick_reply_has_no_cue(transport: Transport) -> None:
    client = await transport.open_session(cue_xtalk(
        first_token_delay_s=0.0, cue={"after_s": 0.6, "phrases": ["Hmm."]}))
    await client.say("what is the answer")
    final = await client.wait_for("finish_asr")
    await client.wait_for("tts_finished", turn_id=final.turn_id)
    assert not any(m.data.get("cue") for m in client.of("tts_chunk_meta")), client.dump()
    assert words(client.reply_text_heard(final.turn_id)) == words(REPLY)
    metrics = await client.wait_for("latency_metrics", turn_id=final.turn_id)
    assert metrics.data["cue_ms"] == 0  # the wire sends 0 for a stage that did not run


async def test_no_cue_unless_configured(transport: Transport) -> None:
    client = await transport.open_session(cue_xtalk(first_token_delay_s=0.6, cue=None))
    await client.say("what is the answer")
    final = await client.wait_for("finish_asr")
    await client.wait_for("tts_finished", turn_id=final.turn_id)
    assert words(client.reply_text_heard(final.turn_id)) == words(REPLY)


async def test_a_cue_cut_off_leaves_nothing_in_the_conversation(transport: Transport
                                                                ) -> None:
    """The user speaks over the cue: it stops with the reply it opened, and the assistant
    is not recorded as having said anything."""
    xt = cue_xtalk(first_token_delay_s=3.0, cue={"after_s": 0.0, "phrases": ["Hmm."]})
    client = await transport.open_session(xt)
    await client.say("what is the answer")
    first = await client.wait_for("tts_chunk_meta")
    assert first.data.get("cue") is True
    await client.send_audio(speech("stop", lead_s=0.0, tail_s=0.8))
    await client.wait_for("stop_tts", turn_id=first.turn_id)
    await wait_until(lambda: len(history(xt, client.session_id)) >= 2, what="the next turn")
    assert [m["role"] for m in history(xt, client.session_id)][:2] == ["user", "user"], \
        history(xt, client.session_id)


async def test_the_cue_is_not_repeated_twice_running(transport: Transport) -> None:
    xt = cue_xtalk(first_token_delay_s=0.8,
                   cue={"after_s": 0.1, "phrases": ["Hmm.", "Well,"]})
    client = await transport.open_session(xt)
    cues = []
    for _ in range(3):
        start = len(client.messages)
        await client.say("what is the answer")
        final = await client.wait_for("finish_asr", start=start)
        await client.wait_for("tts_finished", turn_id=final.turn_id)
        await client.send_json({"action": "tts_playback_finished", "data": {}})
        await client.send_audio(silence(0.3))
        cues += [m.data["text"] for m in client.of("tts_chunk_meta", turn_id=final.turn_id)
                 if m.data.get("cue")]
    assert cues in (["Hmm.", "Well,", "Hmm."], ["Well,", "Hmm.", "Well,"]), client.dump()


@pytest.mark.parametrize("bad", [{"after_s": -1}, {"after_s": "soon"}, {"phrases": []},
                                 {"phrases": "Hmm."}, {"phrases": [""]}, "yes"])
def test_a_malformed_cue_setting_fails_the_build(bad: Any) -> None:
    with pytest.raises(ConfigError, match="thinking_cue"):
        cue_xtalk(first_token_delay_s=0.0, cue=bad)
