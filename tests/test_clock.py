"""The clocks: virtual time is discrete-event, deterministic and frozen while real work runs."""

from __future__ import annotations

import asyncio
import time

import pytest

from specagent.clock import ClockError, RealClock, VirtualClock


def test_virtual_clock_starts_at_zero_and_is_virtual() -> None:
    clock = VirtualClock()
    assert clock.is_virtual
    assert not RealClock().is_virtual

    async def main() -> float:
        return clock.now()

    assert clock.run(main()) == 0.0


def test_sleeps_resolve_in_virtual_order_and_time() -> None:
    clock = VirtualClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    async def main() -> None:
        # Started out of order: they must wake in order of their deadlines.
        async with asyncio.TaskGroup() as tg:
            tg.create_task(sleeper("c", 3.0))
            tg.create_task(sleeper("a", 1.0))
            tg.create_task(sleeper("b", 2.5))
        woke.append(("end", clock.now()))

    clock.run(main())
    assert woke == [("a", 1.0), ("b", 2.5), ("c", 3.0), ("end", 3.0)]


def test_plain_asyncio_sleep_runs_on_virtual_time() -> None:
    clock = VirtualClock()

    async def main() -> list[float]:
        seen = [clock.now()]
        await asyncio.sleep(0.25)
        seen.append(clock.now())
        await asyncio.sleep(0.5)
        seen.append(clock.now())
        return seen

    assert clock.run(main()) == [0.0, 0.25, 0.75]


def test_sleep_zero_and_negative_do_not_advance_time() -> None:
    clock = VirtualClock()

    async def main() -> list[float]:
        await clock.sleep(2.0)
        await clock.sleep(0)
        a = clock.now()
        await clock.sleep(-5)
        return [a, clock.now()]

    assert clock.run(main()) == [2.0, 2.0]


def test_sleep_until() -> None:
    clock = VirtualClock()

    async def main() -> list[float]:
        await clock.sleep_until(4.5)
        a = clock.now()
        await clock.sleep_until(1.0)  # already past: returns at once
        return [a, clock.now()]

    assert clock.run(main()) == [4.5, 4.5]


def test_asyncio_timeout_fires_at_virtual_time() -> None:
    clock = VirtualClock()

    async def main() -> float:
        never = asyncio.Event()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(7.0):
                await never.wait()
        return clock.now()

    assert clock.run(main()) == 7.0


def test_asyncio_timeout_does_not_fire_when_work_finishes_first() -> None:
    clock = VirtualClock()

    async def main() -> float:
        async with asyncio.timeout(5.0):
            await asyncio.sleep(4.0)
        await asyncio.sleep(10.0)  # the cancelled timeout timer must not fire late
        return clock.now()

    assert clock.run(main()) == 14.0


def test_wait_for_times_out_at_virtual_deadline() -> None:
    clock = VirtualClock()

    async def main() -> float:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(100.0), timeout=2.0)
        return clock.now()

    assert clock.run(main()) == 2.0


def test_hold_freezes_virtual_time_while_real_thread_runs() -> None:
    clock = VirtualClock()
    fired: list[float] = []

    async def timer() -> None:
        await clock.sleep(100.0)
        fired.append(clock.now())

    async def main() -> tuple[float, float, list[float]]:
        task = asyncio.create_task(timer())
        await asyncio.sleep(0)  # let the timer register
        before = clock.now()
        with clock.hold():
            await asyncio.to_thread(time.sleep, 0.02)
        after = clock.now()
        fired_during_hold = list(fired)
        await task
        return before, after, fired_during_hold

    before, after, fired_during_hold = clock.run(main())
    assert before == 0.0
    assert after == 0.0  # frozen: the pending 100 s timer did not let time run ahead
    assert fired_during_hold == []
    assert fired == [100.0]  # and time moves again once the hold is released


def test_without_hold_virtual_time_runs_ahead_of_real_work() -> None:
    """The contrast that makes ``hold()`` necessary: an unheld thread lets timers jump."""
    clock = VirtualClock()

    async def main() -> float:
        task = asyncio.create_task(clock.sleep(100.0))
        await asyncio.sleep(0)
        await asyncio.to_thread(time.sleep, 0.02)
        after = clock.now()
        await task
        return after

    assert clock.run(main()) == 100.0


