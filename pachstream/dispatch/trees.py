"""The dispatcher's reads of commit trees, and its job start measured on real trees.

:class:`TreeLoader` answers the core's two tree steps (:mod:`._steps`) from the object store:
``LoadTrees`` with every entry of each input's commit (cached per branch by root: the cost of
a job that needs its whole input), ``LoadDiff`` with only what changed between two commits of
one branch (:meth:`pachstream.tree.TreeStore.diff` opens only the nodes, or version-2 shards,
that the two trees do not share: the cost of a job planned from its change). The
dispatcher's shell uses it, and so does :func:`time_job_start`, which ``pachstream bench
job-start`` runs.

A small commit's fact carries its diff inline, and the dispatcher sees that fact just before
it starts the job it causes: :meth:`TreeLoader.remember` keeps it, and the job's ``LoadDiff``
between the parent's root and the commit's is answered from it, with no object-store read
(two roots and the nodes that differ: ~4 ms on every hop put file → job started).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from pachstream.commits.events import CommitFinished
from pachstream.dispatch import _jobs
from pachstream.dispatch._state import DispatchState, Pipeline
from pachstream.dispatch._steps import (
    Answer,
    DiffLoaded,
    LoadDiff,
    LoadTrees,
    SendTask,
    Step,
    TreesLoaded,
)
from pachstream.dispatch.datums import datums
from pachstream.dispatch.plan import IndexEntry
from pachstream.dispatch.spec import parse_spec
from pachstream.model import FileEntry
from pachstream.tree import TreeStore, raw_to_entry

KNOWN_ROOTS = 4096
"""Commits whose root key :class:`TreeLoader` keeps (the parents of the commits to come)."""

KNOWN_DIFFS = 256
"""Inline diffs it keeps, the newest: a job starts on the commit whose fact it just read."""


class TreeLoader:
    """Answers ``LoadTrees`` and ``LoadDiff`` from a tree store.

    Args:
        trees: Where the commit trees are.
    """

    def __init__(self, trees: TreeStore) -> None:
        self._trees = trees
        self._cache: dict[str, tuple[str | None, dict[str, FileEntry]]] = {}
        """``repo@branch`` → (root key, entries) of the tree a job read last there."""
        self._roots: dict[str, str] = {}
        """Commit id → root key, of the commits finished lately."""
        self._diffs: dict[tuple[str, str], dict[str, FileEntry | None]] = {}
        """(old root key, new root key) → what changed, from the facts' inline diffs."""

    def remember(self, fact: CommitFinished) -> None:
        """Keep a finished commit's root and, when its fact carries the diff inline and its
        parent's root is known, that diff: the tree keys name content, so the diff between
        the two roots is this one whichever commit or branch later asks.
        """
        self._roots[fact.commit_id] = fact.root
        parent_root = self._roots.get(fact.parent) if fact.parent is not None else None
        if fact.diff is not None and parent_root is not None:
            self._diffs[(parent_root, fact.root)] = {d.path: d.file for d in fact.diff}
        _keep_newest(self._roots, KNOWN_ROOTS)
        _keep_newest(self._diffs, KNOWN_DIFFS)

    async def answer(self, step: LoadTrees | LoadDiff) -> Answer:
        """The answer to one tree step."""
        if isinstance(step, LoadDiff):
            known = self._diffs.get((step.old_root, step.new_root))
            if known is not None:
                return DiffLoaded(dict(known))
            old, new = await asyncio.gather(
                self._trees.root(step.old_root), self._trees.root(step.new_root)
            )
            rows = await self._trees.diff(old, new)
            return DiffLoaded({path: raw_to_entry(n) if n else None for path, _, n, _ in rows})
        return TreesLoaded({key: await self._tree(key, root) for key, root in step.roots})

    async def _tree(self, key: str, root_key: str | None) -> dict[str, FileEntry]:
        cached = self._cache.get(key)
        if cached is not None and cached[0] == root_key:
            return cached[1]
        entries: dict[str, FileEntry] = {}
        if root_key is not None:
            root = await self._trees.root(root_key)
            async for path, raw in self._trees.walk(root):
                entries[path] = raw_to_entry(raw)
        self._cache[key] = (root_key, entries)
        return entries


def _keep_newest(kept: dict[Any, Any], most: int) -> None:
    """Drop the oldest entries of ``kept`` (dicts keep insertion order) down to ``most``."""
    while len(kept) > most:
        del kept[next(iter(kept))]


async def time_job_start(
    trees: TreeStore,
    repo: str,
    old: tuple[str, str, Mapping[str, str]],
    new: tuple[str, str],
    *,
    from_change: bool,
) -> tuple[float, int]:
    """Seconds from a job's start on commit ``new`` to its first task, and the tasks made.

    A one-input pipeline (glob ``/*``) whose index holds every datum of commit ``old`` (id,
    root key, path → content hash), as after a job on it, starts its job on ``new`` (id, root
    key) through the core's own flow, every tree step answered by a fresh
    :class:`TreeLoader` (no warm cache). ``from_change``: the index knows the root it reflects,
    so the job is planned from the change; otherwise from the whole tree, as before that was
    possible. What is not timed: the broker hops before and after (constant in the repo size).
    """
    raw: dict[str, Any] = {
        "pipeline": {"name": "bench_job_start"},
        "input": {"pfs": {"repo": repo, "glob": "/*"}},
        "transform": {"cmd": ["true"]},
    }
    spec = parse_spec(raw)
    pipeline = Pipeline(name="bench_job_start", version=1, salt="s", raw=raw, spec=spec)
    made = datums(spec.input, {f"{repo}@master": dict(old[2])})
    pipeline.index = {d.id: IndexEntry(d.id, d.hash("s"), {}) for d in made}
    if from_change:
        pipeline.index_roots = {f"{repo}@master": old[1]}
    inputs = [{"name": repo, "repo": repo, "branch": "master", "commit": new[0], "root": new[1]}]
    loader = TreeLoader(trees)
    started = time.perf_counter()
    flow = _jobs.start_job(DispatchState(), pipeline, 0.0, inputs=inputs, commitset=new[0])
    answer: Answer | None = None
    first: float | None = None
    tasks = 0
    while True:
        try:
            step: Step = flow.send(answer)
        except StopIteration:
            break
        answer = await loader.answer(step) if isinstance(step, LoadTrees | LoadDiff) else None
        if isinstance(step, SendTask):
            tasks += 1
            if first is None:
                first = time.perf_counter() - started
    return (first if first is not None else time.perf_counter() - started), tasks
