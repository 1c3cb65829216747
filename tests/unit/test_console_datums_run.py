"""What the job page says under "Datums run" when it lists none: true for a running job
(nothing finished yet, not "skipped") and for each way an ended job can have none.
"""

from __future__ import annotations

import pytest

from pachstream.console._html import Progress
from pachstream.console._pages import _none_ran


def _p(state: str, total: int, processed: int, skipped: int, failed: int) -> Progress:
    done = processed + skipped + failed
    # percent, elapsed_s and rate play no part in the text.
    return Progress(
        state, total, processed, skipped, failed, done, 0.0, 1.0, 0.0, state != "running"
    )


@pytest.mark.parametrize(
    ("p", "says"),
    [
        (_p("running", 5, 0, 0, 0), "none finished yet"),
        (_p("running", 5, 0, 3, 0), "none finished yet"),  # skipped, but others still run
        (_p("success", 0, 0, 0, 0), "none: the job had no datums"),
        (_p("success", 4, 0, 4, 0), "none (skipped datums kept their outputs)"),
        (_p("failure", 2, 0, 0, 2), "none succeeded (the failed datums are above)"),
        (_p("failure", 3, 0, 1, 2), "none (skipped datums kept their outputs)"),
    ],
)
def test_an_empty_list_of_datums_run_says_why(p: Progress, says: str) -> None:
    assert _none_ran(p).startswith(says)
