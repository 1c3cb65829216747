"""Pulling an image from a registry with skopeo, the one daemonless puller we call.

No Docker daemon and no registry client of our own: ``skopeo copy docker://REF
oci-archive:FILE`` writes an archive the store then loads like any other. Without skopeo on
PATH there is no pulling at all, and an image not in the store is an
:class:`~pachstream.errors.ImageNotFound` (never the host's filesystem instead).
"""

from __future__ import annotations

import platform
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from pachstream.errors import ImageNotFound

Puller = Callable[[str, Path], None]
"""Writes the OCI archive of an image reference to a path, or raises ImageNotFound."""

PULL_TIMEOUT_S = 1800.0
"""Longest a pull may take (a large image over a slow link)."""

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def host_arch() -> str:
    """This machine's architecture as images name it (``amd64``, ``arm64``...)."""
    machine = platform.machine().lower()
    return _ARCH.get(machine, machine)


def how_to_provide(image: str) -> str:
    """The two ways to make ``image`` available, for error messages. Pure."""
    return (
        f"load it with 'pachstream image load FILE' (FILE from 'docker save {image} -o FILE', "
        "'podman save' or 'skopeo copy docker://IMAGE oci-archive:FILE' on a machine that "
        "has it), or install skopeo ('apt-get install skopeo') and make its registry reachable"
    )


def skopeo_puller() -> Puller | None:
    """The skopeo puller when ``skopeo`` is on PATH, else None."""
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        return None

    def pull(ref: str, dest: Path) -> None:
        try:
            done = subprocess.run(
                [skopeo, "copy", "--quiet", f"docker://{ref}", f"oci-archive:{dest}"],
                capture_output=True,
                text=True,
                timeout=PULL_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ImageNotFound(
                f"image {ref!r}: skopeo did not finish pulling it within {PULL_TIMEOUT_S:.0f} s; "
                + how_to_provide(ref),
                image=ref,
            ) from exc
        if done.returncode != 0:
            said = " ".join(done.stderr.split())[-500:] or f"exit status {done.returncode}"
            raise ImageNotFound(
                f"image {ref!r} is not in the image store and skopeo could not pull it "
                f"({said}); " + how_to_provide(ref),
                image=ref,
            )

    return pull
