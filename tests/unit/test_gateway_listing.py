import base64
from collections.abc import Sequence
from typing import overload

import pytest

from pachstream.gateway._errors import S3Error
from pachstream.gateway._listing import (
    MAX_KEYS,
    ListPage,
    ObjectInfo,
    decode_token,
    encode_token,
    list_page,
    parse_max_keys,
    parse_range,
    slice_chunks,
)
from pachstream.model import Chunk

KEYS = [
    "a",
    "a b",
    "a+b",
    "a/",
    "a//x",
    "a/b",
    "a/b/c",
    "a/b/d",
    "a/c",
    "ab",
    "b",
    "b/",
    "b/x/y",
    "dir--1--x",
    "dir--1--y",
    "dir--2",
    "dir-x",
    "z",
    "é/1",
    "é/2",
    "über",
    "日本/語",
    "\ufffd",
    "😀/x",
    "😀/y",
]
OBJECTS = [
    ObjectInfo(key, len(key), f"{n:032x}", 1_700_000_000.0 + n) for n, key in enumerate(KEYS)
]
OBJECTS.sort(key=lambda o: o.key)

PREFIXES = ["", "a", "a/", "a/b", "a/b/", "dir", "dir--1--", "é", "😀", "nomatch", "z"]
DELIMITERS = ["", "/", "--", "b", "/x/"]
AFTERS = ["", "a", "a/", "a/b", "a/b/c", "dir--1--", "dir--1--x", "é", "😀/x", "zz", "\U0010ffff"]


def reference(prefix: str, delimiter: str, after: str) -> list[tuple[str, bool]]:
    """Every entry of a listing, by a full scan: (name, is_common_prefix)."""
    entries: list[tuple[str, bool]] = []
    for key in sorted(KEYS):
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        if delimiter and delimiter in rest:
            common = prefix + rest[: rest.index(delimiter) + len(delimiter)]
            if common > after and (common, True) not in entries:
                entries.append((common, True))
        elif key > after:
            entries.append((key, False))
    return entries


def entries_of(page: ListPage) -> list[tuple[str, bool]]:
    found = [(o.key, False) for o in page.contents] + [(p, True) for p in page.common_prefixes]
    return sorted(found)


# ----------------------------------------------------------------------------- list_page


def test_keys_sorted_by_str_are_sorted_by_utf8_bytes() -> None:
    # The module relies on code point order == UTF-8 byte order (UTF-16 order would differ
    # for the emoji against U+FFFD).
    assert sorted(KEYS) == sorted(KEYS, key=lambda k: k.encode("utf-8"))
    assert sorted(KEYS, key=lambda k: k.encode("utf-16-be")) != sorted(KEYS)


LIST_CASES = [
    # prefix, delimiter, after, max_keys, contents, common prefixes, truncated
    ("", "", "", 3, ["a", "a b", "a+b"], [], True),
    ("a/", "", "", 1000, ["a/", "a//x", "a/b", "a/b/c", "a/b/d", "a/c"], [], False),
    ("a/", "/", "", 1000, ["a/", "a/b", "a/c"], ["a//", "a/b/"], False),
    (
        "",
        "/",
        "",
        1000,
        [
            "a",
            "a b",
            "a+b",
            "ab",
            "b",
            "dir--1--x",
            "dir--1--y",
            "dir--2",
            "dir-x",
            "z",
            "über",
            "\ufffd",
        ],
        ["a/", "b/", "é/", "日本/", "😀/"],
        False,
    ),
    ("dir", "--", "", 1000, ["dir-x"], ["dir--"], False),
    ("dir--", "--", "", 1000, ["dir--2"], ["dir--1--"], False),
    ("b", "/x/", "", 1000, ["b", "b/"], ["b/x/"], False),
    ("a", "b", "", 1000, ["a", "a/", "a//x", "a/c"], ["a b", "a+b", "a/b", "ab"], False),
    ("a/b", "", "", 1000, ["a/b", "a/b/c", "a/b/d"], [], False),
    ("a/b", "/", "", 1000, ["a/b"], ["a/b/"], False),
    (
        "",
        "/",
        "a/",
        1000,
        ["ab", "b", "dir--1--x", "dir--1--y", "dir--2", "dir-x", "z", "über", "\ufffd"],
        ["b/", "é/", "日本/", "😀/"],
        False,
    ),
    ("", "/", "a/b", 2, ["ab", "b"], [], True),
    ("", "", "z", 1000, ["é/1", "é/2", "über", "日本/語", "\ufffd", "😀/x", "😀/y"], [], False),
    ("a/", "", "a/b/c", 1000, ["a/b/d", "a/c"], [], False),
    ("a/", "", "zz", 1000, [], [], False),
    ("nomatch", "/", "", 1000, [], [], False),
    ("😀", "/", "", 1000, [], ["😀/"], False),
    ("", "/", "", 1, ["a"], [], True),
    ("", "/", "", 0, [], [], False),
    ("", "", "", 0, [], [], False),
]


