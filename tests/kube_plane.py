"""The test Kubernetes control plane as the kube test modules share it: started once per
module and skipped with one line where it cannot run here, and the check that a new
namespace is ready for pods (its default ServiceAccount exists), and the wait for objects to
settle."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from pachstream.errors import KubeUnavailable
from pachstream.testing.kube import KubeControlPlane
from pachstream.testing.waits import eventually

settled = functools.partial(eventually, timeout_s=120, every_s=0.5)
"""Wait for Kubernetes objects to settle (they do in seconds): asked twice a second, for two
minutes at most, ``await settled(check, what)``."""


def plane_or_skip(folder: Path, what: str, **options: Any) -> Iterator[KubeControlPlane]:
    """A started control plane in ``folder`` (``options`` go to :class:`KubeControlPlane`),
    stopped afterwards; the tests of ``what`` are skipped, saying why, when it cannot start."""
    plane = KubeControlPlane(folder, build=False, **options)
    try:
        plane.start()
    except KubeUnavailable as exc:
        pytest.skip(f"{what} skipped: {exc}")
    try:
        yield plane
    finally:
        plane.stop()


async def has_default_account(core: client.CoreV1Api, ns: str) -> bool:
    """Whether namespace ``ns`` has its default ServiceAccount yet (pods need it)."""
    try:
        await core.read_namespaced_service_account("default", ns)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True
