"""Pachyderm's own datum cases, ported as data: the trees, the input spec, the datums expected.

Each case names the Go test it comes from (Pachyderm ``src/server/worker/datum/iterator_test.go``
and ``src/server/pachyderm_test.go``). As in Go's ``validateDI``, a datum is written as the
concatenation of its inputs' paths, and compared by its ``/``-separated parts sorted; the
datums of a case are compared as a multiset, since Pachyderm lists them by datum-id hash.

Not ported, because pachstream has no such feature or the test asserts no datums:

- iterator_test.go ``TestIterators/ZeroDatums``: its glob ``!(**)`` is refused by
  pachstream's glob (see ``pachstream/glob.py``); the cases that use it as an empty side
  (``EmptyCross``, ``NestedEmptyCross``) take ``/bar*``, which matches nothing here too.
- iterator_test.go ``TestIterators/PlainS3``, ``S3MixedCross``, ``S3OnlyCrossUnionJoin``: s3
  inputs.
- iterator_test.go ``TestStreamingIterator``: the streaming, pausable iterator and an error for
  a missing repo; pachstream makes a job's datums in one call.
- iterator_internal_test.go ``TestIterateMeta``: decoding meta files; its "double meta message"
  case (first record wins) is why a datum made twice is kept once, at its first place.
- pachyderm_test.go ``TestCronPipeline/CronPFSCross``: cron inputs.
- pachyderm_test.go ``TestPropagationSpec``, ``TestReferenceInput``: ``propagation_spec`` and
  ``reference`` inputs.
- pachyderm_test.go ``TestProvenance2`` and ``TestChainedPipelinesNoDelay`` (crosses of ``/``
  globs like ``TestChainedPipelines``, ported once), ``TestPutFileNoErrorOnErroredParentCommit``
  (a union; asserts only that a put succeeds), ``TestRewindCrossPipeline`` (skipped in Go),
  ``TestPipelineEmptyInput`` (asserts job states, not datums).
"""

from __future__ import annotations

from collections import Counter

import pytest

from pachstream.dispatch.datums import (
    CrossInput,
    Datum,
    GroupInput,
    Input,
    JoinInput,
    PfsInput,
    UnionInput,
    datums,
)

Trees = dict[str, dict[str, str]]


def pfs(
    repo: str,
    glob: str,
    *,
    name: str = "",
    join_on: str = "",
    group_by: str = "",
    outer: bool = False,
) -> PfsInput:
    """Go's ``NewPFSInputOpts``: the name defaults to the repo."""
    return PfsInput(
        name=name or repo,
        repo=repo,
        glob=glob,
        join_on=join_on,
        group_by=group_by,
        outer_join=outer,
    )


def repo(name: str, *paths: str) -> Trees:
    return {f"{name}@master": {p: f"h{name}{p}" for p in paths}}


def bits(i: int) -> str:
    """Go's ``%4b``: binary, right-aligned in 4 columns with spaces."""
    return f"{i:4b}"


def stable(key: str) -> str:
    """Go's ``computeStableKey``: a datum's concatenated paths, parts sorted."""
    return "/".join(sorted(key.split("/"))).lstrip("/")


def key(d: Datum) -> str:
    """Go's ``computeKey``."""
    return stable("".join(i.path for i in d.inputs))


def cat(*paths: str) -> str:
    return "".join(paths)


