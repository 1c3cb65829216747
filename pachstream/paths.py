r"""Rules and helpers for file paths inside a commit.

Every path stored or compared by pachstream is in **canonical form**:

- it starts with ``/``; the root is ``/`` and the empty string means the root, as in
  Pachyderm's ``pfsfile.CleanPath`` (``"" -> "/"``, ``"abc/" -> "/abc"``);
- it has no trailing ``/`` (except the root) and no repeated ``/``;
- ``/`` is the only separator; a backslash is an ordinary character.

A path is refused (:class:`~pachstream.errors.InvalidPath`) when it holds:

- a control character: C0 (U+0000 to U+001F, NUL included), DEL (U+007F) or C1 (U+0080 to
  U+009F), which break terminals, logs and line-based listings;
- a ``.`` or ``..`` segment: a commit has no working directory, so relative segments are
  ambiguous (Pachyderm's ``storage.ValidateFilename`` refuses them too);
- a lone surrogate, which is how Python carries bytes that are not UTF-8 (``surrogateescape``);
  the path could not be stored as UTF-8.

A path written to (:func:`validate_file_path`) is also refused past :data:`MAX_PATH_BYTES`
bytes of UTF-8: the lineage tables index paths, and Postgres refuses an index entry past
~2.7 KB (a 10 MB path stopped the materializer). Reads and globs take any length.

Everything else is accepted, including non-ASCII text (``/données/été.csv``, ``/数据/文件.txt``,
emoji) and the glob characters ``* ? [ ] { } ( ) ! @ + ^ \``. Pachyderm refuses non-ASCII and
glob characters in paths; pachstream accepts them and lets a glob match them literally by
escaping them with a backslash (see :mod:`pachstream.glob`). Paths are not Unicode-normalized:
``é`` written as one code point and as ``e`` plus a combining accent are two different files,
as on a POSIX file system.
"""

from __future__ import annotations

import re

from pachstream.errors import InvalidPath

__all__ = [
    "MAX_PATH_BYTES",
    "ROOT",
    "ancestors",
    "basename",
    "canonical_files",
    "is_under",
    "join",
    "normalize_path",
    "parent",
    "split_segments",
    "validate_file_path",
]

ROOT = "/"
"""The canonical root directory."""

MAX_PATH_BYTES = 2048
"""The longest path, in UTF-8 bytes: twice S3's key limit, within what Postgres can index."""

_CONTROL_NAMES = {0x00: "NUL", 0x09: "TAB", 0x0A: "LF", 0x0D: "CR", 0x1B: "ESC", 0x7F: "DEL"}


def _is_control(code: int) -> bool:
    return code < 0x20 or 0x7F <= code <= 0x9F


# A canonical path that validate_file_path accepts as it is: "/"-led segments without control
# characters (C0, DEL, C1), lone surrogates or "/", none of them "." or "..". Many paths are
# joined with "\n" (a control character, so in no accepted path) and matched in one call.
_SEGMENT = r"/(?!\.\.?(?:/|\n|\Z))[^/\x00-\x1f\x7f-\x9f\ud800-\udfff]+"
_CANONICAL_FILE = re.compile(rf"(?:{_SEGMENT})+")
_CANONICAL_FILES = re.compile(rf"(?:{_SEGMENT})+(?:\n(?:{_SEGMENT})+)*")
_SHORT_PATH_CHARS = MAX_PATH_BYTES // 4
"""Paths up to this many characters are within MAX_PATH_BYTES whatever they hold (UTF-8 takes
at most 4 bytes a character): their length is not measured in bytes."""


def canonical_files(paths: list[str]) -> bool:
    """Whether every one of ``paths`` is a canonical file path that :func:`validate_file_path`
    accepts as it is, checked in one regular-expression match: one by one in Python, the
    check cost ~1.5 µs a file, the largest part of handling a request of many. False: look at
    each with :func:`validate_file_path` to find the bad one and say why (also for a path of
    more than :data:`_SHORT_PATH_CHARS` characters, which that measures).
    """
    if not paths:
        return True
    try:
        if max(map(len, paths)) > _SHORT_PATH_CHARS:
            return False
        return _CANONICAL_FILES.fullmatch("\n".join(paths)) is not None
    except TypeError:  # a path that is no text: the slow check names it
        return False


def _check_characters(path: str) -> None:
    for position, char in enumerate(path):
        code = ord(char)
        if _is_control(code):
            label = f"U+{code:04X}"
            if code in _CONTROL_NAMES:
                label += f" ({_CONTROL_NAMES[code]})"
            raise InvalidPath(
                f"path {path!r}: control character {label} at position {position} is not "
                f"allowed; remove it from the file name",
                path=path,
            )
        if 0xD800 <= code <= 0xDFFF:
            raise InvalidPath(
                f"path {path!r}: U+{code:04X} at position {position} is a lone surrogate, "
                f"i.e. the name was not valid UTF-8; rename the file with UTF-8 text",
                path=path,
            )


