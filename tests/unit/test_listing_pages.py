"""The k-way merge of listing pages across shards (pachstream.gateway._pages).

The oracle is ``list_page`` on the sorted keys, the gateway's listing before the merge: every
case pages through both, with shards of several sizes and windows down to one entry (so that
runs are refilled all the time), and the pages must be the same.
"""

from __future__ import annotations

from typing import Any

import pytest

from pachstream.gateway._listing import ObjectInfo, list_page
from pachstream.gateway._pages import PREFIX_SIZE, Merge, sorted_keys
from pachstream.tree import shard_of

Page = tuple[list[str], list[str], bool]


def _shards(keys: list[str], fanout: int) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for k in sorted(keys):  # stored sorted, as encode_object writes them
        out.setdefault(shard_of(k, fanout), {})[k] = [f"etag-{k}", len(k), []]
    return out


def merged_pages(
    keys: list[str], fanout: int, window: int, max_keys: int, *, fresh: bool = False, **kw: str
) -> list[Page]:
    """Every page of a listing through Merge; ``fresh``: a new merge per page (a cursor
    that was evicted), else one merge resumed page after page.
    """
    shards = _shards(keys, fanout)
    pages: list[Page] = []
    after = kw.pop("after", "")
    merge = Merge(shards, after=after, window=window, **kw)
    reads = 0
    while True:
        merge.new_page()
        while not merge.advance(max_keys):
            for i in merge.wanted():
                reads += 1
                merge.feed(i, sorted_keys(shards[i]), shards[i])
            assert merge.held() <= window * max(1, len(shards))
        assert all(size != PREFIX_SIZE for _, _, size in merge.contents)
        assert all(etag == f"etag-{k}" for k, etag, _ in merge.contents)
        pages.append(([k for k, _, _ in merge.contents], list(merge.prefixes), merge.truncated))
        if not merge.truncated or len(pages) > len(keys) + 2:
            break
        if fresh:
            merge = Merge(shards, after=merge.last, window=window, **kw)
    return pages


def oracle_pages(keys: list[str], max_keys: int, **kw: str) -> list[Page]:
    objects = [ObjectInfo(k, len(k), f"etag-{k}", 0.0) for k in sorted(keys)]
    pages: list[Page] = []
    after = kw.pop("after", "")
    while True:
        page = list_page(objects, after=after, max_keys=max_keys, **kw)
        pages.append(([o.key for o in page.contents], page.common_prefixes, page.is_truncated))
        if not page.is_truncated:
            return pages
        assert page.next_marker is not None
        after = page.next_marker


TREE = [f"d{d}/f{f:02d}" for d in range(4) for f in range(12)] + [
    "a",
    "a/",
    "a/b/c",
    "a/b/d",
    "a/c",
    "a//x",
    "ab",
    "b.txt",
    "d1",
    "d1/",
    "zz/top",
]
UNICODE = ["é/1", "é/2", "e/1", "日本/語", "日本/x", "z", "\U0001f600/a", "ÿ", "Ā"]
DEEP = [f"p/{a}/{b}/{c}" for a in "abc" for b in "xy" for c in range(5)]

CASES: list[tuple[str, list[str], dict[str, str]]] = [
    ("empty tree", [], {}),
    ("empty tree, delimiter", [], {"delimiter": "/"}),
    ("flat", TREE, {}),
    ("delimiter at top", TREE, {"delimiter": "/"}),
    ("prefix of a directory", TREE, {"prefix": "d2/"}),
    ("prefix, delimiter", TREE, {"prefix": "d", "delimiter": "/"}),
    ("prefix matching nothing", TREE, {"prefix": "nothing/"}),
    ("prefix past every key", TREE, {"prefix": "zzz"}),
    ("marker between keys", TREE, {"after": "d1/f05x"}),
    ("marker equal to a key", TREE, {"after": "d1/f05"}),
    ("marker inside a common prefix", TREE, {"delimiter": "/", "after": "d1/f03"}),
    ("marker equal to a common prefix", TREE, {"delimiter": "/", "after": "d1/"}),
    ("marker before the prefix", TREE, {"prefix": "d3/", "after": "a"}),
    ("marker past the prefix", TREE, {"prefix": "d0/", "after": "d1"}),
    ("marker past every key", TREE, {"after": "zzzz"}),
    ("multi-character delimiter", TREE + ["x--y--z", "x--y", "x-y"], {"delimiter": "--"}),
    ("delimiter not in any key", TREE, {"delimiter": "#"}),
    ("nested common prefixes", DEEP, {"prefix": "p/", "delimiter": "/"}),
    ("nested, second level", DEEP, {"prefix": "p/b/", "delimiter": "/"}),
    ("unicode keys", UNICODE, {}),
    ("unicode, delimiter", UNICODE, {"delimiter": "/"}),
    ("unicode, prefix", UNICODE, {"prefix": "日本/"}),
    ("unicode marker", UNICODE, {"after": "é"}),
]


@pytest.mark.parametrize(("fanout", "window"), [(1, 1), (3, 1), (3, 2), (7, 3), (16, 100)])
@pytest.mark.parametrize("max_keys", [1, 2, 5, 1000])
@pytest.mark.parametrize(("name", "keys", "kw"), CASES, ids=[c[0] for c in CASES])
def test_pages_match_the_sorted_listing(
    name: str, keys: list[str], kw: dict[str, str], fanout: int, window: int, max_keys: int
) -> None:
    want = oracle_pages(keys, max_keys, **kw)
    assert merged_pages(keys, fanout, window, max_keys, **kw) == want, name
    assert merged_pages(keys, fanout, window, max_keys, fresh=True, **kw) == want, name


def test_pages_across_shard_boundaries_cover_every_key_once() -> None:
    keys = [f"k{i:05d}" for i in range(3000)]
    pages = merged_pages(keys, fanout=64, window=4, max_keys=100)
    listed = [k for contents, _, _ in pages for k in contents]
    assert listed == sorted(keys)
    assert len(pages) == 30
    assert [p[2] for p in pages] == [True] * 29 + [False]


def test_a_full_last_page_is_not_truncated() -> None:
    # Exactly max-keys entries left: S3 says the listing is over, it does not hand out a
    # token for an empty page.
    pages = merged_pages([f"k{i}" for i in range(10)], fanout=4, window=2, max_keys=5)
    assert [p[2] for p in pages] == [True, False]


def test_a_common_prefix_in_every_shard_is_listed_once() -> None:
    keys = [f"dir/{i:04d}" for i in range(500)] + ["end"]
    pages = merged_pages(keys, fanout=32, window=1, max_keys=1000, delimiter="/")
    assert pages == [(["end"], ["dir/"], False)]


def test_memory_held_is_bounded_by_the_window() -> None:
    keys = [f"k{i:06d}" for i in range(20000)]
    shards = _shards(keys, 128)
    merge = Merge(shards, window=8)
    merge.new_page()
    while not merge.advance(1000):
        for i in merge.wanted():
            merge.feed(i, sorted_keys(shards[i]), shards[i])
    assert merge.held() <= 8 * 128
    assert len(merge.contents) == 1000 and merge.truncated


def test_sorted_keys_sorts_an_unsorted_shard() -> None:
    assert sorted_keys({"b": 1, "a": 2, "c": 3}) == ["a", "b", "c"]
    assert sorted_keys({"a": 1, "b": 2}) == ["a", "b"]
    assert sorted_keys({}) == []
