"""``pachstream bench ...``: print figures and ratios."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Coroutine
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from pachstream.cli._app import bench_app
from pachstream.settings import Settings

# pachstream.bench loads the client and the drivers: imported when a benchmark runs.
if TYPE_CHECKING:
    from pachstream import bench
    from pachstream.client import Client

err = Console(stderr=True)
T = TypeVar("T")


def _lib() -> ModuleType:
    import pachstream.bench

    return pachstream.bench


KAFKA = typer.Option(
    None,
    "--kafka",
    envvar="PACHSTREAM_BENCH_KAFKA",
    metavar="BOOTSTRAP",
    help="Run on this Apache Kafka (host:port), in a namespace of its own; default: the running "
    "stack's broker, or a throwaway embedded one.",
)


def _say(message: str) -> None:
    """A bench's detail line, on stderr beside its progress."""
    err.print(f"[dim]{message}[/]")


def _report(
    title: str,
    run: Callable[[Settings, Client], Awaitable[list[bench.Figure]]],
    kafka: str | None = None,
) -> None:
    async def main() -> tuple[str, list[bench.Figure]]:
        lib = _lib()
        stack = lib.bench_client(_say, kafka)
        async with stack as (settings, client):
            return lib.broker_label(settings, kafka), await run(settings, client)

    broker, figures = _run(main())
    _print_figures(f"{title} ({broker})", figures)


def _run(bench: Coroutine[Any, Any, T]) -> T:
    """Run ``bench``; SIGTERM (``timeout``, a CI's limit) cancels it like Ctrl-C, so the
    throwaway stack it started is stopped instead of left running detached.
    """

    async def guarded() -> T:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await bench

    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        err.print("bench: stopped by SIGTERM; its throwaway stack, if any, was stopped")
        raise typer.Exit(143) from None


def _print_figures(title: str, figures: list[bench.Figure]) -> None:
    table = Table(title=title, box=None)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("target")
    for f in figures:
        table.add_row(
            f.name, f"{f.value:,.2f}" if f.value < 100 else f"{f.value:,.0f}", f.unit, f.target
        )
    Console().print(table)


@bench_app.command("ingest")
def ingest(
    files: int = typer.Option(100_000, "--files", help="Files in the commit."),
    size: int = typer.Option(100, "--size", help="Bytes per file."),
    kafka: str | None = KAFKA,
) -> None:
    """Files/s into one commit, next to the raw aiokafka produce rate, and their ratio."""
    _report("bench ingest", lambda s, c: _lib().ingest(c, s, files, size, _say), kafka)


@bench_app.command("commit-scale")
def commit_scale(
    small: int = typer.Option(1_000, "--small", help="Files in the small repo."),
    large: int = typer.Option(1_000_000, "--large", help="Files in the large repo."),
    changed: int = typer.Option(10, "--changed", help="Files changed by the timed commit."),
    rounds: int = typer.Option(5, "--rounds", help="Timed commits per repo."),
    kafka: str | None = KAFKA,
) -> None:
    """Time to finish a small commit on a small and a large repo, and their ratio."""
    _report(
        "bench commit-scale",
        lambda s, c: _lib().commit_scale(c, (small, large), changed, rounds),
        kafka,
    )


@bench_app.command("job-start")
def job_start(
    small: int = typer.Option(1_000, "--small", min=2, help="Files of the small input."),
    large: int = typer.Option(1_000_000, "--large", min=2, help="Files of the large input."),
) -> None:
    """Job start to first task after one file changed, on a small and a large input."""
    from pachstream.bench import job_start as bench_job_start

    _report(
        "bench job-start",
        lambda s, c: bench_job_start.job_start(s, (small, large), _say),
    )


@bench_app.command("incremental")
def incremental(
    files: int = typer.Option(10_000, "--files", help="Input files (one datum each)."),
    changed_pct: float = typer.Option(1.0, "--changed-pct", help="Percent of the files changed."),
    dvc: bool = typer.Option(
        True,
        "--dvc/--no-dvc",
        help="Also time DVC over the same files (a 'dvc' from PACHSTREAM_BENCH_DVC or PATH).",
    ),
    kafka: str | None = KAFKA,
) -> None:
    """Full run, then a rerun after a few files changed: time ratio and datums run; beside
    DVC's times when a dvc is found.
    """
    from pachstream.bench.dvc import find_dvc

    program = find_dvc() if dvc else None
    if dvc and program is None:
        err.print(
            "no dvc found (PACHSTREAM_BENCH_DVC or PATH): DVC's times are not measured; "
            "'pip install dvc' in any environment and put it on PATH to compare"
        )
    _report(
        "bench incremental",
        lambda s, c: _lib().incremental(c, s, files, changed_pct, program, _say),
        kafka,
    )


