"""The local image store: verified blobs keyed by digest, names, and unpacked roots.

Layout under the store's folder (``$PACHSTREAM_IMAGES``, default ``$PACHSTREAM_HOME/images``)::

    blobs/sha256/<hex>     configs and layers exactly as loaded, each verified by its hash
    records/<hex>.json     one per image, named by its id (the sha256 of its config):
                           {"id", "layers": [blob digests], "size"}
    names.json             normalized name -> image id ("docker.io/library/busybox:latest")
    roots/<hex>/           the image's root filesystem, unpacked once, bound read-only
    tmp/                   loads and unpacks in progress (same file system: renames are atomic)
    lock                   flock: exclusive for load and delete, shared for an unpack
    locks/<hex>            flock of one image's unpack, so two processes unpack it once

A root appears only by renaming a complete unpack into ``roots/``: a crash leaves at most a
folder under ``tmp/``, which the next exclusive operation removes (it holds the lock no
unpack or load can be running without). All calls block; from async code, run them in a
thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pachstream.errors import ImageNotFound, InvalidInput
from pachstream.images._archive import (
    MANIFEST,
    OCI_INDEX,
    ArchiveImage,
    Blob,
    archive_format,
    member_name,
    parse_docker_manifest,
    parse_oci_index,
)
from pachstream.images._config import ImageConfig, RunPlan, parse_config, run_plan
from pachstream.images._layers import Unpacking, apply_layer, read_in_root
from pachstream.images._pull import Puller, host_arch, how_to_provide, skopeo_puller
from pachstream.images._reference import id_prefix, normalize

MAX_JSON_BYTES = 16 << 20
"""Largest manifest, index or config read into memory."""
_CHUNK = 1 << 20
_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True, slots=True, kw_only=True)
class Image:
    """One image of the store."""

    id: str
    """``sha256:<hex>`` of its config: the same image always has the same id."""
    names: tuple[str, ...]
    """Its normalized names, sorted; empty for an image whose names moved to another."""
    size: int
    """Bytes of its config and layers as stored (compressed layers stay compressed)."""
    created: str | None
    """When it was built (the config's ``created``), if it says."""
    layers: tuple[str, ...]
    """Digests of its layer blobs, lowest first."""
    config: ImageConfig
    """Its config: Env, WorkingDir, User, Entrypoint, Cmd."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Deleted:
    """What :meth:`ImageStore.delete` did."""

    image: Image
    """The image the name pointed at (its names before the delete)."""
    names: tuple[str, ...]
    """The names removed."""
    data: bool
    """Whether the image's data went too (no name pointed at it any more)."""


class ImageStore:
    """The images of one machine, under one folder (see the module docstring for the layout).

    Args:
        path: The store's folder; created when absent.
        puller: Writes a registry image as an OCI archive; default: skopeo when on PATH,
            else none (an image not in the store is then ImageNotFound).
        arch: Which image of a multi-platform archive to take; default: this machine's.
    """

    def __init__(
        self, path: Path, *, puller: Puller | None = None, arch: str | None = None
    ) -> None:
        self.path = path
        self._puller = puller
        self._arch = arch or host_arch()
        for sub in ("blobs/sha256", "records", "roots", "tmp", "locks", "pulls"):
            (path / sub).mkdir(parents=True, exist_ok=True)

    # ----------------------------------------------------------------------------- reading

    def images(self) -> list[Image]:
        """Every image, named ones first by name, then the unnamed by id."""
        names = self._names()
        images = [self._image(p.stem, names) for p in (self.path / "records").glob("*.json")]
        return sorted(images, key=lambda i: (not i.names, i.names, i.id))

    def find(self, ref: str) -> Image | None:
        """The image a name or an id (``sha256:<hex>`` or 12+ hex digits) points at, or None.

        Raises:
            InvalidInput: ``ref`` is neither a valid name nor an id, or an id prefix that
                several images share.
        """
        names = self._names()
        try:
            key = normalize(ref)
        except InvalidInput:
            key = None
            if id_prefix(ref) is None:
                raise
        if key is not None and key in names:
            return self._image(names[key].removeprefix("sha256:"), names)
        prefix = id_prefix(ref)
        if prefix is None:
            return None
        found = [p.stem for p in (self.path / "records").glob(f"{prefix}*.json")]
        if len(found) > 1:
            raise InvalidInput(
                f"image id {ref!r} is the start of {len(found)} images' ids; give more digits",
                image=ref,
            )
        return self._image(found[0], names) if found else None

    def get(self, ref: str) -> Image:
        """The image ``ref`` names: from the store, else pulled from its registry by skopeo.

        Never falls back to the host: without the image and without skopeo, ImageNotFound
        names both ways to provide it.

        Raises:
            ImageNotFound: not in the store and not pullable.
            InvalidInput: ``ref`` is no image reference, or the pulled archive is bad.
        """
        found = self.find(ref)
        if found is not None:
            return found
        if ref.startswith("sha256:"):
            raise ImageNotFound(
                f"no image in the image store ({self.path}) has id {ref!r}, and an id cannot "
                "be pulled; see the images with 'pachstream list image'",
                image=ref,
            )
        key = normalize(ref)
        puller = self._puller or skopeo_puller()
        if puller is None:
            raise ImageNotFound(
                f"image {ref!r} ({key}) is not in the image store ({self.path}) and skopeo is "
                "not installed to pull it; " + how_to_provide(ref),
                image=ref,
            )
        # Not under tmp/, which a load (this one's too) empties under its lock.
        with tempfile.TemporaryDirectory(dir=self.path / "pulls") as tmp:
            archive = Path(tmp) / "image.tar"
            puller(key, archive)
            loaded = self.load(archive, names=[key], archive_names=False)
        return loaded[0]

    # ----------------------------------------------------------------------------- loading

    def load(
        self, archive: Path, *, names: Sequence[str] = (), archive_names: bool = True
    ) -> list[Image]:
        """Load the images of a docker-archive or OCI archive; give them their names.

        Every blob is verified against its digest and every layer against the config's
        diff_ids before the store changes. The names inside the archive (unless
        ``archive_names`` is false) and ``names`` (given to every image loaded) move to the
        loaded images.

        Raises:
            InvalidInput: the file is missing, not a tar, not an image archive, or a blob is
                missing or does not match its digest; the message names the file.
        """
        file = str(archive)
        wanted = [normalize(n) for n in names]
        with self._locked(fcntl.LOCK_EX):
            self._clean_tmp()
            try:
                tar = tarfile.open(archive, "r:*")
            except FileNotFoundError as exc:
                raise InvalidInput(
                    f"{file} does not exist; give an image archive", file=file
                ) from exc
            except (tarfile.TarError, IsADirectoryError) as exc:
                raise InvalidInput(
                    f"{file} is not a tar file; give the output of 'docker save' or an OCI archive",
                    file=file,
                ) from exc
            loaded: list[tuple[str, tuple[str, ...]]] = []
            try:
                with tar:
                    images = self._load_from(tar, file)
                for entry, image_id, _ in images:
                    own = [_archive_name(n, file) for n in entry.names] if archive_names else []
                    loaded.append((image_id, tuple(dict.fromkeys(own + wanted))))
            except BaseException:
                self._sweep_blobs()  # the blobs this load stored before the bad part
                raise
            # Records only now that all is verified and named: a bad archive adds no image.
            for _, image_id, record in images:
                self._write_json(self.path / "records" / f"{image_id}.json", record)
            table = self._names()
            for image_id, image_names in loaded:
                for name in image_names:
                    table[name] = f"sha256:{image_id}"
            self._write_json(self.path / "names.json", table)
            return [self._image(image_id, table) for image_id, _ in loaded]

    def _load_from(
        self, tar: tarfile.TarFile, file: str
    ) -> list[tuple[ArchiveImage, str, dict[str, object]]]:
        """Verify and store the blobs of every image of the archive; their records, unwritten."""
        members = {member_name(m.name): m for m in tar.getmembers()}

        def read(blob: Blob) -> bytes:
            data = self._small(tar, members, blob.member, file)
            _check(blob, hashlib.sha256(data).hexdigest(), len(data), file)
            return data

        if archive_format(members, file=file) == "docker-archive":
            entries = parse_docker_manifest(self._small(tar, members, MANIFEST, file), file=file)
        else:
            index = self._small(tar, members, OCI_INDEX, file)
            entries = parse_oci_index(index, file=file, read=read, arch=self._arch)
        out = []
        for entry in entries:
            config_bytes = read(entry.config)
            image_id = hashlib.sha256(config_bytes).hexdigest()
            config = parse_config(config_bytes, where=f"{file}: {entry.config.member}")
            if len(config.diff_ids) != len(entry.layers):
                raise InvalidInput(
                    f"{file}: image {entry.config.member} lists {len(entry.layers)} layers but "
                    f"its config's rootfs.diff_ids has {len(config.diff_ids)}; the archive is "
                    "damaged",
                    file=file,
                )
            layers = [
                self._store_layer(tar, members, blob, diff_id, file)
                for blob, diff_id in zip(entry.layers, config.diff_ids, strict=True)
            ]
            self._store_bytes(image_id, config_bytes)
            size = len(config_bytes) + sum(self._blob(d).stat().st_size for d in layers)
            record = {"id": f"sha256:{image_id}", "layers": layers, "size": size}
            out.append((entry, image_id, record))
        return out

    @staticmethod
    def _member(
        tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str, file: str
    ) -> IO[bytes]:
        info = members.get(name)
        handle = tar.extractfile(info) if info is not None else None
        if handle is None:
            raise InvalidInput(
                f"{file}: {name} is missing from the archive (or is not a file); the archive "
                "is incomplete",
                file=file,
                member=name,
            )
        return handle

    def _small(
        self, tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str, file: str
    ) -> bytes:
        data = self._member(tar, members, name, file).read(MAX_JSON_BYTES + 1)
        if len(data) > MAX_JSON_BYTES:
            raise InvalidInput(
                f"{file}: {name} is over {MAX_JSON_BYTES >> 20} MiB, too large for a manifest or "
                "config",
                file=file,
            )
        return data

    def _store_layer(
        self,
        tar: tarfile.TarFile,
        members: dict[str, tarfile.TarInfo],
        blob: Blob,
        diff_id: str,
        file: str,
    ) -> str:
        source = self._member(tar, members, blob.member, file)
        fd, tmp_name = tempfile.mkstemp(dir=self.path / "tmp", prefix="blob-")
        tmp = Path(tmp_name)
        try:
            raw = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(_CHUNK):
                    raw.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            _check(blob, raw.hexdigest(), size, file)
            uncompressed = _uncompressed_digest(tmp, blob.member, file)
            if uncompressed != diff_id:
                raise InvalidInput(
                    f"{file}: layer {blob.member} uncompresses to {uncompressed}, but the "
                    f"image's config expects {diff_id}; the archive is damaged",
                    file=file,
                    member=blob.member,
                )
            digest = f"sha256:{raw.hexdigest()}"
            os.replace(tmp, self._blob(digest))
            return digest
        finally:
            tmp.unlink(missing_ok=True)

    def _store_bytes(self, hexdigest: str, data: bytes) -> None:
        target = self._blob(f"sha256:{hexdigest}")
        if not target.exists():
            self._write_atomic(target, data)

    # ---------------------------------------------------------------------------- deleting

    def delete(self, ref: str) -> Deleted:
        """Remove a name; an image's data goes when no name points at it any more.

        Given an id instead of a name, the image goes with all its names.

        Raises:
            ImageNotFound: no image has that name or id.
        """
        with self._locked(fcntl.LOCK_EX):
            self._clean_tmp()
            image = self.find(ref)
            if image is None:
                raise ImageNotFound(
                    f"image {ref!r} is not in the image store ({self.path}); see the images "
                    "with 'pachstream list image'",
                    image=ref,
                )
            table = self._names()
            try:
                key: str | None = normalize(ref)
            except InvalidInput:
                key = None
            removed = (key,) if key in table else image.names
            for name in removed:
                table.pop(name, None)
            self._write_json(self.path / "names.json", table)
            data = image.id not in table.values()
            if data:
                self._drop(image)
            return Deleted(image=image, names=tuple(n for n in removed if n), data=data)

    def _drop(self, image: Image) -> None:
        hexdigest = image.id.removeprefix("sha256:")
        root = self.path / "roots" / hexdigest
        if root.exists():
            # Out of roots/ first: a sandbox being set up never sees half a root.
            trash = Path(tempfile.mkdtemp(dir=self.path / "tmp", prefix="trash-"))
            os.rename(root, trash / "root")
            shutil.rmtree(trash)
        (self.path / "records" / f"{hexdigest}.json").unlink(missing_ok=True)
        self._sweep_blobs()

    def _sweep_blobs(self) -> None:
        """Remove the blobs no record refers to (the exclusive lock is held)."""
        kept = set()
        for other in (self.path / "records").glob("*.json"):
            layers = self._record(other.stem)["layers"]
            assert isinstance(layers, list)
            kept.update([*layers, f"sha256:{other.stem}"])
        for blob in (self.path / "blobs" / "sha256").iterdir():
            if f"sha256:{blob.name}" not in kept:
                blob.unlink(missing_ok=True)

    # --------------------------------------------------------------------------- unpacking

    def rootfs(self, image: Image) -> Path:
        """The image's root filesystem folder, unpacked on first use (once per image id).

        Bind it read-only (the sandbox does): the store shares it among all runs.

        Raises:
            InvalidInput: a layer escapes the root or is damaged (names the image and member).
        """
        hexdigest = image.id.removeprefix("sha256:")
        root = self.path / "roots" / hexdigest
        if root.is_dir():
            return root
        with self._locked(fcntl.LOCK_SH), self._locked(fcntl.LOCK_EX, f"locks/{hexdigest}"):
            if root.is_dir():
                return root  # another process unpacked it while we waited
            tmp = Path(tempfile.mkdtemp(dir=self.path / "tmp", prefix="root-"))
            try:
                state = Unpacking(root=tmp, file=f"image {(image.names or (image.id,))[0]}")
                for i, digest in enumerate(image.layers):
                    with self._blob(digest).open("rb") as layer:
                        apply_layer(state, layer, name=f"{i} ({digest})")
                tmp.chmod(0o755)
                state.finish()
                os.rename(tmp, root)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return root

    def plan(
        self,
        ref: str,
        *,
        cmd: Sequence[str] | None = None,
        env: dict[str, str] | None = None,
        working_dir: str | None = None,
    ) -> tuple[Path, RunPlan]:
        """The unpacked root of image ``ref`` and what runs in it for a transform.

        The one call the worker needs: :meth:`get`, :meth:`rootfs`, then
        :func:`~pachstream.images.run_plan` with the root's /etc/passwd and /etc/group.

        Raises:
            ImageNotFound: the image is neither stored nor pullable.
            InvalidSpec: no command, or an image User the image cannot resolve.
        """
        image = self.get(ref)
        root = self.rootfs(image)
        passwd, group = (read_in_root(root, f"etc/{n}") for n in ("passwd", "group"))
        return root, run_plan(
            image.config,
            image=ref,
            cmd=cmd,
            env=env,
            working_dir=working_dir,
            passwd=passwd.decode(errors="replace") if passwd is not None else None,
            group=group.decode(errors="replace") if group is not None else None,
        )

    # ---------------------------------------------------------------------------- plumbing

    def _blob(self, digest: str) -> Path:
        return self.path / "blobs" / "sha256" / digest.removeprefix("sha256:")

    def _names(self) -> dict[str, str]:
        try:
            data = json.loads((self.path / "names.json").read_bytes())
        except FileNotFoundError:
            return {}
        return {str(k): str(v) for k, v in data.items()}

    def _record(self, hexdigest: str) -> dict[str, object]:
        data: dict[str, object] = json.loads(
            (self.path / "records" / f"{hexdigest}.json").read_bytes()
        )
        return data

    def _image(self, hexdigest: str, names: dict[str, str]) -> Image:
        record = self._record(hexdigest)
        image_id = f"sha256:{hexdigest}"
        config = parse_config(self._blob(image_id).read_bytes(), where=f"image {image_id}")
        layers = record["layers"]
        size = record["size"]
        assert isinstance(layers, list) and isinstance(size, int)
        return Image(
            id=image_id,
            names=tuple(sorted(n for n, i in names.items() if i == image_id)),
            size=size,
            created=config.created,
            layers=tuple(str(d) for d in layers),
            config=config,
        )

    def _write_json(self, path: Path, value: object) -> None:
        self._write_atomic(path, json.dumps(value, indent=1, sort_keys=True).encode())

    def _write_atomic(self, path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path / "tmp", prefix="write-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _clean_tmp(self) -> None:
        """Remove what crashed loads and unpacks left (the exclusive lock is held)."""
        for left in (self.path / "tmp").iterdir():
            if left.is_dir() and not left.is_symlink():
                shutil.rmtree(left, ignore_errors=True)
            else:
                left.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _locked(self, how: int, name: str = "lock") -> Iterator[None]:
        fd = os.open(self.path / name, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, how)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def _archive_name(name: str, file: str) -> str:
    try:
        return normalize(name)
    except InvalidInput as exc:
        raise InvalidInput(
            f"{file}: a name in the archive is bad: {exc.message}", file=file
        ) from exc


def _check(blob: Blob, hexdigest: str, size: int, file: str) -> None:
    if blob.digest is not None and blob.digest != f"sha256:{hexdigest}":
        raise InvalidInput(
            f"{file}: {blob.member} has digest sha256:{hexdigest}, but the archive says "
            f"{blob.digest}; the archive is damaged",
            file=file,
            member=blob.member,
        )
    if blob.size is not None and blob.size != size:
        raise InvalidInput(
            f"{file}: {blob.member} is {size} bytes, but the archive says {blob.size}; the "
            "archive is damaged",
            file=file,
            member=blob.member,
        )


def _uncompressed_digest(path: Path, member: str, file: str) -> str:
    with path.open("rb") as f:
        magic = f.read(4)
    if magic == _ZSTD:
        raise InvalidInput(
            f"{file}: layer {member} is zstd-compressed, which pachstream cannot unpack; save "
            "the image with gzip layers ('skopeo copy --dest-compress-format gzip ...')",
            file=file,
            member=member,
        )
    digest = hashlib.sha256()
    opener = gzip.open if magic[:2] == _GZIP else open
    try:
        with opener(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except (OSError, EOFError) as exc:
        raise InvalidInput(
            f"{file}: layer {member} does not decompress ({exc}); the archive is damaged",
            file=file,
            member=member,
        ) from exc
    return f"sha256:{digest.hexdigest()}"
