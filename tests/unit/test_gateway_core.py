"""Bucket names, object keys, copy sources and commit timing of the S3 gateway; the batcher."""

from __future__ import annotations

import asyncio

import pytest

from pachstream.gateway import Bucket, CommitTiming, S3Error, key_to_path, parse_bucket
from pachstream.gateway._batch import Batcher
from pachstream.gateway._core import parse_copy_source, path_to_key

CID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("master.raw", Bucket("raw", "master")),
        ("dev-2.my_repo", Bucket("my_repo", "dev-2")),
        (f"{CID}.master.raw", Bucket("raw", "master", CID)),
        (f"{CID.upper()}.master.raw", Bucket("raw", "master", CID)),
    ],
)
def test_bucket_names(name: str, want: Bucket) -> None:
    got = parse_bucket(name)
    assert got == want
    assert got.ref == (f"raw@{CID}" if want.commit else f"{want.repo}@{want.branch}")
    assert parse_bucket(got.name) == got


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("raw", "is not BRANCH.REPO"),
        ("a.b.c.d", "is not BRANCH.REPO"),
        ("master.", "repo"),
        (".raw", "branch"),
        ("master.r aw", "repo"),
        ("nothex.master.raw", "'nothex' is not a commit id"),
        ("0123.master.raw", "is not a commit id"),
    ],
)
def test_bad_bucket_names(name: str, says: str) -> None:
    with pytest.raises(S3Error) as caught:
        parse_bucket(name)
    assert caught.value.s3_code == "InvalidBucketName"
    assert says in caught.value.message and name in caught.value.message
    assert "BRANCH.REPO" in caught.value.message  # the fix


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("data.csv", "/data.csv"),
        ("a/b/c.txt", "/a/b/c.txt"),
        ("b/three & four é.txt", "/b/three & four é.txt"),
        ("x+y=z~", "/x+y=z~"),
    ],
)
def test_keys_are_paths(key: str, path: str) -> None:
    assert key_to_path("master.raw", key) == path
    assert path_to_key(path) == key


@pytest.mark.parametrize(
    ("key", "code", "says"),
    [
        ("a/../b", "InvalidArgument", ".."),
        ("./a", "InvalidArgument", "."),
        ("a//b", "InvalidArgument", "not a canonical file path"),
        ("dir/", "InvalidArgument", "not a canonical file path"),
        ("", "InvalidArgument", "an object key is needed"),
        ("a\nb", "InvalidArgument", "a\nb"),
        ("k" * 1025, "KeyTooLongError", "1024 bytes"),
    ],
)
def test_bad_keys(key: str, code: str, says: str) -> None:
    with pytest.raises(S3Error) as caught:
        key_to_path("master.raw", key)
    assert caught.value.s3_code == code
    assert says in caught.value.message


@pytest.mark.parametrize(
    ("header", "want"),
    [
        ("/master.raw/a/b.txt", ("master.raw", "a/b.txt")),
        ("master.raw/a%20b.txt", ("master.raw", "a b.txt")),
        (f"{CID}.master.raw/x", (f"{CID}.master.raw", "x")),
    ],
)
def test_copy_sources(header: str, want: tuple[str, str]) -> None:
    assert parse_copy_source(header) == want


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("/master.raw", "InvalidArgument"),
        ("", "InvalidArgument"),
        ("/a.b/k?versionId=3", "NotImplemented"),
    ],
)
def test_bad_copy_sources(header: str, code: str) -> None:
    with pytest.raises(S3Error) as caught:
        parse_copy_source(header)
    assert caught.value.s3_code == code


@pytest.mark.parametrize(
    ("files", "age", "idle", "due"),
    [
        (1, 0.0, 0.0, False),
        (999, 4.9, 0.4, False),
        (1000, 0.0, 0.0, True),  # full
        (10, 5.0, 0.0, True),  # old
        (10, 1.0, 0.5, True),  # quiet
    ],
)
def test_commit_timing(files: int, age: float, idle: float, due: bool) -> None:
    assert CommitTiming(files=1000, seconds=5.0, quiet=0.5).due(files, age, idle) is due


async def test_batcher_groups_what_arrives_during_a_batch() -> None:
    calls: list[list[int]] = []
    gate = asyncio.Event()

    async def run(items: list[int]) -> list[int]:
        calls.append(items)
        if len(calls) == 1:
            await gate.wait()  # the first batch is slow: the rest pile up behind it
        return [i * 10 for i in items]

    b: Batcher[int, int] = Batcher(run, "test")
    first = asyncio.create_task(b.submit(1))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(b.submit(i)) for i in (2, 3, 4)]
    await asyncio.sleep(0)
    assert b.busy
    gate.set()
    assert await first == 10
    assert [await t for t in rest] == [20, 30, 40]
    assert calls == [[1], [2, 3, 4]]
    await b.idle()
    assert not b.busy


async def test_batcher_fails_the_whole_batch_and_goes_on() -> None:
    async def run(items: list[str]) -> list[str]:
        if "bad" in items:
            raise ValueError("refused")
        return items

    b: Batcher[str, str] = Batcher(run, "test")
    tasks = [asyncio.create_task(b.submit(x)) for x in ("ok", "bad")]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, ValueError) for r in results)  # one batch: both refused
    assert await b.submit("later") == "later"
