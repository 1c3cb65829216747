"""``make demo``: start the embedded stack and walk through versioned data with the real CLI.

The data set is real and present on every machine with Python: the documentation of a few
standard-library modules. Three commits: adds, a modification (plus an add), a delete; then
the history, a diff and a file back. Then a two-stage pipeline: ``words`` counts the words of
each document (one datum per file), ``ranking`` ranks the documents by those counts (one datum
of everything); a change to one document reruns one datum of ``words``; lineage; and an upload
through the S3 gateway with aws-cli reruns them again. Last, a pipeline runs in a container
image that the demo builds (busybox's static binary and an /etc/os-release) and loads with
``pachstream image load``: no Docker, and its command sees the image's files, not this
machine's. The stack stays up so the user can go on by hand.
"""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console

from pachstream.service import own_command

console = Console(highlight=False)
MODULES = ["json", "csv", "heapq", "bisect", "textwrap", "zipfile"]

PIPELINES = """\
# Stage 1: one datum per document; each writes its word count.
pipeline: {name: words}
description: words per document
input: {pfs: {repo: docs, glob: "/stdlib/*"}}
transform:
  cmd: [sh, -c, 'for f in /pfs/docs/stdlib/*; do wc -w < "$f" > "/pfs/out/$(basename "$f" .txt)";
    done']
parallelism_spec: {constant: 2}
---
# Stage 2: one datum of all counts; ranks the documents.
pipeline: {name: ranking}
description: documents by word count
input: {pfs: {repo: words, glob: "/"}}
transform:
  cmd: [sh, -c, 'cd /pfs/words && for f in *; do echo "$(cat "$f") $f"; done
    | sort -rn > /pfs/out/ranking.txt']
"""


IMAGE = "demo/busybox-tools:1"
IMAGE_PIPELINE = """\
# Runs in a container image: its /etc/os-release and its busybox, not this machine's.
pipeline: {name: lines}
description: lines per document, counted in an image
input: {pfs: {repo: docs, glob: "/"}}
transform:
  image: demo/busybox-tools:1
  cmd: [sh, -c, 'grep PRETTY_NAME /etc/os-release > /pfs/out/ran-in.txt;
    wc -l /pfs/docs/stdlib/* > /pfs/out/lines.txt']
"""


