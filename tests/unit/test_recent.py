"""The answered ids kept to drop retries: bounded, in order, and their membership exact."""

from __future__ import annotations

import pytest

from pachstream.recent import RecentIds

CASES = [
    # (bound, ids remembered in order, kept oldest first, not kept)
    (3, [], [], ["a"]),
    (3, ["a", "b"], ["a", "b"], ["c"]),
    (3, ["a", "b", "c", "d"], ["b", "c", "d"], ["a"]),
    # An id sent again after it was forgotten is kept again; one sent twice while kept
    # stays until its second copy goes.
    (3, ["a", "b", "c", "d", "a"], ["c", "d", "a"], ["b"]),
    (3, ["a", "a", "b", "c"], ["a", "b", "c"], []),
    (3, ["a", "a", "b", "c", "d"], ["b", "c", "d"], ["a"]),
    (1, ["a", "b", "b"], ["b"], ["a"]),
]


@pytest.mark.parametrize(("bound", "remembered", "kept", "gone"), CASES)
def test_the_newest_ids_are_kept_in_order_and_only_they_count_as_seen(
    bound: int, remembered: list[str], kept: list[str], gone: list[str]
) -> None:
    recent = RecentIds(bound)
    for id_ in remembered:
        recent.append(id_)
    assert list(recent) == kept and len(recent) == len(kept)
    assert all(id_ in recent for id_ in kept)
    assert not any(id_ in recent for id_ in gone)
    assert RecentIds(bound, remembered) == recent  # built at once, the same
    assert recent.maxlen == bound


def test_equal_only_with_the_same_ids_and_bound() -> None:
    assert RecentIds(2, ["a"]) != RecentIds(3, ["a"])
    assert RecentIds(2, ["a", "b"]) != RecentIds(2, ["b", "a"])
    assert RecentIds(2, ["x", "a", "b"]) == RecentIds(2, ["a", "b"])
