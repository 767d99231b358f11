"""A live session for the benchmarks: the engine served over a real WebSocket (uvicorn on
127.0.0.1, in this process), a client whose microphone streams in real time, and the
latency a user feels.

The microphone sends one 512-sample frame every 32 ms for the whole session (silence when
nothing is queued), as the browser client does. It keeps the moment each frame left, so
:meth:`LiveMicrophone.time_of` tells when any sample of the stream was spoken: a frame
goes out when its last sample has been captured, so sample ``s`` of a frame sent at ``t``
that ends at sample ``e`` was spoken at ``t - (e - s) / 16000``.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))

from harness import TRANSPORTS, Client, Transport  # noqa: E402

SR = 16000
FRAME = 512
FRAME_S = FRAME / SR


class LiveMicrophone:
    """Streams 512-sample frames in real time: queued audio first, silence otherwise."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._queue: deque[tuple[np.ndarray, asyncio.Future[None] | None]] = deque()
        self._silence = np.zeros(FRAME, dtype=np.int16)
        self._task: asyncio.Task[None] | None = None
        self._ends: list[int] = []  # stream sample just after each sent frame
        self._times: list[float] = []  # when each frame was sent (monotonic)
        self.max_late_s = 0.0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def play(self, pcm: np.ndarray) -> tuple[int, asyncio.Future[None]]:
        """Queue ``pcm``; returns the stream sample where it starts and a future done when
        its last frame was sent."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pcm = np.asarray(pcm, dtype=np.int16)
        pad = (-pcm.size) % FRAME
        if pad or pcm.size == 0:
            pcm = np.concatenate([pcm, np.zeros(pad or FRAME, dtype=np.int16)])
        start = (self._ends[-1] if self._ends else 0) + FRAME * len(self._queue)
        frames = pcm.reshape(-1, FRAME)
        for k, frame in enumerate(frames):
            self._queue.append((frame, done if k == len(frames) - 1 else None))
        return start, done

    def time_of(self, sample: int) -> float | None:
        """When stream sample ``sample`` was spoken (``None`` if not sent yet)."""
        k = bisect.bisect_right(self._ends, sample)
        if k >= len(self._ends):
            return None
        return self._times[k] - (self._ends[k] - sample) / SR

    async def _run(self) -> None:
        start = time.monotonic()
        n = 0
        while True:
            due = start + n * FRAME_S
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                self.max_late_s = max(self.max_late_s, -delay)
            frame, done = self._queue.popleft() if self._queue else (self._silence, None)
            self._ends.append((self._ends[-1] if self._ends else 0) + FRAME)
            self._times.append(time.monotonic())  # the frame leaves now
            await self.client.send_bytes(frame.astype("<i2").tobytes())
            if done is not None and not done.done():
                done.set_result(None)
            n += 1

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class LiveSession:
    """``async with LiveSession(xtalk) as live``: a client over a real WebSocket (or
    ``transport="inprocess"``) with a running :class:`LiveMicrophone`."""

    def __init__(self, xtalk: Any, transport: str = "websocket") -> None:
        self.xtalk = xtalk
        self.transport: Transport = TRANSPORTS[transport]()
        self.client: Client
        self.mic: LiveMicrophone

    async def __aenter__(self) -> LiveSession:
        self.client = await self.transport.open_session(self.xtalk, timeout=30)
        self.mic = LiveMicrophone(self.client)
        self.mic.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.mic.stop()
        await self.transport.aclose()

    @property
    def service(self) -> Any:
        return self.xtalk.sessions[self.client.session_id]

    async def settle_playback(self) -> None:
        """The client's (virtual) playback queue ran dry: the reply is no longer audible."""
        await self.client.send_json({"action": "tts_playback_finished",
                                     "data": {"timestamp": time.time() * 1000}})

    def first_audio_after(self, index: int, turn_id: int | None = None,
                          words: bool = False) -> Any:
        """The first reply audio message received after message ``index`` (``words``: the
        first that speaks the reply's words, not a thinking cue)."""
        for m in self.client.messages[index:]:
            if m.action == "audio" and (turn_id is None or m.turn_id == turn_id) \
                    and not (words and m.data.get("cue")):
                return m
        return None


__all__ = ["FRAME", "SR", "LiveMicrophone", "LiveSession"]
