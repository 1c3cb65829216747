"""Pure parts of the pachctl-parity verbs: URL targets, the DAG drawing, extract ordering."""

from __future__ import annotations

import pytest

from pachstream.client._backup import check_manifest, order_commits
from pachstream.client._dag import build_dag, draw, topological
from pachstream.client._files import is_url, split_s3_url, under_prefix, url_target
from pachstream.errors import InvalidInput, InvalidPath


@pytest.mark.parametrize(
    ("path", "url", "expected"),
    [
        ("/", "http://h/x/cat.png", "/cat.png"),
        ("", "https://h/cat.png?x=1", "/cat.png"),
        ("/dir/", "s3://b/k/cat%20s.png", "/dir/cat s.png"),
        ("/named.png", "http://h/cat.png", "/named.png"),
    ],
)
def test_url_target(path: str, url: str, expected: str) -> None:
    assert url_target(path, url) == expected


def test_url_target_refuses_a_url_without_a_name() -> None:
    with pytest.raises(InvalidInput, match="names no file"):
        url_target("/", "http://host/")
    with pytest.raises(InvalidPath):
        url_target("/", "http://host/..")


def test_urls_and_s3_prefixes() -> None:
    assert is_url("s3://b/k") and is_url("http://x") and not is_url("./s3:/x")
    assert split_s3_url("s3://bucket/a/b") == ("bucket", "a/b")
    assert split_s3_url("s3://bucket") == ("bucket", "")
    with pytest.raises(InvalidInput):
        split_s3_url("s3:///key")
    keys = ["dir/a", "dir/sub/b", "dir2/c", "dir/"]
    # A prefix is a directory: dir2/ is not under dir.
    assert under_prefix(keys, "dir") == [("dir/a", "a"), ("dir/sub/b", "sub/b")]
    assert under_prefix(keys, "dir/") == [("dir/a", "a"), ("dir/sub/b", "sub/b")]
    assert len(under_prefix(keys, "")) == 4


def test_dag_draws_each_source_once_and_marks_repeats() -> None:
    dag = build_dag(
        ["images", "labels", "edges", "montage", "lonely"],
        [
            ("edges", "running", [("images", "master")]),
            ("montage", "stopped", [("edges", "master"), ("labels", "dev"), ("labels", "master")]),
        ],
    )
    assert draw(dag) == [
        "images",
        "└─▶ edges  (pipeline, running)",
        "    └─▶ montage  (pipeline, stopped)",
        "labels",
        "└─▶ montage  ↑",
        "lonely",
    ]
    assert dag.to_json()["edges"] == [
        {"from": "edges", "to": "montage", "branches": ["master"]},
        {"from": "images", "to": "edges", "branches": ["master"]},
        {"from": "labels", "to": "montage", "branches": ["dev", "master"]},
    ]
    assert topological(dag) == ["edges", "montage"]


def test_dag_labels_branches_other_than_master() -> None:
    dag = build_dag(["raw"], [("p", "running", [("raw", "dev")])])
    assert draw(dag) == ["raw", "└─▶ p  (pipeline, running, reads dev)"]


def test_order_commits_puts_parents_first_whatever_the_clock() -> None:
    commits = [
        {"id": "c", "parent": "b", "started": 1.0},  # a skewed clock: child "older"
        {"id": "b", "parent": "a", "started": 2.0},
        {"id": "a", "parent": None, "started": 3.0},
        {"id": "x", "parent": "gone", "started": 0.5},  # parent not extracted: a root
    ]
    assert [c["id"] for c in order_commits(commits)] == ["x", "a", "b", "c"]


def test_check_manifest() -> None:
    good = {"format": "pachstream-extract", "version": 1}
    assert check_manifest(good) is good
    with pytest.raises(InvalidInput, match="not a pachstream extract"):
        check_manifest({"format": "other"})
    with pytest.raises(InvalidInput, match="upgrade pachstream"):
        check_manifest({"format": "pachstream-extract", "version": 99})
