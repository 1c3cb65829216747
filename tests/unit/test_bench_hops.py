"""bench latency's hops: the gaps between consecutive records, by the pair of types."""

from __future__ import annotations

import pytest

from pachstream.bench.hops import hop_medians


@pytest.mark.parametrize(
    ("records", "hops"),
    [
        ([], []),
        ([(5, "a")], []),
        ([(0, "a"), (10, "b")], [("a → b", 1, 10.0)]),
        # Sorted by time first: the order given does not matter across timestamps.
        ([(10, "b"), (0, "a")], [("a → b", 1, 10.0)]),
        # Two rounds: each pair's median, the hop with the most time first.
        (
            [(0, "a"), (10, "b"), (13, "c"), (100, "a"), (130, "b"), (131, "c")],
            [("c → a", 1, 87.0), ("a → b", 2, 20.0), ("b → c", 2, 2.0)],
        ),
        # One timestamp: the records keep their given order (one producer batch).
        ([(0, "x"), (0, "y"), (4, "z")], [("y → z", 1, 4.0), ("x → y", 1, 0.0)]),
        # Ties in total time: by label.
        ([(0, "b"), (1, "a"), (2, "b")], [("a → b", 1, 1.0), ("b → a", 1, 1.0)]),
    ],
)
def test_hop_medians(records: list[tuple[int, str]], hops: list[tuple[str, int, float]]) -> None:
    assert hop_medians(records) == hops