# --- iterator_test.go TestIterators: one repo of /foo0 … /foo49, every input named after it.
DATA = repo("data", *(f"/foo{i}" for i in range(50)))
in0 = pfs("data", "/bar*")  # stands for Go's "!(**)": zero datums
in1 = pfs("data", "/foo?1")
in2 = pfs("data", "/foo*2")
in3 = UnionInput((in1, in2))
in4 = CrossInput((in1, in2))
in6 = CrossInput((in3, in0, in2, in4))
in7 = CrossInput((in6, in1))
in8 = pfs("data", "/foo(?)(?)", join_on="$1$2")
in9 = pfs("data", "/foo(?)(?)", join_on="$2$1")
in11 = pfs("data", "/foo1(?)", join_on="$1", outer=True)
in12 = pfs("data", "/foo(?)1", join_on="$1", outer=True)
in14 = pfs("data", "/foo(?)(?)", group_by="$1")
in16 = pfs("data", "/foo(?)(?)", group_by="$1")
in17 = pfs("data", "/foo(?)(?)", group_by="$2")
in19 = pfs("data", "/foo(?)(?)", join_on="$1$2", group_by="$1")
in20 = pfs("data", "/foo(?)(?)", join_on="$2$1", group_by="$2")
in23 = pfs("data", "/foo(?)(?)")
in24 = pfs("data", "/foo(?)(?)", group_by="$2")

TENS = [f"/foo{t}{u}" for t in range(1, 5) for u in range(10)]

# --- pachyderm_test.go fixtures
JOIN_REPOS = {
    **repo("r0", *(f"/file-0.{bits(i)}" for i in range(16))),
    **repo("r1", *(f"/file-1.{bits(i)}" for i in range(16))),
}
GROUP_REPO = repo("g", *(f"/file.{bits(i)}" for i in range(16)))
UNION_REPOS = {
    k: v for r in ("u0", "u1", "u2", "u3") for k, v in repo(r, "/file-0", "/file-1").items()
}
PATIENTS = repo(
    "lab",
    "/T1606331395-LIPID-PATID2-CLIA24D9871327.txt",
    "/T1606707579-LIPID-PATID3-CLIA24D9871327.txt",
    "/T1606707597-LIPID-PATID4-CLIA24D9871327.txt",
    "/T1606707557-LIPID-PATID1-CLIA24D9871327.txt",
    "/T1606707613-LIPID-PATID1-CLIA24D9871328.txt",
    "/T1606707635-LIPID-PATID3-CLIA24D9871328.txt",
)
TWO_THREE = {
    **repo("two", *(f"/{i}" for i in range(12) if i % 2 == 0)),
    **repo("three", *(f"/{i}" for i in range(12) if i % 3 == 0)),
}


def deleted_datums_join(two_outer: bool, three_outer: bool) -> JoinInput:
    return JoinInput(
        (
            pfs("two", "/(*)", join_on="$1", outer=two_outer),
            pfs("three", "/(*)", join_on="$1", outer=three_outer),
        )
    )


def deleted_datums_expected(two_outer: bool, three_outer: bool) -> list[str]:
    out = []
    for i in range(12):
        if i % 6 == 0:
            out.append(f"/{i}/{i}")
        elif i % 2 == 0 and two_outer or i % 3 == 0 and three_outer:
            out.append(f"/{i}")
    return out


