"""Datums exactly as Pachyderm makes them: pure functions of the input spec and the trees.

Input kinds (Pachyderm's pipeline spec):

- **pfs**: the glob is matched against every file *and every directory* of the input's
  commit; each match is one datum input holding the matched path (a directory brings its whole
  subtree). ``/`` is one datum of everything; ``/*`` one per top-level entry. Capture groups
  ``(...)`` feed ``join_on`` and ``group_by`` through ``$1``-style templates.
- **cross**: the cartesian product of its inputs' datums; an empty side gives no datums.
- **union**: the datums of each input, one after the other. Its inputs may share a name
  (Pachyderm's union alias): code sees ``/pfs/<name>`` whichever repo a datum came from.
- **join**: every datum input of every side is filed under its ``join_on`` key; per key, the
  cross product of the sides. For a key some side lacks, each combination keeps only its
  inputs marked ``outer_join`` (decided per input, not per side), and gives no datum when
  none is (Pachyderm 2's ``processMergeTask``).
- **group**: one datum per ``group_by`` key, holding every datum input with that key.

Every level is a *set* keyed by datum id, as Pachyderm's datum file sets are keyed by
``meta/<datum id>``: a datum made twice (a union of an input with itself, a join side whose
datums share an input) is kept once, at its first place. Inside a group datum an input can
appear twice when two sides bring it, as in Pachyderm.

Order (Pachyderm lists a job's datums sorted by its datum-id hash; pachstream keeps a
readable, deterministic order instead): cross in product order of its sides, union side after
side, join and group by sorted key. Inside a datum, inputs are ordered by name (stable), which
the ids depend on; Pachyderm keeps spec order (code sees only ``/pfs/<name>``).

Ids: a datum's **id** comes from its inputs' names, repos, branches and matched paths; its
**hash** adds every file's content hash and path (so a directory's datum changes when a child
is added, removed or renamed) and the pipeline's salt. A datum whose hash the
pipeline already processed successfully is skipped.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from pachstream.glob import Glob, compile_glob, glob_paths, template

Tree = Mapping[str, str]
"""A commit's files: path → content hash."""


@dataclass(frozen=True, slots=True)
class PfsInput:
    """A repo's files, split into datums by a glob."""

    name: str
    """Input name: the directory under ``/pfs`` and the env variable (defaults to the repo)."""
    repo: str
    """Repo read."""
    glob: str
    """Pachyderm glob pattern."""
    branch: str = "master"
    """Branch read."""
    join_on: str = ""
    """Template of the join key, e.g. ``$1``."""
    group_by: str = ""
    """Template of the group key."""
    outer_join: bool = False
    """In a join, keep this input's datums that match nothing."""
    empty_files: bool = False
    """Stage files empty (for code that needs names only)."""

    @property
    def source(self) -> str:
        """What the input reads, ``repo@branch``: the key of its tree in :func:`datums`."""
        return f"{self.repo}@{self.branch}"


@dataclass(frozen=True, slots=True)
class CrossInput:
    """Every combination of the inputs' datums."""

    inputs: tuple[Input, ...]
    """The crossed inputs."""


@dataclass(frozen=True, slots=True)
class UnionInput:
    """The datums of each input, one after the other."""

    inputs: tuple[Input, ...]
    """The united inputs."""


@dataclass(frozen=True, slots=True)
class JoinInput:
    """Datums of the inputs that share a ``join_on`` key, crossed per key."""

    inputs: tuple[Input, ...]
    """The joined inputs."""


@dataclass(frozen=True, slots=True)
class GroupInput:
    """One datum per ``group_by`` key."""

    inputs: tuple[Input, ...]
    """The grouped inputs."""


Input: TypeAlias = PfsInput | CrossInput | UnionInput | JoinInput | GroupInput


