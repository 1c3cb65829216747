"""What an image archive holds: its format, its images, their blobs and names. Pure.

Two formats, both tar files:

- **docker-archive** (``docker save``, ``podman save``): ``manifest.json`` lists images as
  ``{"Config": path, "RepoTags": [...], "Layers": [path, ...]}``. Paths are ``<hex>.json``
  and ``<id>/layer.tar`` (old Docker, podman) or ``blobs/sha256/<hex>`` (Docker 25+).
- **oci-archive** (``skopeo copy ... oci-archive:``, ``podman save --format oci-archive``):
  ``oci-layout`` and ``index.json`` whose manifests (or nested indexes, one per platform)
  name blobs under ``blobs/sha256/``; a manifest's ``org.opencontainers.image.ref.name``
  annotation (or containerd's ``io.containerd.image.name``) names it; a bare
  ``ref.name`` (``v1.0``), which the OCI layout uses for a tag of no known repository, does
  not (``image load --name`` does).

A blob whose path or descriptor gives its digest must hash to it; every layer, once
uncompressed, must hash to the config's ``rootfs.diff_ids`` entry: the shell checks both
while copying (:mod:`._store`). The parsers here only read JSON handed to them, through
``read`` for the blobs an index points to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from pachstream.errors import InvalidInput

MANIFEST = "manifest.json"
"""The docker-archive table of contents."""
OCI_LAYOUT = "oci-layout"
"""Marks an OCI image layout."""
OCI_INDEX = "index.json"
"""The OCI image layout's entry point."""

REF_NAME = "org.opencontainers.image.ref.name"
"""OCI annotation naming a manifest in an index."""
CONTAINERD_NAME = "io.containerd.image.name"
"""containerd's (and Docker 25's) annotation with the full image name."""

_INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
_MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}
_ZSTD = "zstd"
_HEX_NAME = re.compile(r"^(?:.*/)?([a-f0-9]{64})(?:\.json)?$")
_DIGEST = re.compile(r"^sha256:([a-f0-9]{64})$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Blob:
    """One file of an archive that is part of an image."""

    member: str
    """Its name inside the archive (without a leading ``./``)."""
    digest: str | None = None
    """``sha256:<hex>`` it must hash to, when the archive says; None: checked otherwise."""
    size: int | None = None
    """Its size in bytes, when a descriptor says."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveImage:
    """One image of an archive."""

    config: Blob
    """The image config (its sha256 is the image id)."""
    layers: tuple[Blob, ...]
    """The layers, lowest first."""
    names: tuple[str, ...]
    """The names the archive gives it, as written (``busybox:latest``)."""


def member_name(name: str) -> str:
    """An archive member's name without a leading ``./`` (``docker save`` writes none). Pure."""
    while name.startswith("./"):
        name = name[2:]
    return name


def archive_format(members: Collection[str], *, file: str) -> str:
    """``docker-archive`` or ``oci-archive`` from the archive's member names. Pure.

    Docker 25+ writes both tables; ``manifest.json`` is read then, for its RepoTags.

    Raises:
        InvalidInput: neither ``manifest.json`` nor ``oci-layout`` with ``index.json``.
    """
    if MANIFEST in members:
        return "docker-archive"
    if OCI_LAYOUT in members and OCI_INDEX in members:
        return "oci-archive"
    raise InvalidInput(
        f"{file} is not an image archive: it has neither manifest.json (docker save) nor "
        "oci-layout and index.json (an OCI archive); write one with 'docker save IMAGE -o "
        "FILE', 'podman save' or 'skopeo copy docker://IMAGE oci-archive:FILE'",
        file=file,
    )


def _json(data: bytes, what: str, file: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{file}: {what} is not valid JSON ({exc})", file=file) from exc


def _bad(file: str, what: str) -> InvalidInput:
    return InvalidInput(f"{file}: {what}; the archive is damaged or not an image", file=file)


def _path_blob(path: Any, file: str, where: str) -> Blob:
    if not isinstance(path, str) or not path:
        raise _bad(file, f"{where} is not a path ({path!r})")
    name = member_name(path)
    if name.startswith("/") or ".." in name.split("/"):
        raise _bad(file, f"{where} {path!r} points outside the archive")
    match = _HEX_NAME.match(name)
    # Config files are named by their digest; so are blobs/sha256/ layers. Old
    # `<id>/layer.tar` names carry a v1 id, which is no content hash: diff_ids check those.
    named = match and (name.endswith(".json") or name.startswith("blobs/sha256/"))
    return Blob(member=name, digest=f"sha256:{match.group(1)}" if named and match else None)


def parse_docker_manifest(data: bytes, *, file: str) -> list[ArchiveImage]:
    """The images of a docker-archive's ``manifest.json``. Pure.

    Raises:
        InvalidInput: not a list of ``{Config, RepoTags, Layers}``, or no image at all.
    """
    doc = _json(data, MANIFEST, file)
    if not isinstance(doc, list) or not doc:
        raise _bad(file, "manifest.json is not a non-empty list of images")
    images = []
    for i, entry in enumerate(doc):
        where = f"manifest.json[{i}]"
        if not isinstance(entry, dict):
            raise _bad(file, f"{where} is not an object")
        layers = entry.get("Layers")
        if not isinstance(layers, list):
            raise _bad(file, f"{where}.Layers is not a list")
        tags = entry.get("RepoTags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise _bad(file, f"{where}.RepoTags is not a list of names")
        images.append(
            ArchiveImage(
                config=_path_blob(entry.get("Config"), file, f"{where}.Config"),
                layers=tuple(
                    _path_blob(p, file, f"{where}.Layers[{j}]") for j, p in enumerate(layers)
                ),
                names=tuple(tags),
            )
        )
    return images


def _descriptor(value: Any, file: str, where: str) -> tuple[Blob, dict[str, Any]]:
    if not isinstance(value, dict):
        raise _bad(file, f"{where} is not a descriptor")
    digest, size = value.get("digest"), value.get("size")
    match = _DIGEST.match(digest) if isinstance(digest, str) else None
    if match is None:
        raise _bad(
            file, f"{where}.digest {digest!r} is not sha256:<64 hex digits> (only sha256 is read)"
        )
    if not isinstance(size, int) or size < 0:
        raise _bad(file, f"{where}.size {size!r} is not a size")
    annotations = value.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise _bad(file, f"{where}.annotations is not an object")
    media = value.get("mediaType")
    if isinstance(media, str) and _ZSTD in media:
        raise InvalidInput(
            f"{file}: {where} is a zstd-compressed layer ({media}), which pachstream cannot "
            "unpack; convert it with 'skopeo copy --dest-compress-format gzip "
            f"oci-archive:{file} oci-archive:NEW'",
            file=file,
        )
    blob = Blob(member=f"blobs/sha256/{match.group(1)}", digest=digest, size=size)
    return blob, {"mediaType": media, "annotations": annotations, "platform": value.get("platform")}


def parse_oci_index(
    data: bytes, *, file: str, read: Callable[[Blob], bytes], arch: str
) -> list[ArchiveImage]:
    """The images of an OCI archive's ``index.json``. Pure but for ``read``.

    ``read`` gives a blob's verified bytes (a manifest, or a nested index); of a nested index
    (a multi-platform image), the manifest for ``linux``/``arch`` is taken.

    Raises:
        InvalidInput: a malformed index or manifest, no image, or no manifest for this
            platform in a multi-platform index.
    """
    doc = _json(data, OCI_INDEX, file)
    if not isinstance(doc, dict) or not isinstance(doc.get("manifests"), list):
        raise _bad(file, "index.json has no 'manifests' list")
    images = []
    for i, value in enumerate(doc["manifests"]):
        where = f"index.json manifests[{i}]"
        blob, meta = _descriptor(value, file, where)
        names = _names(meta["annotations"])
        body = _json(read(blob), f"{where} ({blob.digest})", file)
        media = meta["mediaType"] or (body.get("mediaType") if isinstance(body, dict) else None)
        if media in _INDEX_TYPES:
            blob, body = _platform_manifest(body, file, where, read, arch)
        images.append(_oci_manifest(body, file, f"{where} ({blob.digest})", names))
    if not images:
        raise _bad(file, "index.json lists no image")
    return images


def _names(annotations: dict[str, Any]) -> tuple[str, ...]:
    full = annotations.get(CONTAINERD_NAME)
    if isinstance(full, str) and full:
        return (full,)
    name = annotations.get(REF_NAME)
    # The OCI layout's ref.name is often a bare tag ("v1.0", "stable") of no known repository:
    # only a name with a repository ("busybox:1", "ghcr.io/org/tool") names an image.
    if isinstance(name, str) and (":" in name or "/" in name):
        return (name,)
    return ()


def _platform_manifest(
    body: Any, file: str, where: str, read: Callable[[Blob], bytes], arch: str
) -> tuple[Blob, Any]:
    entries = body.get("manifests") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        raise _bad(file, f"{where} is an index without 'manifests'")
    seen = []
    for j, value in enumerate(entries):
        blob, meta = _descriptor(value, file, f"{where}.manifests[{j}]")
        platform = meta["platform"] if isinstance(meta["platform"], dict) else {}
        seen.append(f"{platform.get('os')}/{platform.get('architecture')}")
        if platform.get("os") == "linux" and platform.get("architecture") == arch:
            return blob, _json(read(blob), f"{where}.manifests[{j}]", file)
    raise InvalidInput(
        f"{file}: {where} has no image for linux/{arch} (it has {', '.join(seen) or 'none'}); "
        f"save the image for this platform, e.g. 'skopeo copy --override-arch {arch} ...'",
        file=file,
    )


def _oci_manifest(body: Any, file: str, where: str, names: tuple[str, ...]) -> ArchiveImage:
    if not isinstance(body, dict):
        raise _bad(file, f"{where} is not a manifest object")
    media = body.get("mediaType")
    if media is not None and media not in _MANIFEST_TYPES:
        raise _bad(file, f"{where} has media type {media!r}, not an image manifest")
    layers = body.get("layers")
    if not isinstance(layers, list):
        raise _bad(file, f"{where} has no 'layers' list")
    config, _ = _descriptor(body.get("config"), file, f"{where}.config")
    return ArchiveImage(
        config=config,
        layers=tuple(_descriptor(v, file, f"{where}.layers[{k}]")[0] for k, v in enumerate(layers)),
        names=names,
    )
