"""A pipeline created right after its input repo is taken, however far behind the
dispatcher reads.

Requests and facts are two topics. A client sees its repo once lineage has the
``repo.created`` fact; the dispatcher decides a create request on the facts *it* has read,
and may not have reached that one (seen in the chaos suite: "names repo 'right', which does
not exist" right after ``create repo right``). The request now carries how far the client's
view reached, and the dispatcher decides only once it has read that far.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pachstream.codec import encode
from pachstream.commits.events import RequestDone
from pachstream.dispatch import Dispatcher
from pachstream.kafka import Producer, Topics
from pachstream.testing.services import RunningStack

BACKLOG = 20_000
"""Facts in front of ``repo.created`` in its partition: ten reads of the dispatcher."""


async def test_create_repo_then_pipeline_while_the_dispatcher_is_behind(
    stack: RunningStack,
) -> None:
    c = stack.client
    await stack.dispatch.stop()  # it comes back behind every fact below
    kafka, _, _ = stack.settings.require()
    producer = Producer(kafka)
    await producer.start()
    try:
        # Facts nobody waits for, keyed like the repo: its partition.
        events = Topics(stack.settings.namespace).events
        filler = (
            RequestDone(event_id=f"e{n}", request_id=f"filler-{n}", repo="fresh", ok=True)
            for n in range(BACKLOG)
        )
        await producer.send_all((events, "fresh", encode(f)) for f in filler)
    finally:
        await producer.stop()
    # A loaded dispatcher: while it works through the partition's records in hand, the
    # repo's fact lands behind them and the pipeline request on the requests topic, which
    # the reader fetches at once (a partition with records in hand is fetched again only
    # once they are read): the request comes first.
    stack.dispatch = Dispatcher(stack.settings)
    fast_read = stack.dispatch._reader.read

    async def loaded_read(timeout_ms: int = 500) -> Any:
        await asyncio.sleep(0.3)
        return await fast_read(timeout_ms)

    stack.dispatch._reader.read = loaded_read  # type: ignore[method-assign]
    await stack.dispatch.start()
    await c.create_repo("fresh")  # answered once lineage has the fact
    spec = {
        "pipeline": {"name": "reader"},
        "input": {"pfs": {"repo": "fresh", "glob": "/*"}},
        "transform": {"cmd": ["true"]},
    }
    # Before: refused, "'input.pfs.repo' names repo 'fresh', which does not exist".
    assert await c.create_pipeline(spec) == ["reader"]
    assert [p.name for p in await c.list_pipeline()] == ["reader"]
