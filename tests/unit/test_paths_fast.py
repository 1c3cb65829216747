"""The short ways agree with the long way on every path: normalize_path's (one canonical path
with nothing to refuse, matched whole) on all paths of up to four characters from an alphabet
of the cases that matter (separators, dots, control characters at the edges of their ranges,
surrogates, non-ASCII) and random longer ones; canonical_files (a batch in one match) on
generated batches. And the length check skips the encoding only where no path can pass the
limit."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pachstream.errors import InvalidPath
from pachstream.paths import (
    MAX_PATH_BYTES,
    ROOT,
    _normalized,
    canonical_files,
    normalize_path,
    validate_file_path,
)

ALPHABET = ["/", ".", "a", "é", "\x00", "\x1f", "\x20", "\x7e", "\x7f", "\x9f", "\xa0"]
ALPHABET += ["\ud800", "\udfff", "\\", "😀"]


def _outcome(normalize, path: str) -> tuple[str, str]:
    try:
        return ("ok", normalize(path))
    except InvalidPath as err:
        return ("refused", err.message)


def _paths() -> list[str]:
    short = ["".join(p) for n in range(5) for p in itertools.product(ALPHABET, repeat=n)]
    rng = random.Random(17)
    longer = ["".join(rng.choices(ALPHABET, k=rng.randint(5, 24))) for _ in range(20_000)]
    # Mostly clean paths too: the short way's usual case.
    clean = ["/" + "/".join(rng.choices(["a", "b.c", ".d", "é", "x.."], k=3)) for _ in range(2_000)]
    return short + longer + clean


def test_the_short_way_agrees_with_the_long_way() -> None:
    differ = [p for p in _paths() if _outcome(normalize_path, p) != _outcome(_normalized, p)]
    assert not differ, [ascii(p) for p in differ[:10]]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/" + "a" * (MAX_PATH_BYTES - 1), True),
        ("/" + "a" * MAX_PATH_BYTES, False),
        ("/" + "😀" * ((MAX_PATH_BYTES - 1) // 4), True),  # 4 bytes each, under the limit
        ("/" + "😀" * ((MAX_PATH_BYTES - 1) // 4 + 1), False),  # over it by its bytes only
        ("/" + "é" * ((MAX_PATH_BYTES - 1) // 2 + 1), False),
        ("/" + "\udc80" * 700, False),  # 3 bytes each (surrogatepass): over by the bytes
    ],
    ids=["ascii at the limit", "ascii past it", "emoji at it", "emoji past it", "é past it",
         "surrogates past it"],
)  # fmt: skip
def test_the_length_limit_counts_bytes(path: str, allowed: bool) -> None:
    if allowed:
        assert validate_file_path(path) == path
    else:
        with pytest.raises(InvalidPath, match="bytes long"):
            validate_file_path(path)


PATH_TEXT = st.text(
    alphabet=st.sampled_from(["/", ".", "a", "é", "\\", "*", "\n", "\x00", "\x1f", "\x7f", "\x85",
                              "\x9f", "\xa0", "\ud800", "\udfff", " ", "数"]),
    max_size=12,
)  # fmt: skip


def _valid(path: str) -> bool:
    """Whether validate_file_path accepts ``path`` as it is, found the long way."""
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return False
    try:
        return _normalized(path) == path != ROOT
    except InvalidPath:
        return False


@given(PATH_TEXT)
def test_the_batch_check_accepts_exactly_the_canonical_file_paths(path):
    assert canonical_files([path]) == _valid(path)


@given(st.lists(PATH_TEXT, min_size=1, max_size=5))
def test_the_batch_check_accepts_a_batch_only_when_every_path_is(paths):
    assert canonical_files(paths) == all(_valid(p) for p in paths)


def test_long_paths_take_the_slow_check():
    near = "/" + "é" * (MAX_PATH_BYTES // 2 - 1)  # 2,047 bytes: valid, past the fast limit
    assert not canonical_files([near]) and _valid(near)
    assert validate_file_path(near) == near
    assert not _valid("/" + "é" * (MAX_PATH_BYTES // 2))