@dataclass(frozen=True, slots=True)
class DatumInput:
    """One matched path of one pfs input, as staged under ``/pfs/<name>``."""

    name: str
    """Input name."""
    repo: str
    """Repo read."""
    branch: str
    """Branch read."""
    path: str
    """The matched path (a file, or a directory with everything below it)."""
    files: tuple[tuple[str, str], ...]
    """(path, content hash) of every file staged, sorted by path."""
    join_on: str = ""
    """This input's join key."""
    group_by: str = ""
    """This input's group key."""
    outer_join: bool = False
    """Whether its input is an outer side of a join."""
    empty_files: bool = False
    """Stage its files empty (copied from the pfs input; not part of the id or hash)."""

    @property
    def source(self) -> str:
        """What the input reads, ``repo@branch``."""
        return f"{self.repo}@{self.branch}"


@dataclass(frozen=True, slots=True)
class Datum:
    """One unit of work: the inputs it stages, ordered by name."""

    inputs: tuple[DatumInput, ...]
    """The staged inputs."""

    @property
    def id(self) -> str:
        """Identity of the datum: which paths of which inputs, independent of their content."""
        h = hashlib.sha256(b"datum-id\0")
        for i in self.inputs:
            h.update(f"{i.name}\0{i.repo}\0{i.branch}\0{i.path}\0".encode())
        return h.hexdigest()[:32]

    def hash(self, salt: str) -> str:
        """Identity plus content: equal only when every staged file is the same."""
        h = hashlib.sha256(f"datum-hash\0{salt}\0{self.id}\0".encode())
        for i in self.inputs:
            for path, content in i.files:
                h.update(f"{i.name}\0{path}\0{content}\0".encode())
        return h.hexdigest()


def _by_name(inputs: Iterable[DatumInput]) -> tuple[DatumInput, ...]:
    return tuple(sorted(inputs, key=lambda i: i.name))


def input_names(spec: Input) -> list[str]:
    """Names of every pfs input below ``spec``, in spec order."""
    if isinstance(spec, PfsInput):
        return [spec.name]
    return [n for sub in spec.inputs for n in input_names(sub)]


def input_sources(spec: Input) -> list[str]:
    """Distinct :attr:`PfsInput.source` of every pfs input below ``spec``, in spec order."""
    if isinstance(spec, PfsInput):
        return [spec.source]
    return list(dict.fromkeys(s for sub in spec.inputs for s in input_sources(sub)))


def _datum_input(
    spec: PfsInput, g: Glob, match: str, files: tuple[tuple[str, str], ...]
) -> DatumInput:
    groups = g.groups(match) or ()
    return DatumInput(
        name=spec.name,
        repo=spec.repo,
        branch=spec.branch,
        path=match,
        files=files,
        join_on=template(spec.join_on, groups, match) if spec.join_on else "",
        group_by=template(spec.group_by, groups, match) if spec.group_by else "",
        outer_join=spec.outer_join,
        empty_files=spec.empty_files,
    )


def pfs_datum_inputs(spec: PfsInput, tree: Tree) -> list[DatumInput]:
    """Return the glob's matches in one commit as datum inputs, sorted by path."""
    g = compile_glob(spec.glob)
    # A directory's files are one contiguous run of the sorted paths: bisect, never rescan.
    paths = sorted(tree)
    out = []
    for match in glob_paths(spec.glob, paths):
        if match in tree:
            files: tuple[tuple[str, str], ...] = ((match, tree[match]),)
        else:
            prefix = "/" if match == "/" else match + "/"
            lo = bisect.bisect_left(paths, prefix)
            hi = bisect.bisect_left(paths, prefix + "\U0010ffff")
            files = tuple((p, tree[p]) for p in paths[lo:hi])
        out.append(_datum_input(spec, g, match, files))
    return out


def pfs_datum_changes(
    spec: PfsInput, changed: Mapping[str, str | None]
) -> tuple[list[Datum], list[str]] | None:
    """The datums of one pfs input that a change of its files touches. Pure.

    Args:
        spec: The input.
        changed: Every path whose content differs between two commits → its content hash in
            the newer one (None: deleted there).

    Returns:
        (the datums the newer commit has for changed paths, sorted by path; the ids of the
        datums it no longer has), or None when some changed path lies under a *directory*
        the glob matches: that datum holds files the change does not list, so the caller
        makes every datum from the whole tree instead. A datum the change does not touch is
        the same in both commits. Cost: O(changed paths x depth), whatever the repo's size.

    """
    g = compile_glob(spec.glob)
    made: list[Datum] = []
    gone: list[str] = []
    for path, content in sorted(changed.items()):
        above = path
        while above != "/":
            above = above[: above.rindex("/")] or "/"
            if g.match(above):
                return None  # a directory datum: its other files are not in the change
        if not g.match(path):
            continue  # no datum holds this path (a datum is a match or a file under one)
        if content is None:
            gone.append(Datum((_datum_input(spec, g, path, ()),)).id)
        else:
            made.append(Datum((_datum_input(spec, g, path, ((path, content),)),)))
    return made, gone


