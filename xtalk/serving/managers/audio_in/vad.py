"""VADManager: decides where speech starts and ends on the input timeline.

Consumes: AudioFrameReceived (always: it keeps the input timeline; the model runs only
when the pipeline has a VAD), ClientVADSignalled (the client's own VAD, so clients with
their own VAD work with a VAD-less pipeline).
Emits: SpeechOnsetDetected / SpeechOnsetDismissed (a first speech frame, then whether it
came to nothing), SpeechStarted, SpeechEnded (sample positions + arrival time of the last
speech sample), SpeechPaused / SpeechResumed (silence began / speech came back within a
segment), SpeechLevelMeasured (about 10 per second, for meters).

Timing: VAD inference runs in a worker thread (inline once it has proven cheaper than
the hop: :class:`~xtalk.serving.model_calls.ModelCaller`); an onset is announced on the first speech
frame (a playing reply pauses on it), a start is declared after ``min_speech_s`` of
speech, an end after ``min_silence_s`` of silence (service config key ``"vad"``: fields of
:class:`VADSettings`). Onsets and their dismissals are dispatched at once, before the
next frame is handled: under load, frames queue up behind the VAD, and a queued onset
would reach the turn detector only after it had measured the frames behind it as silence.

Client VAD is authoritative for ends: between a client's ``vad_speech_start`` and
``vad_speech_end`` the server's own VAD never ends the speech (it still announces onsets,
pauses and starts, so a reply pauses at once and recognition speculates), nor does it
end a segment that the client's speech overlapped. The client's end is placed where the
voice really stopped when the server heard that: at the silence the server VAD is in (or
the end it kept back), else at the newest sample. While a wake-word gate waits for its
phrase (WakeWordAwaited until WakeWordDetected or an accepted turn), client VAD starts are
ignored: the conversation hears silence then, so there is nothing to recognise.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from xtalk.audio.pcm import rms_dbfs
from xtalk.serving.events import (
    AudioFrameReceived,
    ClientVADSignalled,
    SpeechEnded,
    SpeechLevelMeasured,
    SpeechOnsetDetected,
    SpeechOnsetDismissed,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    UserTurnAccepted,
    WakeWordAwaited,
    WakeWordDetected,
)
from xtalk.serving.interfaces import Manager
from xtalk.serving.managers.audio_in.vad_segmenter import SpeechSegmenter
from xtalk.serving.model_calls import ModelCaller
from xtalk.serving.session_settings import VADSettings

CLIENT_PRE_ROLL_S = 0.3
LEVEL_EVERY_FRAMES = 3


def _has_wake_word(manager: Manager) -> bool:
    return manager.pipeline.get_wake_word_model() is not None


class VADManager(Manager):
    """Runs the VAD model frame by frame and places client VAD signals on the timeline."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.settings = VADSettings(**dict(self.setting("vad", {})))
        self.segmenter = SpeechSegmenter(self.settings)
        self._gate_waiting = False  # a wake-word gate waits for its phrase
        self._pending = np.zeros(0, dtype=np.int16)
        self._pending_start = 0
        self._arrivals: deque[tuple[int, float]] = deque(maxlen=400)
        self._last_sample = 0
        self._frames = 0
        self._client_in_speech = False
        self._client_ended_at: int | None = None  # sample of the client's last end
        self._segment_start = 0  # sample where the server's current segment started
        self._held_end: int | None = None  # a server end kept back for the client
        self._caller = ModelCaller()

    def _client_owns_segment(self) -> bool:
        """The client's VAD spoke during the server's current segment."""
        return self._client_in_speech or (
            self._client_ended_at is not None and self._client_ended_at >= self._segment_start)

    def _arrival_time(self, sample: int) -> float:
        """When the frame containing ``sample`` arrived (monotonic); scans from the newest
        frame, since the sample asked for is a fraction of a second old."""
        found: float | None = None
        for end, received in reversed(self._arrivals):
            if end <= sample:
                break
            found = received
        if found is None:  # newer than every frame seen (or none yet)
            return self._arrivals[-1][1] if self._arrivals else 0.0
        return found

    @Manager.event_handler(AudioFrameReceived, priority=20)
    async def on_frame(self, event: AudioFrameReceived) -> None:
        end = event.start_sample + event.pcm.size
        self._arrivals.append((end, event.received_time))
        self._last_sample = end
        vad = self.pipeline.get_vad_model()
        if vad is None:
            return
        if self._pending.size == 0:
            self._pending_start = event.start_sample
            self._pending = event.pcm  # (the usual case: whole frames, nothing copied)
        else:
            self._pending = np.concatenate([self._pending, event.pcm])
        size = vad.frame_samples
        n_frames = self._pending.size // size
        if n_frames == 0:
            return
        frames = [self._pending[i * size:(i + 1) * size] for i in range(n_frames)]
        starts = [self._pending_start + i * size for i in range(n_frames)]
        self._pending = self._pending[n_frames * size:]
        self._pending_start += n_frames * size
        probabilities = await self._caller.call(
            lambda: [float(vad.speech_probability(f)) for f in frames], items=n_frames)
        for frame, start, probability in zip(frames, starts, probabilities, strict=True):
            await self._on_probability(frame, start, probability)

    async def _on_probability(self, frame: np.ndarray, start: int, probability: float) -> None:
        self._frames += 1
        if self._frames % LEVEL_EVERY_FRAMES == 0 \
                and self.event_bus.subscriber_count(SpeechLevelMeasured):  # a meter listens
            await self.publish(SpeechLevelMeasured(
                session_id=self.session_id, probability=probability, rms=rms_dbfs(frame)))
        decision = self.segmenter.process(start, frame.size, probability)
        if decision is None:
            return
        if decision.kind == "onset":
            await self.publish(SpeechOnsetDetected(session_id=self.session_id,
                                                   start_sample=decision.sample),
                               wait_for_completion=True)
        elif decision.kind == "dismissed":
            await self.publish(SpeechOnsetDismissed(session_id=self.session_id),
                               wait_for_completion=True)
        elif decision.kind == "start":
            self._segment_start, self._held_end = decision.sample, None
            await self.publish(SpeechStarted(session_id=self.session_id,
                                             start_sample=decision.sample))
        elif decision.kind == "pause":
            await self.publish(SpeechPaused(session_id=self.session_id,
                                            pause_sample=decision.sample))
        elif decision.kind == "resume":
            await self.publish(SpeechResumed(session_id=self.session_id))
        elif self._client_owns_segment():
            self._held_end = decision.sample  # the client ends this speech
        else:
            await self.publish(SpeechEnded(
                session_id=self.session_id, end_sample=decision.sample,
                end_time=self._arrival_time(decision.sample)))

    @Manager.event_handler(WakeWordAwaited, enabled_if=_has_wake_word)
    @Manager.event_handler(WakeWordDetected, enabled_if=_has_wake_word)
    @Manager.event_handler(UserTurnAccepted, enabled_if=_has_wake_word)
    def on_wake_gate(self, event: WakeWordAwaited | WakeWordDetected | UserTurnAccepted
                     ) -> None:
        self._gate_waiting = isinstance(event, WakeWordAwaited)

    @Manager.event_handler(ClientVADSignalled)
    async def on_client_signal(self, event: ClientVADSignalled) -> None:
        if self._gate_waiting and not self._client_in_speech:
            return  # nothing is heard before the wake phrase
        if event.kind == "start":
            self._client_in_speech = True
            start = max(0, self._last_sample - int(CLIENT_PRE_ROLL_S * 16000))
            await self.publish(SpeechStarted(session_id=self.session_id, start_sample=start,
                                             source="client"))
            return
        self._client_in_speech = False
        end = self._voice_end()
        self._client_ended_at = self._last_sample
        if event.reason == "muted":
            ended = self.segmenter.force_end(self._last_sample)
            if ended is not None and ended.kind == "dismissed":
                await self.publish(SpeechOnsetDismissed(session_id=self.session_id),
                                   wait_for_completion=True)
        await self.publish(SpeechEnded(
            session_id=self.session_id, end_sample=end,
            end_time=self._arrival_time(max(0, end - 1)),
            source="client", reason=event.reason or "client"))

    def _voice_end(self) -> int:
        """Where the voice stopped, as the server VAD heard it (else the newest sample)."""
        if self.pipeline.get_vad_model() is not None:
            pause = self.segmenter.pause_sample
            if pause is not None:
                return pause
            if self._held_end is not None and not self.segmenter.in_speech:
                return self._held_end
        return self._last_sample
