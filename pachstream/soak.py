"""A soak on Apache Kafka: the demo's pipelines under a steady ingest while the broker restarts.

``python -m pachstream.soak --seconds 600`` (issue 14): Apache Kafka from the test jars
(:mod:`pachstream.testing.kafka`), a ``pachstream up`` stack pointed at it (PostgreSQL and
S3 embedded), the demo's ``words`` → ``ranking`` pipelines, and one put per ``--interval``
into ``docs``. A third of the way in the broker is stopped with SIGTERM and started again; two
thirds in it is killed with SIGKILL and started again. Then the puts stop, the last commit's
set is awaited, and the invariants are checked:

- nothing acknowledged is lost: every put that returned a commit id is in ``docs@master`` with
  its content, and ``words@master`` holds a count for it;
- no duplicate output commit: no commit set has two commits in one output repo, and no
  pipeline has two successful jobs for one set;
- every processor resumed: the stack's components are healthy, and the puts after each
  restart reached both pipelines.

It prints the figures and exits 0 only when every invariant held.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pachstream.client import Client
from pachstream.demo import PIPELINES
from pachstream.errors import PachstreamError
from pachstream.settings import Settings


@dataclass
class Soak:
    """What one soak saw."""

    acknowledged: dict[str, bytes] = field(default_factory=dict)
    """Path → content of every put that returned a commit id."""
    refused: int = 0
    """Puts that raised (the broker was away): not acknowledged, so not promised."""
    slowest_put_s: float = 0.0
    restarts: list[tuple[str, float]] = field(default_factory=list)
    """(signal, seconds the broker was down)."""
    problems: list[str] = field(default_factory=list)


async def _drive(client: Client, soak: Soak, seconds: float, interval: float, kafka: object) -> str:
    """Put one document per ``interval`` for ``seconds``; the last commit id.

    The broker restarts a third and two thirds of the way, in a thread: the puts go on.
    """
    from pachstream.testing.kafka import ApacheKafka

    assert isinstance(kafka, ApacheKafka)
    began = time.monotonic()
    plan = [(seconds / 3, signal.SIGTERM), (2 * seconds / 3, signal.SIGKILL)]
    restarting: asyncio.Future[float] | None = None
    last = ""
    n = 0
    while time.monotonic() - began < seconds or restarting is not None:
        now = time.monotonic() - began
        if restarting is None and plan and now >= plan[0][0]:
            _, sig = plan.pop(0)
            print(
                f"  {now:6.1f} s: broker {signal.Signals(sig).name}, then start again", flush=True
            )
            restarting = asyncio.ensure_future(asyncio.to_thread(kafka.restart, sig))
            restarting_sig = signal.Signals(sig).name
        if restarting is not None and restarting.done():
            soak.restarts.append((restarting_sig, restarting.result()))
            print(f"  {time.monotonic() - began:6.1f} s: broker back after "
                  f"{soak.restarts[-1][1]:.1f} s", flush=True)  # fmt: skip
            restarting = None
        path = f"/stdlib/d{n:05d}.txt"
        data = (f"document {n} " + "word " * (n % 50)).encode()
        n += 1
        t0 = time.monotonic()
        try:
            last = await client.put_file("docs@master", path, data)
            soak.acknowledged[path] = data
        except PachstreamError:
            soak.refused += 1
        soak.slowest_put_s = max(soak.slowest_put_s, time.monotonic() - t0)
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - t0)))
    return last


async def _check(client: Client, soak: Soak, last: str, home: Path) -> None:
    from pachstream.stack import status

    jobs = await client.wait_commitset_id(last, timeout_s=900)
    if sorted((j.pipeline, j.state) for j in jobs) != [
        ("ranking", "success"),
        ("words", "success"),
    ]:
        soak.problems.append(f"the last commit's set ended {[(j.pipeline, j.state) for j in jobs]}")
    have = {f.path for f in await client.list_file("docs@master", "/stdlib")}
    lost = sorted(set(soak.acknowledged) - have)
    if lost:
        soak.problems.append(f"{len(lost)} acknowledged puts lost, e.g. {lost[:3]}")
    for path in list(soak.acknowledged)[:: max(1, len(soak.acknowledged) // 50)]:
        if await client.get_file("docs@master", path) != soak.acknowledged[path]:
            soak.problems.append(f"{path} does not hold what was put")
    counted = {f.path.rsplit("/", 1)[-1] for f in await client.list_file("words@master", "/")}
    uncounted = sorted(p for p in soak.acknowledged if Path(p).stem not in counted)
    if uncounted:
        soak.problems.append(f"{len(uncounted)} acknowledged documents have no word count")
    for pipeline in ("words", "ranking"):
        wins = Counter(j.commitset for j in await client.list_job(pipeline) if j.state == "success")
        twice = [s for s, k in wins.items() if k > 1]
        if twice:
            soak.problems.append(f"{pipeline}: {len(twice)} sets with two successful jobs")
    for cs in await client.list_commitset(limit=100_000):
        repos = Counter(c.repo for c in cs.commits)
        if any(k > 1 for k in repos.values()):
            soak.problems.append(f"commit set {cs.id} has two commits in one repo: {dict(repos)}")
    st = status(home) or {"components": []}
    sick = [c["name"] for c in st["components"] if not c["healthy"]]
    if sick:
        soak.problems.append(f"components not healthy at the end: {sick}")


async def _soak(
    settings: Settings, seconds: float, interval: float, kafka: object, home: Path
) -> Soak:
    soak = Soak()
    client = await Client.connect(settings, timeout_s=300)
    try:
        await client.create_repo("docs")
        await client.create_pipeline(PIPELINES)
        last = await _drive(client, soak, seconds, interval, kafka)
        await _check(client, soak, last, home)
        jobs = {p: len(await client.list_job(p)) for p in ("words", "ranking")}
        print(f"  jobs: {jobs}", flush=True)
    finally:
        await client.close()
    return soak


def main(argv: list[str] | None = None) -> int:
    """Run the soak; 0 when every invariant held."""
    from pachstream.errors import KafkaUnavailable
    from pachstream.stack import detach, down
    from pachstream.testing.kafka import ApacheKafka

    ap = argparse.ArgumentParser(
        prog="python -m pachstream.soak", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--seconds", type=float, default=600, help="how long puts go on")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between puts")
    args = ap.parse_args(argv)
    # The client's producer retries through each outage and logs every refused connection.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    folder = Path(tempfile.mkdtemp(prefix="pachstream-soak-"))
    kafka = ApacheKafka(folder / "kafka")
    home = folder / "stack"
    try:
        try:
            kafka.start()
        except KafkaUnavailable as exc:
            print(f"soak skipped: {exc}", file=sys.stderr)
            return 2
        print(f"Apache Kafka at {kafka.bootstrap}, ready in {kafka.started_in_s:.1f} s", flush=True)
        env = {"PACHSTREAM_KAFKA_BOOTSTRAP": kafka.bootstrap, "PACHSTREAM_NAMESPACE": "soak"}
        detach(home, 15, lambda m: print(f"  {m}", flush=True), env=env)
        try:
            settings = Settings.from_env({**env, "PACHSTREAM_HOME": str(home)})
            began = time.monotonic()
            soak = asyncio.run(_soak(settings, args.seconds, args.interval, kafka, home))
            took = time.monotonic() - began
        finally:
            down(home, 15, lambda m: None)
    finally:
        kafka.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print(
        f"soak: {took:.0f} s; puts acknowledged {len(soak.acknowledged)}, refused while the "
        f"broker was away {soak.refused}, slowest put {soak.slowest_put_s:.1f} s; broker "
        + ", ".join(f"{s} down {d:.1f} s" for s, d in soak.restarts)
    )
    for problem in soak.problems:
        print(f"FAILED: {problem}")
    print(
        "every invariant held" if not soak.problems else f"{len(soak.problems)} invariant(s) broken"
    )
    return 0 if not soak.problems else 1


if __name__ == "__main__":
    sys.exit(main())
