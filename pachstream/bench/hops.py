"""Where a job's time goes, from the topics: every record carries the time its producer sent
it, so the gaps between consecutive records of one job are its hops (a hop: a record
produced, fetched by the next process, handled, and that process's record sent).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from pachstream.codec import peek_type
from pachstream.kafka import PartitionReader
from pachstream.settings import Settings


def hop_medians(records: Iterable[tuple[int, str]]) -> list[tuple[str, int, float]]:
    """``(timestamp ms, type)`` records → ``(label "a → b", count, median gap ms)`` of each
    pair of types that follow each other in time order, the hop with most time first. Pure.

    Records of one timestamp keep their given order (a producer's records of one batch).
    """
    ordered = sorted(enumerate(records), key=lambda r: (r[1][0], r[0]))
    gaps: dict[str, list[int]] = {}
    for (_, (t0, a)), (_, (t1, b)) in zip(ordered, ordered[1:], strict=False):
        gaps.setdefault(f"{a} → {b}", []).append(t1 - t0)
    rows = [(label, len(g), float(statistics.median(g)), sum(g)) for label, g in gaps.items()]
    rows.sort(key=lambda r: (-r[3], r[0]))
    return [(label, n, median) for label, n, median, _ in rows]


async def topic_records(
    settings: Settings, keyed: list[str], whole: list[str], keys: set[bytes], since_ms: int
) -> list[tuple[int, str]]:
    """``(timestamp ms, type)`` of the records sent at ``since_ms`` or later: of ``keyed``
    topics those keyed by one of ``keys`` (a repo, a pipeline), of ``whole`` topics all (a
    pipeline's task topic, keyed by datum); read to the end.
    """
    kafka, _, _ = settings.require()
    reader = PartitionReader(kafka)
    await reader.start(keyed + whole, {})
    out: list[tuple[int, str]] = []
    empty = 0
    try:
        while empty < 3:
            got = await reader.read(timeout_ms=300)
            empty = 0 if got else empty + 1
            for r in got:
                if r.timestamp_ms is None or r.timestamp_ms < since_ms:
                    continue
                if r.topic not in whole and r.key not in keys:
                    continue
                out.append((r.timestamp_ms, peek_type(r.value) or "?"))
    finally:
        await reader.stop()
    return out
