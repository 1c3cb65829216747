"""Writing a one-layer image archive from files: small images without a container tool.

``make demo`` and the tests build their images with it (there is no Docker here); the archive
is the ``docker save`` format, so :meth:`ImageStore.load` reads it like any other.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from pachstream.errors import InvalidInput


def write_docker_archive(
    path: Path,
    *,
    tags: Sequence[str],
    files: Mapping[str, tuple[bytes, int]],
    links: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
    architecture: str = "amd64",
) -> Path:
    """Write a ``docker save`` archive of one layer to ``path`` and return it.

    Args:
        path: the archive to write.
        tags: its names, e.g. ``["example/tool:1"]``.
        files: path inside the image (relative, e.g. ``bin/busybox``) → (content, mode);
            the folders above each are made.
        links: hard links: path → the path (in ``files``) it links to.
        config: the image's ``config`` object (``Env``, ``WorkingDir``, ``Entrypoint``,
            ``Cmd``, ``User``), as a Dockerfile would set it.
        architecture: the image's architecture (Go's names: ``amd64``, ``arm64``).

    Raises:
        InvalidInput: a path is absolute or climbs out with ``..``.

    """
    links = links or {}
    for name in [*files, *links, *links.values()]:
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts:
            raise InvalidInput(
                f"image file {name!r}: give a path relative to the image's root, without '..'"
            )
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        folders = sorted(
            {str(p) for name in [*files, *links] for p in PurePosixPath(name).parents} - {"."}
        )
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
        for name, target in sorted(links.items()):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.LNKTYPE, target
            tar.addfile(info)
    layer_bytes = layer.getvalue()
    config_bytes = json.dumps(
        {
            "architecture": architecture,
            "os": "linux",
            "config": dict(config or {}),
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(layer_bytes).hexdigest()],
            },
        }
    ).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": list(tags), "Layers": ["layer/layer.tar"]}]
    with tarfile.open(path, "w") as archive:
        for name, data in (
            (config_name, config_bytes),
            ("layer/layer.tar", layer_bytes),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path
