"""The layer applier: image layers, in order, become one root filesystem directory.

Each layer is a tar applied on top of the ones below, with the OCI whiteouts: ``.wh.NAME``
deletes ``NAME`` of a lower layer, ``.wh..wh..opq`` empties its directory of what lower
layers put there (what the same layer adds stays, wherever the marker sits in the tar).

Safety, since a layer is untrusted input written by this process, as root perhaps:

- a member named absolutely or with a ``..`` segment is refused (:func:`member_parts`);
- a symlink met on the way to a member is followed *inside the root* only: its target is
  read as if the root were ``/`` and ``..`` stops at the root (as containerd's
  ``fs.RootPath``), so ``bin -> /usr/bin`` from a lower layer still works and
  ``evil -> /etc`` leads to the root's ``etc``, never the host's;
- the member itself is never followed: what is there is removed and the file is created
  with ``O_EXCL | O_NOFOLLOW``;
- device nodes are created when the kernel permits, else skipped (a sandbox has its own
  ``/dev`` anyway); modes, owners (as root) and times are kept, and directory modes are set
  last, so a read-only directory of a lower layer still takes files of upper ones.

Pure helpers (:func:`member_parts`, :func:`whiteout`) decide; :func:`apply_layer` writes.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pachstream.errors import InvalidInput

WHITEOUT_PREFIX = ".wh."
"""A member named ``.wh.NAME`` deletes ``NAME`` of the lower layers."""
OPAQUE = ".wh..wh..opq"
"""A member of this name empties its directory of what the lower layers put there."""
MAX_SYMLINKS = 40
"""Symlinks followed on the way to one member before it is refused (Linux's ELOOP limit)."""


def member_parts(name: str, *, file: str = "layer") -> tuple[str, ...]:
    """The path segments of a layer member, or InvalidInput for a name that escapes. Pure.

    ``./`` and empty segments are dropped (``./etc//passwd`` is ``("etc", "passwd")``);
    the root itself is ``()``.

    Raises:
        InvalidInput: an absolute name or a ``..`` segment.
    """
    if name.startswith("/"):
        raise InvalidInput(
            f"{file}: member {name!r} has an absolute name; a layer names its files relative "
            "to the root (the archive is damaged or hostile)",
            file=file,
            member=name,
        )
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise InvalidInput(
            f"{file}: member {name!r} has a '..' segment, which would write outside the "
            "image's root (the archive is damaged or hostile)",
            file=file,
            member=name,
        )
    return parts


def whiteout(parts: tuple[str, ...]) -> tuple[str, tuple[str, ...]] | None:
    """``("opaque", directory)`` or ``("delete", path)`` for a whiteout member, else None.

    Pure. Other ``.wh..wh.`` names (aufs' hardlink bookkeeping) are ``("skip", parts)``.
    """
    if not parts or not parts[-1].startswith(WHITEOUT_PREFIX):
        return None
    if parts[-1] == OPAQUE:
        return "opaque", parts[:-1]
    if parts[-1].startswith(WHITEOUT_PREFIX * 2):
        return "skip", parts
    return "delete", (*parts[:-1], parts[-1][len(WHITEOUT_PREFIX) :])


def resolve_in_root(root: Path, parts: Sequence[str], *, follow_last: bool = True) -> Path:
    """Where ``parts`` leads under ``root``, following symlinks as if ``root`` were ``/``.

    Every symlink met is read (never opened) and its target resolved again inside the root:
    an absolute target restarts at the root, ``..`` stops at it. The last segment is followed
    only with ``follow_last``. What does not exist yet is taken as written.

    Raises:
        InvalidInput: more than :data:`MAX_SYMLINKS` symlinks (a loop).
    """
    done: list[str] = []
    pending = list(parts)
    followed = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = root.joinpath(*done, part)
        if (pending or follow_last) and candidate.is_symlink():
            followed += 1
            if followed > MAX_SYMLINKS:
                raise InvalidInput(
                    f"too many symlinks on the way to {'/'.join(parts)!r} in the image "
                    "(a loop?); fix the image's symlinks",
                    path="/".join(parts),
                )
            target = os.readlink(candidate)
            if target.startswith("/"):
                done = []
            pending = target.split("/") + pending
            continue
        done.append(part)
    return root.joinpath(*done)


def read_in_root(root: Path, path: str) -> bytes | None:
    """The bytes of the regular file ``path`` of an unpacked root, or None when it has none.

    Symlinks resolve inside the root (:func:`resolve_in_root`): an image's
    ``/etc/passwd -> /etc/shadow`` reads the image's file, never the host's.
    """
    try:
        where = resolve_in_root(root, path.split("/"))
        fd = os.open(where, os.O_RDONLY | os.O_NOFOLLOW)
    except (FileNotFoundError, NotADirectoryError, InvalidInput, OSError):
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read()


@dataclass(slots=True)
class Unpacking:
    """State across the layers of one unpack: directory attributes are applied last."""

    root: Path
    """The directory being filled."""
    file: str = "image"
    """What the errors name (the image)."""
    as_root: bool = field(default_factory=lambda: os.geteuid() == 0)
    """Whether owners can be set."""
    dirs: dict[Path, tarfile.TarInfo] = field(default_factory=dict)
    """Each directory's last member, applied by :meth:`finish`."""
    skipped_devices: int = 0
    """Device nodes the kernel refused to create."""

    def finish(self) -> None:
        """Set directory modes, owners and times, deepest first."""
        for path in sorted(self.dirs, key=lambda p: len(p.parts), reverse=True):
            info = self.dirs[path]
            if path.is_dir() and not path.is_symlink():
                self._attributes(path, info)
        self.dirs.clear()

    def _attributes(self, path: Path, info: tarfile.TarInfo) -> None:
        if self.as_root:
            os.lchown(path, info.uid, info.gid)
        if not info.issym():
            os.chmod(path, info.mode & 0o7777)
        os.utime(path, (info.mtime, info.mtime), follow_symlinks=False)


def apply_layer(state: Unpacking, layer: IO[bytes], *, name: str) -> None:
    """Apply one layer (a tar, possibly gzip, bzip2 or xz compressed) onto ``state.root``.

    Raises:
        InvalidInput: a member that escapes the root, a hardlink to nothing, a file where a
            directory is needed; the message names the layer and the member.
    """
    created: set[Path] = set()
    try:
        tar = tarfile.open(fileobj=layer, mode="r|*")
    except tarfile.TarError as exc:
        raise InvalidInput(f"{state.file}: layer {name} is not a tar ({exc})") from exc
    with tar:
        try:
            for info in tar:
                _apply_member(state, tar, info, created, name)
        except tarfile.TarError as exc:
            raise InvalidInput(f"{state.file}: layer {name} is damaged ({exc})") from exc


def _apply_member(
    state: Unpacking,
    tar: tarfile.TarFile,
    info: tarfile.TarInfo,
    created: set[Path],
    layer: str,
) -> None:
    where = f"{state.file} layer {layer}"
    parts = member_parts(info.name, file=where)
    root = state.root
    if not parts:
        if info.isdir():
            state.dirs[root] = info
        return
    marker = whiteout(parts)
    if marker is not None:
        kind, target = marker
        if kind == "opaque":
            directory = resolve_in_root(root, target)
            if directory.is_dir() and not directory.is_symlink():
                _clear_lower(directory, created)
        elif kind == "delete":
            path = resolve_in_root(root, target[:-1]) / target[-1]
            if path not in created:
                _remove(path)
        return
    parent = resolve_in_root(root, parts[:-1])
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise InvalidInput(
            f"{where}: member {info.name!r} is under {'/'.join(parts[:-1])!r}, which is no "
            "directory in the image",
            file=state.file,
            member=info.name,
        ) from exc
    path = parent / parts[-1]
    # Ancestors too: an opaque marker later in this layer keeps what this layer put under them.
    created.add(path)
    created.update(p for p in path.parents if p.is_relative_to(root))
    if info.isdir():
        if not (path.is_dir() and not path.is_symlink()):
            _remove(path)
            path.mkdir(mode=0o700)
        state.dirs[path] = info
        return
    if info.islnk():
        source = resolve_in_root(root, member_parts(info.linkname, file=where), follow_last=False)
        if not os.path.lexists(source):
            raise InvalidInput(
                f"{where}: hardlink {info.name!r} points to {info.linkname!r}, which no earlier "
                "member created",
                file=state.file,
                member=info.name,
            )
        if source != path:
            _remove(path)
            os.link(source, path, follow_symlinks=False)
        return
    _remove(path)
    if info.issym():
        os.symlink(info.linkname, path)
    elif info.isfile():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            source_file = tar.extractfile(info)
            if source_file is not None:
                shutil.copyfileobj(source_file, out, 1 << 20)
    elif info.isfifo():
        os.mkfifo(path, 0o600)
    elif info.ischr() or info.isblk():
        node = stat.S_IFCHR if info.ischr() else stat.S_IFBLK
        try:
            os.mknod(path, node | 0o600, os.makedev(info.devmajor, info.devminor))
        except PermissionError:
            state.skipped_devices += 1
            return
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EACCES):
                raise
            state.skipped_devices += 1
            return
    else:
        return  # another tar type (a GNU sparse or volume header): nothing to create
    state._attributes(path, info)


def _clear_lower(directory: Path, created: set[Path]) -> None:
    """Remove what lower layers put under ``directory``; keep what this layer ``created``."""
    for child in directory.iterdir():
        if child not in created:
            _remove(child)
        elif child.is_dir() and not child.is_symlink():
            _clear_lower(child, created)


def _remove(path: Path) -> None:
    """Remove whatever is at ``path`` (a directory with its contents), never following it."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except NotADirectoryError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)
