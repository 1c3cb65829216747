"""Objects built through their slots (whole_chunk_entry, file_op) are the ones __init__ makes:
equal, of equal hash and repr, and as frozen."""

from __future__ import annotations

import dataclasses

import pytest

from pachstream.model import Chunk, FileEntry, FileOp, file_op, whole_chunk_entry


@pytest.mark.parametrize(
    ("h", "size", "pack", "offset"),
    [("a" * 64, 100, "packs/p", 300), ("b" * 64, 0, None, 0), ("c" * 64, 2**40, "packs/q", 7)],
)
def test_whole_chunk_entry_is_the_entry_init_makes(h, size, pack, offset) -> None:
    built = whole_chunk_entry(h, size, pack, offset)
    chunk = Chunk(hash=h, size=size, pack=pack, offset=offset)
    made = FileEntry(hash=h, size=size, chunks=(chunk,))
    assert built == made and hash(built) == hash(made) and repr(built) == repr(made)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.size = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.chunks[0].pack = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("op", "path", "file"),
    [("put", "/a", whole_chunk_entry("d" * 64, 3, None, 0)), ("delete", "/b", None)],
)
def test_file_op_is_the_op_init_makes(op, path, file) -> None:
    built = file_op(op, path, file)
    made = FileOp(op=op, path=path, file=file)
    assert built == made and hash(built) == hash(made) and repr(built) == repr(made)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.path = "/c"  # type: ignore[misc]
