"""Playback of reply audio on the client: the queue, its bookkeeping and two sinks.

:class:`PlaybackQueue` is pure logic (no devices, no event loop): reply chunks go in, the
player asks for fixed-size blocks, and confirmations of played blocks come back. It keeps
the protocol's bookkeeping:

* ``pause_tts`` stops playing but keeps the queue; blocks already handed to the device
  but not yet played are taken back, so nothing is lost and nothing is played twice;
* ``resume_tts`` continues where it stopped; ``stop_tts`` drops the queue;
* every chunk that was played to its end yields :class:`ChunkPlayed` (``tts_chunk_played``);
* when the queue runs dry after ``tts_finished`` it yields :class:`PlaybackFinished`
  (``tts_playback_finished``) once.

:class:`PlaybackController` applies the server's playback messages to a queue, resamples
each chunk once to the output rate, and drives a sink: :class:`DeviceSink` (a PortAudio
output stream; its callback only pops a prepared block and hands the confirmation to the
event loop with ``call_soon_threadsafe``) or :class:`VirtualSink` (scripted mode: "plays"
in real time, or faster, without a device).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from xtalk.audio.pcm import int16_to_float, resample_int16

BLOCK_SECONDS = 0.02
# The virtual device takes a block this long before it plays it (its buffer): enough
# for the event loop's usual lateness, small beside the block (barge-in cost).
VIRTUAL_LEAD_S = 0.005
# A PortAudio output time further ahead than this is not believed.
MAX_DAC_AHEAD_S = 1.0


# --------------------------------------------------------------------------- queue
@dataclass(eq=False)
class QueuedChunk:
    """One reply chunk, float32 mono at the output rate."""

    turn_id: int | None
    chunk_index: int | None
    samples: np.ndarray
    rendered: int = 0  # samples handed to the player
    played: int = 0  # samples confirmed played
    dropped: bool = False


@dataclass(eq=False)
class Block:
    """A fixed-size block for the player: ``data[:valid]`` is audio, the rest silence."""

    data: np.ndarray
    valid: int
    parts: tuple[tuple[QueuedChunk, int], ...]

    @property
    def audio(self) -> np.ndarray:
        return self.data[:self.valid]


@dataclass(frozen=True)
class ChunkPlayed:
    turn_id: int | None
    chunk_index: int | None


@dataclass(frozen=True)
class PlaybackFinished:
    pass


PlaybackEvent = ChunkPlayed | PlaybackFinished


class PlaybackQueue:
    """Chunks waiting to be played, and what has been played of them."""

    def __init__(self) -> None:
        self._chunks: deque[QueuedChunk] = deque()
        self.paused = False
        self._finish_pending = False

    # ---------------------------------------------------------------- state
    @property
    def dry(self) -> bool:
        """Nothing left to play (held audio of a paused reply counts as left)."""
        return not self._chunks

    # ---------------------------------------------------------------- server messages
    def start(self) -> None:
        """``start_tts``: a new reply plays (a pause of an earlier reply does not carry
        over)."""
        self.paused = False

    def add(self, samples: np.ndarray, *, turn_id: int | None = None,
            chunk_index: int | None = None) -> list[PlaybackEvent]:
        self._chunks.append(QueuedChunk(turn_id, chunk_index,
                                        np.asarray(samples, dtype=np.float32)))
        return self._advance()

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def stop(self) -> list[PlaybackEvent]:
        """Drop everything queued (blocks of it still in flight are ignored when they
        report back)."""
        for chunk in self._chunks:
            chunk.dropped = True
        self._chunks.clear()
        self.paused = False
        return self._advance()

    def tts_finished(self) -> list[PlaybackEvent]:
        """``tts_finished``: report the drain once the queue runs dry (now if it is)."""
        self._finish_pending = True
        return self._advance()

    # ---------------------------------------------------------------- player side
    def render(self, frames: int) -> Block | None:
        """The next block of ``frames`` samples, ``None`` when paused or nothing is left
        to hand out. A short block is padded with silence."""
        if self.paused or frames <= 0:
            return None
        data = np.zeros(frames, dtype=np.float32)
        parts: list[tuple[QueuedChunk, int]] = []
        filled = 0
        for chunk in self._chunks:
            if filled >= frames:
                break
            left = chunk.samples.size - chunk.rendered
            if left <= 0:
                continue
            take = min(left, frames - filled)
            data[filled:filled + take] = chunk.samples[chunk.rendered:chunk.rendered + take]
            chunk.rendered += take
            filled += take
            parts.append((chunk, take))
        if filled == 0:
            return None
        return Block(data, filled, tuple(parts))

    def take_back(self, blocks: list[Block]) -> None:
        """Blocks rendered but never played (oldest first): hand them out again later."""
        for block in reversed(blocks):
            for chunk, count in reversed(block.parts):
                if not chunk.dropped:
                    chunk.rendered -= count

    def played(self, block: Block) -> list[PlaybackEvent]:
        """The player played ``block``."""
        for chunk, count in block.parts:
            if not chunk.dropped:
                chunk.played += count
        return self._advance()

    def _advance(self) -> list[PlaybackEvent]:
        events: list[PlaybackEvent] = []
        while self._chunks and self._chunks[0].played >= self._chunks[0].samples.size:
            chunk = self._chunks.popleft()
            events.append(ChunkPlayed(chunk.turn_id, chunk.chunk_index))
        if not self._chunks and self._finish_pending:
            self._finish_pending = False
            events.append(PlaybackFinished())
        return events


# --------------------------------------------------------------------------- sinks
class Sink(Protocol):
    def refill(self) -> None:
        """New audio may be available (queued, resumed, or a block was played)."""

    def take_back(self) -> list[Block]:
        """Remove the blocks handed out but not played yet (oldest first)."""


class PlaybackController:
    """Applies the server's playback messages to a :class:`PlaybackQueue` and a sink.

    Args:
        send: Called with each JSON message for the server (``tts_chunk_played``,
            ``tts_playback_finished``).
        output_rate: The player's sample rate; ``None``: the rate of the first chunk.
        on_audio: Called with every block of audio played (float32 at ``output_rate``)
            and when it starts to sound (``time.monotonic()`` seconds).
    """

    def __init__(self, send: Callable[[dict[str, Any]], None], output_rate: int | None = None,
                 on_audio: Callable[[np.ndarray, float], None] | None = None) -> None:
        self.queue = PlaybackQueue()
        self.output_rate = output_rate
        self.sink: Sink | None = None
        self._send = send
        self._on_audio = on_audio
        self.on_change: Callable[[], None] | None = None  # after any state change

    @property
    def idle(self) -> bool:
        return self.queue.dry

    def _emit(self, events: list[PlaybackEvent]) -> None:
        for event in events:
            if isinstance(event, ChunkPlayed):
                if event.chunk_index is not None:
                    self._send({"action": "tts_chunk_played",
                                "data": {"chunk_index": event.chunk_index}})
            else:
                self._send({"action": "tts_playback_finished",
                            "data": {"timestamp": time.time() * 1000.0}})
        if self.on_change is not None:
            self.on_change()

    def _refill(self) -> None:
        if self.sink is not None:
            self.sink.refill()

    def _take_back(self) -> list[Block]:
        return self.sink.take_back() if self.sink is not None else []

    # ---------------------------------------------------------------- server messages
    def start(self) -> None:
        self.queue.start()
        self._refill()

    def pause(self) -> None:
        self.queue.pause()
        self.queue.take_back(self._take_back())

    def resume(self) -> None:
        self.queue.resume()
        self._refill()

    def stop(self) -> None:
        self._take_back()
        self._emit(self.queue.stop())

    def chunk(self, pcm: np.ndarray, sample_rate: int, *, turn_id: int | None = None,
              chunk_index: int | None = None) -> None:
        """A chunk of PCM16 at ``sample_rate``: resampled once to the output rate."""
        if self.output_rate is None:
            self.output_rate = int(sample_rate)
        samples = int16_to_float(resample_int16(pcm, int(sample_rate), self.output_rate))
        self._emit(self.queue.add(samples, turn_id=turn_id, chunk_index=chunk_index))
        self._refill()

    def tts_finished(self) -> None:
        self._emit(self.queue.tts_finished())

    # ---------------------------------------------------------------- player side
    def render(self, frames: int) -> Block | None:
        return self.queue.render(frames)

    def block_played(self, block: Block, start: float | None = None) -> None:
        """The sink took ``block``: it sounds from ``start`` (``time.monotonic()``
        seconds; ``None``: now)."""
        if self._on_audio is not None and block.valid:
            self._on_audio(block.audio, time.monotonic() if start is None else start)
        self._emit(self.queue.played(block))
        self._refill()


class DeviceSink:
    """Feeds a PortAudio output stream through a few prepared blocks.

    The event loop renders blocks into a deque (:meth:`refill`); the stream's
    :meth:`callback` (PortAudio thread) pops one, copies it out and hands the confirmation
    to the loop with ``call_soon_threadsafe``. Both sides pop from the left of the deque
    (atomic), so a block is either played or taken back, never both.
    """

    def __init__(self, controller: PlaybackController, loop: asyncio.AbstractEventLoop,
                 block_frames: int, prefill: int = 3) -> None:
        self.controller = controller
        self.block_frames = block_frames
        self.prefill = prefill
        self._loop = loop
        self._ready: deque[Block] = deque()

    def refill(self) -> None:
        while len(self._ready) < self.prefill:
            block = self.controller.render(self.block_frames)
            if block is None:
                break
            self._ready.append(block)

    def take_back(self) -> list[Block]:
        blocks: list[Block] = []
        while True:
            try:
                blocks.append(self._ready.popleft())
            except IndexError:
                return blocks

    def callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio output callback: copy out a prepared block (or silence) and hand
        the loop the block with the moment it will sound, no more."""
        try:
            block = self._ready.popleft()
        except IndexError:
            outdata.fill(0)
            return
        n = min(frames, block.data.size)
        outdata[:n] = block.data[:n, None]
        outdata[n:] = 0
        start = time.monotonic() + dac_ahead(time_info)
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self._loop.call_soon_threadsafe(self.controller.block_played, block, start)


