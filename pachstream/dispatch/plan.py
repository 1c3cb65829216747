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
from dataclasses import dataclass, field

from pachstream.dispatch.datums import Datum
from pachstream.errors import Conflict

OutputFiles = Mapping[str, tuple[str, int]]
"""A datum's outputs: path → (content hash, size). The shell keeps full entries alongside."""


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


def plan_job(
    index: Mapping[str, IndexEntry], job_datums: Iterable[Datum], salt: str, *, every_job: bool = False
) -> JobPlan:
    """Split a job's datums against the pipeline's index. O(datums of the job)."""
    plan = JobPlan()
    seen: set[str] = set()
    for d in job_datums:
        seen.add(d.id)
        prior = index.get(d.id)
        if not every_job and prior is not None and prior.hash == d.hash(salt):
            plan.skip.append(prior)
        else:
            plan.run.append(d)
    plan.vanished.extend(e for i, e in index.items() if i not in seen)
    return plan


class OutputConflict(Conflict):
    """Two datums of a job wrote the same output path."""


def merge_outputs(outputs: Iterable[tuple[str, OutputFiles]]) -> dict[str, tuple[str, int]]:
    """One output tree from every datum's outputs (datum id, files); a path twice is a conflict."""
    merged: dict[str, tuple[str, int]] = {}
    owner: dict[str, str] = {}
    for datum_id, files in outputs:
        for path, entry in files.items():
            if path in owner and owner[path] != datum_id:
                first, second = sorted((owner[path], datum_id))
                raise OutputConflict(
                    f"datums {first} and {second} both wrote '{path}'; make each datum write "
                    "its own paths (e.g. under a directory named after its input)",
                    path=path,
                    datum_ids=f"{first},{second}",
                )
            owner[path] = datum_id
            merged[path] = entry
    return merged
