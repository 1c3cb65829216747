"""``bench job-start``: time from a job's start to its first task, on a big and a small input.

A one-stage pipeline over an input of N files (glob ``/*``, a datum per file) whose datum index
holds all N datums, as after a job on the input; then one file changes. Timed: the core's job
start on the new commit until its first task, with every tree read from the object store (no
warm cache), twice per size:

- **from the change** (the dispatcher now): the index knows the commit it reflects, so the
  job reads only the tree nodes on the paths to the change (version 3; version 2: the
  shards it touched) and plans the touched datums;
- **from the whole tree** (the dispatcher before): every entry of the input is read and every
  datum made, then planned against the index.

The trees are written straight with the tree store (through the commit processor a
1,000,000-file commit takes minutes and is not what is timed here), and the index is made in
memory as a finished job leaves it (through workers it would take hours). The broker hops
around a job start are constant in the repo's size and are not timed (``bench latency``
times a whole commit-to-output path).
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable

from pachstream.bench import Figure
from pachstream.dispatch.trees import time_job_start
from pachstream.model import Chunk, FileEntry, FileOp
from pachstream.objectstore import S3ObjectStore
from pachstream.settings import Settings
from pachstream.tree import EMPTY_ROOT, Overlay, Root, TreeStore

Say = Callable[[str], None]

REPEATS = {"change": 7, "tree": 1}
"""Timed job starts per size and mode, whose median is the figure. A start from the change
takes a few milliseconds, a handful of object-store round trips, and one of them alone swung
9.3-13.4 ms between two runs of the same code on a shared box; from the whole tree it takes
seconds to minutes, and once says enough."""


def _entry(text: str) -> FileEntry:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return FileEntry(hash=digest, size=len(text), chunks=(Chunk(hash=digest, size=len(text)),))


async def _build(trees: TreeStore, parent: Root, files: dict[str, str]) -> Root:
    overlay = Overlay().apply(
        FileOp(op="put", path=p, file=_entry(text)) for p, text in files.items()
    )
    built = await trees.build(parent, overlay)
    return built.root


async def _input(store: S3ObjectStore, n: int, say: Say) -> tuple[int, str, str, dict[str, str]]:
    """An input of ``n`` files and the same with one changed, written: ``n``, the two root
    keys, and each file's content hash (for the index of a job on the first).
    """
    trees = TreeStore(store)
    files = {f"/f{i:07d}": f"{i}" for i in range(n)}
    t0 = time.perf_counter()
    old = await _build(trees, EMPTY_ROOT, files)
    new = await _build(trees, old, {f"/f{n // 2:07d}": "changed"})
    say(f"{n:,} files: trees written in {time.perf_counter() - t0:.1f} s")
    assert old.key is not None and new.key is not None
    return n, old.key, new.key, {p: _entry(text).hash for p, text in files.items()}


async def job_start(settings: Settings, sizes: tuple[int, ...], say: Say) -> list[Figure]:
    """Figures for each size, and the ratio of the largest to the smallest."""
    _, _, s3 = settings.require()
    store = S3ObjectStore(s3, f"{settings.namespace}-bench-job-start")
    await store.ensure_bucket()
    out: list[Figure] = []
    timed: dict[str, list[float]] = {"change": [], "tree": []}
    try:
        inputs = [await _input(store, n, say) for n in sizes]
        runs: dict[tuple[str, int], list[float]] = {}  # (mode, size's place) → seconds
        for mode in ("change", "tree"):
            for _ in range(REPEATS[mode]):
                # The sizes in turn, not one after the other: a change of the shared box's
                # speed falls on each alike (the two phases were a minute apart).
                for at, (n, old_key, new_key, hashes) in enumerate(inputs):
                    # A fresh store each time: nothing of the build, another run or the other
                    # mode is cached.
                    seconds, tasks = await time_job_start(
                        TreeStore(store),
                        "bench_in",
                        ("c1", old_key, hashes),
                        ("c2", new_key),
                        from_change=mode == "change",
                    )
                    if tasks != 1:
                        raise AssertionError(f"{n:,} files, {mode}: {tasks} tasks, not 1")
                    runs.setdefault((mode, at), []).append(seconds)
        for at, n in enumerate(sizes):
            for mode in ("change", "tree"):
                seconds = statistics.median(runs[mode, at])
                timed[mode].append(seconds)
                how = "from the change" if mode == "change" else "from the whole tree (before)"
                out.append(
                    Figure(
                        f"{n:,} files, 1 changed: job start to first task, {how} "
                        f"(median of {len(runs[mode, at])})",
                        seconds * 1000,
                        "ms",
                    )
                )
    finally:
        await store.close()
    big, small = sizes[-1], sizes[0]
    out.append(
        Figure(
            f"ratio {big:,} / {small:,} files, from the change",
            timed["change"][-1] / timed["change"][0],
            "",
            "≤ 2",
        )
    )
    out.append(
        Figure(
            f"ratio {big:,} / {small:,} files, from the whole tree (before)",
            timed["tree"][-1] / timed["tree"][0],
            "",
        )
    )
    return out
