"""The shared model: value types, ids and names that every package may import.

The components talk only through topics (ARCHITECTURE.md); what they must agree on without
importing each other lives here: the file values that events and trees carry, the
content-derived ids (STYLE.md §4) that two components compute independently and must get
alike (the dispatcher names a job's output commit before the commit processor creates it), and
the type names of requests that one topic carries for two processors. It imports nothing
of pachstream's, so it sits at the bottom of the layers (see docs/design.md, "Layers").
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Literal

# ----------------------------------------------------------------------------- file values


@dataclass(frozen=True, slots=True, kw_only=True)
class Chunk:
    """One stored piece of a file's content."""

    hash: str
    """sha256 hex of the piece's bytes."""
    size: int
    """Bytes in the piece."""
    pack: str | None = None
    """Object key of the pack holding the piece, or None when stored alone at ``blobs/<hash>``."""
    offset: int = 0
    """Byte offset of the piece inside its pack."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FileEntry:
    """A file's content as a tree records it."""

    hash: str
    """sha256 hex of the whole content when it is one chunk; for appended files, the sha256 of
    ``"chunks:" + ",".join(chunk hashes)`` (see :func:`file_hash`)."""
    size: int
    """Total bytes."""
    chunks: tuple[Chunk, ...]
    """The content, in order."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FileOp:
    """One change to one path inside a :class:`ModifyFiles` request."""

    op: Literal["put", "append", "delete"]
    """``put`` replaces, ``append`` adds chunks at the end, ``delete`` removes the path and,
    when the path is a directory, everything under it."""
    path: str
    """Canonical absolute path (see :mod:`pachstream.paths`)."""
    file: FileEntry | None = None
    """The content for ``put`` and ``append``; None for ``delete``."""


# The slots' own setters: building a frozen dataclass through __init__ costs an
# object.__setattr__ call per field (measured: 1.9 µs per file for FileOp + FileEntry + Chunk,
# ~0.8 µs this way, a sixth of a client's CPU per file put). None of the three classes has a
# __post_init__ (tests/unit/test_codec_modify_v2.py checks), so the objects are the ones
# __init__ would make.
_new = object.__new__
_chunk_hash = Chunk.__dict__["hash"].__set__
_chunk_size = Chunk.__dict__["size"].__set__
_chunk_pack = Chunk.__dict__["pack"].__set__
_chunk_offset = Chunk.__dict__["offset"].__set__
_entry_hash = FileEntry.__dict__["hash"].__set__
_entry_size = FileEntry.__dict__["size"].__set__
_entry_chunks = FileEntry.__dict__["chunks"].__set__
_op_op = FileOp.__dict__["op"].__set__
_op_path = FileOp.__dict__["path"].__set__
_op_file = FileOp.__dict__["file"].__set__


def whole_chunk_entry(hash: str, size: int, pack: str | None, offset: int) -> FileEntry:
    """The entry of a content stored as one chunk, nearly every file's: ``FileEntry(hash=hash,
    size=size, chunks=(Chunk(hash=hash, size=size, pack=pack, offset=offset),))``, built
    through the slots (see above).
    """
    c = _new(Chunk)
    _chunk_hash(c, hash)
    _chunk_size(c, size)
    _chunk_pack(c, pack)
    _chunk_offset(c, offset)
    e = _new(FileEntry)
    _entry_hash(e, hash)
    _entry_size(e, size)
    _entry_chunks(e, (c,))
    return e


def file_op(op: Literal["put", "append", "delete"], path: str, file: FileEntry | None) -> FileOp:
    """``FileOp(op=op, path=path, file=file)``, built through the slots (see above)."""
    o = _new(FileOp)
    _op_op(o, op)
    _op_path(o, path)
    _op_file(o, file)
    return o


def file_hash(chunks: tuple[Chunk, ...]) -> str:
    """The hash a tree records for a file made of these chunks."""
    if len(chunks) == 1:
        return chunks[0].hash
    return hashlib.sha256(("chunks:" + ",".join(c.hash for c in chunks)).encode()).hexdigest()


def derive_id(*parts: str) -> str:
    """A 32-hex id derived from its parts (commit ids, event ids)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffEntry:
    """One path that a commit changed against its parent."""

    path: str
    """Canonical path."""
    change: Literal["added", "modified", "deleted"]
    """What happened to it."""
    file: FileEntry | None
    """The new content (None when deleted)."""
    old: FileEntry | None
    """The parent's content (None when added)."""


# ----------------------------------------------------------------------------- ids of jobs


def output_request_id(job: str) -> str:
    """The request that writes a job's output commit; the commit id derives from it."""
    return derive_id(job, "output")


@functools.lru_cache(maxsize=1024)
def output_commit_id(pipeline: str, job: str) -> str:
    """The id the job's output commit gets (the commit processor derives it the same way)."""
    return derive_id(pipeline, output_request_id(job))


# ----------------------------------------------------------------------------- names

PIPELINE_REQUEST_TYPES = frozenset(
    {"pipeline.create", "pipeline.delete", "pipeline.set_state", "job.rerun", "job.stop"}
)
"""Type names of the requests on the commits requests topic that the dispatcher answers; the
commit processor skips them (``dispatch.events.PIPELINE_REQUESTS`` holds their classes, and a
test checks the two agree)."""
