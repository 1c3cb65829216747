"""A worker sends a datum's result once its datums have run for a while, not when every task
of its read has run: a slow datum's result is not held back by the ones queued after it."""

from __future__ import annotations

from pachstream.chaos._collect import read_topic
from pachstream.codec import decode
from pachstream.dispatch.events import DatumFinished
from pachstream.kafka import Topics
from pachstream.testing.services import RunningStack
from pachstream.worker._worker import SEND_AFTER_S


async def test_each_slow_datums_result_is_sent_before_the_next_datum_starts(
    stack: RunningStack,
) -> None:
    c = stack.client
    await c.create_repo("raw")
    cid = await c.put_files("raw@master", [(f"/f{i}", f"{i}\n") for i in range(6)])
    # Each datum outlasts SEND_AFTER_S; one worker reads all six tasks at once.
    await c.create_pipeline(
        {
            "pipeline": {"name": "slow"},
            "input": {"pfs": {"repo": "raw", "glob": "/*"}},
            "transform": {
                "cmd": ["sh", "-c", f"sleep {SEND_AFTER_S + 0.05}; cp /pfs/raw/* /pfs/out/"]
            },
            "parallelism_spec": {"constant": 1},
        }
    )
    (job,) = await c.flush("raw", cid, timeout_s=120)
    assert job.state == "success" and job.processed == 6
    results = sorted(
        (fact.started, rec.timestamp_ms / 1000)
        for rec in await read_topic(stack.settings, Topics(stack.settings.namespace).events)
        if isinstance(fact := decode(rec.value), DatumFinished) and fact.job_id == job.id
    )
    assert len(results) == 6
    # Sent (the record's time, in whole milliseconds) before the next datum started: with all
    # six sent together at the end, five of them would come after their successor's start.
    late = [i for i in range(5) if results[i][1] > results[i + 1][0] + 0.001]
    assert not late, results
