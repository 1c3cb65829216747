"""When the local pool makes standby workers: not while its workers use the CPU."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from pachstream.worker._worker import BUSY_SHARE, _cpu_ticks, workers_busy

HZ = os.sysconf("SC_CLK_TCK")


def test_a_worker_over_the_busy_share_of_a_core_holds_the_refill_back():
    one_second_at = int(BUSY_SHARE * HZ)  # ticks a worker may use in a second and stay idle
    assert not workers_busy({1: 100, 2: 50}, {1: 100 + one_second_at, 2: 50}, 1.0)
    assert workers_busy({1: 100, 2: 50}, {1: 100, 2: 50 + one_second_at + 1}, 1.0)
    assert not workers_busy({1: 100, 2: 50}, {1: 100, 2: 50 + one_second_at + 1}, 2.0)
    assert not workers_busy({}, {3: 10_000}, 1.0), "a worker seen once has no share yet"
    assert not workers_busy({}, {}, 0.0)


def test_cpu_ticks_of_a_process_grow_while_it_computes_and_end_with_it():
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        first = _cpu_ticks(spin.pid)
        assert first is not None
        deadline = time.monotonic() + 30
        while _cpu_ticks(spin.pid) == first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (_cpu_ticks(spin.pid) or 0) > first
    finally:
        spin.kill()
        spin.wait()
    assert _cpu_ticks(spin.pid) is None
