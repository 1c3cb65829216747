"""Datums exactly as Pachyderm makes them: pure functions of the input spec and the trees.

Input kinds (Pachyderm's pipeline spec):

- **pfs**: the glob is matched against every file *and every directory* of the input's
  commit; each match is one datum input holding the matched path (a directory brings its whole
  subtree). ``/`` is one datum of everything; ``/*`` one per top-level entry. Capture groups
  ``(...)`` feed ``join_on`` and ``group_by`` through ``$1``-style templates.
- **cross**: the cartesian product of its inputs' datums; an empty side gives no datums.
- **union**: the datums of each input, one after the other.
- **join**: datum inputs grouped by their ``join_on`` key; per key, the cross product of the
  sides. When a side has no datum for a key, only the present sides marked ``outer_join`` are
  kept (crossed with each other); with none of them, the key gives no datum (Pachyderm 2).
- **group**: one datum per ``group_by`` key, holding every datum input with that key, keys
  sorted.

Inside a datum, inputs are ordered by name, as Pachyderm orders them. Ids: a datum's **id**
comes from its inputs' names, repos, branches and matched paths; its **hash** adds every file's
content hash and path (so a directory's datum changes when a child is added or renamed, unlike
Pachyderm) and the pipeline's salt. A datum whose hash the pipeline already processed
successfully is skipped.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from pachstream.glob import compile_glob, glob_paths, template

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


def pfs_datum_inputs(spec: PfsInput, tree: Tree) -> list[DatumInput]:
    """The glob's matches in one commit, sorted by path."""
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
        groups = g.groups(match) or ()
        out.append(
            DatumInput(
                name=spec.name,
                repo=spec.repo,
                branch=spec.branch,
                path=match,
                files=files,
                join_on=template(spec.join_on, groups) if spec.join_on else "",
                group_by=template(spec.group_by, groups) if spec.group_by else "",
                outer_join=spec.outer_join,
            )
        )
    return out


def _cross(sides: Sequence[Sequence[tuple[DatumInput, ...]]]) -> list[Datum]:
    if not sides or any(not side for side in sides):
        return []
    return [Datum(_by_name(itertools.chain.from_iterable(combo))) for combo in itertools.product(*sides)]


def datums(spec: Input, trees: Mapping[str, Tree]) -> list[Datum]:
    """Every datum of ``spec``, given each pfs input's tree by input name."""
    match spec:
        case PfsInput():
            return [Datum((i,)) for i in pfs_datum_inputs(spec, trees.get(spec.name, {}))]
        case CrossInput():
            return _cross([[d.inputs for d in datums(sub, trees)] for sub in spec.inputs])
        case UnionInput():
            return [d for sub in spec.inputs for d in datums(sub, trees)]
        case JoinInput():
            return _join(spec, trees)
        case GroupInput():
            return _group(spec, trees)
    raise TypeError(f"not an input: {spec!r}")  # pragma: no cover


def _join(spec: JoinInput, trees: Mapping[str, Tree]) -> list[Datum]:
    # key → one list of datum inputs per side, keys in order of first appearance.
    table: dict[str, list[list[DatumInput]]] = {}
    for side, sub in enumerate(spec.inputs):
        for d in datums(sub, trees):
            for i in d.inputs:
                table.setdefault(i.join_on, [[] for _ in spec.inputs])[side].append(i)
    out: list[Datum] = []
    for sides in table.values():
        if all(sides):
            kept = sides
        else:
            kept = [s for s in sides if s and s[0].outer_join]
        out.extend(_cross([[(i,) for i in side] for side in kept]))
    return out


def _group(spec: GroupInput, trees: Mapping[str, Tree]) -> list[Datum]:
    groups: dict[str, list[DatumInput]] = {}
    for sub in spec.inputs:
        for d in datums(sub, trees):
            for i in d.inputs:
                groups.setdefault(i.group_by, []).append(i)
    return [Datum(_by_name(groups[key])) for key in sorted(groups)]