@pytest.mark.parametrize(
    ("prefix", "delimiter", "after", "max_keys", "contents", "prefixes", "truncated"), LIST_CASES
)
def test_list_page_table(
    prefix: str,
    delimiter: str,
    after: str,
    max_keys: int,
    contents: list[str],
    prefixes: list[str],
    truncated: bool,
) -> None:
    page = list_page(OBJECTS, prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys)
    assert [o.key for o in page.contents] == contents
    assert page.common_prefixes == prefixes
    assert page.is_truncated is truncated
    if truncated:
        last = max(contents + prefixes)
        assert page.next_marker == last
        assert page.next_token is not None and decode_token(page.next_token) == last
    else:
        assert page.next_marker is None and page.next_token is None


def test_list_page_matches_a_full_scan_for_every_combination() -> None:
    checked = 0
    for prefix in PREFIXES:
        for delimiter in DELIMITERS:
            for after in AFTERS:
                expected = reference(prefix, delimiter, after)
                for max_keys in (1, 2, 3, 7, 1000):
                    page = list_page(
                        OBJECTS, prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys
                    )
                    assert entries_of(page) == sorted(expected[:max_keys]), (
                        prefix,
                        delimiter,
                        after,
                        max_keys,
                    )
                    assert page.is_truncated is (len(expected) > max_keys)
                    checked += 1
    assert checked == len(PREFIXES) * len(DELIMITERS) * len(AFTERS) * 5


@pytest.mark.parametrize("page_size", [1, 2, 3])
@pytest.mark.parametrize("delimiter", DELIMITERS)
@pytest.mark.parametrize("prefix", ["", "a", "a/", "a/b", "dir", "é", "😀", "nomatch"])
def test_walking_pages_with_tokens_gives_the_one_page_answer(
    prefix: str, delimiter: str, page_size: int
) -> None:
    whole = list_page(OBJECTS, prefix=prefix, delimiter=delimiter)
    assert not whole.is_truncated
    walked: list[tuple[str, bool]] = []
    after = ""
    for _ in range(len(KEYS) + 1):
        page = list_page(
            OBJECTS, prefix=prefix, delimiter=delimiter, after=after, max_keys=page_size
        )
        assert len(page.contents) + len(page.common_prefixes) <= page_size
        walked += entries_of(page)
        if not page.is_truncated:
            break
        assert page.next_token is not None
        after = decode_token(page.next_token)
        assert after == page.next_marker
    else:
        pytest.fail("the walk did not end")
    assert walked == entries_of(whole)
    assert len(walked) == len(set(walked))


def test_key_equal_to_prefix_is_listed() -> None:
    page = list_page(OBJECTS, prefix="a/", delimiter="/")
    assert [o.key for o in page.contents][0] == "a/"
    assert page.contents[0] is OBJECTS[[o.key for o in OBJECTS].index("a/")]


def test_common_prefix_at_or_before_after_is_not_repeated() -> None:
    # Continuing after "a/" (a common prefix returned last) skips every key under it.
    page = list_page(OBJECTS, delimiter="/", after="a/", max_keys=1)
    assert [o.key for o in page.contents] == ["ab"]
    assert page.common_prefixes == []
    # A start-after inside a common prefix does not bring the prefix back either.
    page = list_page(OBJECTS, delimiter="/", after="a/b/c", max_keys=1)
    assert [o.key for o in page.contents] == ["ab"]


def test_max_keys_over_1000_is_capped() -> None:
    many = [ObjectInfo(f"k{n:05d}", 1, "00", 0.0) for n in range(1500)]
    page = list_page(many, max_keys=5000)
    assert len(page.contents) == MAX_KEYS
    assert page.is_truncated
    assert page.next_marker == "k00999"


