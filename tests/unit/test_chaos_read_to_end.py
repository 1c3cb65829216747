"""When the campaign's read of a topic is done: each partition at the high watermark its
fetches report, or short of it with nothing coming for HOLE_AFTER_S (a log that ends in a
hole, as Tansu leaves after a write its storage refused)."""

from __future__ import annotations

import pytest

from pachstream.chaos._collect import HOLE_AFTER_S, read_to_end

NOW = 1000.0
LONG_AGO = NOW - HOLE_AFTER_S
JUST_NOW = NOW - 1.0

CASES = [
    # (next offset, high watermark, last moved) per partition → done
    ({0: 10}, {0: 10}, {0: JUST_NOW}, True),
    ({0: 10, 1: 3}, {0: 10, 1: 3}, {0: JUST_NOW, 1: JUST_NOW}, True),
    ({0: 7}, {0: 10}, {0: JUST_NOW}, False),  # behind and moving: keep reading
    ({0: 7}, {0: 10}, {0: LONG_AGO}, True),  # behind, nothing for HOLE_AFTER_S: a hole
    ({0: 10, 1: 7}, {0: 10, 1: 10}, {0: LONG_AGO, 1: JUST_NOW}, False),
    ({0: 0}, {0: None}, {0: LONG_AGO}, False),  # no fetch answered yet: no end known
    ({0: 0}, {0: 0}, {0: JUST_NOW}, True),  # an empty partition
]


@pytest.mark.parametrize("case", CASES)
def test_read_to_end(
    case: tuple[dict[int, int], dict[int, int | None], dict[int, float], bool],
) -> None:
    next_offset, ends, still_since, done = case
    assert read_to_end(next_offset, ends, still_since, NOW) is done