def dac_ahead(time_info: Any) -> float:
    """How long until the block of this PortAudio callback reaches the speaker (s):
    its ``outputBufferDacTime`` minus ``currentTime`` (0 when the host API does not
    tell, or tells nonsense)."""
    dac = getattr(time_info, "outputBufferDacTime", 0.0) or 0.0
    now = getattr(time_info, "currentTime", 0.0) or 0.0
    ahead = float(dac) - float(now)
    return ahead if dac > 0 and now > 0 and 0.0 <= ahead < MAX_DAC_AHEAD_S else 0.0


class VirtualSink:
    """A player without a device (scripted mode): plays blocks at ``speed`` × real time
    on its own clock, like a sound card with a ``lead_s`` buffer: each block is handed
    over (and reported, with the moment it sounds) ``lead_s`` before it plays. When
    the loop comes back too late for that, the virtual device has run dry (an underrun):
    like a sound card it has played whole periods (blocks) of silence meanwhile, and
    the block sounds from the next period on."""

    def __init__(self, controller: PlaybackController, speed: float = 1.0,
                 block_seconds: float = BLOCK_SECONDS, lead_s: float = VIRTUAL_LEAD_S
                 ) -> None:
        self.controller = controller
        self.speed = speed
        self.block_seconds = block_seconds
        self.lead_s = lead_s
        self._wake = asyncio.Event()

    def refill(self) -> None:
        self._wake.set()

    def take_back(self) -> list[Block]:
        return []  # nothing is prepared ahead

    async def run(self) -> None:
        clock: float | None = None  # when the device has played what it was given
        while True:
            rate = self.controller.output_rate
            block = (self.controller.render(max(1, round(rate * self.block_seconds)))
                     if rate else None)
            if block is None:
                self._wake.clear()
                await self._wake.wait()
                clock = None
                continue
            now = time.monotonic()
            period = self.block_seconds / self.speed
            if clock is None:
                clock = now
            elif clock < now:  # an underrun: silent periods until the next one
                clock += math.ceil((now - clock) / period) * period
            start = clock
            self.controller.block_played(block, start)
            clock = start + block.valid / rate / self.speed
            delay = clock - self.lead_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)


__all__ = [
    "Block", "ChunkPlayed", "DeviceSink", "PlaybackController", "PlaybackFinished",
    "PlaybackQueue", "QueuedChunk", "VirtualSink",
]
