"""`pachstream up` refuses an embedded broker whose log is not the one the home's state reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from pachstream.stack._supervisor import broker_refusal

HOME = Path("/h")

CASES = [
    # (last broker's storage, this one's, refused with)
    (None, "memory", None),  # a fresh home
    (None, "s3", None),  # a fresh home, or one older than the record
    ("s3", "s3", None),  # the log its bucket kept
    ("memory", "memory", "kept its log in memory: that log is gone"),
    ("memory", "s3", "kept its log in memory: that log is gone"),
    ("s3", "memory", "kept its log in S3 storage"),
]


@pytest.mark.parametrize(("last", "storage", "refused"), CASES)
def test_broker_refusal(last: str | None, storage: str, refused: str | None) -> None:
    reason = broker_refusal(HOME, last, storage)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason
        assert "PACHSTREAM_HOME /h" in reason and "fresh PACHSTREAM_HOME" in reason
