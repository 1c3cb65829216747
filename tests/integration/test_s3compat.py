"""Ceph's S3 compatibility suite (github ceph/s3-tests), core areas, against the S3 gateway.

Runs only where ``PACHSTREAM_S3TESTS_DIR`` names a checkout of the suite (CI has none: it
skips). The suite runs in its own venv (``PACHSTREAM_S3TESTS_VENV``, default
/tmp/s3tests-venv, made from the suite's requirements.txt on first use). The pass count of
the core areas must not fall below tests/s3compat/baseline.json; raise the baseline when
the gateway passes more. See tests/s3compat/README.md.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

SUITE = Path(os.environ.get("PACHSTREAM_S3TESTS_DIR", "/nonexistent"))
if (
    not (SUITE / "s3tests" / "functional").is_dir()
    and not (SUITE / "s3tests_boto3" / "functional").is_dir()
):
    pytest.skip(
        "PACHSTREAM_S3TESTS_DIR does not name a ceph/s3-tests checkout: S3 compatibility suite "
        "not run",
        allow_module_level=True,
    )

from s3compat.areas import CORE_AREAS, format_table  # noqa: E402
from s3compat.harness import ensure_venv, run_compat  # noqa: E402

BASELINE = json.loads((Path(__file__).parents[1] / "s3compat" / "baseline.json").read_text())
VENV = Path(os.environ.get("PACHSTREAM_S3TESTS_VENV", "/tmp/s3tests-venv"))


@pytest.mark.slow
@pytest.mark.timeout(3600)
async def test_core_areas_pass_at_least_the_baseline(settings, tmp_path: Path):
    python = await asyncio.to_thread(ensure_venv, VENV, SUITE)
    run = await run_compat(
        settings, SUITE, python=python, out=tmp_path / "s3compat", areas=sorted(CORE_AREAS)
    )
    passed = {r["name"] for r in run.rows if r["outcome"] == "passed"}
    lost = sorted(set(BASELINE["core_passing"]) - passed)
    assert run.passed(CORE_AREAS) >= BASELINE["core_passed"], (
        f"{run.passed(CORE_AREAS)} core tests passed, the baseline is {BASELINE['core_passed']}"
        f"\n{format_table(run.summary)}\nno longer passing: {', '.join(lost) or 'none'}"
        f"\n(results: {run.out / 'results.json'})"
    )
