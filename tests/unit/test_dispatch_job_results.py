"""Job.add_result: whether every expected datum has a result, counted down per result.

Carried results (datums an earlier job ran) are in ``results`` but not in ``expect``; results
loaded anew after a restart replace the dict. Each case is checked against the plain
definition, every expected datum has a result, after every step.
"""

from __future__ import annotations

import pytest

from pachstream.dispatch._core import Result
from pachstream.dispatch._state import Job


def _job(expect: set[str], carried: set[str]) -> Job:
    job = Job(
        job_id="j", version=1, inputs=[], output_commit="c", started=0.0, expect=expect,
        skipped=0, vanished=[],
    )  # fmt: skip
    job.results.update({d: Result("success", d, carried=True) for d in carried})
    return job


CASES = [
    # expect, carried, order of results, where the results are loaded anew (index or None)
    ({"a"}, set(), ["a"], None),
    ({"a", "b", "c"}, set(), ["c", "a", "b"], None),
    ({"a", "b"}, {"x", "y", "z"}, ["b", "a"], None),  # more carried than expected
    ({"a", "b", "c", "d"}, {"x"}, ["a", "b", "c", "d"], 2),  # a restart after two
    ({"a", "b", "c"}, set(), ["a", "b", "c"], 0),  # a restart before any
]


@pytest.mark.parametrize(("expect", "carried", "order", "reload_at"), CASES)
def test_complete_exactly_when_every_expected_datum_has_a_result(
    expect: set[str], carried: set[str], order: list[str], reload_at: int | None
) -> None:
    job = _job(expect, carried)
    for n, datum in enumerate(order):
        if n == reload_at:
            job.results = dict(job.results)  # as the store loads them: a new dict
        every = job.add_result(datum, Result("success", datum))
        assert every == expect.issubset(job.results), (n, datum)
    assert every


def test_a_result_twice_or_unexpected_is_a_defect_of_the_caller() -> None:
    job = _job({"a", "b"}, {"x"})
    job.add_result("a", Result("success", "a"))
    with pytest.raises(AssertionError):
        job.add_result("a", Result("success", "a"))
    with pytest.raises(AssertionError):
        job.add_result("x", Result("success", "x"))
