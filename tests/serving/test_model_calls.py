"""ModelCaller: a model call goes to a worker thread until the model proved cheaper than
the hop, then runs inline, and back to threads when it turns slow."""

from __future__ import annotations

import threading
import time

from xtalk.serving.model_calls import ModelCaller


async def test_a_cheap_model_moves_inline_and_a_slow_one_stays_in_threads() -> None:
    loop_thread = threading.get_ident()
    cheap = ModelCaller(inline_below_s=1e-3, warmup=5)
    where = [await cheap.call(threading.get_ident) for _ in range(8)]
    assert all(t != loop_thread for t in where[:5])  # measured in threads first
    assert where[-1] == loop_thread and cheap.inline

    def slow() -> int:
        time.sleep(0.003)
        return threading.get_ident()

    heavy = ModelCaller(inline_below_s=1e-3, warmup=5)
    assert all([await heavy.call(slow) != loop_thread for _ in range(8)])
    assert not heavy.inline


async def test_it_goes_back_to_threads_when_the_model_turns_slow() -> None:
    caller = ModelCaller(inline_below_s=1e-3, warmup=3)
    for _ in range(4):
        await caller.call(lambda: None)
    assert caller.inline
    await caller.call(lambda: time.sleep(0.02))  # one slow call, inline: noticed
    assert not caller.inline
    assert await caller.call(threading.get_ident) != threading.get_ident()


async def test_the_cost_is_judged_per_item() -> None:
    caller = ModelCaller(inline_below_s=1e-3, warmup=3)
    for _ in range(3):  # 4 ms for 8 items: 0.5 ms each, under the limit
        await caller.call(lambda: time.sleep(0.004), items=8)
    assert caller.inline
