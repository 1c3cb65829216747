"""A squash remaps the datum inputs that name the squashed commit to its child, whatever
batch brought them and in whichever order: a datum result and the squash after it in one batch
give the same rows as applied one by one (the result's rows are loaded in bulk at the batch's
end, and the remap must not run before them); results that come after the squash (a job still
running on the commit, a fact on another partition) name the child too, also after a restart,
and through a second squash of the child."""

from __future__ import annotations

import pytest

from pachstream.commits.events import CommitSquashed, Reparented
from pachstream.dispatch.events import (
    DatumFinished,
    InputCommit,
    JobStarted,
    StagedFile,
    TaskInput,
)
from pachstream.kafka import Topics, ensure_topics
from pachstream.lineage import Materializer
from pachstream.model import FileEntry
from pachstream.pg import connect_pool
from pachstream.testing.services import produce_events
from pachstream.testing.waits import eventually

SQUASHED = "a" * 32
CHILD = "b" * 32


ONE = FileEntry(hash="1" * 64, size=1, chunks=())
JOB = "j" * 32
STARTED = JobStarted(
    event_id="s-j", job_id=JOB, pipeline="p", version=1,
    inputs=(InputCommit(name="raw", repo="raw", branch="master", commit_id=SQUASHED),),
    output_commit="o" * 32, time=10.0, datums=320, to_run=320, skipped=0,
)  # fmt: skip


def _datum(n: int) -> DatumFinished:
    return DatumFinished(
        event_id=f"d-{n}", job_id=JOB, pipeline="p", datum_id=f"{n:032d}", hash="h" * 64,
        state="success", tries=1, exit_code=0, timed_out=False, stderr_tail="", log_ref="",
        started=11.0, duration_s=0.5, worker="w0",
        inputs=(
            TaskInput(
                name="raw", repo="raw", branch="master", commit_id=SQUASHED, path=f"/f{n}",
                files=(StagedFile(path=f"/f{n}", file=ONE),),
            ),
        ),
    )  # fmt: skip


GRANDCHILD = "c" * 32


def _squash(commit: str, child: str) -> CommitSquashed:
    return CommitSquashed(
        event_id=f"sq-{commit}", request_id=f"r-{commit}", repo="raw", commit_id=commit,
        parent=None,
        children=(
            Reparented(commit_id=child, parent=None, added=0, modified=0, deleted=0, diff_ref="",
                       diff=()),
        ),
        time=20.0,
    )  # fmt: skip


SQUASH = _squash(SQUASHED, CHILD)


async def _consume(settings, facts: int) -> dict[str, int]:
    """Run a materializer until it applied ``facts`` facts; datum input rows by commit."""
    consumer = Materializer(settings)
    await consumer.start()
    pool = await connect_pool(settings.require()[1], settings.namespace)
    try:
        await eventually(lambda: consumer.applied, "the facts", until=facts.__le__)
        rows = await pool.fetch("SELECT commit_id, count(*) AS n FROM datum_inputs GROUP BY 1")
        return {r["commit_id"]: r["n"] for r in rows}
    finally:
        await pool.close()
        await consumer.stop()


@pytest.mark.parametrize("start", ["first", "after the squash"])
async def test_a_squash_after_datum_results_in_one_batch_remaps_their_inputs(
    settings, start: str
) -> None:
    kafka = settings.require()[0]
    await ensure_topics(kafka, Topics(settings.namespace).all(kafka.partitions))
    # Enough results that they go in by COPY at the batch's end, then the squash; one key,
    # one partition: in this order, and all in one batch (produced before the consumer runs).
    # The squash finds them through their job's row; a job whose start comes after the squash
    # (from another partition) has its rows remapped then.
    results = [_datum(n) for n in range(300)]
    facts = [STARTED, *results, SQUASH] if start == "first" else [*results, SQUASH, STARTED]
    await produce_events(settings, facts)
    assert await _consume(settings, len(facts)) == {CHILD: 300}


async def test_datum_results_after_the_squash_name_its_child_and_follow_it(settings) -> None:
    kafka, pg, _ = settings.require()
    await ensure_topics(kafka, Topics(settings.namespace).all(kafka.partitions))
    first = [STARTED, SQUASH, *(_datum(n) for n in range(300))]
    await produce_events(settings, first)
    assert await _consume(settings, len(first)) == {CHILD: 300}  # not the squashed id
    # A new materializer (it restores where squashed commits went), then more results naming
    # the squashed commit around a squash of its child.
    second = [*(_datum(n) for n in range(300, 310)), _squash(CHILD, GRANDCHILD)]
    second += [_datum(n) for n in range(310, 320)]
    await produce_events(settings, second)
    assert await _consume(settings, len(second)) == {GRANDCHILD: 320}
    pool = await connect_pool(pg, settings.namespace)
    try:
        rows = await pool.fetch("SELECT commit_id, child FROM squashed_commits")
    finally:
        await pool.close()
    assert {r["commit_id"]: r["child"] for r in rows} == {SQUASHED: GRANDCHILD, CHILD: GRANDCHILD}


async def test_a_job_started_after_two_squashes_has_its_rows_remapped(settings) -> None:
    kafka = settings.require()[0]
    await ensure_topics(kafka, Topics(settings.namespace).all(kafka.partitions))
    # Its results come between the two squashes (so they name the child as they go in), and
    # its start only after both (from another partition): neither squash found them.
    facts = [SQUASH, *(_datum(n) for n in range(10)), _squash(CHILD, GRANDCHILD), STARTED]
    await produce_events(settings, facts)
    assert await _consume(settings, len(facts)) == {GRANDCHILD: 10}
