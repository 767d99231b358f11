"""TurnTakingManager: the mediator of the conversation's turns.

Consumes: SpeechOnsetDetected, SpeechOnsetDismissed, SpeechStarted, SpeechEnded,
TurnEndDecided, TranscriptPartial, TranscriptSpeculated, TranscriptFinalized,
UtteranceRejected, UserTextSubmitted, ReplyHeard, PlaybackStopped.
Emits: UserTurnStarted, TurnEndCheckRequested, UserTurnEnded, UserTurnAccepted,
UserTurnMerged, ReplySpeculationRequested, BackchannelHeard, PlaybackPauseRequested,
PlaybackResumeRequested, PlaybackStopRequested, GenerationCancelRequested.

The behaviour users feel:

* speech starts while a reply plays → the reply pauses at once: on the VAD's first speech
  frame (SpeechOnsetDetected), and resumes if that frame came to nothing
  (SpeechOnsetDismissed);
* the speech turns out to be a valid utterance → the old reply is stopped and its
  generation cancelled *before* the new turn is accepted (so the conversation records the
  interrupted reply as heard before the new question);
* the speech was noise, only a backchannel ("mm-hmm", "yeah", "okay"), one lone word or a
  short reaction (at most three words with a hum among them, or said in under 0.8 s and
  recognised unsure) that is no command, answer or question (a misheard hum or echo, most
  often) → the old reply resumes; a pause whose transcript is a backchannel ends such a
  turn after ``BACKCHANNEL_END_S``, whatever longer wait the turn detector would ask for
  (not right after the user's own request: "hmm" may lead into more of it);
* while the user is silent inside a turn and the previous reply is over, the reply to what
  was said so far is prepared speculatively (ReplySpeculationRequested on the pause's
  transcript); speech that goes on abandons it (GenerationCancelRequested);
* an end of turn decided while speech is starting in the pause (an onset not yet
  confirmed or dismissed) waits for that speech: it goes on with the turn, or comes to
  nothing and the pause is judged again;
* a reply accepted while the user is already speaking again is held (paused before it
  starts) until that speech is judged: dropped if it becomes a turn, released otherwise;
* the user goes on within ``continuation_s`` of a turn's end (on the input's clock, from
  when the end was decided) while its reply has only begun (a hesitation taken for the
  end) → unless it is a backchannel (the reply goes on) or a lone command or answer
  ("stop", "no thanks": a turn of its own), it is more of the request: recognised once
  more from the old turn's start, and if that says more, the old turn and its reply are
  withdrawn (UserTurnMerged) and the whole request is answered (if not, it was a hum or
  echo: the reply goes on); speech right after a turn rejected as no speech keeps that
  turn's words when recognised with them ("ask not", too short and unsure alone), and so
  does speech right after a word heard alone over a reply ("Not" | "what your country…"; a
  backchannel stays one);
* turn ids come from one counter here and tag transcript, reply, audio and metrics alike.
  An id is allocated when speech starts; a rejected utterance leaves a gap in the sequence.

Service config key ``"turn"``: ``speculative_replies`` (default true; a speculation that
is discarded still cost a request to the language model), ``continuation_s`` (1.5; 0
switches merging off).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from xtalk.audio.pcm import INPUT_SAMPLE_RATE as SAMPLE_RATE
from xtalk.serving.events import (
    BackchannelHeard,
    GenerationCancelRequested,
    PlaybackPauseRequested,
    PlaybackResumeRequested,
    PlaybackStopped,
    PlaybackStopRequested,
    ReplyHeard,
    ReplySpeculationRequested,
    SpeechEnded,
    SpeechOnsetDetected,
    SpeechOnsetDismissed,
    SpeechStarted,
    TranscriptFinalized,
    TranscriptPartial,
    TranscriptSpeculated,
    TurnEndCheckRequested,
    TurnEndDecided,
    UserTextSubmitted,
    UserTurnAccepted,
    UserTurnEnded,
    UserTurnMerged,
    UserTurnStarted,
    UtteranceRejected,
)
from xtalk.serving.interfaces import Manager
from xtalk.serving.session_settings import TurnSettings
from xtalk.text.backchannels import (
    is_backchannel,
    is_reaction,
    leaves_the_floor,
    says_more,
    whole_request,
)

#: How much longer than the turn detector's wait the turn may stay open when no audio
#: arrives to measure the silence by.
NO_AUDIO_SLACK_S = 1.0
#: How long (wall time) an end held for a pending onset waits when no audio comes to
#: confirm or dismiss that onset (the client stopped sending).
DEFERRED_END_SLACK_S = 2.0
#: Silence after the VAD's end (and the pause's transcript) that ends a turn over a reply
#: that is only a backchannel, if the turn detector has not ended it sooner: not the
#: detector's wait (up to 1.6 s), but enough for the second half of a hum with a gap
#: inside ("uh … huh") to join the first.
BACKCHANNEL_END_S = 0.25


@dataclass
class TurnState:
    """Turn bookkeeping, owned by the turn-taking manager alone."""

    next_turn_id: int = 1
    user_turn: int | None = None
    last_partial: str = ""
    pending_end: tuple[int, float] | None = None  # (end_sample, speech end time)
    awaiting_final: set[int] = field(default_factory=set)
    reply_turn: int | None = None
    #: the reply of ``reply_turn`` was heard to its end or stopped (or there is none)
    reply_settled: bool = True
    last_onset_sample: int = 0  # the latest first speech frame
    dismissed_onset_sample: int | None = None  # the latest onset that came to nothing
    user_turn_start: int = 0  # sample where the current user turn's voice began
    #: user turns that began while a reply was still going (barge-in candidates), with
    #: their speech's length in seconds once they ended
    over_reply: dict[int, float | None] = field(default_factory=dict)
    #: (turn, text) of the speculative reply being prepared
    speculation: tuple[int, str] | None = None
    user_turn_audio_start: int = 0  # where the current turn's audio (as recognised) starts
    #: (turn, audio start, when it ended) of the last spoken turn that ended: the input
    #: sample its end was decided at, or the voice's end if later or not known
    last_ended: tuple[int, int, int] | None = None
    #: the input sample at which the current turn's end was decided (the turn detector's)
    end_decided_at: int | None = None
    #: (turn, text) of the last accepted spoken turn
    last_spoken: tuple[int, str] | None = None
    #: turn → the turn it may continue
    continues: dict[int, int] = field(default_factory=dict)
    last_rejected: int | None = None  # the last turn rejected as no speech
    #: the last turn over a reply that let it go on as one word or a short reaction
    #: (not a backchannel): speech right after it may be the rest ("Not" | "what your…")
    last_kept: int | None = None
    onset_pending: bool = False  # a first speech frame not yet confirmed or dismissed
    #: the user turn whose end was decided while speech was starting in its pause
    end_deferred: int | None = None
    #: (turn over a reply, pause start) whose transcript up to that pause is a backchannel
    backchannel_pause: tuple[int, int] | None = None

    def allocate(self) -> int:
        turn_id, self.next_turn_id = self.next_turn_id, self.next_turn_id + 1
        return turn_id


class TurnTakingManager(Manager):
    """Mediates between listening, recognising, answering and speaking."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.state = TurnState()
        self._end_timer: asyncio.TimerHandle | None = None
        turn = TurnSettings(**self.setting("turn", {}))
        self.speculate = bool(turn.speculative_replies)
        self.continuation_samples = int(float(turn.continuation_s) * SAMPLE_RATE)

    # ---------------------------------------------------------------- speech activity
    @Manager.event_handler(SpeechOnsetDetected, priority=50)
    async def on_onset(self, event: SpeechOnsetDetected) -> None:
        s = self.state
        s.last_onset_sample = event.start_sample
        s.onset_pending = True
        if s.user_turn is None and s.reply_turn is not None:
            await self.publish(PlaybackPauseRequested(session_id=self.session_id,
                                                      turn_id=s.reply_turn),
                               wait_for_completion=True)

    @Manager.event_handler(SpeechOnsetDismissed, priority=50)
    async def on_onset_dismissed(self, _event: SpeechOnsetDismissed) -> None:
        s = self.state
        s.onset_pending = False
        s.dismissed_onset_sample = s.last_onset_sample
        deferred, s.end_deferred = s.end_deferred, None
        if deferred is not None and deferred == s.user_turn and s.pending_end is not None:
            # the speech that held the end came to nothing: the pause is judged again
            await self._request_end_check(deferred, s.pending_end[0])
            return
        await self._resume_if_idle()

    @Manager.event_handler(SpeechStarted, priority=50)
    async def on_speech_started(self, event: SpeechStarted) -> None:
        s = self.state
        s.onset_pending = False
        await self.publish(PlaybackPauseRequested(session_id=self.session_id,
                                                  turn_id=s.reply_turn),
                           wait_for_completion=True)
        if s.user_turn is not None:
            self._cancel_end_timer()  # the user kept talking: same turn goes on
            s.pending_end, s.end_deferred, s.end_decided_at = None, None, None
            await self._abandon_speculation("user_continued")
            return
        s.user_turn = s.allocate()
        # the voice's first frame, not the pre-roll before it
        s.user_turn_start = max(event.start_sample, s.last_onset_sample)
        s.last_partial = ""
        if not s.reply_settled:
            s.over_reply[s.user_turn] = None
        # a start that reaches back over a dismissed onset (a soft first word) began there
        dismissed, s.dismissed_onset_sample = s.dismissed_onset_sample, None
        began = dismissed if dismissed is not None \
            and event.start_sample <= dismissed < s.user_turn_start else s.user_turn_start
        continued = self._continued_turn(began)
        s.user_turn_audio_start = event.start_sample
        if continued is not None:
            s.continues[s.user_turn] = continued[0]
            s.user_turn_audio_start = continued[1]
        self.log.debug("turn %d started at sample %d, voice from %d (last turn ended: %s, "
                       "finals awaited: %s, reply settled: %s)%s", s.user_turn,
                       event.start_sample, began, s.last_ended, sorted(s.awaiting_final),
                       s.reply_settled,
                       f" (may continue turn {continued[0]})" if continued else "")
        await self.publish(UserTurnStarted(
            session_id=self.session_id, turn_id=s.user_turn, start_sample=event.start_sample,
            continues_turn=continued[0] if continued is not None else None,
            continues_from=continued[1] if continued is not None else None))

    def _continued_turn(self, voice_start: int) -> tuple[int, int] | None:
        """(turn, audio start) of the turn that speech from ``voice_start`` may continue:
        the last spoken one, ended at most ``continuation_s`` before, whose reply has not
        been heard yet or is only beginning. The turn ended when its end was decided (on
        the input's clock), not before: a pause waited through to the detector's maximum
        may be continued as soon after as a short one."""
        s, last = self.state, self.state.last_ended
        if last is None or self.continuation_samples <= 0 \
                or voice_start - last[2] > self.continuation_samples:
            return None
        replying = last[0] == s.reply_turn and not s.reply_settled
        pending = last[0] in s.awaiting_final or last[0] in (s.last_rejected, s.last_kept)
        return (last[0], last[1]) if replying or pending else None

    @Manager.event_handler(SpeechEnded, priority=50)
    async def on_speech_ended(self, event: SpeechEnded) -> None:
        s = self.state
        if s.user_turn is None:
            return
        s.pending_end = (event.end_sample, event.end_time)
        if self.pipeline.get_turn_detector_model() is None or event.reason == "muted":
            await self._end_turn()
            return
        if self._at_backchannel_pause():  # the detector may still end it sooner
            self._arm_end_timer(s.user_turn, BACKCHANNEL_END_S, unless_speech=True)
        await self._request_end_check(s.user_turn, event.end_sample)

    async def _request_end_check(self, turn_id: int, end_sample: int) -> None:
        """Ask the turn detector whether the pause from ``end_sample`` ends the turn."""
        await self.publish(TurnEndCheckRequested(
            session_id=self.session_id, turn_id=turn_id, end_sample=end_sample,
            text=self.state.last_partial))

    @Manager.event_handler(TurnEndDecided, priority=50)
    async def on_turn_end_decided(self, event: TurnEndDecided) -> None:
        s = self.state
        if event.turn_id != s.user_turn or s.pending_end is None:
            return
        s.end_decided_at = event.at_sample
        if not event.is_end and self._at_backchannel_pause():
            return  # the backchannel's own, shorter wait stands
        if event.is_end or event.wait_s <= 0:
            await self._end_unless_speech_starts(event.turn_id)
            return
        self._arm_end_timer(event.turn_id, event.wait_s + NO_AUDIO_SLACK_S)

    def _arm_end_timer(self, turn_id: int, delay_s: float, *, unless_speech: bool = False
                       ) -> None:
        """End the turn after ``delay_s`` of wall time (``unless_speech``: unless speech is
        starting then). The turn detector ends waits on the audio's own clock; this timer
        decides when the audio stops coming (a client that went quiet without a word) and
        how long a backchannel's pause lasts."""
        self._cancel_end_timer()
        loop = asyncio.get_running_loop()
        end = self._end_unless_speech_starts if unless_speech else self._end_turn
        self._end_timer = loop.call_later(delay_s, lambda: loop.create_task(end(turn_id)))

    def _at_backchannel_pause(self) -> bool:
        """The user is silent after only a backchannel, in a turn over the reply."""
        s = self.state
        return s.user_turn is not None and s.pending_end is not None \
            and s.backchannel_pause == (s.user_turn, s.pending_end[0])

    async def _end_unless_speech_starts(self, turn_id: int) -> None:
        """End the turn, unless speech is starting in its pause (the VAD heard a first
        speech frame before this decision was dispatched — under load frames run ahead of
        the VAD's events): then the speech decides: it goes on with the turn, or it comes
        to nothing and the pause is judged again."""
        if self.state.onset_pending:
            self.state.end_deferred = turn_id
            self._arm_end_timer(turn_id, DEFERRED_END_SLACK_S)
            return
        await self._end_turn(turn_id)

    def _cancel_end_timer(self) -> None:
        if self._end_timer is not None:
            self._end_timer.cancel()
            self._end_timer = None

    async def _end_turn(self, expected_turn: int | None = None) -> None:
        s = self.state
        if s.user_turn is None or s.pending_end is None:
            return
        if expected_turn is not None and expected_turn != s.user_turn:
            return
        self._cancel_end_timer()
        turn_id, (end_sample, end_time) = s.user_turn, s.pending_end
        decided = max(end_sample, s.end_decided_at or 0)
        s.user_turn, s.pending_end, s.end_decided_at = None, None, None
        s.awaiting_final.add(turn_id)
        s.last_ended = (turn_id, s.user_turn_audio_start, decided)
        if turn_id in s.over_reply:
            s.over_reply[turn_id] = max(0, end_sample - s.user_turn_start) / SAMPLE_RATE
        self.log.debug("turn %d ended at sample %d", turn_id, end_sample)
        await self.publish(UserTurnEnded(session_id=self.session_id, turn_id=turn_id,
                                         end_sample=end_sample, speech_end_time=end_time))

    # ---------------------------------------------------------------- recognition results
    @Manager.event_handler(TranscriptPartial, priority=50)
    def on_partial(self, event: TranscriptPartial) -> None:
        if event.turn_id == self.state.user_turn:
            self.state.last_partial = event.text

    @Manager.event_handler(TranscriptSpeculated, priority=50)
    async def on_speculated(self, event: TranscriptSpeculated) -> None:
        """The user is silent after ``event.text``: prepare that reply, unless a reply is
        still going (the conversation would change before this turn is answered)."""
        s = self.state
        text = event.text.strip()
        if event.turn_id == s.user_turn and event.turn_id in s.over_reply \
                and event.turn_id not in s.continues and not s.reply_settled \
                and is_backchannel(text):
            # "mm-hmm" over the reply: the reply goes on without waiting for the turn
            # detector to be sure the hum is all (Smart Turn often hears one as unfinished);
            # not right after the user's own request, where "hmm" may lead into more of it
            s.backchannel_pause = (event.turn_id, event.end_sample)
            if self._at_backchannel_pause():
                self._arm_end_timer(event.turn_id, BACKCHANNEL_END_S, unless_speech=True)
            return
        if not self.speculate or event.turn_id != s.user_turn or not text \
                or not s.reply_settled:
            return
        if s.speculation == (event.turn_id, text):
            return
        s.speculation = (event.turn_id, text)
        await self.publish(ReplySpeculationRequested(session_id=self.session_id,
                                                     turn_id=event.turn_id, text=text))

    async def _abandon_speculation(self, reason: str) -> None:
        speculation, self.state.speculation = self.state.speculation, None
        if speculation is not None:
            await self.publish(GenerationCancelRequested(
                session_id=self.session_id, turn_id=speculation[0], reason=reason,
                speculative=True), wait_for_completion=True)

    @Manager.event_handler(TranscriptFinalized, priority=50)
    async def on_final(self, event: TranscriptFinalized) -> None:
        s = self.state
        s.awaiting_final.discard(event.turn_id)
        continued = s.continues.pop(event.turn_id, None)
        over_reply = event.turn_id in s.over_reply
        speech_s = s.over_reply.pop(event.turn_id, None)
        self.log.debug("turn %d recognised: %d words (%d with the turn it may continue, "
                       "%s); reply to turn %s %s", event.turn_id, len(event.text.split()),
                       len(event.whole_text.split()), continued, s.reply_turn,
                       "settled" if s.reply_settled else "going")
        if continued is not None and s.last_spoken is not None and event.whole_text \
                and s.last_spoken[0] == continued == s.reply_turn and not s.reply_settled \
                and not is_backchannel(event.text) and not is_reaction(event.text):
            # more of the request, most likely: merged if the turns together say more
            if says_more(event.whole_text, s.last_spoken[1]):
                whole = whole_request(event.whole_text, s.last_spoken[1], event.text)
                await self._accept(event.turn_id, whole, "speech", replaces=continued)
            else:  # heard as nothing more than the request: a hum, the reply's echo
                await self._floor_kept(event)
            return
        text, replaces = event.text, None
        if continued is not None and continued in (s.last_rejected, s.last_kept) \
                and event.whole_text and says_more(event.whole_text, text):
            # its first words, rejected alone ("ask not") or heard alone as a reaction
            # over the reply ("Not"): the client shows the whole as the one turn
            text = event.whole_text
            replaces = continued if continued == s.last_kept else None
        if over_reply and not s.reply_settled and leaves_the_floor(text, speech_s,
                                                                   event.confidence):
            if not is_backchannel(text):
                s.last_kept = event.turn_id
            await self._floor_kept(event)
            return
        await self._accept(event.turn_id, text, "speech", replaces=replaces)

    async def _floor_kept(self, event: TranscriptFinalized) -> None:
        """The user's turn was no request: the paused reply goes on."""
        await self.publish(BackchannelHeard(session_id=self.session_id,
                                            turn_id=event.turn_id, text=event.text))
        await self._resume_if_idle()

    @Manager.event_handler(UtteranceRejected, priority=50)
    async def on_rejected(self, event: UtteranceRejected) -> None:
        s = self.state
        s.awaiting_final.discard(event.turn_id)
        s.over_reply.pop(event.turn_id, None)
        s.continues.pop(event.turn_id, None)
        s.last_rejected = event.turn_id
        if s.speculation is not None and s.speculation[0] == event.turn_id:
            await self._abandon_speculation("rejected")
        await self._resume_if_idle()

    async def _resume_if_idle(self) -> None:
        """The reply paused for speech that came to nothing goes on, unless the user is in
        a turn or one still awaits its transcript."""
        s = self.state
        if s.user_turn is None and not s.awaiting_final and s.reply_turn is not None:
            await self.publish(PlaybackResumeRequested(session_id=self.session_id,
                                                       turn_id=s.reply_turn))

    @Manager.event_handler(UserTextSubmitted, priority=50)
    async def on_text(self, event: UserTextSubmitted) -> None:
        if not event.text.strip():
            return
        await self._abandon_speculation("typed_turn")
        await self._accept(self.state.allocate(), event.text.strip(), "text")

    async def _accept(self, turn_id: int, text: str, modality: str,
                      replaces: int | None = None) -> None:
        s = self.state
        previous = s.reply_turn
        if previous is not None and previous != turn_id:
            continued = previous == replaces
            await self.publish(PlaybackStopRequested(
                session_id=self.session_id, turn_id=previous,
                reason="continued" if continued else "barge_in"), wait_for_completion=True)
            await self.publish(GenerationCancelRequested(
                session_id=self.session_id, turn_id=previous,
                reason="continued" if continued else "new_turn"), wait_for_completion=True)
        if replaces is not None:  # delivered after this transcript's own handlers, so
            # clients get `finish_asr` of the new speech, then the whole request
            await self.publish(UserTurnMerged(session_id=self.session_id, turn_id=replaces,
                                              into_turn_id=turn_id, text=text))
        s.last_spoken = (turn_id, text) if modality == "speech" else None
        s.reply_turn, s.reply_settled = turn_id, False
        if s.speculation is not None and s.speculation[0] == turn_id:
            s.speculation = None  # the context manager uses or discards it
        await self.publish(UserTurnAccepted(session_id=self.session_id, turn_id=turn_id,
                                            text=text, modality=modality))
        if s.user_turn is not None and s.user_turn != turn_id:
            # the user is already speaking again: the reply waits until that is judged
            s.over_reply.setdefault(s.user_turn, None)
            await self.publish(PlaybackPauseRequested(session_id=self.session_id,
                                                      turn_id=turn_id))

    # ---------------------------------------------------------------- the reply's end
    @Manager.event_handler(ReplyHeard, priority=50)
    @Manager.event_handler(PlaybackStopped, priority=50)
    def on_reply_over(self, event: ReplyHeard | PlaybackStopped) -> None:
        if event.turn_id == self.state.reply_turn:
            self.state.reply_settled = True

    async def shutdown(self) -> None:
        self._cancel_end_timer()
