"""LLMAgentContextManager: owns the session's conversation with the agent.

Consumes: UserTurnAccepted, RetrievalUpdated, ReplyTextCompleted, AudioChunkSent,
PlaybackPaused, PlaybackResumed, PlaybackFinished, PlaybackStopped, PlaybackDrained,
SessionStopping.
Emits: GenerationRequested (with a snapshot of the conversation),
ConversationTurnCommitted (for persistence).

A reply enters the conversation as the user heard it: in full once its playback finished,
or — when the user interrupted it — only the part that was played, marked as cut off.
``tts_finished`` (PlaybackFinished) only means the last chunk was *sent*; replies are sent
faster than real time, so the user is still listening then and may still interrupt. A
completely sent reply is therefore committed in full only when it has been played: when
the client reports its queue drained, when its audio has had time to play (pauses
excluded), before the next user turn, or when the session stops — whichever comes first.
The system prompt comes from the service config key ``"system_prompt"``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from xtalk.serving.events import (
    AudioChunkSent,
    ConversationTurnCommitted,
    GenerationRequested,
    PlaybackDrained,
    PlaybackFinished,
    PlaybackPaused,
    PlaybackResumed,
    PlaybackStopped,
    ReplyTextCompleted,
    RetrievalUpdated,
    SessionStopping,
    UserTurnAccepted,
)
from xtalk.serving.interfaces import Manager

DEFAULT_SYSTEM_PROMPT = (
    "You are Xtalk, a helpful voice assistant. The user hears your replies spoken aloud, "
    "so answer conversationally in one to three short sentences, without markdown, lists "
    "or emoji, unless asked for detail."
)
INTERRUPTED_MARK = " …"
# Playback on the client may lag the audio clock a little (as in TTSPlaybackManager).
PLAYED_MARGIN_S = 0.3


@dataclass
class Conversation:
    """The ordered messages of a session."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    pending_replies: dict[int, str] = field(default_factory=dict)
    committed_turns: set[int] = field(default_factory=set)


@dataclass
class _ReplyAudio:
    """How long a reply's audio plays on the client (as sent), to know when it was heard."""

    seconds: float = 0.0
    started_at: float | None = None
    paused_at: float | None = None
    paused_total: float = 0.0
    sent_in_full: bool = False
    timer: asyncio.Task[None] | None = None

    def played_by(self) -> float:
        """The monotonic time at which the audio sent so far has played."""
        start = self.started_at if self.started_at is not None else time.monotonic()
        return start + self.seconds + self.paused_total + PLAYED_MARGIN_S

    def cancel_timer(self) -> None:
        if self.timer is not None and not self.timer.done():
            self.timer.cancel()
        self.timer = None


