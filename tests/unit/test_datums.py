"""Datums as Pachyderm makes them: a table of inputs, trees and the expected datums."""

from __future__ import annotations

import pytest

from pachstream.dispatch.datums import (
    CrossInput,
    Datum,
    GroupInput,
    JoinInput,
    PfsInput,
    UnionInput,
    datums,
)


def tree(*paths: str) -> dict[str, str]:
    return {p: f"h{p}" for p in paths}


TREES = {
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


def pfs(name: str, glob: str, **kw) -> PfsInput:
    return PfsInput(name=name, repo=kw.pop("repo", name), glob=glob, **kw)


def render(ds: list[Datum]) -> list[tuple[tuple[str, str], ...]]:
    return [tuple((i.name, i.path) for i in d.inputs) for d in ds]


CASES = [
    # --- pfs globs
    ("root is one datum of everything", pfs("files", "/"), [(("files", "/"),)]),
    ("/* gives top-level files and directories", pfs("files", "/*"), [(("files", "/a.txt"),), (("files", "/dir"),)]),
    (
        "/*/* gives second-level entries",
        pfs("files", "/*/*"),
        [(("files", "/dir/b"),), (("files", "/dir/c"),), (("files", "/dir/sub"),)],
    ),
    (
        "** crosses slashes and matches directories too",
        pfs("files", "/dir/**"),
        [(("files", "/dir/b"),), (("files", "/dir/c"),), (("files", "/dir/sub"),), (("files", "/dir/sub/d"),)],
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
        JoinInput((pfs("A", "/(*).txt", join_on="$1", outer_join=True), pfs("B", "/(*).csv", join_on="$1"))),
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
        JoinInput((pfs("sales", "/(*)-(*).csv", join_on="$1"), pfs("returns", "/(*)-(*).json", join_on="$1"))),
        [(("returns", "/x-9.json"), ("sales", "/x-1.csv")), (("returns", "/x-9.json"), ("sales", "/x-2.csv"))],
    ),
    # --- group
    (
        "group makes one datum per key, keys sorted",
        GroupInput((pfs("sales", "/(*)-(*).csv", group_by="$2"),)),
        [(("sales", "/x-1.csv"), ("sales", "/y-1.csv")), (("sales", "/x-2.csv"),)],
    ),
    (
        "group across inputs",
        GroupInput((pfs("sales", "/(*)-*.csv", group_by="$1"), pfs("returns", "/(*)-*.json", group_by="$1"))),
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
            (JoinInput((pfs("A", "/(*).txt", join_on="$1"), pfs("B", "/(*).csv", join_on="$1"))), pfs("zeta", "/*"))
        ),
        [(("A", "/1.txt"), ("B", "/1.csv"), ("zeta", "/z"))],
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
    changed = datums(pfs("A", "/*"), {"A": {"/1.txt": "new", "/2.txt": "h/2.txt"}})
    assert [d.id for d in before] == [d.id for d in changed]
    assert before[0].hash("s") != changed[0].hash("s")
    assert before[1].hash("s") == changed[1].hash("s")  # only the changed file's datum reruns
    assert before[1].hash("s") != before[1].hash("other salt")


def test_directory_datum_hash_sees_added_children():
    spec = pfs("files", "/*")
    (before,) = [d for d in datums(spec, TREES) if d.inputs[0].path == "/dir"]
    grown = dict(TREES["files"], **{"/dir/new": "hnew"})
    (after,) = [d for d in datums(spec, {"files": grown}) if d.inputs[0].path == "/dir"]
    assert before.id == after.id and before.hash("s") != after.hash("s")


def test_join_on_and_group_by_values_are_kept():
    (d,) = datums(JoinInput((pfs("A", "/(*).txt", join_on="k$1"), pfs("B", "/(*).csv", join_on="k$1"))), TREES)
    assert {i.name: i.join_on for i in d.inputs} == {"A": "k1", "B": "k1"}
