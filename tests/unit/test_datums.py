"""Datums as Pachyderm makes them: a table of inputs, trees and the expected datums."""

from __future__ import annotations

import itertools

import pytest

from pachstream.dispatch.datums import (
    CrossInput,
    Datum,
    GroupInput,
    JoinInput,
    PfsInput,
    UnionInput,
    datums,
    input_sources,
)


def tree(*paths: str) -> dict[str, str]:
    return {p: f"h{p}" for p in paths}


REPOS = {
    "files": tree("/a.txt", "/dir/b", "/dir/c", "/dir/sub/d"),
    "A": tree("/1.txt", "/2.txt"),
    "B": tree("/1.csv", "/3.csv"),
    "C": tree("/c1", "/c2"),
    "E": {},
    "left": tree("/1.txt", "/2.txt", "/4.txt"),
    "right": tree("/1.csv", "/1.csv.bak", "/3.csv"),
    "sales": tree("/x-1.csv", "/x-2.csv", "/y-1.csv"),
    "returns": tree("/x-9.json", "/z-1.json"),
    "zeta": tree("/z"),
    "alpha": tree("/a1", "/a2"),
}
TREES = {f"{repo}@master": files for repo, files in REPOS.items()}
"""Trees by source (``repo@branch``), as :func:`datums` takes them."""


def pfs(name: str, glob: str, **kw) -> PfsInput:
    return PfsInput(name=name, repo=kw.pop("repo", name), glob=glob, **kw)


def render(ds: list[Datum]) -> list[tuple[tuple[str, str], ...]]:
    return [tuple((i.name, i.path) for i in d.inputs) for d in ds]