class LLMAgentContextManager(Manager):
    """Keeps the conversation history and hands snapshots to the generator."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.conversation = Conversation()
        self.system_prompt: str = self.setting("system_prompt", DEFAULT_SYSTEM_PROMPT)
        self._retrieved: dict[int, str] = {}
        self._audio: dict[int, _ReplyAudio] = {}

    # ------------------------------------------------------------------ public helpers
    def conversation_messages(self) -> list[dict[str, Any]]:
        return [dict(m) for m in self.conversation.messages]

    def restore_conversation(self, messages: list[dict[str, Any]]) -> None:
        self.conversation = Conversation(
            messages=[{"role": m["role"], "content": m["content"]}
                      for m in messages if m["role"] in ("user", "assistant")])

    def _snapshot(self, turn_id: int) -> list[dict[str, Any]]:
        system = self.system_prompt
        context = self._retrieved.pop(turn_id, "")
        if context:
            system += "\n\nRelevant excerpts from the user's documents:\n" + context
        return [{"role": "system", "content": system}, *self.conversation_messages()]

    # ------------------------------------------------------------------ handlers
    @Manager.event_handler(RetrievalUpdated, priority=40)
    def on_retrieval(self, event: RetrievalUpdated) -> None:
        if event.text:
            self._retrieved[event.turn_id] = event.text

    @Manager.event_handler(UserTurnAccepted, priority=40)
    async def on_user_turn(self, event: UserTurnAccepted) -> None:
        # A reply that was not stopped by this turn was heard to its end.
        await self._commit_sent_replies()
        self.conversation.messages.append({"role": "user", "content": event.text})
        await self.publish(ConversationTurnCommitted(
            session_id=self.session_id, turn_id=event.turn_id, role="user", content=event.text))
        await self.publish(GenerationRequested(
            session_id=self.session_id, turn_id=event.turn_id,
            messages=self._snapshot(event.turn_id)))

    @Manager.event_handler(ReplyTextCompleted, priority=40)
    def on_reply_text(self, event: ReplyTextCompleted) -> None:
        self.conversation.pending_replies[event.turn_id] = event.text

    @Manager.event_handler(AudioChunkSent, priority=40)
    def on_audio_sent(self, event: AudioChunkSent) -> None:
        audio = self._audio.setdefault(event.turn_id, _ReplyAudio())
        if audio.started_at is None:
            audio.started_at = time.monotonic()
        if event.sample_rate > 0:
            audio.seconds += event.pcm.size / event.sample_rate

    @Manager.event_handler(PlaybackPaused, priority=40)
    def on_paused(self, event: PlaybackPaused) -> None:
        audio = self._audio.get(event.turn_id)
        if audio is not None and audio.paused_at is None:
            audio.paused_at = time.monotonic()
            audio.cancel_timer()

    @Manager.event_handler(PlaybackResumed, priority=40)
    def on_resumed(self, event: PlaybackResumed) -> None:
        audio = self._audio.get(event.turn_id)
        if audio is None or audio.paused_at is None:
            return
        if audio.started_at is not None:
            audio.paused_total += time.monotonic() - max(audio.paused_at, audio.started_at)
        audio.paused_at = None
        if audio.sent_in_full:
            self._commit_when_played(event.turn_id, audio)

    @Manager.event_handler(PlaybackFinished, priority=40)
    async def on_played(self, event: PlaybackFinished) -> None:
        if event.interrupted:
            self._forget_audio(event.turn_id)
            return
        if event.turn_id not in self.conversation.pending_replies:
            self._forget_audio(event.turn_id)
            return
        audio = self._audio.setdefault(event.turn_id, _ReplyAudio())
        audio.sent_in_full = True
        if audio.started_at is None or audio.seconds <= 0:
            await self._commit_reply(event.turn_id)  # nothing to listen to
        elif audio.paused_at is None:
            self._commit_when_played(event.turn_id, audio)

    @Manager.event_handler(PlaybackDrained, priority=40)
    async def on_drained(self, event: PlaybackDrained) -> None:
        await self._commit_sent_replies()

    @Manager.event_handler(SessionStopping, priority=40)
    async def on_session_stopping(self, event: SessionStopping) -> None:
        await self._commit_sent_replies()
        for turn_id in list(self._audio):
            self._forget_audio(turn_id)

    @Manager.event_handler(PlaybackStopped, priority=40)
    async def on_stopped(self, event: PlaybackStopped) -> None:
        self._forget_audio(event.turn_id)
        self.conversation.pending_replies.pop(event.turn_id, None)
        heard = event.heard_text.strip()
        if heard:
            await self._commit(event.turn_id, heard + INTERRUPTED_MARK, interrupted=True)

    def _commit_when_played(self, turn_id: int, audio: _ReplyAudio) -> None:
        audio.cancel_timer()

        async def commit_later() -> None:
            await asyncio.sleep(max(0.0, audio.played_by() - time.monotonic()))
            audio.timer = None
            await self._commit_reply(turn_id)

        audio.timer = asyncio.get_running_loop().create_task(
            commit_later(), name=f"xtalk-heard-{self.session_id}-{turn_id}")

    async def _commit_sent_replies(self) -> None:
        """Commit, in full, every reply whose audio was all sent and is not paused."""
        for turn_id, audio in sorted(self._audio.items()):
            if audio.sent_in_full and audio.paused_at is None:
                await self._commit_reply(turn_id)

    async def _commit_reply(self, turn_id: int) -> None:
        self._forget_audio(turn_id)
        text = self.conversation.pending_replies.pop(turn_id, None)
        if text is not None:
            await self._commit(turn_id, text, interrupted=False)

    def _forget_audio(self, turn_id: int) -> None:
        audio = self._audio.pop(turn_id, None)
        if audio is not None and audio.timer is not asyncio.current_task():
            audio.cancel_timer()

    async def shutdown(self) -> None:
        for turn_id in list(self._audio):
            self._forget_audio(turn_id)
        await super().shutdown()

    async def _commit(self, turn_id: int, text: str, interrupted: bool) -> None:
        if turn_id in self.conversation.committed_turns or not text.strip():
            return
        self.conversation.committed_turns.add(turn_id)
        self.conversation.messages.append({"role": "assistant", "content": text})
        await self.publish(ConversationTurnCommitted(
            session_id=self.session_id, turn_id=turn_id, role="assistant", content=text,
            interrupted=interrupted), wait_for_completion=True)