def normalize_path(path: str) -> str:
    """Return the canonical form of a path, or refuse it.

    Args:
        path: A path as the user wrote it: with or without the leading ``/``, possibly
            with a trailing ``/`` or repeated ``/``. The empty string is the root.

    Returns:
        The canonical path, e.g. ``"a//b/"`` gives ``"/a/b"`` and ``""`` gives ``"/"``.

    Raises:
        InvalidPath: The path is not text, or holds a control character, a lone surrogate,
            or a ``.`` or ``..`` segment. The error has the field ``path``.

    """
    if not isinstance(path, str):
        raise InvalidPath(
            f"path {path!r}: a path is text, not {type(path).__name__}; decode it as UTF-8",
            path=path,
        )
    # The usual path, already canonical with nothing to refuse, in one match (the long way
    # cost ~1.5 µs for "/f0000001", ~4 µs for 36 characters: a tenth of a client's CPU in
    # `bench ingest`).
    if _CANONICAL_FILE.fullmatch(path) is not None:
        return path
    return _normalized(path)


def _normalized(path: str) -> str:
    """:func:`normalize_path` of a text path, the long way: each character checked (the error
    names the first refused and where), the segments split and joined again.
    """
    _check_characters(path)
    segments = [segment for segment in path.split("/") if segment]
    for segment in segments:
        if segment in (".", ".."):
            raise InvalidPath(
                f"path {path!r}: {segment!r} segments are not allowed; name the file by its "
                f"full path from the root without them",
                path=path,
            )
    return "/" + "/".join(segments)


def validate_file_path(path: str) -> str:
    """Return the canonical form of a path that must name a file, not the root.

    Args:
        path: A path as accepted by :func:`normalize_path`.

    Returns:
        The canonical path.

    Raises:
        InvalidPath: As for :func:`normalize_path`, when the path is the root (``""``,
            ``"/"``, ``"//"``), which cannot be a file, and past :data:`MAX_PATH_BYTES`.

    """
    # The length first: a 10 MB path is refused before anything walks its characters; a short
    # one is not encoded to be measured.
    if (
        isinstance(path, str)
        and len(path) > _SHORT_PATH_CHARS
        and (
            len(path) > MAX_PATH_BYTES
            or len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES
        )
    ):
        size = len(path.encode("utf-8", "surrogatepass"))
        raise InvalidPath(
            f"path {path[:64]!r}… is {size} bytes long (UTF-8); at most {MAX_PATH_BYTES} bytes "
            "are allowed, so give the file a shorter name",
            path=path[:64],
        )
    canonical = normalize_path(path)
    if canonical == ROOT:
        raise InvalidPath(
            f"path {path!r}: the root directory cannot be a file; give a file name such as "
            f"'/data.csv'",
            path=path,
        )
    return canonical


def split_segments(path: str) -> tuple[str, ...]:
    """Split a path into its segments, from the root down.

    Args:
        path: Any path accepted by :func:`normalize_path`.

    Returns:
        The segments, e.g. ``("a", "b.csv")`` for ``"/a/b.csv"`` and ``()`` for the root.

    """
    canonical = normalize_path(path)
    if canonical == ROOT:
        return ()
    return tuple(canonical[1:].split("/"))


def join(directory: str, *names: str) -> str:
    """Join a directory and names below it into a canonical path.

    Args:
        directory: A directory path.
        *names: Further segments or relative paths (``"b"``, ``"c/d"``).

    Returns:
        The canonical path, e.g. ``join("/a", "b/c")`` is ``"/a/b/c"``.

    """
    return normalize_path("/".join((directory, *names)))


def parent(path: str) -> str:
    """Return the directory that contains a path.

    Args:
        path: A path other than the root.

    Returns:
        The canonical parent, e.g. ``"/a"`` for ``"/a/b"`` and ``"/"`` for ``"/a"``.

    Raises:
        InvalidPath: The path is the root, which has no parent, or is invalid.

    """
    canonical = normalize_path(path)
    if canonical == ROOT:
        raise InvalidPath(
            f"path {path!r}: the root directory has no parent; stop walking up at '/'",
            path=path,
        )
    return canonical[: canonical.rindex("/")] or ROOT


def ancestors(path: str) -> list[str]:
    """Return the directories above a path, nearest first, ending with the root.

    Args:
        path: Any path accepted by :func:`normalize_path`.

    Returns:
        E.g. ``["/a/b", "/a", "/"]`` for ``"/a/b/c"``; ``[]`` for the root.

    """
    canonical = normalize_path(path)
    out: list[str] = []
    while canonical != ROOT:
        canonical = canonical[: canonical.rindex("/")] or ROOT
        out.append(canonical)
    return out


def basename(path: str) -> str:
    """Return the last segment of a path.

    Args:
        path: Any path accepted by :func:`normalize_path`.

    Returns:
        E.g. ``"b.csv"`` for ``"/a/b.csv"``; ``""`` for the root, which has no name.

    """
    canonical = normalize_path(path)
    return canonical[canonical.rindex("/") + 1 :]


def is_under(path: str, directory: str) -> bool:
    """Tell whether a path is a directory or lies anywhere below it.

    The comparison is by whole segments: ``/ab`` is not under ``/a``.

    Args:
        path: The path to test.
        directory: The directory.

    Returns:
        True when ``path`` equals ``directory`` or starts with ``directory + "/"``; every
        path is under the root.

    """
    canonical = normalize_path(path)
    base = normalize_path(directory)
    if base == ROOT or canonical == base:
        return True
    return canonical.startswith(base + "/")
