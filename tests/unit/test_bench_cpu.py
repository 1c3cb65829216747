"""The CPU the benches print beside their rates: each process's split (pure), and a process
tree's CPU, which counts the children it has reaped (a datum's command lives milliseconds)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from pachstream.bench import cpu_split, tree_cpu_s

CASES = [
    # (CPU seconds per process, units; the split said)
    ({"commits": 0.5, "bench": 1.0}, 1000, "bench 1.000, commits 0.500"),
    ({"tansu": 0.0, "lineage": 0.25}, 500, "lineage 0.500"),  # nothing used: left out
    ({}, 10, "none measured"),
    ({"workers": 3.0}, 1, "workers 3000.000"),
]


@pytest.mark.parametrize(("used", "units", "said"), CASES)
def test_cpu_split(used: dict[str, float], units: float, said: str) -> None:
    assert cpu_split(used, units) == said


def test_a_tree_counts_the_cpu_of_children_it_reaped() -> None:
    burn = "import time; t = time.process_time() + 0.3\nwhile time.process_time() < t: pass"
    # The shell runs the burner, reaps it, then becomes `sleep`: no child is left in /proc,
    # and the burner's 0.3 s are in the process's reaped total only.
    shell = subprocess.Popen(["sh", "-c", f'{sys.executable} -c "{burn}"; exec sleep 30'])
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/proc/{shell.pid}/cmdline").read_bytes().startswith(b"sleep"):
            assert time.monotonic() < deadline, "the burner did not end"
            time.sleep(0.05)
        assert not Path(f"/proc/{shell.pid}/task/{shell.pid}/children").read_text().split()
        assert tree_cpu_s(shell.pid) >= 0.25
    finally:
        shell.kill()
        shell.wait()