class CountingSequence(Sequence[ObjectInfo]):
    """A sequence that counts the items read, to check list_page skips by bisection."""

    def __init__(self, items: list[ObjectInfo]) -> None:
        self.items = items
        self.reads = 0

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, index: int) -> ObjectInfo: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ObjectInfo]: ...
    def __getitem__(self, index: int | slice) -> ObjectInfo | Sequence[ObjectInfo]:
        if isinstance(index, slice):
            raise AssertionError("list_page must not copy the objects")
        self.reads += 1
        return self.items[index]


@pytest.mark.parametrize(
    ("prefix", "delimiter", "after", "expected_first"),
    [
        ("m", "", "", "m/00000"),
        ("", "", "m/09990", "m/09991"),
        ("", "/", "", "a/"),  # two common prefixes of 10,000 keys each: skipped by bisection
        ("m/", "", "m/05000", "m/05001"),
    ],
)
def test_list_page_reads_few_objects(
    prefix: str, delimiter: str, after: str, expected_first: str
) -> None:
    items = [ObjectInfo(f"{top}/{n:05d}", 1, "00", 0.0) for top in "amz" for n in range(10_000)]
    objects = CountingSequence(items)
    page = list_page(objects, prefix=prefix, delimiter=delimiter, after=after, max_keys=5)
    first = page.common_prefixes[0] if delimiter else page.contents[0].key
    assert first == expected_first
    assert objects.reads < 200, objects.reads


# ----------------------------------------------------------------------------- tokens


@pytest.mark.parametrize("last", ["a", "a/", "dir with space/+plus?&=", "é/日本/😀", "x" * 1024])
def test_token_round_trip(last: str) -> None:
    token = encode_token(last)
    assert decode_token(token) == last
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "!!!",
        "abc",  # bad padding
        "YQ",  # missing padding
        "a+b/",  # standard alphabet, not URL-safe
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
        "é",
        "YQ== ",
    ],
)
def test_bad_token_is_invalid_argument(token: str) -> None:
    with pytest.raises(S3Error) as caught:
        decode_token(token)
    assert caught.value.s3_code == "InvalidArgument"
    assert caught.value.status == 400
    assert repr(token) in caught.value.message
    assert "NextContinuationToken" in caught.value.message


# ----------------------------------------------------------------------------- max-keys


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 1000),
        ("0", 0),
        ("1", 1),
        ("0005", 5),
        ("999", 999),
        ("1000", 1000),
        ("1001", 1000),
        ("2147483648", 1000),
        ("9" * 5000, 1000),
    ],
)
def test_parse_max_keys(value: str | None, expected: int) -> None:
    assert parse_max_keys(value) == expected


@pytest.mark.parametrize("value", ["", "-1", "abc", "1.5", " 5", "+5", "1_000", "１０", "5 "])
def test_bad_max_keys_is_invalid_argument(value: str) -> None:
    with pytest.raises(S3Error) as caught:
        parse_max_keys(value, "max-parts")
    assert caught.value.s3_code == "InvalidArgument"
    assert f"max-parts={value!r}" in caught.value.message
    assert "0 to 1000" in caught.value.message


# ----------------------------------------------------------------------------- Range

RANGES = [
    (None, 10, None),
    ("bytes=0-0", 10, (0, 0)),
    ("bytes=0-9", 10, (0, 9)),
    ("bytes=2-5", 10, (2, 5)),
    ("bytes=5-100", 10, (5, 9)),
    ("bytes=9-9", 10, (9, 9)),
    ("bytes=9-", 10, (9, 9)),
    ("bytes=0-", 10, (0, 9)),
    ("bytes=-1", 10, (9, 9)),
    ("bytes=-3", 10, (7, 9)),
    ("bytes=-10", 10, (0, 9)),
    ("bytes=-11", 10, (0, 9)),
    ("bytes=-" + "9" * 5000, 10, (0, 9)),
    ("bytes=0-" + "9" * 5000, 10, (0, 9)),
    ("Bytes=1-2", 10, (1, 2)),
    (" bytes = 1 - 2 ", 10, (1, 2)),
    ("bytes=001-002", 10, (1, 2)),
    ("bytes=0-0", 1, (0, 0)),
    # Syntactically invalid: ignored, the whole object is sent.
    ("", 10, None),
    ("bytes", 10, None),
    ("bytes=", 10, None),
    ("bytes=-", 10, None),
    ("bytes=5-2", 10, None),
    ("bytes=0-1,3-4", 10, None),
    ("bytes=0-1, 3-4", 10, None),
    ("items=0-1", 10, None),
    ("0-1", 10, None),
    ("bytes=a-b", 10, None),
    ("bytes=1-2-3", 10, None),
    ("bytes=-1-2", 10, None),
    ("bytes=+1-2", 10, None),
    ("bytes=1.5-2", 10, None),
    ("bytes=５-6", 10, None),
    ("bytes=" + "9" * 40 + "-" + "9" * 39, 10, None),  # end before start, both huge
    ("bytes=5-2", 0, None),  # invalid beats unsatisfiable
]


