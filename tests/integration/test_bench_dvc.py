"""DVC beside ``bench incremental``: a real ``dvc`` when one is found, else skipped."""

from __future__ import annotations

import pytest

from pachstream.bench.dvc import dvc_incremental, find_dvc


def test_dvc_times_a_full_run_and_a_rerun_of_every_file() -> None:
    dvc = find_dvc()
    if dvc is None:
        pytest.skip("no dvc (PACHSTREAM_BENCH_DVC or PATH): 'pip install dvc' to run this")
    times = dvc_incremental(dvc, 30, [0, 10, 20])  # each repro checks out/ holds all 30
    assert times.full > 0 and times.rerun > 0 and times.full_cpu > 0


def test_a_dvc_that_fails_fails_the_bench_naming_the_command() -> None:
    with pytest.raises(AssertionError, match=r"dvc init --no-scm -q failed \(1\)"):
        dvc_incremental("false", 3, [])
