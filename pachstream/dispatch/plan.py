"""Incremental processing, pure: which datums of a job run, which are skipped, what vanishes.

The pipeline's datum index maps a datum id to what its last successful run made: the datum's
hash (inputs' content plus the salt) and its output files. For a new job:

- a datum whose hash is in the index with a success is **skipped**: its outputs are carried
  into the new output commit (unless ``reprocess_spec`` is ``every_job``);
- a new datum, a changed one (same id, other hash) or one that failed before **runs**; its
  outputs replace the old ones;
- a datum id in the index but not in the job **vanishes** with its outputs.

``update pipeline`` keeps the salt (earlier results stay valid); ``--reprocess`` draws a new
one, so every hash changes. Merging outputs refuses two datums that write the same path,
naming both and the path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pachstream.dispatch.datums import Datum
from pachstream.errors import OutputConflict

OutputFiles = Mapping[str, Any]
"""A datum's outputs: path → its entry (anything with a ``hash``, or a plain hash)."""


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """What the index remembers of a datum's last successful run."""

    datum_id: str
    """The datum."""
    hash: str
    """Its hash when it succeeded."""
    outputs: OutputFiles
    """The files it wrote."""


@dataclass(frozen=True)
class JobPlan:
    """The work of one job."""

    run: list[Datum] = field(default_factory=list)
    """Datums to process, in datum order."""
    skip: list[IndexEntry] = field(default_factory=list)
    """Unchanged datums whose outputs are carried over."""
    vanished: list[IndexEntry] = field(default_factory=list)
    """Datums no longer made by the inputs: their outputs leave the output commit."""
    carried: dict[str, IndexEntry] = field(default_factory=dict)
    """Datums not in the index whose result an earlier job (being rerun) already has."""
    total: int = 0
    """Distinct datums of the job."""
    skipped: int = 0
    """Datums skipped: ``len(skip)``, or, planned from a change alone, the index's datums the
    change did not touch (never listed one by one)."""


def plan_job(
    index: Mapping[str, IndexEntry],
    job_datums: Iterable[Datum],
    salt: str,
    *,
    every_job: bool = False,
    earlier: Mapping[str, IndexEntry] | None = None,
    force: frozenset[str] = frozenset(),
) -> JobPlan:
    """Split a job's datums against the pipeline's index. O(datums of the job).

    ``earlier``: successes of a job being rerun, reused when their hash still matches;
    ``force``: datums that run whatever they hash to (``rerun datum``).
    """
    plan = JobPlan()
    seen: set[str] = set()
    for d in job_datums:
        if d.id in seen:
            continue  # the same paths twice (a union of one input with itself): one datum
        seen.add(d.id)
        h = d.hash(salt)
        prior = index.get(d.id)
        again = (earlier or {}).get(d.id)
        if every_job or d.id in force:
            plan.run.append(d)
        elif prior is not None and prior.hash == h:
            plan.skip.append(prior)
        elif again is not None and again.hash == h:
            plan.carried[d.id] = again
        else:
            plan.run.append(d)
    plan.vanished.extend(e for i, e in index.items() if i not in seen)
    return replace(plan, total=len(seen), skipped=len(plan.skip))


def plan_changes(
    index: Mapping[str, IndexEntry], made: Iterable[Datum], gone: Iterable[str], salt: str
) -> JobPlan:
    """A job's plan from what a change of its input touches (see
    :func:`pachstream.dispatch.datums.pfs_datum_changes`), against the index of the job whose
    input was the commit before that change. Pure; O(touched datums), whatever the index.

    Every datum of the index the change did not touch is unchanged, so skipped; the plan is
    the one :func:`plan_job` makes from every datum of the newer commit (a test checks both
    agree), save that ``skip`` is left empty and counted in ``skipped``.
    """
    plan = JobPlan()
    added = 0
    for d in made:
        prior = index.get(d.id)
        if prior is None:
            added += 1
        if prior is None or prior.hash != d.hash(salt):
            plan.run.append(d)
    plan.vanished.extend(index[i] for i in dict.fromkeys(gone) if i in index)
    total = len(index) - len(plan.vanished) + added
    return replace(plan, total=total, skipped=total - len(plan.run))


def _conflict(a: str, b: str, path: str) -> OutputConflict:
    first, second = sorted((a, b))
    return OutputConflict(
        f"datums {first} and {second} both wrote '{path}'; make each datum write "
        "its own paths (e.g. under a directory named after its input)",
        path=path,
        datum_ids=f"{first},{second}",
    )


def merge_outputs(outputs: Iterable[tuple[str, OutputFiles]]) -> dict[str, Any]:
    """One output tree from every datum's outputs (datum id, files); a path twice is a conflict."""
    merged: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for datum_id, files in outputs:
        for path, entry in files.items():
            if path in owner and owner[path] != datum_id:
                raise _conflict(owner[path], datum_id, path)
            owner[path] = datum_id
            merged[path] = entry
    return merged


def _hash(entry: Any) -> Any:
    return getattr(entry, "hash", entry)


@dataclass(frozen=True)
class OutputDelta:
    """How the output commit differs from the previous one."""

    deletes: list[str]
    """Paths to delete, sorted (applied before the puts)."""
    puts: dict[str, Any]
    """Path → new entry."""


def output_delta(
    index: Mapping[str, IndexEntry],
    owners: Mapping[str, str],
    changed: Mapping[str, IndexEntry | None],
) -> OutputDelta:
    """The change to the output commit when ``changed`` datums get new entries (None: the datum
    leaves the index). ``owners`` maps every output path of ``index`` to its datum. O(outputs of
    the changed datums); raises :class:`OutputConflict` naming both datums and the path.
    """
    old_paths: dict[str, Any] = {}
    for datum_id in changed:
        prior = index.get(datum_id)
        if prior is not None:
            old_paths.update(prior.outputs)
    new_owner: dict[str, str] = {}
    puts: dict[str, Any] = {}
    for datum_id in sorted(changed):
        entry = changed[datum_id]
        if entry is None:
            continue
        for path, file in entry.outputs.items():
            other = new_owner.get(path)
            if other is None:
                holder = owners.get(path)
                other = holder if holder is not None and holder not in changed else None
            if other is not None and other != datum_id:
                raise _conflict(other, datum_id, path)
            new_owner[path] = datum_id
            if path not in old_paths or _hash(old_paths[path]) != _hash(file):
                puts[path] = file
    return OutputDelta(sorted(p for p in old_paths if p not in new_owner), puts)


def apply_delta(
    index: dict[str, IndexEntry], owners: dict[str, str], changed: Mapping[str, IndexEntry | None]
) -> None:
    """Move the index and the path owners to the state after ``changed`` (in place)."""
    for datum_id, entry in changed.items():
        prior = index.pop(datum_id, None)
        if prior is not None:
            for path in prior.outputs:
                if owners.get(path) == datum_id:
                    del owners[path]
        if entry is not None:
            index[datum_id] = entry
    for datum_id, entry in changed.items():
        if entry is not None:
            for path in entry.outputs:
                owners[path] = datum_id
