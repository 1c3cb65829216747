"""The console's rendering helpers: escaping, origin, progress, previews, search patterns."""

from __future__ import annotations

import pytest

from pachstream.console import commit_origin, progress, search_pattern
from pachstream.console._html import (
    esc,
    human_bytes,
    human_duration,
    is_text,
    page,
    post_button,
    progress_bar,
    table,
    url,
)
from pachstream.glob import glob_paths
from pachstream.lineage.queries import CommitInfo, JobInfo


def _commit(repo: str, description: str) -> CommitInfo:
    return CommitInfo(
        repo=repo,
        id="c" * 32,
        branch="master",
        parent=None,
        description=description,
        started=0.0,
        finished=1.0,
        file_count=1,
        size_bytes=1,
        added=1,
        modified=0,
        deleted=0,
        root=None,
    )


@pytest.mark.parametrize(
    ("repo", "description", "origin"),
    [
        ("edges", "output of job abc", "pipeline"),
        ("edges", "", "pipeline"),  # an output repo's commits are the pipeline's
        ("raw", "s3 gateway: uploads", "gateway"),
        ("raw", "ingest: 12 records", "ingest"),
        ("raw", "my upload", "user"),
        ("raw", "", "user"),
    ],
)
def test_commit_origin(repo, description, origin):
    assert commit_origin(_commit(repo, description), ["edges"]) == origin


def _job(**kw) -> JobInfo:
    base = dict(
        id="j" * 32,
        pipeline="p",
        version=1,
        state="running",
        inputs=[],
        output_commit="o" * 32,
        datums=10,
        to_run=8,
        processed=3,
        skipped=2,
        failed=1,
        recovered=0,
        started=100.0,
        finished=None,
        reason="",
        rerun_of=None,
    )
    return JobInfo(**(base | kw))


PROGRESS = [
    # (job fields, now, (done, total, percent, elapsed, rate, finished))
    ({}, 104.0, (6, 10, 60.0, 4.0, 1.0, False)),
    ({"state": "failure", "finished": 102.0}, 500.0, (6, 10, 60.0, 2.0, 2.0, True)),
    (
        {"datums": 0, "processed": 0, "skipped": 0, "failed": 0},
        100.0,
        (0, 0, 100.0, 0.0, 0.0, False),
    ),
    # Counts ahead of the total (a datum counted twice by a retry) never exceed 100 %.
    ({"datums": 4}, 104.0, (6, 6, 100.0, 4.0, 1.0, False)),
    # A clock behind the job's start gives no negative time.
    ({}, 90.0, (6, 10, 60.0, 0.0, 0.0, False)),
]


@pytest.mark.parametrize(("fields", "now", "expected"), PROGRESS)
def test_progress(fields, now, expected):
    p = progress(_job(**fields), now)
    assert (p.done, p.total, p.percent, p.elapsed_s, p.rate, p.finished) == expected


def test_progress_bar_widths_add_up_to_what_is_done():
    bar = progress_bar(progress(_job(), 104.0))
    assert 'style="width:30.00%"' in bar  # processed 3 of 10
    assert 'style="width:20.00%"' in bar  # skipped
    assert 'style="width:10.00%"' in bar  # failed


@pytest.mark.parametrize(
    ("data", "text"),
    [(b"hello\n", True), ("héllo".encode(), True), (b"\x00\x01", False), (b"\xff\xfe", False)],
)
def test_is_text(data, text):
    assert is_text(data) is text


@pytest.mark.parametrize(
    ("query", "paths", "found"),
    [
        (
            "cat",
            ["/cat.png", "/a/cats/b.txt", "/dog.png"],
            ["/a/cats", "/a/cats/b.txt", "/cat.png"],
        ),
        ("a*b", ["/a*b", "/axb"], ["/a*b"]),  # glob characters in plain text are literal
        ("/*.png", ["/cat.png", "/a/x.png"], ["/cat.png"]),  # a leading / means a glob
    ],
)
def test_search_pattern(query, paths, found):
    files = dict.fromkeys(paths, ("h", 1))
    assert sorted(glob_paths(search_pattern(query), files)) == found


def test_user_values_are_escaped_everywhere():
    evil = '<script>alert("x")</script>'
    assert "<script>" not in esc(evil)
    html = page(evil, table(["h"], [[esc(evil)]]), search=evil)
    assert "<script>" not in html
    assert html.count("&lt;script&gt;") == 4  # title, search box, heading, cell
    form = post_button("/job/x/rerun", "rerun", csrf='"><b>', extra=evil)
    assert "<b>" not in form and "<script>" not in form
    assert 'name="csrf"' in form and 'method="post"' in form


def test_small_helpers():
    assert url("/repo/a/file", commit="c1", path="/x y", old=None) == (
        "/repo/a/file?commit=c1&path=%2Fx+y"
    )
    assert human_bytes(None) == "-"
    assert human_bytes(1023) == "1023 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_duration(0.42) == "0.4 s"
    assert human_duration(185) == "3 min 5 s"
    assert human_duration(7440) == "2 h 4 min"
    assert "none" in table(["a"], [])


def test_a_running_job_counts_the_datums_that_reported():
    # The job row's counts are written when it ends; meanwhile the datums tell.
    running = _job(processed=0, failed=0, skipped=2)
    p = progress(running, 104.0, ["success", "recovered", "failed", "success"])
    assert (p.processed, p.failed, p.skipped, p.done) == (3, 1, 2, 6)
    # Once ended, the row's counts stand (never fewer than the datums say).
    ended = _job(state="success", finished=104.0, processed=8, failed=0, skipped=2)
    assert progress(ended, 110.0, ["success"]).processed == 8
