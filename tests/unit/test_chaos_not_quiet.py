"""The line a chaos campaign says when the stack was not quiet in time: what it waited for,
and whether the lineage tables (which jobs are read from) were behind the events topic, so a
failure read from a CI log says which of the two it was."""

from __future__ import annotations

import pytest

from pachstream.chaos._campaign import not_quiet

CASES = [
    # (what was not quiet, lineage lag) → the line
    (
        ["0 open commit(s)", "job 26e6 of joined running"],
        {},
        "not quiet in time: 0 open commit(s); job 26e6 of joined running; "
        "lineage tables caught up with the events topic",
    ),
    (
        ["1 open commit(s)"],
        {("ps.events", 1): (326, 329), ("ps.events", 0): (10, None)},
        "not quiet in time: 1 open commit(s); lineage tables behind the events topic; "
        "partition: (applied, log end) ps.events[0]: (10, None), ps.events[1]: (326, 329)",
    ),
]


@pytest.mark.parametrize(("unquiet", "lag", "said"), CASES)
def test_not_quiet(
    unquiet: list[str], lag: dict[tuple[str, int], tuple[int, int | None]], said: str
) -> None:
    assert not_quiet(unquiet, lag) == said