@pytest.mark.parametrize(("header", "size", "expected"), RANGES)
def test_parse_range(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=10-", 10),
        ("bytes=10-20", 10),
        ("bytes=100-", 10),
        ("bytes=-0", 10),
        ("bytes=-000", 10),
        ("bytes=0-", 0),
        ("bytes=0-0", 0),
        ("bytes=-5", 0),
        ("bytes=" + "9" * 5000 + "-", 10),
    ],
)
def test_unsatisfiable_range(header: str, size: int) -> None:
    with pytest.raises(S3Error) as caught:
        parse_range(header, size)
    assert caught.value.s3_code == "InvalidRange"
    assert caught.value.status == 416
    assert "not satisfiable" in caught.value.message
    assert header.strip()[:20] in caught.value.message


def test_unsatisfiable_range_message_names_size_and_fix() -> None:
    with pytest.raises(S3Error) as caught:
        parse_range("bytes=100-", 10)
    assert caught.value.message == (
        "the range 'bytes=100-' is not satisfiable: the object is 10 bytes long; "
        "ask for bytes 0-9 or fewer"
    )
    with pytest.raises(S3Error) as caught:
        parse_range("bytes=0-", 0)
    assert "the object is empty" in caught.value.message


# ----------------------------------------------------------------------------- chunks

A = Chunk(hash="a" * 64, size=3)
E = Chunk(hash="e" * 64, size=0)
B = Chunk(hash="b" * 64, size=4, pack="packs/1", offset=100)
C = Chunk(hash="c" * 64, size=1)
FILE = [A, E, B, C]  # bytes: aaa bbbb c

SLICES = [
    (FILE, 0, 0, [(A, 0, 1)]),
    (FILE, 0, 2, [(A, 0, 3)]),
    (FILE, 1, 1, [(A, 1, 1)]),
    (FILE, 2, 3, [(A, 2, 1), (B, 0, 1)]),
    (FILE, 3, 3, [(B, 0, 1)]),
    (FILE, 3, 6, [(B, 0, 4)]),
    (FILE, 4, 5, [(B, 1, 2)]),
    (FILE, 6, 7, [(B, 3, 1), (C, 0, 1)]),
    (FILE, 7, 7, [(C, 0, 1)]),
    (FILE, 0, 7, [(A, 0, 3), (B, 0, 4), (C, 0, 1)]),
    ([E, A], 0, 0, [(A, 0, 1)]),
    ([A, E], 2, 2, [(A, 2, 1)]),
    ([C], 0, 0, [(C, 0, 1)]),
    ((A, B), 1, 5, [(A, 1, 2), (B, 0, 3)]),
]


@pytest.mark.parametrize(("chunks", "start", "end", "expected"), SLICES)
def test_slice_chunks(
    chunks: list[Chunk], start: int, end: int, expected: list[tuple[Chunk, int, int]]
) -> None:
    assert slice_chunks(chunks, start, end) == expected


def test_slice_chunks_reassembles_every_range() -> None:
    content = {A.hash: b"abc", E.hash: b"", B.hash: b"defg", C.hash: b"h"}
    whole = b"abcdefgh"
    for start in range(len(whole)):
        for end in range(start, len(whole)):
            pieces = slice_chunks(FILE, start, end)
            got = b"".join(content[c.hash][off : off + n] for c, off, n in pieces)
            assert got == whole[start : end + 1], (start, end)
            assert all(n > 0 for _, _, n in pieces)


@pytest.mark.parametrize(
    ("chunks", "start", "end"),
    [(FILE, -1, 0), (FILE, 3, 2), (FILE, 0, 8), (FILE, 8, 8), ([], 0, 0), ([E], 0, 0)],
)
def test_slice_chunks_outside_the_file(chunks: list[Chunk], start: int, end: int) -> None:
    with pytest.raises(S3Error) as caught:
        slice_chunks(chunks, start, end)
    assert caught.value.s3_code == "InternalError"
    assert f"{start}-{end}" in caught.value.message