CASES: list[tuple[str, str, Trees, Input, list[str]]] = [
    # (Go test, what it shows, trees, spec, datums)
    ("TestIterators/Basic", "pfs1", DATA, in1, ["/foo11", "/foo21", "/foo31", "/foo41"]),
    ("TestIterators/Basic", "pfs2", DATA, in2, ["/foo12", "/foo2", "/foo22", "/foo32", "/foo42"]),
    (
        "TestIterators/Union",
        "union of two globs",
        DATA,
        in3,
        ["/foo11", "/foo12", "/foo2", "/foo21", "/foo22", "/foo31", "/foo32", "/foo41", "/foo42"],
    ),
    (
        "TestIterators/Cross",
        "cross of two globs",
        DATA,
        in4,
        [
            f"{a}{b}"
            for a in ("/foo11", "/foo21", "/foo31", "/foo41")
            for b in ("/foo12", "/foo2", "/foo22", "/foo32", "/foo42")
        ],
    ),
    ("TestIterators/EmptyCross", "an empty side empties the cross", DATA, in6, []),
    ("TestIterators/NestedEmptyCross", "and a cross over it", DATA, in7, []),
    (
        "TestIterators/Join",
        "join on swapped digits",
        DATA,
        JoinInput((in8, in9)),
        [f"/foo{a}{b}/foo{b}{a}" for a in range(1, 5) for b in range(1, 5)],
    ),
    (
        "TestIterators/OuterJoin",
        "both sides outer",
        DATA,
        JoinInput((in11, in12)),
        [
            "/foo10",
            "/foo11/foo11",
            "/foo12/foo21",
            "/foo13/foo31",
            "/foo14/foo41",
            "/foo15",
            "/foo16",
            "/foo17",
            "/foo18",
            "/foo19",
        ],
    ),
    (
        "TestIterators/GroupSingle",
        "group by first digit",
        DATA,
        GroupInput((in14,)),
        [cat(*(f"/foo{t}{u}" for u in range(10))) for t in range(1, 5)],
    ),
    (
        "TestIterators/GroupDoubles",
        "two sides, one file in two groups and twice in one",
        DATA,
        GroupInput((in16, in17)),
        ["/foo10/foo20/foo30/foo40"]
        + [
            cat(*(f"/foo{t}{u}" for u in range(10)), *(f"/foo{s}{t}" for s in range(1, 5)))
            for t in range(1, 5)
        ]
        + [cat(*(f"/foo{s}{u}" for s in range(1, 5))) for u in range(5, 10)],
    ),
    (
        "TestIterators/GroupJoin",
        "group over a join",
        DATA,
        GroupInput((JoinInput((in19, in20)),)),
        [cat(*(f"/foo{t}{u}/foo{u}{t}" for u in range(1, 5))) for t in range(1, 5)],
    ),
    (
        "TestIterators/UnionGroup",
        "union of a glob and a group",
        DATA,
        UnionInput((in23, GroupInput((in24,)))),
        [cat(*(f"/foo{t}{u}" for t in range(1, 5))) for u in range(10)] + TENS,
    ),
    *(
        (
            "TestJoinTrailingSlash",
            f"glob {glob!r}",
            {
                **repo("j0", *(f"/foo-{j}" for j in range(10))),
                **repo("j1", *(f"/foo-{j}" for j in range(10))),
            },
            JoinInput((pfs("j0", glob, join_on="$1"), pfs("j1", glob, join_on="$1"))),
            [f"/foo-{j}/foo-{j}" for j in range(10)],
        )
        for glob in ("/(*)", "/(*)/")
    ),
    (
        "TestJoinInput",
        "files: outputs /file-0.1100file-1.1100 and /file-0.1110file-1.1110",
        JOIN_REPOS,
        JoinInput(
            (pfs("r0", "/file-?.(11*)", join_on="$1"), pfs("r1", "/file-?.(*0)", join_on="$1"))
        ),
        ["/file-0.1100/file-1.1100", "/file-0.1110/file-1.1110"],
    ),
    (
        "TestJoinInput",
        "directories: outputs /bar and /foo",
        {**repo("d0", "/dir-01/foo"), **repo("d1", "/dir-10/bar")},
        JoinInput((pfs("d0", "/dir-(?)(?)", join_on="$2"), pfs("d1", "/dir-(?)(?)", join_on="$1"))),
        ["/dir-01/dir-10"],
    ),
    (
        "TestGroupInput/Basic",
        "group by the third binary digit",
        GROUP_REPO,
        GroupInput((pfs("g", "/file.(?)(?)(?)(?)", group_by="$3"),)),
        [
            cat("/file.   0", "/file.   1"),
            cat(
                *(
                    f"/file.{b}"
                    for b in ("  10", "  11", " 110", " 111", "1010", "1011", "1110", "1111")
                )
            ),
            cat(*(f"/file.{b}" for b in (" 100", " 101", "1000", "1001", "1100", "1101"))),
        ],
    ),
    (
        "TestGroupInput/MultiInput",
        "each side groups by its own digit",
        JOIN_REPOS,
        GroupInput(
            (
                pfs("r0", "/file-?.(?)(?)(?)(?)", group_by="$3"),
                pfs("r1", "/file-?.(?)(?)(?)(?)", group_by="$2"),
            )
        ),
        [
            cat(
                *(f"/file-0.{b}" for b in ("   0", "   1")),
                *(f"/file-1.{b}" for b in ("   0", "   1", "  10", "  11")),
            ),
            cat(
                *(
                    f"/file-0.{b}"
                    for b in ("  10", "  11", " 110", " 111", "1010", "1011", "1110", "1111")
                ),
                *(
                    f"/file-1.{b}"
                    for b in (" 100", " 101", " 110", " 111", "1100", "1101", "1110", "1111")
                ),
            ),
            cat(
                *(f"/file-0.{b}" for b in (" 100", " 101", "1000", "1001", "1100", "1101")),
                *(f"/file-1.{b}" for b in ("1000", "1001", "1010", "1011")),
            ),
        ],
    ),
    (
        "TestGroupInput/GroupJoinCombo",
        "join reversed numbers, then regroup",
        JOIN_REPOS,
        GroupInput(
            (
                JoinInput(
                    (
                        pfs("r0", "/file-?.(?)(?)(?)(?)", join_on="$1$2$3$4", group_by="$3"),
                        pfs("r1", "/file-?.(?)(?)(?)(?)", join_on="$4$3$2$1", group_by="$2"),
                    )
                ),
            )
        ),
        [
            cat("/file-0.1001", "/file-0.1101", "/file-1.1001", "/file-1.1011"),
            cat("/file-0.1011", "/file-0.1111", "/file-1.1101", "/file-1.1111"),
        ],
    ),
    (
        "TestGroupInput/Symlink",
        "group by patient id",
        PATIENTS,
        GroupInput((pfs("lab", "/*-PATID(*)-*.txt", group_by="$1"),)),
        [
            "/T1606331395-LIPID-PATID2-CLIA24D9871327.txt",
            cat(
                "/T1606707557-LIPID-PATID1-CLIA24D9871327.txt",
                "/T1606707613-LIPID-PATID1-CLIA24D9871328.txt",
            ),
            cat(
                "/T1606707579-LIPID-PATID3-CLIA24D9871327.txt",
                "/T1606707635-LIPID-PATID3-CLIA24D9871328.txt",
            ),
            "/T1606707597-LIPID-PATID4-CLIA24D9871327.txt",
        ],
    ),
    (
        "TestUnionInput/union all",
        "8 output files",
        UNION_REPOS,
        UnionInput(tuple(pfs(r, "/*") for r in ("u0", "u1", "u2", "u3"))),
        ["/file-0", "/file-1"] * 4,
    ),
    (
        "TestUnionInput/union crosses",
        "each repo in 4 datums",
        UNION_REPOS,
        UnionInput(
            (
                CrossInput((pfs("u0", "/*"), pfs("u1", "/*"))),
                CrossInput((pfs("u2", "/*"), pfs("u3", "/*"))),
            )
        ),
        [f"/file-{a}/file-{b}" for a in (0, 1) for b in (0, 1)] * 2,
    ),
    (
        "TestUnionInput/cross unions",
        "each repo in 8 datums",
        UNION_REPOS,
        CrossInput(
            (
                UnionInput((pfs("u0", "/*"), pfs("u1", "/*"))),
                UnionInput((pfs("u2", "/*"), pfs("u3", "/*"))),
            )
        ),
        [f"/file-{a}/file-{b}" for a in (0, 1) for b in (0, 1)] * 4,
    ),
    (
        "TestUnionInput/union alias",
        "8 datums, one name",
        UNION_REPOS,
        UnionInput(tuple(pfs(r, "/*", name="in") for r in ("u0", "u1", "u2", "u3"))),
        ["/file-0", "/file-1"] * 4,
    ),
    *(
        (
            "TestListDeletedDatums",
            f"two outer {two}, three outer {three}",
            TWO_THREE,
            deleted_datums_join(two, three),
            deleted_datums_expected(two, three),
        )
        for two in (True, False)
        for three in (True, False)
    ),
    (
        "TestMultipleInputsFromTheSameBranch",
        "two names read one branch",
        repo("same", "/dirA/file", "/dirB/file"),
        CrossInput((pfs("same", "/dirA/*", name="dirA"), pfs("same", "/dirB/*", name="dirB"))),
        ["/dirA/file/dirB/file"],
    ),
    (
        "TestChainedPipelines",
        "cross of two / globs",
        {**repo("B", "/file"), **repo("D", "/file")},
        CrossInput((pfs("B", "/"), pfs("D", "/"))),
        ["//"],
    ),
    (
        "TestTemporaryDuplicatedPath",
        "cross with a one-file repo",
        {**repo("big", "/a", *(f"/b-{i}" for i in range(10))), **repo("other", "/empty")},
        CrossInput((pfs("big", "/*"), pfs("other", "/*"))),
        [f"{p}/empty" for p in ("/a", *(f"/b-{i}" for i in range(10)))],
    ),
    (
        "TestPipelineEnvVarJoinOn",
        "one pair",
        {**repo("repo1", "/a"), **repo("repo2", "/a")},
        JoinInput((pfs("repo1", "/(*)", join_on="$1"), pfs("repo2", "/(*)", join_on="$1"))),
        ["/a/a"],
    ),
    (
        "TestPipelineEnvVarGroupBy",
        "two groups",
        repo("repo", "/a-1", "/a-2", "/b-1", "/b-2"),
        GroupInput((pfs("repo", "/(*)-*", group_by="$1"),)),
        ["/a-1/a-2", "/b-1/b-2"],
    ),
]