def _cli(*args: str, check: bool = True, show: bool = True) -> subprocess.CompletedProcess[str]:
    if show:
        console.print(f"\n[bold cyan]$ pachstream {' '.join(args)}[/]")
    proc = subprocess.run(
        own_command("pachstream", *args),
        text=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    if show:
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        sys.stdout.flush()
    if check and proc.returncode != 0:
        console.print(
            f"[red]demo stopped: 'pachstream {' '.join(args)}' exited {proc.returncode}[/]"
        )
        sys.exit(proc.returncode)
    return proc


def _aws(endpoint: str, *args: str) -> None:
    """aws-cli (installed in the venv by the dev extra) against the S3 gateway, unsigned: the
    embedded stack's gateway has no access keys.
    """
    aws = Path(sys.executable).with_name("aws")
    console.print(
        f"\n[bold cyan]$ aws --no-sign-request --endpoint-url {endpoint} {' '.join(args)}[/]"
    )
    proc = subprocess.run(
        [str(aws), "--no-sign-request", "--endpoint-url", endpoint, *args],
        text=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    sys.stdout.flush()
    if proc.returncode != 0:
        console.print(f"[red]demo stopped: 'aws {' '.join(args)}' exited {proc.returncode}[/]")
        sys.exit(proc.returncode)


def _gateway() -> str | None:
    """The S3 gateway's URL from ``pachstream status --json``, when aws-cli is there to use it."""
    import orjson

    if not Path(sys.executable).with_name("aws").exists():
        return None
    status = orjson.loads(_cli("status", "--json", show=False).stdout)
    address = status.get("addresses", {}).get("s3_gateway")
    return f"http://{address}" if address else None


def _image_pipeline() -> None:
    """Build a small image from files, load it, and run a pipeline in it."""
    from pachstream.errors import Unavailable
    from pachstream.images import write_docker_archive
    from pachstream.worker.sandbox import static_shell

    console.rule("[bold]a pipeline in a container image, built and loaded without Docker")
    try:
        busybox = static_shell()
    except Unavailable as exc:
        console.print(f"[yellow]skipped: {exc.message}[/]")
        return
    with tempfile.TemporaryDirectory() as tmp:
        archive = write_docker_archive(
            Path(tmp) / "busybox-tools.tar",
            tags=[IMAGE],
            files={
                "bin/busybox": (busybox.read_bytes(), 0o755),
                "etc/os-release": (b'PRETTY_NAME="busybox-tools, a demo image"\n', 0o644),
            },
            links={"bin/sh": "bin/busybox"},
            config={"Env": ["PATH=/bin"], "WorkingDir": "/"},
        )
        _cli("image", "load", str(archive))
        spec = Path(tmp) / "lines.yaml"
        spec.write_text(IMAGE_PIPELINE, encoding="utf-8")
        console.print(IMAGE_PIPELINE, markup=False)
        _cli("create", "pipeline", "-f", str(spec))
    _cli("wait", "commitset", "docs@master")
    _cli("get", "file", "lines@master:/ran-in.txt")
    _cli("get", "file", "lines@master:/lines.txt")


def _write_docs(folder: Path, modules: list[str]) -> None:
    for name in modules:
        doc = inspect.getdoc(importlib.import_module(name)) or f"{name} has no docstring"
        (folder / f"{name}.txt").write_text(doc + "\n", encoding="utf-8")


def main() -> None:
    """Run the demo end to end."""
    console.rule("[bold]pachstream demo: versioned data on Kafka")
    if _cli("status", check=False, show=False).returncode != 0:
        console.print(
            "Starting the embedded stack (Kafka-protocol broker, S3, PostgreSQL, processors)..."
        )
        _cli("up", "--detach")
    else:
        _cli("status")
    # A rerun starts from a clean repo.
    for name in ("lines", "ranking", "words"):
        _cli("delete", "pipeline", name, check=False, show=False)
    _cli("delete", "repo", "docs", check=False, show=False)
    _cli("create", "repo", "docs", "--description", "documentation of some Python standard modules")

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "stdlib"
        data.mkdir()
        _write_docs(data, MODULES)
        console.print(f"\n[dim]commit 1: adds {len(MODULES)} files[/]")
        _cli("put", "file", "docs@master:/stdlib", "-f", str(data), "-r")

        console.print("\n[dim]commit 2: a modification and an add, in one commit[/]")
        _cli("start", "commit", "docs@master", "--message", "expand bisect, add shutil")
        extra = Path(tmp) / "bisect-note.txt"
        extra.write_text(
            "\nNote: bisect.insort(a, x) keeps a sorted while inserting x.\n", encoding="utf-8"
        )
        _cli("put", "file", "docs@master:/stdlib/bisect.txt", "-f", str(extra), "--append")
        _write_docs(data, ["shutil"])
        _cli("put", "file", "docs@master:/stdlib/shutil.txt", "-f", str(data / "shutil.txt"))
        _cli("finish", "commit", "docs@master")

        console.print("\n[dim]commit 3: a delete[/]")
        _cli("delete", "file", "docs@master:/stdlib/zipfile.txt")

    console.rule("[bold]history")
    _cli("list", "commit", "docs@master")
    console.rule("[bold]what changed since the first commit")
    _cli("diff", "file", "docs@master", "docs@master~2")
    console.rule("[bold]files now")
    _cli("list", "file", "docs@master:/stdlib")
    console.rule("[bold]a file back, and the same file two commits ago")
    _cli("get", "file", "docs@master:/stdlib/bisect.txt")
    _cli("get", "file", "docs@master~2:/stdlib/zipfile.txt")

    console.rule("[bold]a two-stage pipeline: words per document, then a ranking")
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "pipelines.yaml"
        spec.write_text(PIPELINES, encoding="utf-8")
        console.print(PIPELINES, markup=False)
        _cli("create", "pipeline", "-f", str(spec))
    _cli("wait", "commitset", "docs@master")
    _cli("get", "file", "ranking@master:/ranking.txt")
    console.rule("[bold]change one document: exactly one datum of 'words' runs")
    with tempfile.TemporaryDirectory() as tmp:
        more = Path(tmp) / "more.txt"
        more.write_text("heapq also offers merge, nlargest and nsmallest.\n" * 50, encoding="utf-8")
        _cli("put", "file", "docs@master:/stdlib/heapq.txt", "-f", str(more), "--append")
    _cli("wait", "commitset", "docs@master")
    _cli("list", "job", "-p", "words")
    _cli("get", "file", "ranking@master:/ranking.txt")
    console.rule("[bold]lineage: which files, datums and code made the ranking")
    _cli("lineage", "upstream", "ranking@master:/ranking.txt")
    console.rule("[bold]and what the changed document fed")
    _cli("lineage", "downstream", "docs@master:/stdlib/heapq.txt")

    endpoint = _gateway()
    if endpoint is not None:
        console.rule(
            "[bold]the S3 gateway: buckets are branches (BRANCH.REPO); an upload runs the pipelines"
        )
        with tempfile.TemporaryDirectory() as tmp:
            _write_docs(Path(tmp), ["string"])
            src = str(Path(tmp) / "string.txt")
            _aws(endpoint, "s3", "cp", "--no-progress", src, "s3://master.docs/stdlib/string.txt")
        _cli("wait", "commitset", "docs@master")
        _aws(endpoint, "s3", "ls", "s3://master.words/")
        _aws(endpoint, "s3", "cp", "s3://master.ranking/ranking.txt", "-")

    _image_pipeline()

    console.rule("[bold]go on by hand")
    console.print(
        "The stack is still running. Try, with the venv active (source .venv/bin/activate):\n"
        "  pachstream list repo\n"
        "  pachstream list pipeline; pachstream list job\n"
        "  pachstream logs -p words\n"
        "  pachstream list image; pachstream inspect pipeline lines\n"
        "  pachstream lineage commit ranking@master\n"
        "  pachstream inspect commit docs@master^\n"
        "  pachstream glob file 'docs@master:/stdlib/*.txt'\n"
        "  echo hello | pachstream put file docs@master:/hello.txt -f -\n"
        "  pachstream status --json        # addresses for psql, kcat and aws-cli\n"
        "  aws --no-sign-request --endpoint-url http://$(pachstream status --json |\n"
        "      jq -r .addresses.s3_gateway) s3 ls   # the S3 gateway\n"
        "  pachstream down                 # stop everything\n"
    )


if __name__ == "__main__":
    main()