CASES = [
    # --- pfs globs
    ("root is one datum of everything", pfs("files", "/"), [(("files", "/"),)]),
    (
        "/* gives top-level files and directories",
        pfs("files", "/*"),
        [(("files", "/a.txt"),), (("files", "/dir"),)],
    ),
    (
        "/*/* gives second-level entries",
        pfs("files", "/*/*"),
        [(("files", "/dir/b"),), (("files", "/dir/c"),), (("files", "/dir/sub"),)],
    ),
    (
        "** crosses slashes and matches directories too",
        pfs("files", "/dir/**"),
        [
            (("files", "/dir/b"),),
            (("files", "/dir/c"),),
            (("files", "/dir/sub"),),
            (("files", "/dir/sub/d"),),
        ],
    ),
    ("no match gives no datums", pfs("files", "/*.csv"), []),
    ("an empty repo gives no datums", pfs("E", "/*"), []),
    # --- cross
    (
        "cross is a cartesian product",
        CrossInput((pfs("A", "/*"), pfs("C", "/*"))),
        [
            (("A", "/1.txt"), ("C", "/c1")),
            (("A", "/1.txt"), ("C", "/c2")),
            (("A", "/2.txt"), ("C", "/c1")),
            (("A", "/2.txt"), ("C", "/c2")),
        ],
    ),
    (
        "inside a datum, inputs are ordered by name",
        CrossInput((pfs("zeta", "/*"), pfs("alpha", "/*"))),
        [(("alpha", "/a1"), ("zeta", "/z")), (("alpha", "/a2"), ("zeta", "/z"))],
    ),
    ("cross with an empty side gives nothing", CrossInput((pfs("A", "/*"), pfs("E", "/*"))), []),
    # --- union
    (
        "union is one input's datums then the other's",
        UnionInput((pfs("A", "/*"), pfs("C", "/*"))),
        [(("A", "/1.txt"),), (("A", "/2.txt"),), (("C", "/c1"),), (("C", "/c2"),)],
    ),
    # --- join
    (
        "inner join keeps matching keys only",
        JoinInput((pfs("A", "/(*).txt", join_on="$1"), pfs("B", "/(*).csv", join_on="$1"))),
        [(("A", "/1.txt"), ("B", "/1.csv"))],
    ),
    (
        "a key with two files on a side crosses them",
        JoinInput((pfs("left", "/(*).txt", join_on="$1"), pfs("right", "/(*).csv*", join_on="$1"))),
        [(("left", "/1.txt"), ("right", "/1.csv")), (("left", "/1.txt"), ("right", "/1.csv.bak"))],
    ),
    (
        "outer join on the left keeps unmatched left datums alone",
        JoinInput(
            (
                pfs("A", "/(*).txt", join_on="$1", outer_join=True),
                pfs("B", "/(*).csv", join_on="$1"),
            )
        ),
        [(("A", "/1.txt"), ("B", "/1.csv")), (("A", "/2.txt"),)],
    ),
    (
        "outer join on both sides keeps every unmatched datum",
        JoinInput(
            (
                pfs("A", "/(*).txt", join_on="$1", outer_join=True),
                pfs("B", "/(*).csv", join_on="$1", outer_join=True),
            )
        ),
        [(("A", "/1.txt"), ("B", "/1.csv")), (("A", "/2.txt"),), (("B", "/3.csv"),)],
    ),
    (
        "join keys can use any capture group",
        JoinInput(
            (
                pfs("sales", "/(*)-(*).csv", join_on="$1"),
                pfs("returns", "/(*)-(*).json", join_on="$1"),
            )
        ),
        [
            (("returns", "/x-9.json"), ("sales", "/x-1.csv")),
            (("returns", "/x-9.json"), ("sales", "/x-2.csv")),
        ],
    ),
    # --- group
    (
        "group makes one datum per key, keys sorted",
        GroupInput((pfs("sales", "/(*)-(*).csv", group_by="$2"),)),
        [(("sales", "/x-1.csv"), ("sales", "/y-1.csv")), (("sales", "/x-2.csv"),)],
    ),
    (
        "group across inputs",
        GroupInput(
            (
                pfs("sales", "/(*)-*.csv", group_by="$1"),
                pfs("returns", "/(*)-*.json", group_by="$1"),
            )
        ),
        [
            (("returns", "/x-9.json"), ("sales", "/x-1.csv"), ("sales", "/x-2.csv")),
            (("sales", "/y-1.csv"),),
            (("returns", "/z-1.json"),),
        ],
    ),
    # --- nesting
    (
        "cross of a union and an input",
        CrossInput((UnionInput((pfs("A", "/1.txt"), pfs("B", "/3.csv"))), pfs("zeta", "/*"))),
        [(("A", "/1.txt"), ("zeta", "/z")), (("B", "/3.csv"), ("zeta", "/z"))],
    ),
    (
        "union of a cross and an input",
        UnionInput((CrossInput((pfs("A", "/1.txt"), pfs("C", "/c1"))), pfs("zeta", "/"))),
        [(("A", "/1.txt"), ("C", "/c1")), (("zeta", "/"),)],
    ),
    (
        "cross of a join and an input",
        CrossInput(
            (
                JoinInput((pfs("A", "/(*).txt", join_on="$1"), pfs("B", "/(*).csv", join_on="$1"))),
                pfs("zeta", "/*"),
            )
        ),
        [(("A", "/1.txt"), ("B", "/1.csv"), ("zeta", "/z"))],
    ),
    # --- outer joins are decided per input (worker.go processMergeTask filters each combination)
    (
        "a union side mixing outer and inner inputs keeps only the outer ones for a lone key",
        JoinInput(
            (
                UnionInput(
                    (
                        pfs("A", "/(*).txt", join_on="$1", outer_join=True),
                        pfs("left", "/(*).txt", join_on="$1"),
                    )
                ),
                pfs("B", "/(*).csv", join_on="$1"),
            )
        ),
        [
            (("A", "/1.txt"), ("B", "/1.csv")),
            (("B", "/1.csv"), ("left", "/1.txt")),
            (("A", "/2.txt"),),
        ],
    ),
    (
        "the inner input listed first does not hide the outer one",
        JoinInput(
            (
                UnionInput(
                    (
                        pfs("left", "/(*).txt", join_on="$1"),
                        pfs("A", "/(*).txt", join_on="$1", outer_join=True),
                    )
                ),
                pfs("B", "/(*).csv", join_on="$1"),
            )
        ),
        [
            (("B", "/1.csv"), ("left", "/1.txt")),
            (("A", "/1.txt"), ("B", "/1.csv")),
            (("A", "/2.txt"),),
        ],
    ),
    (
        "a lone key keeps the outer inputs of every present side, crossed",
        JoinInput(
            (
                pfs("A", "/(*).txt", join_on="$1", outer_join=True),
                UnionInput(
                    (
                        pfs("left", "/(*).txt", join_on="$1", outer_join=True),
                        pfs("right", "/(*).csv*", join_on="$1"),
                    )
                ),
                pfs("zeta", "/(*)", join_on="$1"),
            )
        ),
        [
            (("A", "/1.txt"), ("left", "/1.txt")),
            (("A", "/1.txt"),),
            (("A", "/2.txt"), ("left", "/2.txt")),
            (("left", "/4.txt"),),
        ],
    ),
    (
        "join keys come sorted, not in order of first appearance",
        JoinInput(
            (
                pfs("B", "/(*).csv", join_on="$1", outer_join=True),
                pfs("A", "/(*).txt", join_on="$1", outer_join=True),
            )
        ),
        [(("A", "/1.txt"), ("B", "/1.csv")), (("A", "/2.txt"),), (("B", "/3.csv"),)],
    ),
    # --- datums are distinct by id at every level (Pachyderm's meta/<datum id> file sets)
    (
        "a union of an input with itself lists each datum once",
        UnionInput((pfs("A", "/*"), pfs("A", "/*"))),
        [
            (("A", "/1.txt"),),
            (("A", "/2.txt"),),
        ],
    ),
    (
        "a group over a union of one input with itself lists each file once",
        GroupInput(
            (
                UnionInput(
                    (
                        pfs("sales", "/(*)-*.csv", group_by="$1"),
                        pfs("sales", "/(*)-*.csv", group_by="$1"),
                    )
                ),
            )
        ),
        [(("sales", "/x-1.csv"), ("sales", "/x-2.csv")), (("sales", "/y-1.csv"),)],
    ),
    (
        "a cross of a union with duplicates gives each combination once",
        CrossInput((UnionInput((pfs("A", "/1.txt"), pfs("A", "/*"))), pfs("zeta", "/*"))),
        [(("A", "/1.txt"), ("zeta", "/z")), (("A", "/2.txt"), ("zeta", "/z"))],
    ),
    (
        "a join whose side repeats an input gives each pair once",
        JoinInput(
            (
                CrossInput((pfs("A", "/(*).txt", join_on="$1"), pfs("zeta", "/*", join_on="-"))),
                pfs("B", "/(*).csv", join_on="$1"),
            )
        ),
        [(("A", "/1.txt"), ("B", "/1.csv"))],
    ),
    (
        "a group over a cross keeps an input once per datum of the side, as Pachyderm's key task",
        GroupInput(
            (CrossInput((pfs("zeta", "/*", group_by="k"), pfs("alpha", "/*", group_by="k"))),)
        ),
        [(("alpha", "/a1"), ("alpha", "/a2"), ("zeta", "/z"), ("zeta", "/z"))],
    ),
    (
        "two group sides bringing one file list it twice (iterator_test.go GroupDoubles)",
        GroupInput((pfs("A", "/1.txt", group_by="k"), pfs("A", "/(*).txt", group_by="k"))),
        [(("A", "/1.txt"), ("A", "/1.txt"), ("A", "/2.txt"))],
    ),
]


