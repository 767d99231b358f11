"""Graceful overload: the load monitor's measurement and hysteresis, and — with a
saturated signal injected — new sessions waiting in line, admitted when the load falls,
refused with ``server_busy`` (close 4503) when the line is full, while the admitted
session keeps working."""

from __future__ import annotations

import asyncio

from harness import Transport, build_xtalk, wait_until

from xtalk.serving.load import LoadMonitor


def test_the_monitor_saturates_on_lag_and_clears_with_hysteresis() -> None:
    changes: list[bool] = []
    monitor = LoadMonitor(window_s=1.0, lag_limit_s=0.05, cpu_limit=0.9,
                          on_change=changes.append)
    t = 0.0
    for _ in range(20):  # an idle loop: wakes on time, no CPU
        t += 0.05
        monitor.record(0.001, now=t, cpu_s=0.0)
    assert not monitor.saturated and monitor.lag_s < 0.002
    for _ in range(20):  # a busy loop: every wake 80 ms late
        t += 0.13
        monitor.record(0.08, now=t, cpu_s=0.0)
    assert monitor.saturated and changes == [True]
    assert monitor.snapshot()["loop_lag_ms"] == 80.0
    for _ in range(6):  # lag 40 ms: under the limit, not under half of it: still saturated
        t += 0.09
        monitor.record(0.04, now=t, cpu_s=0.0)
    assert monitor.saturated
    for _ in range(25):
        t += 0.05
        monitor.record(0.001, now=t, cpu_s=0.0)
    assert not monitor.saturated and changes == [True, False]


def test_the_monitor_saturates_on_cpu() -> None:
    monitor = LoadMonitor(window_s=1.0, cpu_limit=0.5)
    cores = __import__("os").cpu_count() or 1
    for i in range(21):  # all cores busy the whole time
        monitor.record(0.0, now=i * 0.05, cpu_s=i * 0.05 * cores)
    assert monitor.saturated and monitor.cpu_share > 0.95


async def test_the_monitor_measures_a_blocked_loop() -> None:
    monitor = LoadMonitor(interval_s=0.02, window_s=1.0, lag_limit_s=0.05)
    monitor.ensure_started()
    await asyncio.sleep(0.1)
    for _ in range(5):
        __import__("time").sleep(0.12)  # blocks the loop on purpose
        await asyncio.sleep(0.025)
    await monitor.stop()
    assert monitor.lag_s >= 0.08 and monitor.saturated


async def test_new_sessions_wait_while_saturated_and_the_line_is_bounded(
        transport: Transport) -> None:
    xt = build_xtalk()
    first = await transport.open_session(xt)
    xt.load.force(True)
    xt._admission.max_waiting = 1

    second = await transport.connect(xt)
    status = await second.wait_for("queue_status")
    assert status.data["position"] == 1 and status.data["limit"] is None
    third = await transport.connect(xt)
    busy = await third.wait_for("error")
    assert busy.data["code"] == "server_busy"
    await third.wait_closed()
    assert xt.waiting_sessions == 1 and len(xt.sessions) == 1

    start = len(first.messages)  # the admitted session is unaffected
    await first.say("hello")
    final = await first.wait_for("finish_asr", start=start)
    await first.wait_for("tts_finished", turn_id=final.turn_id, start=start)
    assert final.data["text"] == "hello"

    xt.load.force(None)  # the measured load: an idle test loop
    await wait_until(lambda: not xt.load.saturated, what="the load measured as fine")
    xt._admission.poke()
    await second.wait_for("queue_granted")
    await second.wait_for("session_info")
    assert len(xt.sessions) == 2


def test_the_monitor_learns_what_a_session_costs_the_loop() -> None:
    active = 100
    monitor = LoadMonitor(window_s=1.0, loop_target=0.8, sessions=lambda: active)
    assert monitor.capacity is None and monitor.has_room(10_000)
    for i in range(41):  # the loop's thread busy half of the time, 100 sessions
        monitor.record(0.001, now=i * 0.05, cpu_s=0.0, loop_cpu_s=i * 0.05 * 0.5)
    assert abs(monitor.loop_share - 0.5) < 0.01
    capacity = monitor.capacity
    assert capacity is not None and 155 <= capacity <= 161  # 0.8 / (0.5 / 100) = 160
    assert monitor.has_room(capacity - 1) and not monitor.has_room(capacity)
    active = 5  # too few sessions to learn from: the estimate stays
    for i in range(41, 80):
        monitor.record(0.001, now=i * 0.05, cpu_s=0.0, loop_cpu_s=i * 0.05 * 0.9)
    assert monitor.capacity == capacity


async def test_sessions_beyond_the_learnt_capacity_wait(transport: Transport) -> None:
    xt = build_xtalk()
    first = await transport.open_session(xt)
    xt.load.session_cost = xt.load.loop_target  # one session fills the loop
    waiting = await transport.connect(xt)
    assert (await waiting.wait_for("queue_status")).data["position"] == 1
    await first.close()
    await waiting.wait_for("session_info")
