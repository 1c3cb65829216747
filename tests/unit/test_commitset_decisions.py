"""Commit sets: which commits a job reads so that no DAG mixes an old and a new input."""

from __future__ import annotations

import pytest

from pachstream.dispatch.commitsets import (
    CommitSet,
    Ready,
    UpstreamFailed,
    Wait,
    decide,
    in_use,
    reaches,
)

# images → edges; montage(images, edges); summary(montage, labels); labels is independent.
PRODUCERS = {
    "fresh@master": ["images@master"],
    "edges@master": ["images@master"],
    "montage@master": ["images@master", "edges@master"],
    "summary@master": ["montage@master", "labels@master"],
}
HEADS = {
    "images@master": ("i-old", "r1"),
    "edges@master": ("e-old", "r2"),
    "montage@master": ("m-old", "r3"),
    "labels@master": ("l-head", "r4"),
}


def cs(commits=(), failed=()):
    return CommitSet({k: (v, "root-" + v) for k, v in commits}, dict(failed))


CASES = [
    # (what, sources of the pipeline, the set, expected decision)
    (
        "a commit to images: edges reads it",
        ["images@master"],
        cs([("images@master", "i1")]),
        Ready({"images@master": ("i1", "root-i1")}),
    ),
    (
        "montage waits for edges' commit of the same set (the diamond)",
        ["images@master", "edges@master"],
        cs([("images@master", "i1")]),
        Wait("edges@master"),
    ),
    (
        "then reads both commits of the set",
        ["images@master", "edges@master"],
        cs([("images@master", "i1"), ("edges@master", "e1")]),
        Ready({"images@master": ("i1", "root-i1"), "edges@master": ("e1", "root-e1")}),
    ),
    (
        "three levels: summary waits for montage, reads the labels head",
        ["montage@master", "labels@master"],
        cs([("images@master", "i1"), ("edges@master", "e1")]),
        Wait("montage@master"),
    ),
    (
        "an independent input is read at its head",
        ["montage@master", "labels@master"],
        cs([("images@master", "i1"), ("edges@master", "e1"), ("montage@master", "m1")]),
        Ready({"montage@master": ("m1", "root-m1"), "labels@master": ("l-head", "r4")}),
    ),
    (
        "a set that starts at labels does not reach montage: its head",
        ["montage@master", "labels@master"],
        cs([("labels@master", "l2")]),
        Ready({"montage@master": ("m-old", "r3"), "labels@master": ("l2", "root-l2")}),
    ),
    (
        "a set of a new spec (no commits) reads every head",
        ["images@master", "edges@master"],
        cs(),
        Ready({"images@master": ("i-old", "r1"), "edges@master": ("e-old", "r2")}),
    ),
    (
        "a failed upstream job fails the job that waited for it",
        ["images@master", "edges@master"],
        cs(
            [("images@master", "i1")],
            [("edges@master", "job j1 of pipeline 'edges' ended in failure")],
        ),
        UpstreamFailed("edges@master", "job j1 of pipeline 'edges' ended in failure"),
    ),
    (
        "and further down: summary waits for montage, which will fail",
        ["montage@master", "labels@master"],
        cs([("images@master", "i1")], [("edges@master", "job j1 failed")]),
        Wait("montage@master"),
    ),
    (
        "an empty input branch reads as nothing",
        ["new@master"],
        cs([("images@master", "i1")]),
        Ready({"new@master": None}),
    ),
    (
        "a pipeline's output before its first commit is waited for",
        ["images@master", "fresh@master"],
        cs(),
        Wait("fresh@master"),
    ),
]


@pytest.mark.parametrize(
    ("what", "sources", "commitset", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_decide(what, sources, commitset, expected):
    assert decide(sources, commitset, HEADS, PRODUCERS) == expected


def test_a_cycle_of_pipelines_does_not_loop():
    cycle = {"a@master": ["b@master"], "b@master": ["a@master"]}
    assert not reaches("a@master", cs([("x@master", "1")]), cycle)


def test_sets_in_use_and_their_persisted_form():
    assert in_use({"p": ["s1", "s2"], "q": []}, {"p": None, "q": "s3"}) == {"s1", "s2", "s3"}
    one = cs([("images@master", "i1")], [("edges@master", "why")])
    one.add("labels@master", ("l1", None), 7)
    back = CommitSet.from_json(one.to_json())
    assert back.to_json() == one.to_json() and back.seq["labels@master"] == 7


def test_a_head_newer_than_what_another_input_was_made_from_waits():
    # A new spec's set (no commits): images moved on to i2, whose set has not reached edges.
    newer = cs([("images@master", "i2")])
    heads = {**HEADS, "images@master": ("i2", "root-i2")}
    sources = ["images@master", "edges@master"]
    assert decide(sources, cs(), heads, PRODUCERS, {"images@master": newer}) == Wait("edges@master")
    caught_up = cs([("images@master", "i2"), ("edges@master", "e2")])
    heads["edges@master"] = ("e2", "root-e2")
    assert decide(sources, cs(), heads, PRODUCERS, {"images@master": caught_up}) == Ready(
        {"images@master": ("i2", "root-i2"), "edges@master": ("e2", "root-e2")}
    )


def test_a_pick_older_than_what_the_pipeline_read_is_named():
    ready = Ready(
        {"a@master": ("a1", None), "b@master": ("b1", None)}, {"a@master": 3, "b@master": 1}
    )
    assert ready.older_than({"a@master": 3, "b@master": 1}) is None
    assert ready.older_than({"a@master": 2, "b@master": 2}) == "b@master"
