"""A pytest plugin for the suite's own pytest (``-p s3compat.plugin``): selection, bucket
names and a result file. It runs in the suite's venv, so it imports nothing from pachstream.

Environment (the harness sets it):

- ``S3COMPAT_REPORT``: file to write, one JSON object per test, as each test ends.
- ``S3COMPAT_AREAS``: comma-separated areas to run (see :mod:`s3compat.areas`); empty: all.
- ``S3COMPAT_BRANCH``: the run's branch stem, e.g. ``s3tk3j9x0a``.

Bucket names. The suite names a bucket ``PREFIX + N`` (``get_new_bucket_name``: a counter
after the prefix from ``[fixtures] bucket prefix``) and, around every test, its autouse
fixture deletes every bucket whose name contains the prefix (ListObjectVersions,
DeleteObjects, DeleteBucket). The gateway's buckets are ``BRANCH.REPO`` and a branch is
never deleted over S3 (``pachstream delete branch`` does that), so the suite's clean-up would
fail before every test. Instead this plugin gives each test a prefix of its own,
``STEM-NNNN.b`` (NNNN counts tests), so the test's buckets are ``STEM-NNNN.b1``,
``STEM-NNNN.b2``…: branch ``STEM-NNNN`` of repos ``b1``, ``b2``…. A test sees no bucket of
an earlier test under its prefix, which is what the clean-up was for, and the repos stay few
(one per bucket a single test makes). The suite's own code is not changed: the plugin
replaces the package-level ``setup``/``teardown`` functions its fixture calls, and a test
that deletes a bucket itself still sends DeleteBucket.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from typing import Any

import pytest

from s3compat.areas import area_of

_rows: dict[str, dict[str, Any]] = {}
_areas: dict[str, tuple[str, list[str]]] = {}


def _selected() -> frozenset[str]:
    raw = os.environ.get("S3COMPAT_AREAS", "")
    return frozenset(a.strip() for a in raw.split(",") if a.strip())


def _adapt_fixture() -> None:
    pkg = sys.modules.get("s3tests.functional") or sys.modules.get("s3tests_boto3.functional")
    if pkg is None:
        raise pytest.UsageError("s3compat: the suite's package s3tests.functional was not loaded")
    stem = os.environ.get("S3COMPAT_BRANCH", "s3t")
    counter = itertools.count(1)

    def setup() -> None:
        pkg.prefix = f"{stem}-{next(counter):04d}.b"  # type: ignore[attr-defined]
        pkg.bucket_counter = itertools.count(1)  # type: ignore[attr-defined]

    def teardown() -> None:
        # The buckets stay as branches; the next test has another prefix.
        return None

    pkg.setup = setup  # type: ignore[attr-defined]
    pkg.teardown = teardown  # type: ignore[attr-defined]


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Keep the tests of the selected areas and note every test's area."""
    wanted = _selected()
    keep, drop = [], []
    for item in items:
        module = getattr(item, "module", None)
        module_name = module.__name__.rpartition(".")[2] if module else ""
        marks = sorted({m.name for m in item.iter_markers()})
        area = area_of(item.name, marks, module_name)
        _areas[item.nodeid] = (area, marks)
        (keep if not wanted or area in wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    _adapt_fixture()


def _message(report: pytest.TestReport) -> tuple[str, str]:
    """The exception's first line, and the suite's own frames (not botocore's) of the trace."""
    crash = getattr(report.longrepr, "reprcrash", None)
    head = crash.message if crash is not None else str(report.longrepr)
    entries = getattr(getattr(report.longrepr, "reprtraceback", None), "reprentries", [])
    own = [
        "\n".join(getattr(e, "lines", []))
        for e in entries
        if "site-packages" not in str(getattr(getattr(e, "reprfileloc", None), "path", ""))
    ]
    text = "\n---\n".join(own) if own else report.longreprtext
    return head.strip()[:600], text[-3000:]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Fold the setup/call/teardown reports of a test into one row; write it at teardown."""
    row = _rows.setdefault(
        report.nodeid,
        {
            "nodeid": report.nodeid,
            "name": report.nodeid.rpartition("::")[2],
            "module": report.nodeid.partition("::")[0].rpartition("/")[2].removesuffix(".py"),
            "area": _areas.get(report.nodeid, ("objects", []))[0],
            "markers": _areas.get(report.nodeid, ("objects", []))[1],
            "outcome": "passed",
            "phase": "",
            "message": "",
            "detail": "",
            "duration_s": 0.0,
        },
    )
    row["duration_s"] = round(row["duration_s"] + report.duration, 3)
    if report.skipped and row["outcome"] == "passed":
        row["outcome"], row["phase"] = "skipped", report.when
        row["message"] = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else "")
    elif report.failed and row["outcome"] in ("passed", "skipped"):
        row["outcome"] = "failed" if report.when == "call" else "error"
        row["phase"] = report.when
        row["message"], row["detail"] = _message(report)
    if report.when == "teardown":
        path = os.environ.get("S3COMPAT_REPORT")
        if path:
            row["ended"] = time.time()
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps(row) + "\n")
        del _rows[report.nodeid]