@pytest.mark.parametrize(("name", "spec", "expected"), CASES, ids=[c[0] for c in CASES])
def test_datums(name, spec, expected):
    assert render(datums(spec, TREES)) == expected


def test_a_matched_directory_brings_its_whole_subtree():
    (d,) = [d for d in datums(pfs("files", "/*"), TREES) if d.inputs[0].path == "/dir"]
    assert [p for p, _ in d.inputs[0].files] == ["/dir/b", "/dir/c", "/dir/sub/d"]


def test_datum_id_ignores_content_and_hash_does_not():
    before = datums(pfs("A", "/*"), TREES)
    changed = datums(pfs("A", "/*"), {"A@master": {"/1.txt": "new", "/2.txt": "h/2.txt"}})
    assert [d.id for d in before] == [d.id for d in changed]
    assert before[0].hash("s") != changed[0].hash("s")
    assert before[1].hash("s") == changed[1].hash("s")  # only the changed file's datum reruns
    assert before[1].hash("s") != before[1].hash("other salt")


def test_directory_datum_hash_sees_added_children():
    spec = pfs("files", "/*")
    (before,) = [d for d in datums(spec, TREES) if d.inputs[0].path == "/dir"]
    grown = dict(REPOS["files"], **{"/dir/new": "hnew"})
    (after,) = [d for d in datums(spec, {"files@master": grown}) if d.inputs[0].path == "/dir"]
    assert before.id == after.id and before.hash("s") != after.hash("s")