def _unique(made: Iterable[Datum]) -> list[Datum]:
    # Pachyderm writes each datum to meta/<datum id> and reads back only the first record of
    # a path (iterator.go iterateMeta): a datum made twice is one datum, at its first place.
    seen: set[str] = set()
    out = []
    for d in made:
        if d.id not in seen:
            seen.add(d.id)
            out.append(d)
    return out


def _cross(sides: Sequence[Sequence[tuple[DatumInput, ...]]]) -> list[Datum]:
    if not sides or any(not side for side in sides):
        return []
    return _unique(
        Datum(_by_name(itertools.chain.from_iterable(combo))) for combo in itertools.product(*sides)
    )


def datums(spec: Input, trees: Mapping[str, Tree]) -> list[Datum]:
    """Every datum of ``spec``, each once.

    Args:
        spec: The pipeline's input.
        trees: Each pfs input's commit by :attr:`PfsInput.source` (``repo@branch``); a
            source missing is an empty commit. Two inputs reading one branch share a tree.

    Returns:
        The datums, distinct by id, in the order the module docstring gives.

    Raises:
        InvalidInput: A ``join_on`` or ``group_by`` template does not fit its glob.

    """
    match spec:
        case PfsInput():
            return [Datum((i,)) for i in pfs_datum_inputs(spec, trees.get(spec.source, {}))]
        case CrossInput():
            return _cross([[d.inputs for d in datums(sub, trees)] for sub in spec.inputs])
        case UnionInput():
            return _unique(d for sub in spec.inputs for d in datums(sub, trees))
        case JoinInput():
            return _join(spec, trees)
        case GroupInput():
            return _group(spec, trees)
    raise TypeError(f"not an input: {spec!r}")  # pragma: no cover


def _keyed(
    spec: JoinInput | GroupInput, trees: Mapping[str, Tree], join: bool
) -> dict[str, list[list[DatumInput]]]:
    # key → one list per side of that side's datum inputs with the key. Like Pachyderm's key
    # task, a side's datums are taken apart: each input is filed under its own key, once per
    # datum it appears in.
    table: dict[str, list[list[DatumInput]]] = {}
    for side, sub in enumerate(spec.inputs):
        for d in datums(sub, trees):
            for i in d.inputs:
                key = i.join_on if join else i.group_by
                table.setdefault(key, [[] for _ in spec.inputs])[side].append(i)
    return table


def _join(spec: JoinInput, trees: Mapping[str, Tree]) -> list[Datum]:
    out: list[Datum] = []
    for _, sides in sorted(_keyed(spec, trees, join=True).items()):
        if all(sides):
            out.extend(Datum(_by_name(combo)) for combo in itertools.product(*sides))
            continue
        # A key some side lacks: Pachyderm crosses the present sides and keeps, of each
        # combination, only its outer-join inputs. Picking an inner input from a side leaves
        # nothing of that side, so cross each side's outer inputs plus "nothing" instead: the
        # same datums without the product over inner inputs.
        choices = []
        for side in sides:
            outer = [(i,) for i in side if i.outer_join]
            # An absent side, or one with an inner input, can contribute nothing.
            choices.append(outer if side and len(outer) == len(side) else [*outer, ()])
        for combo in itertools.product(*choices):
            if kept := tuple(itertools.chain.from_iterable(combo)):
                out.append(Datum(_by_name(kept)))
    return _unique(out)


def _group(spec: GroupInput, trees: Mapping[str, Tree]) -> list[Datum]:
    table = _keyed(spec, trees, join=False)
    return _unique(
        Datum(_by_name(itertools.chain.from_iterable(table[key]))) for key in sorted(table)
    )
