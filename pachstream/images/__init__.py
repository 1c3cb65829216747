"""Daemonless container images: a local store, a layer applier, and what runs in an image.

A pipeline's ``transform.image`` (``myorg/etl:1.2``) names an image; this package makes it a
read-only root filesystem folder for the sandbox, with no container daemon:

- :class:`ImageStore` loads ``docker save`` / ``podman save`` archives and OCI archives
  (verifying every blob), names images as Docker does, lists and deletes them, pulls with
  skopeo when it is installed, and unpacks an image's layers once per digest
  (:mod:`._layers`: whiteouts, opaque directories, hardlinks, no escape from the root).
- :func:`run_plan` decides the command, environment, working directory and user of a
  transform from the spec and the image's :class:`ImageConfig`, as Pachyderm does.

Pure modules: ``_reference`` (names), ``_archive`` (archive tables), ``_config`` (configs,
run plans). I/O: ``_layers`` (writes a root), ``_store``, ``_pull`` (skopeo), ``_build``
(:func:`write_docker_archive`: a one-layer image from files, for the demo and the tests).
"""

from __future__ import annotations

from pachstream.images._build import write_docker_archive
from pachstream.images._config import DEFAULT_PATH, ImageConfig, RunPlan, run_plan
from pachstream.images._layers import read_in_root, resolve_in_root
from pachstream.images._reference import Reference, normalize, parse_reference
from pachstream.images._store import Deleted, Image, ImageStore

__all__ = [
    "DEFAULT_PATH",
    "Deleted",
    "Image",
    "ImageConfig",
    "ImageStore",
    "Reference",
    "RunPlan",
    "normalize",
    "parse_reference",
    "read_in_root",
    "resolve_in_root",
    "run_plan",
    "write_docker_archive",
]
