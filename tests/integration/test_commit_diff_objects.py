"""A commit's diff travels inline when small and by reference when large: the object is
written only when a reader needs it, and both forms reach lineage whole."""

from __future__ import annotations

import asyncio

from pachstream.codec import decode
from pachstream.commits.events import INLINE_DIFF_LIMIT, CommitFinished
from pachstream.kafka import PartitionReader, Topics
from pachstream.lineage import queries
from pachstream.objectstore import S3ObjectStore
from pachstream.testing.services import RunningStack


async def _finished(stack: RunningStack, commit_ids: set[str]) -> dict[str, CommitFinished]:
    kafka, _, _ = stack.settings.require()
    reader = PartitionReader(kafka)
    await reader.start([Topics(stack.settings.namespace).events], {})
    found: dict[str, CommitFinished] = {}
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while set(found) != commit_ids and asyncio.get_running_loop().time() < deadline:
            for r in await reader.read(timeout_ms=300):
                fact = decode(r.value)
                if isinstance(fact, CommitFinished) and fact.commit_id in commit_ids:
                    found[fact.commit_id] = fact
    finally:
        await reader.stop()
    return found


async def test_only_a_diff_too_large_to_travel_inline_is_written(stack: RunningStack) -> None:
    c = stack.client
    await c.create_repo("d")
    small = await c.put_files("d@master", [(f"/s{i}", b"x") for i in range(3)])
    large = await c.put_files(
        "d@master", [(f"/l{i:05d}", b"y") for i in range(INLINE_DIFF_LIMIT + 1)]
    )
    facts = await _finished(stack, {small, large})

    assert facts[small].diff is not None and len(facts[small].diff) == 3
    assert facts[small].diff_ref == ""
    assert facts[large].diff is None
    assert facts[large].diff_ref == f"diffs/{large}"

    _, _, s3 = stack.settings.require()
    objects = S3ObjectStore(s3, stack.settings.namespace)
    try:
        assert not await objects.exists(f"diffs/{small}")
        assert await objects.exists(facts[large].diff_ref)
    finally:
        await objects.close()

    # Lineage read both forms: each changed path is in commit_files under its commit.
    changes = await queries.file_changes(c._pool, large, "/")
    by_commit: dict[str, set[str]] = {}
    for ch in changes:
        by_commit.setdefault(ch.commit.id, set()).add(ch.path)
    assert by_commit[small] == {f"/s{i}" for i in range(3)}
    assert len(by_commit[large]) == INLINE_DIFF_LIMIT + 1