def test_join_on_and_group_by_values_are_kept():
    (d,) = datums(
        JoinInput((pfs("A", "/(*).txt", join_on="k$1"), pfs("B", "/(*).csv", join_on="k$1"))), TREES
    )
    assert {i.name: i.join_on for i in d.inputs} == {"A": "k1", "B": "k1"}


def test_union_alias_reads_each_repo_under_one_name():
    spec = UnionInput((pfs("in", "/*", repo="A"), pfs("in", "/*", repo="C")))
    made = datums(spec, TREES)
    assert [(i.name, i.source, i.path) for d in made for i in d.inputs] == [
        ("in", "A@master", "/1.txt"),
        ("in", "A@master", "/2.txt"),
        ("in", "C@master", "/c1"),
        ("in", "C@master", "/c2"),
    ]
    assert len({d.id for d in made}) == 4


def test_trees_are_keyed_by_source_so_a_branch_is_read_by_each_input():
    spec = CrossInput(
        (pfs("dirA", "/*", repo="files"), pfs("other", "/*", repo="files", branch="dev"))
    )
    trees = {"files@master": tree("/a"), "files@dev": tree("/b")}
    assert render(datums(spec, trees)) == [(("dirA", "/a"), ("other", "/b"))]
    assert input_sources(spec) == ["files@master", "files@dev"]
    assert input_sources(UnionInput((spec, pfs("x", "/", repo="files")))) == [
        "files@master",
        "files@dev",
    ]


def test_empty_files_is_copied_to_each_datum_input_and_changes_no_id():
    plain = datums(pfs("A", "/*"), TREES)
    empty = datums(pfs("A", "/*", empty_files=True), TREES)
    assert [i.empty_files for d in empty for i in d.inputs] == [True, True]
    assert [d.id for d in plain] == [d.id for d in empty]
    assert [d.hash("s") for d in plain] == [d.hash("s") for d in empty]


def _literal_join(spec: JoinInput, trees) -> set[str]:
    """Pachyderm's merge task word for word: cross the present sides, filter each combination."""
    table: dict[str, list[list]] = {}
    for side, sub in enumerate(spec.inputs):
        for d in datums(sub, trees):
            for i in d.inputs:
                table.setdefault(i.join_on, [[] for _ in spec.inputs])[side].append(i)
    ids = set()
    for sides in table.values():
        present = [s for s in sides if s]
        for combo in itertools.product(*present):
            kept = combo if len(present) == len(sides) else [i for i in combo if i.outer_join]
            if kept:
                ids.add(Datum(tuple(sorted(kept, key=lambda i: i.name))).id)
    return ids


@pytest.mark.parametrize("flags", list(itertools.product([False, True], repeat=4)))
def test_join_shortcut_equals_pachyderm_merge_for_every_outer_choice(flags):
    a, b, c, d = flags
    spec = JoinInput(
        (
            UnionInput(
                (
                    pfs("A", "/(*).txt", join_on="$1", outer_join=a),
                    pfs("left", "/(*).txt", join_on="$1", outer_join=b),
                )
            ),
            pfs("right", "/(*).csv*", join_on="$1", outer_join=c),
            pfs("B", "/(*).csv", join_on="$1", outer_join=d),
        )
    )
    made = datums(spec, TREES)
    assert {x.id for x in made} == _literal_join(spec, TREES)
    assert len(made) == len({x.id for x in made})