def test_hold_is_reentrant_and_released_on_error() -> None:
    clock = VirtualClock()

    async def main() -> None:
        with clock.hold():
            with clock.hold():
                assert clock._holds == 2
            assert clock._holds == 1
        with pytest.raises(RuntimeError):
            with clock.hold():
                raise RuntimeError("boom")
        assert clock._holds == 0
        await clock.sleep(1.0)  # time advances again after the failed hold
        assert clock.now() == 1.0

    clock.run(main())


def test_thirty_minute_virtual_wait_is_fast() -> None:
    clock = VirtualClock()

    async def main() -> float:
        await clock.sleep(30 * 60)
        return clock.now()

    real_start = time.perf_counter()
    assert clock.run(main()) == 1800.0
    assert time.perf_counter() - real_start < 1.0


def test_many_interleaved_timers_are_fast_and_exact() -> None:
    clock = VirtualClock()

    async def tick(period: float, n: int, out: list[float]) -> None:
        for _ in range(n):
            await clock.sleep(period)
            out.append(clock.now())

    async def main() -> tuple[list[float], list[float]]:
        a: list[float] = []
        b: list[float] = []
        await asyncio.gather(tick(60.0, 30, a), tick(90.0, 20, b))
        return a, b

    real_start = time.perf_counter()
    a, b = clock.run(main())
    assert time.perf_counter() - real_start < 1.0
    assert a == pytest.approx([60.0 * (i + 1) for i in range(30)])
    assert b == pytest.approx([90.0 * (i + 1) for i in range(20)])


def _scenario(clock: VirtualClock) -> list[tuple[str, float]]:
    trace: list[tuple[str, float]] = []

    async def worker(name: str, delays: list[float]) -> None:
        for i, d in enumerate(delays):
            await clock.sleep(d)
            trace.append((f"{name}{i}", clock.now()))

    async def main() -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(worker("a", [0.3, 0.3, 0.4]))
            tg.create_task(worker("b", [0.5, 0.1, 0.2]))
            tg.create_task(worker("c", [0.1, 0.9]))
        try:
            async with asyncio.timeout(0.35):
                await asyncio.sleep(1.0)
        except TimeoutError:
            trace.append(("timeout", clock.now()))

    clock.run(main())
    return trace


def test_virtual_runs_are_deterministic() -> None:
    first = _scenario(VirtualClock())
    second = _scenario(VirtualClock())
    assert first == second
    names = [n for n, _ in first]
    assert names[-1] == "timeout"
    assert first[-1][1] == pytest.approx(1.35)
    times = [t for _, t in first]
    assert times == sorted(times)


def test_one_virtual_clock_can_run_twice_and_keeps_its_time() -> None:
    clock = VirtualClock()

    async def main() -> float:
        await clock.sleep(3.0)
        return clock.now()

    assert clock.run(main()) == 3.0
    assert clock.run(main()) == 6.0


def test_real_clock_now_advances_monotonically() -> None:
    clock = RealClock()

    async def main() -> list[float]:
        readings = [clock.now()]
        for _ in range(5):
            await asyncio.sleep(0.001)
            readings.append(clock.now())
        return readings

    readings = clock.run(main())
    assert readings[0] == pytest.approx(0.0, abs=0.05)
    assert all(b > a for a, b in zip(readings, readings[1:]))
    assert readings[-1] >= 0.005 - 1e-3  # five real millisecond sleeps did pass


def test_virtual_clock_read_without_a_loop_raises() -> None:
    with pytest.raises(ClockError):
        VirtualClock().now()
    with pytest.raises(ClockError):
        RealClock().now()


def test_virtual_clock_read_inside_a_foreign_loop_raises() -> None:
    clock = VirtualClock()

    async def read() -> float:
        return clock.now()

    with pytest.raises(ClockError):
        asyncio.run(read())  # a plain asyncio loop, not the clock's own

    other = VirtualClock()
    with pytest.raises(ClockError):
        other.run(read())  # another virtual clock's loop