@bench_app.command("datum-overhead")
def datum_overhead(
    datums: int = typer.Option(500, "--datums", help="Datums (and spawns)."),
    image: bool = typer.Option(
        False, "--image", help="Also run the pipeline in a container image (built from busybox)."
    ),
    kafka: str | None = KAFKA,
) -> None:
    """Datums/s of a trivial cp pipeline next to spawning cp in a loop, and their ratio."""

    async def run(settings: Settings, client: Client) -> list[bench.Figure]:
        from pachstream import bench

        ref = bench.load_bench_image(settings) if image else None
        return await bench.datum_overhead(client, settings, datums, ref, _say)

    _report("bench datum-overhead", run, kafka)


@bench_app.command("latency")
def latency(
    puts: int = typer.Option(100, "--puts", help="Timed puts."),
    repos: int = typer.Option(
        0, "--repos", min=0, help="Other repos made first, a commit each (none read by it)."
    ),
    commits: int = typer.Option(
        0, "--commits", min=0, help="Commits made first in another repo (none read by it)."
    ),
    kafka: str | None = KAFKA,
) -> None:
    """Time put file → output commit of a one-stage pipeline: p50 and p95."""
    _report("bench latency", lambda s, c: _lib().latency(c, puts, s, repos, commits), kafka)


@bench_app.command("lineage-write")
def lineage_write(
    datums: int = typer.Option(
        20_000, "--datums", min=1, help="Datum facts (2 inputs, 1 output each)."
    ),
    kafka: str | None = KAFKA,
) -> None:
    """Lineage rows/s materialized from facts, next to raw COPY rows/s, and their ratio."""
    from pachstream.bench import lineage as bench_lineage

    _report(
        "bench lineage-write",
        lambda s, c: bench_lineage.lineage_write(s, datums, _say),
        kafka,
    )


@bench_app.command("lineage-query")
def lineage_query(
    # Fewer than 5 datums leave the last stage empty: no final file to ask about.
    datums: int = typer.Option(
        1_000_000, "--datums", min=5, help="Datums of the three stages (2 : 2 : 1)."
    ),
    queries: int = typer.Option(200, "--queries", min=1, help="Timed upstream queries."),
    kafka: str | None = KAFKA,
) -> None:
    """Upstream of one file on a synthetic three-stage lineage: p50 and p95."""
    from pachstream.bench import lineage as bench_lineage

    _report(
        "bench lineage-query",
        lambda s, c: bench_lineage.lineage_query(s, datums, queries, _say),
        kafka,
    )


@bench_app.command("s3-put")
def s3_put(
    objects: int = typer.Option(10_000, "--objects", min=1, help="Small objects to PUT."),
    size: int = typer.Option(1024, "--size", min=0, help="Bytes per object."),
    concurrency: int = typer.Option(32, "--concurrency", min=1, help="PUTs in flight."),
    kafka: str | None = KAFKA,
) -> None:
    """Objects/s through the S3 gateway next to the same PUTs straight to the object store."""
    from pachstream.bench import s3 as bench_s3

    _report(
        "bench s3-put",
        lambda s, c: bench_s3.s3_put(s, c, objects, size, concurrency, _say),
        kafka,
    )


@bench_app.command("list-rss")
def list_rss(
    files: int = typer.Option(1_000_000, "--files", min=1, help="Files in the listed repo."),
    page: int = typer.Option(1000, "--page", min=1, max=1000, help="Keys per listing page."),
    kafka: str | None = KAFKA,
) -> None:
    """Peak RSS of the S3 gateway and the time while listing a big repo fully (ListObjectsV2)."""
    from pachstream.bench import s3_list

    _report(
        "bench list-rss",
        lambda s, c: s3_list.list_rss(s, c, files, page, _say),
        kafka,
    )


@bench_app.command("soak")
def soak(
    rounds: int = typer.Option(10, "--rounds", min=2, help="Rounds of PUTs."),
    objects: int = typer.Option(2_000, "--objects", min=1, help="PUTs of 1 KiB per round."),
    concurrency: int = typer.Option(32, "--concurrency", min=1, help="PUTs in flight."),
) -> None:
    """Gateway PUTs/s round after round with the broker on S3 storage, and last ÷ first."""
    from pachstream.bench import soak as bench_soak

    async def main() -> list[bench.Figure]:
        async with _lib().bench_client(_say, storage="s3") as (settings, client):
            return await bench_soak.soak(settings, client, rounds, objects, concurrency, _say)

    _print_figures("bench soak (broker on S3 storage)", _run(main()))
