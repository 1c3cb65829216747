"""Run Ceph's s3-tests against an S3 gateway on a namespace of the given servers.

:func:`run_compat` starts the namespace's processors and a gateway (in this process, on a
free port, signed with one key pair), writes the suite's config, runs the suite's pytest in
its own venv as a child process (killed by its PID if this is cancelled or times out) and
returns the per-test rows and per-area counts. :func:`ensure_venv` makes that venv once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import string
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pachstream.gateway import S3Gateway
from pachstream.settings import Settings
from pachstream.testing.services import RunningStack
from s3compat.areas import AreaCounts, format_table, summarize

__all__ = ["AK", "SK", "Run", "ensure_venv", "run_compat", "suite_files"]

AK, SK = "s3compat", "s3compat-secret-key-0123456789"
"""The one key pair: the gateway's, and every user of the suite's config (main, alt, tenant,
iam). Tests that need a second identity fail; RESULTS.md counts them as model differences."""

HERE = Path(__file__).resolve().parent
EXTRA_PACKAGES = ("pytest-timeout",)
"""Besides the suite's requirements.txt: a per-test timeout, so one hung request does not
hang the run."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """What one run of the suite gave."""

    rows: list[dict[str, Any]]
    """One per test: nodeid, name, module, area, outcome, phase, message, detail, duration_s."""
    summary: dict[str, AreaCounts]
    """Outcome counts per area."""
    exit_code: int
    """The suite's pytest exit code (1 when a test failed: not an error of the harness)."""
    out: Path
    """Folder with results.json, summary.txt, results.jsonl, pytest.log and s3tests.conf."""

    def passed(self, areas: Iterable[str] | None = None) -> int:
        """Tests passed, over ``areas`` (default all)."""
        wanted = None if areas is None else set(areas)
        return sum(
            c.counts["passed"] for a, c in self.summary.items() if wanted is None or a in wanted
        )


def suite_files(suite: Path) -> list[Path]:
    """The suite's boto3 functional test files: the current layout, else the older one."""
    for package in ("s3tests/functional", "s3tests_boto3/functional"):
        found = [suite / package / n for n in ("test_s3.py", "test_headers.py")]
        if found[0].is_file():
            return [f for f in found if f.is_file()]
    raise FileNotFoundError(
        f"{suite} holds no s3tests/functional/test_s3.py (nor s3tests_boto3/...): "
        "point PACHSTREAM_S3TESTS_DIR at a checkout of github ceph/s3-tests"
    )


