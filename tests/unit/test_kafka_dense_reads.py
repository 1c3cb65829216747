"""A reader says when a read does not continue where the last one ended (our topics' offsets
are dense: a skip is records never seen, a step back records read again)."""

from __future__ import annotations

import logging

import pytest
from aiokafka import TopicPartition

from pachstream.kafka import PartitionReader
from pachstream.settings import KafkaSettings

TP = TopicPartition("t", 0)

CASES = [
    # (reads as (first, last, count), the read numbers warned about)
    ([(0, 9, 10), (10, 19, 10), (20, 20, 1)], []),
    ([(5, 9, 5), (10, 12, 3)], []),  # the first read sets where the next one starts
    ([(0, 9, 10), (12, 15, 4)], [1]),  # offsets 10 and 11 skipped between two reads
    ([(0, 9, 9)], [0]),  # one offset inside a read missing
    ([(0, 9, 10), (0, 9, 10), (10, 10, 1)], [1]),  # read again from 0, then on from there
]


@pytest.mark.parametrize(("reads", "warned"), CASES)
def test_reads_that_skip_or_go_back_are_said(
    reads: list[tuple[int, int, int]], warned: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    reader = PartitionReader(KafkaSettings(bootstrap="127.0.0.1:1"))
    said = []
    for n, (first, last, count) in enumerate(reads):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="pachstream.kafka"):
            reader._check_dense(TP, first, last, count)
        if caplog.records:
            said.append(n)
            assert f"{TP.topic}[0] did not continue" in caplog.records[0].getMessage()
    assert said == warned


def test_a_seek_sets_where_the_next_read_starts(caplog: pytest.LogCaptureFixture) -> None:
    reader = PartitionReader(KafkaSettings(bootstrap="127.0.0.1:1"))
    reader._next[TP] = 40  # as start() records a resumed offset
    with caplog.at_level(logging.WARNING, logger="pachstream.kafka"):
        reader._check_dense(TP, 41, 41, 1)
    assert "did not continue at offset 40: 1 records from 41 to 41" in caplog.text
