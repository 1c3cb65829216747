"""When a just-started stack counts as at rest for a bench (:func:`pachstream.bench.at_rest`)."""

from __future__ import annotations

import pytest

from pachstream.bench import SETTLE_FLAT, at_rest

CASES = [
    # (rates in cores, one per second, oldest first; at rest?)
    ([], False),
    ([0.8], False),
    # A warm-up seen to end: steady at the least seen.
    ([2.01, 1.99, 1.43, 0.78, 0.73], True),
    # Still falling: the last two are apart.
    ([2.01, 1.99, 1.43, 0.78], False),
    # Warm-up still at its height: steady, but nothing has fallen yet.
    ([1.6, 1.7, 1.65], False),
    # Steady but above the least seen (a second warm-up).
    ([2.0, 0.7, 0.75, 1.4, 1.45], False),
    # No warm-up seen: steady for SETTLE_FLAT seconds, not one less.
    ([0.8, 0.75, 0.85] + [0.8] * (SETTLE_FLAT - 3), True),
    ([0.8, 0.75, 0.85] + [0.8] * (SETTLE_FLAT - 4), False),
]


@pytest.mark.parametrize(("rates", "expected"), CASES)
def test_at_rest(rates: list[float], expected: bool) -> None:
    assert at_rest(rates) is expected
