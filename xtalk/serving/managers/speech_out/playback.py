"""TTSPlaybackManager: hands reply audio out and tracks what the user actually heard.

Consumes: UserTurnAccepted (a reply is coming), TTSChunkReady, TTSReplyCompleted,
GenerationRequested / GenerationCancelRequested / SpeculationConfirmed (the fate of a
speculative reply's chunks), PlaybackPauseRequested, PlaybackResumeRequested,
PlaybackStopRequested, ChunkPlayed, PlaybackDrained, SessionStopping.
Emits: PlaybackStarted (``start_tts``), AudioChunkSent, PlaybackPaused / PlaybackResumed /
PlaybackStopped (``pause_tts`` / ``resume_tts`` / ``stop_tts``), PlaybackFinished
(``tts_finished``), ReplyHeard.

Guarantees:

* every reply that started gets exactly one PlaybackFinished, after its last chunk —
  also when it is empty, when it was stopped, or when the queue was already drained;
* while paused, chunks are held back (the client hears nothing new); resuming sends them;
  a reply paused before it started is held without a word to the client (no
  ``start_tts`` / ``pause_tts`` until it is released);
* the chunks of a speculative reply are held apart until its SpeculationConfirmed and
  dropped when it is cancelled;
* after a stop no chunk of that reply is ever sent again;
* a reply counts as audible until the client reports its queue drained or, for clients
  that do not report, until the audio sent so far has had time to play — so barge-in
  works after the text (and even the synthesis) is complete.

What a stopped reply's user heard (PlaybackStopped ``heard_text``) is computed from the
client's ``tts_chunk_played`` confirmations when it sends them, otherwise from the playing
time. A reply sent in full and not stopped is heard to its end (ReplyHeard, published with
``wait_for_completion`` so the conversation has it before anything that follows) when the
client reports its queue drained, when its audio has had time to play (pauses excluded), when
the next user turn is accepted, or when the session stops — whichever comes first.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from enum import Enum

from xtalk.serving.events import (
    AudioChunkSent,
    ChunkPlayed,
    GenerationCancelRequested,
    GenerationRequested,
    PlaybackDrained,
    PlaybackFinished,
    PlaybackPaused,
    PlaybackPauseRequested,
    PlaybackResumed,
    PlaybackResumeRequested,
    PlaybackStarted,
    PlaybackStopped,
    PlaybackStopRequested,
    ReplyHeard,
    SessionStopping,
    SpeculationConfirmed,
    TTSChunkReady,
    TTSReplyCompleted,
    UserTurnAccepted,
)
from xtalk.serving.interfaces import Manager

AUDIBLE_MARGIN_S = 0.3


@dataclass
class _SentChunk:
    index: int
    seconds: float
    text: str


class Playback(Enum):
    """Where one reply is, as the user hears it.

    ``WAITING`` → ``PLAYING`` (first chunk or completion: ``start_tts``) ⇄ ``PAUSED``;
    ``WAITING`` ⇄ ``HELD`` (paused before it started: nothing said to the client);
    any live state → ``STOPPED`` (cut off); ``PLAYING`` → ``HEARD`` (played to its end).
    """

    WAITING = "waiting"
    HELD = "held"
    PLAYING = "playing"
    PAUSED = "paused"
    STOPPED = "stopped"
    HEARD = "heard"


@dataclass
class ReplyPlayback:
    """Playback of one reply: its :class:`Playback` state and its delivery (synthesis
    complete, all of it sent, the client's queue drained)."""

    turn_id: int
    state: Playback = Playback.WAITING
    tts_complete: bool = False
    finished: bool = False  # everything was sent (``tts_finished``)
    drained: bool = False
    held: list[TTSChunkReady] = field(default_factory=list)
    sent: list[_SentChunk] = field(default_factory=list)
    played: set[int] = field(default_factory=set)
    play_started_at: float | None = None
    paused_at: float | None = None
    paused_total: float = 0.0
    heard_timer: asyncio.Task[None] | None = None

    @property
    def started(self) -> bool:
        return self.state in (Playback.PLAYING, Playback.PAUSED, Playback.HEARD)

    @property
    def paused(self) -> bool:
        return self.state in (Playback.HELD, Playback.PAUSED)

    @property
    def stopped(self) -> bool:
        return self.state is Playback.STOPPED

    def playing_seconds(self, now: float) -> float:
        """How long audio has been playing (pauses excluded)."""
        if self.play_started_at is None:
            return 0.0
        until = self.paused_at if self.paused_at is not None else now
        return max(0.0, until - self.play_started_at - self.paused_total)

    def sent_seconds(self) -> float:
        return sum(c.seconds for c in self.sent)

    def audible(self, now: float) -> bool:
        if self.stopped:
            return False
        if not self.finished:
            return True
        return not self.drained and \
            self.playing_seconds(now) < self.sent_seconds() + AUDIBLE_MARGIN_S

    def seconds_to_play(self, now: float) -> float:
        """How long the audio sent so far still plays (0 when drained or nothing sent)."""
        if self.drained or self.play_started_at is None:
            return 0.0
        return max(0.0, self.sent_seconds() + AUDIBLE_MARGIN_S - self.playing_seconds(now))

    def cancel_heard_timer(self) -> None:
        timer, self.heard_timer = self.heard_timer, None
        if timer is not None and not timer.done() and timer is not asyncio.current_task():
            timer.cancel()


def heard_text(reply: ReplyPlayback, now: float, use_confirmations: bool) -> str:
    """The part of the reply's text the user heard, clause by clause."""
    heard_by_clause: dict[str, list[float]] = {}
    if use_confirmations:
        for chunk in reply.sent:
            part = heard_by_clause.setdefault(chunk.text, [0.0, 0.0])
            part[1] += chunk.seconds
            if chunk.index in reply.played:
                part[0] += chunk.seconds
    else:
        remaining = reply.playing_seconds(now)
        for chunk in reply.sent:
            part = heard_by_clause.setdefault(chunk.text, [0.0, 0.0])
            part[1] += chunk.seconds
            part[0] += min(chunk.seconds, max(0.0, remaining))
            remaining -= chunk.seconds
    words: list[str] = []
    for clause, (heard, total) in heard_by_clause.items():
        if total <= 0:
            continue
        fraction = heard / total
        clause_words = clause.split()
        if fraction >= 0.95:
            words.extend(clause_words)
            continue
        words.extend(clause_words[:int(fraction * len(clause_words))])
        break
    return " ".join(words)


class TTSPlaybackManager(Manager):
    """Owns pause / resume / stop of the reply being played."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.current: ReplyPlayback | None = None
        self._cancelled: set[int] = set()
        self._confirmations_seen = False
        self._unheard: dict[int, ReplyPlayback] = {}  # sent in full, not yet heard
        self._speculative: dict[int, list[TTSChunkReady]] = {}  # held until confirmed

    def _reply_for(self, turn_id: int) -> ReplyPlayback | None:
        if turn_id in self._cancelled:
            return None
        if self.current is None or self.current.turn_id != turn_id:
            self.current = ReplyPlayback(turn_id)
        return self.current

    @Manager.event_handler(UserTurnAccepted, priority=50)
    async def on_next_turn(self, event: UserTurnAccepted) -> None:
        """A reply that was not stopped by this turn was heard to its end (before the
        conversation takes the new user turn)."""
        await self._report_all_heard()

    @Manager.event_handler(UserTurnAccepted, priority=10)
    def on_turn_accepted(self, event: UserTurnAccepted) -> None:
        self._reply_for(event.turn_id)

    @Manager.event_handler(TTSChunkReady, priority=10)
    async def on_chunk(self, event: TTSChunkReady) -> None:
        if event.speculative:
            self._speculative.setdefault(event.turn_id, []).append(event)
            return
        reply = self._reply_for(event.turn_id)
        if reply is None or reply.stopped or reply.finished:
            return
        if reply.paused:
            reply.held.append(event)
            return
        await self._ensure_started(reply)
        await self._send(reply, event)

    @Manager.event_handler(TTSReplyCompleted, priority=10)
    async def on_tts_completed(self, event: TTSReplyCompleted) -> None:
        reply = self._reply_for(event.turn_id)
        if reply is None or reply.stopped:
            return
        reply.tts_complete = True
        if reply.state is Playback.HELD:
            return  # it starts when released
        await self._ensure_started(reply)
        await self._maybe_finish(reply)

    # ------------------------------------------------------------------ speculation
    @Manager.event_handler(SpeculationConfirmed, priority=10)
    async def on_confirmed(self, event: SpeculationConfirmed) -> None:
        for chunk in self._speculative.pop(event.turn_id, []):
            chunk.speculative = False
            await self.on_chunk(chunk)

    @Manager.event_handler(GenerationRequested, priority=10)
    @Manager.event_handler(GenerationCancelRequested, priority=10)
    def on_generation_change(self, event: GenerationRequested | GenerationCancelRequested
                             ) -> None:
        """A new attempt at a turn, or a cancelled one: its held speculative chunks go."""
        if event.turn_id is None:
            self._speculative.clear()
        else:
            self._speculative.pop(event.turn_id, None)

    async def _ensure_started(self, reply: ReplyPlayback) -> None:
        if reply.state is Playback.WAITING:
            reply.state = Playback.PLAYING
            await self.publish(PlaybackStarted(session_id=self.session_id,
                                               turn_id=reply.turn_id))

    async def _send(self, reply: ReplyPlayback, chunk: TTSChunkReady) -> None:
        if reply.play_started_at is None:
            reply.play_started_at = time.monotonic()
        reply.sent.append(_SentChunk(chunk.chunk_index, chunk.pcm.size / chunk.sample_rate,
                                     "" if chunk.cue else chunk.text))  # a cue says no words
        await self.publish(AudioChunkSent(
            session_id=self.session_id, turn_id=reply.turn_id, chunk_index=chunk.chunk_index,
            pcm=chunk.pcm, sample_rate=chunk.sample_rate, text=chunk.text, cue=chunk.cue))

    async def _maybe_finish(self, reply: ReplyPlayback) -> None:
        if reply.tts_complete and not reply.paused and not reply.held and not reply.finished:
            reply.finished = True
            await self.publish(PlaybackFinished(session_id=self.session_id,
                                                turn_id=reply.turn_id))
            self._unheard[reply.turn_id] = reply
            await self._schedule_heard(reply)

    # ------------------------------------------------------------------ heard
    async def _schedule_heard(self, reply: ReplyPlayback) -> None:
        """Report ``reply`` heard once its audio has had time to play (now if it has)."""
        reply.cancel_heard_timer()
        delay = reply.seconds_to_play(time.monotonic())
        if delay <= 0:
            await self._report_heard(reply)
            return

        async def report_when_played() -> None:
            await asyncio.sleep(delay)
            await self._report_heard(reply)

        reply.heard_timer = asyncio.get_running_loop().create_task(
            report_when_played(), name=f"xtalk-heard-{self.session_id}-{reply.turn_id}")

    async def _report_heard(self, reply: ReplyPlayback) -> None:
        if reply.state is not Playback.PLAYING or not reply.finished:
            return
        reply.state = Playback.HEARD
        reply.cancel_heard_timer()
        self._unheard.pop(reply.turn_id, None)
        await self.publish(ReplyHeard(session_id=self.session_id, turn_id=reply.turn_id,
                                      seconds=reply.sent_seconds()),
                           wait_for_completion=True)

    async def _report_all_heard(self) -> None:
        """Every reply sent in full and not paused is heard to its end now."""
        for turn_id in sorted(self._unheard):
            reply = self._unheard.get(turn_id)
            if reply is not None:
                await self._report_heard(reply)

    # ------------------------------------------------------------------ control
    def _target(self, turn_id: int | None) -> ReplyPlayback | None:
        reply = self.current
        if reply is None or reply.stopped or (turn_id is not None and reply.turn_id != turn_id):
            return None
        return reply

    @Manager.event_handler(PlaybackPauseRequested, priority=10)
    async def on_pause(self, event: PlaybackPauseRequested) -> None:
        reply = self._target(event.turn_id)
        now = time.monotonic()
        if reply is None or reply.state not in (Playback.WAITING, Playback.PLAYING) \
                or not reply.audible(now):
            return
        reply.paused_at = now
        reply.cancel_heard_timer()
        if reply.state is Playback.WAITING:
            reply.state = Playback.HELD
            return
        reply.state = Playback.PAUSED
        await self.publish(PlaybackPaused(session_id=self.session_id, turn_id=reply.turn_id),
                           wait_for_completion=True)

    @Manager.event_handler(PlaybackResumeRequested, priority=10)
    async def on_resume(self, event: PlaybackResumeRequested) -> None:
        reply = self._target(event.turn_id)
        if reply is None or not reply.paused:
            return
        now = time.monotonic()
        if reply.paused_at is not None and reply.play_started_at is not None:
            reply.paused_total += now - max(reply.paused_at, reply.play_started_at)
        reply.paused_at = None
        if reply.state is Playback.PAUSED:
            reply.state = Playback.PLAYING
            await self.publish(PlaybackResumed(session_id=self.session_id,
                                               turn_id=reply.turn_id))
        else:  # held before it started
            reply.state = Playback.WAITING
            if reply.held or reply.tts_complete:
                await self._ensure_started(reply)
        held, reply.held = reply.held, []
        for chunk in held:
            await self._send(reply, chunk)
        if reply.finished:
            await self._schedule_heard(reply)
        await self._maybe_finish(reply)

    @Manager.event_handler(PlaybackStopRequested, priority=10)
    async def on_stop(self, event: PlaybackStopRequested) -> None:
        reply = self._target(event.turn_id)
        now = time.monotonic()
        if reply is None or (reply.finished and not reply.audible(now)):
            return
        heard = heard_text(reply, now, self._confirmations_seen)
        was_started = reply.started
        reply.state = Playback.STOPPED
        reply.held.clear()
        reply.cancel_heard_timer()
        self._unheard.pop(reply.turn_id, None)
        self._cancelled.add(reply.turn_id)
        await self.publish(PlaybackStopped(session_id=self.session_id, turn_id=reply.turn_id,
                                           heard_text=heard, reason=event.reason),
                           wait_for_completion=True)
        if was_started and not reply.finished:
            reply.finished = True
            await self.publish(PlaybackFinished(session_id=self.session_id,
                                                turn_id=reply.turn_id, interrupted=True),
                               wait_for_completion=True)

    @Manager.event_handler(ChunkPlayed, priority=10)
    def on_chunk_played(self, event: ChunkPlayed) -> None:
        self._confirmations_seen = True
        if self.current is not None:
            self.current.played.add(event.chunk_index)

    @Manager.event_handler(PlaybackDrained, priority=10)
    async def on_drained(self, event: PlaybackDrained) -> None:
        if self.current is not None and self.current.finished:
            self.current.drained = True
        await self._report_all_heard()

    @Manager.event_handler(SessionStopping, priority=50)
    async def on_session_stopping(self, event: SessionStopping) -> None:
        await self._report_all_heard()
        self._forget_unheard()

    def _forget_unheard(self) -> None:
        for reply in self._unheard.values():
            reply.cancel_heard_timer()
        self._unheard.clear()

    async def shutdown(self) -> None:
        self._forget_unheard()
        await super().shutdown()