@pytest.mark.parametrize(
    ("go_test", "what", "trees", "spec", "expected"), CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES]
)
def test_pachyderm_case(go_test, what, trees, spec, expected):
    made = datums(spec, trees)
    assert Counter(key(d) for d in made) == Counter(stable(e) for e in expected)
    assert len({d.id for d in made}) == len(made)  # Pachyderm's datum sets are keyed by id


def test_union_alias_stages_every_repo_under_its_name():
    """TestUnionInput/union alias: ``cp /pfs/in/*`` works for each of the 4 repos."""
    spec = UnionInput(tuple(pfs(r, "/*", name="in") for r in ("u0", "u1", "u2", "u3")))
    made = datums(spec, UNION_REPOS)
    assert {i.name for d in made for i in d.inputs} == {"in"}
    assert Counter(i.repo for d in made for i in d.inputs) == {"u0": 2, "u1": 2, "u2": 2, "u3": 2}


def test_join_on_and_group_by_reach_the_datum():
    """TestPipelineEnvVarJoinOn and TestPipelineEnvVarGroupBy read these as env variables."""
    (joined,) = datums(
        JoinInput((pfs("repo1", "/(*)", join_on="$1"), pfs("repo2", "/(*)", join_on="$1"))),
        {**repo("repo1", "/a"), **repo("repo2", "/a")},
    )
    assert [(i.name, i.join_on) for i in joined.inputs] == [("repo1", "a"), ("repo2", "a")]
    grouped = datums(
        GroupInput((pfs("repo", "/(*)-*", group_by="$1"),)),
        repo("repo", "/a-1", "/a-2", "/b-1", "/b-2"),
    )
    assert [{i.group_by for i in d.inputs} for d in grouped] == [{"a"}, {"b"}]


def test_list_deleted_datums_never_repeats_a_key():
    """TestListDeletedDatums: no key appears in two datums, whichever sides are outer."""
    for two in (True, False):
        for three in (True, False):
            made = datums(deleted_datums_join(two, three), TWO_THREE)
            keys = [d.inputs[0].join_on for d in made]
            assert len(set(keys)) == len(keys)
