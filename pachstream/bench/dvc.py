"""DVC beside ``bench incremental``: the same files through a DVC stage, timed the same way.

DVC has no datums: a stage reruns whole when any of its dependencies changed. The stage here
copies every file of ``in/`` into ``out/`` with a shell loop (one ``cp`` per file, in one
shell: fewer processes per file than a pachstream datum's ``sh -c cp``), and ``dvc repro``
is timed from its start to its end, hashing and caching included: once on the new files,
once after the same files changed as in the pachstream rerun. DVC is not a dependency of
pachstream: the bench uses a ``dvc`` it finds (``pip install dvc`` in any environment).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

STAGE = """\
stages:
  copy:
    cmd: mkdir -p out && for f in in/*; do cp "$f" out/; done
    deps: [in]
    outs: [out]
"""
"""The DVC pipeline: one stage, the loop DVC users write for a per-file step."""


@dataclass(frozen=True)
class DvcTimes:
    """Seconds of ``dvc repro``: on new files, and after some changed."""

    full: float
    rerun: float
    full_cpu: float
    """CPU seconds of the first repro (DVC and the stage's processes)."""


def find_dvc() -> str | None:
    """The ``dvc`` to compare with: ``PACHSTREAM_BENCH_DVC``, else the one on PATH."""
    return os.environ.get("PACHSTREAM_BENCH_DVC") or shutil.which("dvc")


def dvc_incremental(dvc: str, files: int, changed: list[int], size: int = 50) -> DvcTimes:
    """Time ``dvc repro`` of :data:`STAGE` over ``files`` files of ``size`` random bytes
    (named as the pachstream bench names them), then again after ``changed`` were rewritten.

    Raises:
        AssertionError: a repro did not leave every file in ``out/`` (a wrong run is a
            failed bench, not a fast one).

    """
    with tempfile.TemporaryDirectory(prefix="pachstream-bench-dvc-") as tmp:
        work = Path(tmp)
        (work / "in").mkdir()
        for i in range(files):
            (work / "in" / f"f{i:06d}").write_bytes(os.urandom(size))
        (work / "dvc.yaml").write_text(STAGE)
        _dvc(dvc, work, "init", "--no-scm", "-q")
        full, full_cpu = _repro(dvc, work, files)
        for i in changed:
            (work / "in" / f"f{i:06d}").write_bytes(os.urandom(size))
        rerun, _ = _repro(dvc, work, files)
        return DvcTimes(full, rerun, full_cpu)


def _repro(dvc: str, work: Path, files: int) -> tuple[float, float]:
    """Seconds and CPU seconds of one ``dvc repro`` (its processes, reaped by this one)."""
    cpu, started = _children_cpu_s(), time.perf_counter()
    _dvc(dvc, work, "repro", "-q")
    elapsed, cpu = time.perf_counter() - started, _children_cpu_s() - cpu
    copied = sum(1 for _ in (work / "out").iterdir())
    assert copied == files, f"dvc repro left {copied:,} files in out/, expected {files:,}"
    return elapsed, cpu


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _dvc(dvc: str, work: Path, *args: str) -> None:
    done = subprocess.run(
        [dvc, *args], cwd=work, capture_output=True, text=True, timeout=3600, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed ({done.returncode}): {done.stderr}")
