"""Bucket notifications: recorded AWS and MinIO records for objects in a SeaweedFS bucket put
the objects into a repo, a remove record deletes, the same record twice ingests once, and bad
records are reported, not fatal."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

from pachstream.errors import NotFound
from pachstream.ingest import IngestConsumer
from pachstream.kafka import Producer
from pachstream.objectstore import S3ObjectStore
from pachstream.stack.servers import ensure_buckets
from pachstream.testing.services import RunningStack, read_dead_letters
from pachstream.testing.waits import eventually

FIXTURES = Path(__file__).parent.parent / "fixtures" / "notifications"


async def test_notifications_put_delete_and_ingest_once(settings):
    kafka, _, s3 = settings.require()
    bucket, topic = "ext-" + uuid.uuid4().hex[:8], "s3-events-" + uuid.uuid4().hex[:8]
    ensure_buckets(s3.endpoint, [bucket])  # SeaweedFS stands in for the external bucket
    external = S3ObjectStore(dataclasses.replace(s3, bucket=bucket), "")
    await external.put("dir/my file=1.csv", b"a,b\n1,2\n")
    await external.put("reports/q4 summary.txt", b"summary")
    settings = dataclasses.replace(
        settings,
        ingest_policy="1/0.2s",
        notify=f"topic={topic},repo=raw,prefix=/incoming,endpoint={s3.endpoint}",
    )
    producer = Producer(kafka)
    await producer.start()

    async def send(*names: str, raw: bytes | None = None) -> None:
        values = [(FIXTURES / n).read_bytes().replace(b"BUCKET", bucket.encode()) for n in names]
        await producer.send_all([(topic, None, v) for v in values + ([raw] if raw else [])])

    async with RunningStack(settings, pipelines=False) as stack:
        c = stack.client
        await c.create_repo("raw")
        ingest = IngestConsumer(settings)
        await ingest.start()
        try:

            async def content(path: str):
                try:
                    return await c.get_file("raw@master", path)
                except NotFound:
                    return None

            await send("aws_test_event.json", "aws_put.json", "minio_put.json")
            assert await eventually(lambda: content("/incoming/dir/my file=1.csv"), "AWS put") == (
                b"a,b\n1,2\n"
            )
            assert await eventually(
                lambda: content("/incoming/reports/q4 summary.txt"), "MinIO put"
            ) == (b"summary")

            # The same record again: nothing new. A marker after it shows it was read.
            before = len(await c.list_commit("raw@master"))
            await external.put("marker", b"m")
            marker = (
                b'{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"'
                + bucket.encode()
                + b'"},"object":{"key":"marker","sequencer":"01"}}}]}'
            )
            await send("aws_put.json", raw=marker)
            await eventually(lambda: content("/incoming/marker"), "the marker")
            assert len(await c.list_commit("raw@master")) == before + 1
            diff = await c.diff_file("raw@master")
            assert [d.path for d in diff] == ["/incoming/marker"]

            # Remove, then bad records: reported as dead letters, the consumer goes on.
            await send("aws_delete.json")

            async def gone():
                return True if await content("/incoming/dir/my file=1.csv") is None else None

            await eventually(gone, "the delete")
            missing = (
                b'{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"'
                + bucket.encode()
                + b'"},"object":{"key":"never-there","sequencer":"02"}}}]}'
            )
            await send(raw=missing)
            await send(raw=b"garbage")
            letters = await read_dead_letters(settings, 2)
            reasons = sorted(letter["reason"] for letter in letters)
            assert len(letters) == 2, reasons
            assert any("never-there does not exist" in r for r in reasons)
            assert any("not JSON" in r for r in reasons)
            await external.put("after", b"still here")
            after = marker.replace(b'"marker"', b'"after"').replace(b'"01"', b'"03"')
            await send(raw=after)
            assert (
                await eventually(lambda: content("/incoming/after"), "after the bad")
                == b"still here"
            )
        finally:
            await ingest.stop()
            await producer.stop()
            await external.close()