def ensure_venv(venv: Path, suite: Path, log: Callable[[str], None] = print) -> Path:
    """The venv's python, after installing the suite's requirements into it if it is new."""
    python = venv / "bin" / "python"
    marker = venv / ".s3compat-installed"
    if marker.is_file():
        return python
    log(f"s3compat: installing the suite's requirements into {venv} (once)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(suite / "requirements.txt"), *EXTRA_PACKAGES], check=True)
    marker.write_text("ok\n")
    return python


def _config(port: int) -> str:
    user = textwrap.dedent(
        f"""\
        display_name = s3compat
        user_id = s3compat
        email = s3compat@example.com
        access_key = {AK}
        secret_key = {SK}
        """
    )
    # The bucket prefix is BRANCH.REPO-shaped by itself (branch 's3t...', repos 'b1', 'b2'…);
    # the plugin then gives each test a prefix of its own (see plugin.py).
    return (
        f"[DEFAULT]\nhost = 127.0.0.1\nport = {port}\nis_secure = False\nssl_verify = False\n\n"
        "[fixtures]\nbucket prefix = s3t{random}.b\n\n"
        f"[s3 main]\n{user}api_name = default\n\n"
        f"[s3 alt]\n{user}\n"
        f"[s3 tenant]\n{user}tenant = testx\n\n"
        f"[iam]\n{user}\n[iam root]\n{user}\n[iam alt root]\n{user}"
    )


def _stem() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "s3t" + "".join(secrets.choice(alphabet) for _ in range(7))


async def run_compat(
    settings: Settings,
    suite: Path,
    *,
    python: Path,
    out: Path,
    areas: Iterable[str] = (),
    tests: Iterable[str] = (),
    timeout_per_test_s: int = 120,
    timeout_s: float = 3 * 3600,
    log: Callable[[str], None] = print,
) -> Run:
    """Run the suite against a fresh gateway on ``settings``' namespace.

    Args:
        settings: Servers and namespace; the namespace should be unused.
        suite: An s3-tests checkout.
        python: The suite venv's python (:func:`ensure_venv`).
        out: Folder for the config, the log and the results.
        areas: Areas to run (:data:`s3compat.areas.AREAS`); empty: all.
        tests: pytest node ids or ``-k`` expressions to narrow further (``-k`` when it has
            no ``::``).
        timeout_per_test_s: pytest-timeout per test.
        timeout_s: The whole run; past it the suite's pytest is killed.
        log: Where progress lines go.

    """
    files = suite_files(suite)
    out.mkdir(parents=True, exist_ok=True)
    report = out / "results.jsonl"
    report.unlink(missing_ok=True)
    settings = dataclasses.replace(settings, gateway_keys=((AK, SK),))
    async with RunningStack(settings, pipelines=False):
        gateway = S3Gateway(settings, port=0)
        await gateway.start()
        try:
            conf = out / "s3tests.conf"
            conf.write_text(_config(gateway.port))
            log(f"s3compat: gateway {gateway.endpoint}, namespace {settings.namespace}")
            exit_code = await _pytest(
                python, suite, files, conf, report, out, list(areas), list(tests),
                timeout_per_test_s, timeout_s, log,
            )  # fmt: skip
        finally:
            await gateway.stop()
    rows = _read_rows(report)
    run = Run(rows=rows, summary=summarize(rows), exit_code=exit_code, out=out)
    _write(run, suite, list(areas))
    return run


async def _pytest(
    python: Path,
    suite: Path,
    files: list[Path],
    conf: Path,
    report: Path,
    out: Path,
    areas: list[str],
    tests: list[str],
    timeout_per_test_s: int,
    timeout_s: float,
    log: Callable[[str], None],
) -> int:
    home = out / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONPATH": str(HERE.parent),
        "PYTHONDONTWRITEBYTECODE": "1",  # the checkout stays as it was
        "S3TEST_CONF": str(conf),
        "S3COMPAT_REPORT": str(report),
        "S3COMPAT_AREAS": ",".join(areas),
        "S3COMPAT_BRANCH": _stem(),
        "AWS_CONFIG_FILE": str(home / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    selection = [str(f) for f in files]
    keywords = [t for t in tests if "::" not in t]
    nodes = [t for t in tests if "::" in t]
    if nodes:
        selection = [str(suite / n) for n in nodes]
    args = [
        str(python), "-m", "pytest", "-p", "s3compat.plugin", "-p", "no:cacheprovider",
        "-c", str(suite / "pytest.ini"), "--rootdir", str(suite), "-o", "addopts=",
        "-q", "-rN", f"--timeout={timeout_per_test_s}", *selection,
    ]  # fmt: skip
    if keywords:
        args += ["-k", " or ".join(keywords)]
    log(f"s3compat: running the suite's pytest (log: {out / 'pytest.log'})")
    started = time.monotonic()
    with (out / "pytest.log").open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            *args, cwd=suite, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
        try:
            code = await asyncio.wait_for(proc.wait(), timeout=timeout_s)
        finally:
            if proc.returncode is None:
                proc.kill()  # our own child, by its PID
                await proc.wait()
    log(f"s3compat: the suite ended with exit code {code} after {time.monotonic() - started:.0f}s")
    if code not in (0, 1):
        tail = (out / "pytest.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"the suite's pytest failed to run (exit code {code}):\n{tail}")
    return code


def _read_rows(report: Path) -> list[dict[str, Any]]:
    if not report.is_file():
        return []
    return [json.loads(line) for line in report.read_text().splitlines() if line.strip()]


def _suite_commit(suite: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(suite), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    return (
        done.stdout.strip()
        if done.returncode == 0
        else os.environ.get("PACHSTREAM_S3TESTS_COMMIT", "unknown")
    )


def _write(run: Run, suite: Path, areas: list[str]) -> None:
    table = format_table(run.summary)
    (run.out / "summary.txt").write_text(table + "\n")
    doc = {
        "suite": str(suite),
        "suite_commit": _suite_commit(suite),
        "areas": areas or "all",
        "exit_code": run.exit_code,
        "summary": {a: c.counts for a, c in run.summary.items()},
        "tests": run.rows,
    }
    (run.out / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
