"""``bench s3-put``'s breakdown of a gateway PUT: the mean of each stage between two scrapes
of the gateway's histogram, from its ``_sum`` and ``_count`` samples."""

from __future__ import annotations

import pytest

from pachstream.bench.s3 import stage_means
from pachstream.metrics import PUT_STAGE_SECONDS, Sample


def _stage(stage: str, total: float, count: float) -> list[Sample]:
    return [
        Sample(f"{PUT_STAGE_SECONDS}_sum", {"stage": stage}, total),
        Sample(f"{PUT_STAGE_SECONDS}_count", {"stage": stage}, count),
        Sample(f"{PUT_STAGE_SECONDS}_bucket", {"stage": stage, "le": "+Inf"}, count),
    ]


@pytest.mark.parametrize(
    ("before", "after", "means"),
    [
        # Nothing before (a fresh gateway): the after's own means.
        ([], _stage("received", 2.0, 100) + _stage("applied", 5.0, 100),
         {"received": 0.02, "applied": 0.05}),
        # Only what came between the two scrapes counts.
        (_stage("sent", 10.0, 1000), _stage("sent", 13.0, 1100), {"sent": 0.03}),
        # A stage no PUT reached between them is left out, not a zero.
        (_stage("sent", 1.0, 10) + _stage("applied", 2.0, 10),
         _stage("sent", 1.5, 20) + _stage("applied", 2.0, 10), {"sent": 0.05}),
        # Other metrics and unknown stages are not read; stages come in PUT_STAGES' order.
        ([Sample("pachstream_gateway_request_seconds_sum", {"operation": "PutObject"}, 9.0)],
         _stage("applied", 1.0, 10) + _stage("other", 5.0, 5) + _stage("received", 1.0, 10),
         {"received": 0.1, "applied": 0.1}),
    ],
)  # fmt: skip
def test_stage_means(before: list[Sample], after: list[Sample], means: dict[str, float]) -> None:
    got = stage_means(before, after)
    assert got == pytest.approx(means)
    assert list(got) == list(means)
