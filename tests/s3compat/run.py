"""Run Ceph's s3-tests against the S3 gateway on an embedded stack; print the per-area table.

    PACHSTREAM_S3TESTS_DIR=/tmp/s3-tests .venv/bin/python tests/s3compat/run.py [--areas core]

Starts SeaweedFS, Tansu and PostgreSQL on free ports
(``pachstream.testing.embedded.EmbeddedServers``, which stops each by its PID on exit), the
processors of a fresh namespace and a gateway, then
the suite's pytest in its own venv (``PACHSTREAM_S3TESTS_VENV``, default /tmp/s3tests-venv,
made on first use from the suite's requirements.txt: needs PyPI). Writes results.json,
summary.txt, results.jsonl, pytest.log and gateway.log into ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from s3compat.areas import AREAS, CORE_AREAS, format_table  # noqa: E402
from s3compat.harness import ensure_venv, run_compat  # noqa: E402

DEFAULT_VENV = Path("/tmp/s3tests-venv")


def _areas(text: str) -> list[str]:
    out: list[str] = []
    for word in (w.strip() for w in text.split(",") if w.strip()):
        if word == "all":
            return []
        if word == "core":
            out += sorted(CORE_AREAS)
        elif word in AREAS:
            out.append(word)
        else:
            raise argparse.ArgumentTypeError(
                f"area {word!r} is unknown; use core, all or some of: {', '.join(AREAS)}"
            )
    return out


async def _main(args: argparse.Namespace) -> int:
    from pachstream.testing.embedded import EmbeddedServers

    suite = Path(args.suite).resolve()
    python = ensure_venv(Path(args.venv), suite)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / "gateway.log", mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    with EmbeddedServers(kafka_storage="memory") as servers:
        settings = servers.settings.with_namespace("s3c" + uuid.uuid4().hex[:8])
        run = await run_compat(
            settings, suite, python=python, out=out, areas=args.areas, tests=args.tests,
            timeout_per_test_s=args.timeout,
        )  # fmt: skip
    print(format_table(run.summary))
    print(f"\n{len(run.rows)} tests; results in {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--suite",
        default=os.environ.get("PACHSTREAM_S3TESTS_DIR"),
        help="s3-tests checkout (default: $PACHSTREAM_S3TESTS_DIR)",
    )
    parser.add_argument(
        "--venv",
        default=os.environ.get("PACHSTREAM_S3TESTS_VENV", str(DEFAULT_VENV)),
        help="the suite's venv, made if missing (default: $PACHSTREAM_S3TESTS_VENV or %(default)s)",
    )
    parser.add_argument(
        "--areas", type=_areas, default=[], help="'core', 'all' (default) or a comma list of areas"
    )
    parser.add_argument(
        "--out", default="s3compat-out", help="output folder (default: %(default)s)"
    )
    parser.add_argument("--timeout", type=int, default=120, help="seconds per test")
    parser.add_argument("tests", nargs="*", help="node ids (path::name) or -k words to narrow")
    args = parser.parse_args(argv)
    if not args.suite or not Path(args.suite).is_dir():
        parser.error("give --suite or set PACHSTREAM_S3TESTS_DIR to a checkout of ceph/s3-tests")
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
