"""How loaded the server is: the event loop's lag and the process's CPU, sampled.

:class:`LoadMonitor` wakes every ``interval_s`` on the running loop and measures how late
it woke (a loop busy with other work wakes late: the lag every session's events also
wait). Over the last ``window_s`` it keeps the 90th percentile of the lag and the share
of the machine's CPU the process used. It is *saturated* when that lag exceeds
``lag_limit_s`` or the CPU share exceeds ``cpu_limit``, and clear again only once both
are below half their limits (no flapping at the edge). ``on_change`` runs at every
transition (the session queue admits waiting clients then). New sessions wait while it is
saturated, so the admitted ones keep their latency (:mod:`xtalk.serving.limiter`).

It also learns what one session costs the loop: whenever at least
:data:`LEARN_MIN_SESSIONS` sessions keep the loop's thread over :data:`LEARN_MIN_SHARE`
busy, the loop's CPU share divided by the sessions (an average, kept once learnt).
:meth:`has_room` then admits a session only while the sessions would keep the loop
under ``loop_target`` — sessions open in a burst before they speak, faster than any lag
could show.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable

logger = logging.getLogger(__name__)

LEARN_MIN_SESSIONS = 20
LEARN_MIN_SHARE = 0.3


class LoadMonitor:
    """Samples the loop lag and CPU share; see the module docstring."""

    def __init__(self, *, interval_s: float = 0.05, window_s: float = 2.0,
                 lag_limit_s: float = 0.05, cpu_limit: float = 0.9, loop_target: float = 0.8,
                 on_change: Callable[[bool], None] | None = None,
                 sessions: Callable[[], int] = lambda: 0) -> None:
        self.interval_s, self.window_s = interval_s, window_s
        self.lag_limit_s, self.cpu_limit = lag_limit_s, cpu_limit
        self.loop_target = loop_target
        self.on_change = on_change
        self.sessions = sessions
        #: the loop's CPU share one session costs (None until learnt)
        self.session_cost: float | None = None
        self._lags: deque[tuple[float, float]] = deque()  # (monotonic time, lag s)
        self._cpu: deque[tuple[float, float]] = deque()  # (monotonic time, process CPU s)
        self._loop_cpu: deque[tuple[float, float]] = deque()  # (time, loop thread CPU s)
        self._saturated = False
        self._forced: bool | None = None
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ readings
    @property
    def saturated(self) -> bool:
        return self._saturated if self._forced is None else self._forced

    @property
    def lag_s(self) -> float:
        """The 90th percentile of the loop lag over the window (0 before any sample)."""
        lags = sorted(lag for _, lag in self._lags)
        return lags[min(len(lags) - 1, int(0.9 * len(lags)))] if lags else 0.0

    @property
    def cpu_share(self) -> float:
        """The share of the machine's CPU (all cores) the process used over the window."""
        if len(self._cpu) < 2:
            return 0.0
        (t0, c0), (t1, c1) = self._cpu[0], self._cpu[-1]
        return max(0.0, (c1 - c0) / max(t1 - t0, 1e-6) / (os.cpu_count() or 1))

    @property
    def loop_share(self) -> float:
        """How busy the loop's thread was over the window (its CPU time / wall time)."""
        if len(self._loop_cpu) < 2:
            return 0.0
        (t0, c0), (t1, c1) = self._loop_cpu[0], self._loop_cpu[-1]
        return max(0.0, min(1.0, (c1 - c0) / max(t1 - t0, 1e-6)))

    @property
    def capacity(self) -> int | None:
        """Sessions the loop can carry under ``loop_target`` (None: not learnt yet)."""
        if not self.session_cost:
            return None
        return max(1, int(self.loop_target / self.session_cost))

    def has_room(self, active: int) -> bool:
        """Whether one more session fits beside ``active`` ones (see :attr:`capacity`)."""
        capacity = self.capacity
        return capacity is None or active < capacity

    def snapshot(self) -> dict[str, float | bool | int | None]:
        return {"saturated": self.saturated, "loop_lag_ms": round(self.lag_s * 1000, 1),
                "cpu": round(self.cpu_share, 3), "loop": round(self.loop_share, 3),
                "capacity": self.capacity}

    def force(self, saturated: bool | None) -> None:
        """Override the measurement (an operator draining a replica; tests); None ends
        the override."""
        before = self.saturated
        self._forced = saturated
        if self.saturated != before and self.on_change is not None:
            self.on_change(self.saturated)

    # ------------------------------------------------------------------ sampling
    def ensure_started(self) -> None:
        """Start sampling on the running loop (once)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                name="xtalk-load-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.interval_s)
            self.record(time.perf_counter() - start - self.interval_s)

    def record(self, lag_s: float, now: float | None = None, cpu_s: float | None = None,
               loop_cpu_s: float | None = None) -> None:
        """Add one sample (the loop woke ``lag_s`` late) and update the state."""
        now = time.monotonic() if now is None else now
        self._lags.append((now, max(0.0, lag_s)))
        self._cpu.append((now, time.process_time() if cpu_s is None else cpu_s))
        self._loop_cpu.append((now, time.thread_time() if loop_cpu_s is None else loop_cpu_s))
        for samples in (self._lags, self._cpu, self._loop_cpu):
            while samples and samples[0][0] < now - self.window_s:
                samples.popleft()
        self._learn(self.loop_share)
        lag, cpu = self.lag_s, self.cpu_share
        if not self._saturated and (lag > self.lag_limit_s or cpu > self.cpu_limit):
            self._set(True, lag, cpu)
        elif self._saturated and lag < self.lag_limit_s / 2 and cpu < self.cpu_limit / 2:
            self._set(False, lag, cpu)

    def _learn(self, share: float) -> None:
        sessions = self.sessions()
        if sessions < LEARN_MIN_SESSIONS or share < LEARN_MIN_SHARE \
                or self._loop_cpu[-1][0] - self._loop_cpu[0][0] < self.window_s / 2:
            return
        cost = share / sessions
        before = self.capacity
        self.session_cost = cost if self.session_cost is None else (
            0.9 * self.session_cost + 0.1 * cost)
        if before is None:
            logger.info("one session costs %.2f %% of the loop: about %d sessions fit",
                        cost * 100, self.capacity)

    def _set(self, saturated: bool, lag: float, cpu: float) -> None:
        self._saturated = saturated
        logger.log(logging.WARNING if saturated else logging.INFO,
                   "server %s: event loop lag %.0f ms (p90), CPU %.0f %%",
                   "saturated, new sessions wait" if saturated else "no longer saturated",
                   lag * 1000, cpu * 100)
        if self._forced is None and self.on_change is not None:
            self.on_change(saturated)


__all__ = ["LoadMonitor"]
