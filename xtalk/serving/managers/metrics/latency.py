"""LatencyManager: measures each turn from the end of the user's speech to the first
audio of the reply, stage by stage, on the monotonic clock.

Consumes: UserTurnEnded, TranscriptFinalized, UserTurnAccepted, GenerationRequested,
SpeculationConfirmed, ReplyTextDelta, TTSChunkReady, AudioChunkSent, PlaybackFinished,
ClockSynced.
Emits: LatencyMeasured (``latency_metrics`` on the wire) once per answered turn, right
after the first audio chunk of the reply's words (dispatched at once, so it precedes
``tts_finished``).

Stages (milliseconds):

* ``endpoint_ms`` — end of speech → end of turn decided (VAD silence + turn detector);
* ``asr_ms`` — end of turn → final transcript;
* ``llm_first_token_ms`` — generation requested → first reply text;
* ``llm_sentence_ms`` — generation requested → first complete clause synthesised;
* ``tts_first_chunk_ms`` — first reply text → first audio chunk synthesised;
* ``e2e_ms`` — end of user speech (typed turns: message accepted) → first audio chunk
  of the reply's words handed to the client or player;
* ``cue_ms`` — the same to a thinking cue ("Hmm.") that opened a slow reply (``None``
  without one): what the user waited before hearing anything;
* ``speculation_saved_ms`` — for a reply prepared speculatively: how much sooner its first
  chunk was ready than had the same generation started at the confirmation.

The generation stages of a speculative reply count from the speculation's start.
"""

from __future__ import annotations

from dataclasses import dataclass

from xtalk.serving.events import (
    AudioChunkSent,
    ClockSynced,
    GenerationRequested,
    LatencyMeasured,
    PlaybackFinished,
    ReplyTextDelta,
    SpeculationConfirmed,
    TranscriptFinalized,
    TTSChunkReady,
    UserTurnAccepted,
    UserTurnEnded,
)
from xtalk.serving.interfaces import Manager


@dataclass
class TurnTimes:
    speech_end: float | None = None
    turn_end: float | None = None
    transcript: float | None = None
    accepted: float | None = None
    generation: float | None = None
    first_token: float | None = None
    first_chunk: float | None = None
    first_sent: float | None = None
    cue_sent: float | None = None
    confirmed: float | None = None  # a speculative reply was confirmed
    reported: bool = False

    def speculation_saved_ms(self) -> float | None:
        if self.confirmed is None or self.generation is None or self.first_chunk is None:
            return None
        return max(0.0, (min(self.first_chunk, self.confirmed) - self.generation) * 1000.0)


def _ms(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else max(0.0, (b - a) * 1000.0)


class LatencyManager(Manager):
    """Collects stage timestamps per turn and reports the breakdown."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.turns: dict[int, TurnTimes] = {}
        self.network_ms: float | None = None

    def _t(self, turn_id: int) -> TurnTimes:
        times = self.turns.get(turn_id)
        if times is None:
            times = self.turns[turn_id] = TurnTimes()
            for old in sorted(self.turns)[:-20]:
                del self.turns[old]
        return times

    @Manager.event_handler(UserTurnEnded, priority=90)
    def on_turn_ended(self, event: UserTurnEnded) -> None:
        t = self._t(event.turn_id)
        t.speech_end = event.speech_end_time or event.monotonic
        t.turn_end = event.monotonic

    @Manager.event_handler(TranscriptFinalized, priority=90)
    def on_transcript(self, event: TranscriptFinalized) -> None:
        self._t(event.turn_id).transcript = event.monotonic

    @Manager.event_handler(UserTurnAccepted, priority=90)
    def on_accepted(self, event: UserTurnAccepted) -> None:
        t = self._t(event.turn_id)
        t.accepted = event.monotonic
        if t.speech_end is None:
            t.speech_end = event.monotonic  # typed turn

    @Manager.event_handler(GenerationRequested, priority=90)
    def on_generation(self, event: GenerationRequested) -> None:
        t = self._t(event.turn_id)  # a new attempt (a discarded speculation's is forgotten)
        t.generation, t.first_token, t.first_chunk, t.confirmed = \
            event.monotonic, None, None, None

    @Manager.event_handler(SpeculationConfirmed, priority=90)
    def on_confirmed(self, event: SpeculationConfirmed) -> None:
        self._t(event.turn_id).confirmed = event.monotonic

    @Manager.event_handler(ReplyTextDelta, priority=90)
    def on_delta(self, event: ReplyTextDelta) -> None:
        t = self._t(event.turn_id)
        if t.first_token is None:
            t.first_token = event.monotonic

    @Manager.event_handler(TTSChunkReady, priority=90)
    def on_chunk(self, event: TTSChunkReady) -> None:
        t = self._t(event.turn_id)
        if t.first_chunk is None and not event.cue:
            t.first_chunk = event.monotonic

    @Manager.event_handler(AudioChunkSent, priority=90)
    async def on_sent(self, event: AudioChunkSent) -> None:
        t = self._t(event.turn_id)
        if event.cue:
            t.cue_sent = t.cue_sent or event.monotonic
        elif t.first_sent is None:
            t.first_sent = event.monotonic
            await self._report(event.turn_id, t)

    @Manager.event_handler(PlaybackFinished, priority=90)
    async def on_finished(self, event: PlaybackFinished) -> None:
        await self._report(event.turn_id, self._t(event.turn_id))

    @Manager.event_handler(ClockSynced)
    def on_clock(self, event: ClockSynced) -> None:
        self.network_ms = max(0.0, event.rtt_s * 500.0)

    async def _report(self, turn_id: int, t: TurnTimes) -> None:
        if t.reported or t.accepted is None:
            return
        t.reported = True
        await self.publish(LatencyMeasured(
            session_id=self.session_id, turn_id=turn_id,
            endpoint_ms=_ms(t.speech_end, t.turn_end),
            asr_ms=_ms(t.turn_end, t.transcript),
            llm_first_token_ms=_ms(t.generation, t.first_token),
            llm_sentence_ms=_ms(t.generation, t.first_chunk),
            tts_first_chunk_ms=_ms(t.first_token, t.first_chunk),
            e2e_ms=_ms(t.speech_end, t.first_sent),
            network_ms=self.network_ms, speculation_saved_ms=t.speculation_saved_ms(),
            cue_ms=_ms(t.speech_end, t.cue_sent)),
            wait_for_completion=True)
