"""ReplyHeard: the playback side says when a reply was heard to its end, and the
conversation commits it then (TTSPlaybackManager + LLMAgentContextManager on one bus)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np
import pytest
from harness import wait_until

from xtalk.serving.event_bus import EventBus
from xtalk.serving.events import (
    BaseEvent,
    ConversationTurnCommitted,
    PlaybackDrained,
    PlaybackPauseRequested,
    PlaybackResumeRequested,
    PlaybackStopped,
    PlaybackStopRequested,
    ReplyHeard,
    ReplyTextCompleted,
    SessionStopping,
    TTSChunkReady,
    TTSReplyCompleted,
    UserTurnAccepted,
)
from xtalk.serving.managers.agent.context import INTERRUPTED_MARK, LLMAgentContextManager
from xtalk.serving.managers.speech_out.playback import TTSPlaybackManager

SID = "heard-1"
RATE = 16000
REPLY = "One two three four. Five six seven eight."


@dataclass
class Session:
    bus: EventBus
    playback: TTSPlaybackManager
    context: LLMAgentContextManager
    heard: list[ReplyHeard]
    committed: list[ConversationTurnCommitted]
    stopped: list[PlaybackStopped]

    def conversation(self) -> list[tuple[str, str]]:
        return [(m["role"], m["content"]) for m in self.context.conversation_messages()]

    async def publish(self, event: BaseEvent) -> None:
        await self.bus.publish(event)
        await self.bus.drain()

    async def reply(self, turn_id: int, user: str, seconds: float, text: str = REPLY) -> None:
        """A user turn and a reply of ``seconds`` of audio (two chunks), all sent."""
        await self.publish(UserTurnAccepted(session_id=SID, turn_id=turn_id, text=user))
        await self.publish(ReplyTextCompleted(session_id=SID, turn_id=turn_id, text=text))
        clauses = text.split(". ")
        for index, clause in enumerate(clauses):
            pcm = np.full(int(seconds * RATE / len(clauses)), 100, np.int16)
            await self.publish(TTSChunkReady(session_id=SID, turn_id=turn_id, chunk_index=index,
                                             pcm=pcm, sample_rate=RATE, text=clause))
        await self.publish(TTSReplyCompleted(session_id=SID, turn_id=turn_id,
                                             chunk_count=len(clauses)))

    async def wait_heard(self, count: int, timeout: float = 10.0) -> None:
        await wait_until(lambda: len(self.heard) >= count, timeout, f"{count} ReplyHeard")
        await self.bus.drain()


class _NoModels:
    """A pipeline with no agent (the context manager asks for the agent's own prompt)."""

    def get_agent(self) -> None:
        return None


@pytest.fixture
async def session() -> AsyncIterator[Session]:
    bus = EventBus()
    playback = TTSPlaybackManager(bus, SID, _NoModels())
    context = LLMAgentContextManager(bus, SID, _NoModels())
    playback.bind_handlers(bus)
    context.bind_handlers(bus)
    made = Session(bus, playback, context, [], [], [])
    bus.subscribe(ReplyHeard, made.heard.append)
    bus.subscribe(ConversationTurnCommitted, made.committed.append)
    bus.subscribe(PlaybackStopped, made.stopped.append)
    yield made
    await playback.shutdown()
    await context.shutdown()
    await bus.shutdown()


async def test_drained_queue_means_heard_in_full(session: Session) -> None:
    await session.reply(1, "tell me", seconds=30.0)
    assert session.heard == []  # all sent, still playing
    assert session.conversation() == [("user", "tell me")]
    await session.publish(PlaybackDrained(session_id=SID))
    assert [(h.turn_id, h.seconds) for h in session.heard] == [(1, pytest.approx(30.0))]
    assert session.conversation() == [("user", "tell me"), ("assistant", REPLY)]
    await session.publish(PlaybackDrained(session_id=SID))
    assert len(session.heard) == 1  # once per reply


async def test_heard_once_the_audio_had_time_to_play(session: Session) -> None:
    await session.reply(1, "hi", seconds=1.5)
    assert session.heard == [] and len(session.conversation()) == 1
    await session.wait_heard(1)
    assert session.heard[0].turn_id == 1
    assert session.conversation()[-1] == ("assistant", REPLY)


async def test_a_paused_reply_is_not_heard_until_resumed(session: Session) -> None:
    await session.reply(1, "hi", seconds=0.4)
    await session.publish(PlaybackPauseRequested(session_id=SID, turn_id=1))
    await asyncio.sleep(1.5)  # far past its playing time, but paused
    await session.publish(PlaybackDrained(session_id=SID))
    assert session.heard == [] and len(session.conversation()) == 1
    await session.publish(PlaybackResumeRequested(session_id=SID, turn_id=1))
    await session.wait_heard(1)
    assert session.heard[0].turn_id == 1


async def test_next_user_turn_commits_the_reply_before_it(session: Session) -> None:
    await session.reply(1, "first", seconds=30.0)
    await session.reply(2, "second", seconds=30.0, text="Sure thing.")
    assert [h.turn_id for h in session.heard] == [1]
    assert session.conversation() == [("user", "first"), ("assistant", REPLY),
                                      ("user", "second")]
    await session.publish(SessionStopping(session_id=SID))
    assert [h.turn_id for h in session.heard] == [1, 2]
    assert session.conversation()[-1] == ("assistant", "Sure thing.")


async def test_a_stopped_reply_is_committed_as_heard_not_in_full(session: Session) -> None:
    await session.reply(1, "story", seconds=8.0)
    await asyncio.sleep(1.2)  # the first clause (4 s) is partly heard
    await session.publish(PlaybackStopRequested(session_id=SID, turn_id=1, reason="barge_in"))
    await session.publish(UserTurnAccepted(session_id=SID, turn_id=2, text="stop"))
    await session.publish(PlaybackDrained(session_id=SID))
    assert session.heard == []
    assert len(session.stopped) == 1
    heard = session.stopped[0].heard_text
    assert heard and REPLY.startswith(heard) and len(heard) < len(REPLY)
    assert session.conversation() == [("user", "story"),
                                      ("assistant", heard + INTERRUPTED_MARK),
                                      ("user", "stop")]
    assert session.committed[1].interrupted


async def test_a_reply_without_audio_is_heard_at_once(session: Session) -> None:
    await session.publish(UserTurnAccepted(session_id=SID, turn_id=1, text="hi"))
    await session.publish(ReplyTextCompleted(session_id=SID, turn_id=1, text="Okay."))
    await session.publish(TTSReplyCompleted(session_id=SID, turn_id=1, chunk_count=0))
    assert [(h.turn_id, h.seconds) for h in session.heard] == [(1, 0.0)]
    assert session.conversation()[-1] == ("assistant", "Okay.")
