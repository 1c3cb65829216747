"""flush's question to Postgres, `queries.ended_job_reading`: the first ended job of a pipeline
that read a commit or a later one of its branch, against a table of jobs and commits."""

from __future__ import annotations

import orjson

from pachstream.lineage import queries
from pachstream.lineage._schema import MIGRATIONS
from pachstream.pg import connect_pool, migrate

COMMITS = [
    # (id, branch, started)
    ("c1", "master", 1.0),
    ("c2", "master", 2.0),
    ("c3", "master", 3.0),
    ("c4", "master", 4.0),
    ("d1", "dev", 3.5),
]
JOBS = [
    # (id, pipeline, state, started (None: its end overtook its start), input commits of repo r)
    ("j2", "p", "success", 20.0, ["c2"]),
    ("j2q", "q", "failure", 21.0, ["c2"]),
    ("j3", "p", "running", 30.0, ["c3"]),
    ("jd", "p", "success", 35.0, ["d1"]),
    ("j4", "p", "killed", 40.0, ["c4"]),
    ("j4b", "p", "success", None, ["c4"]),  # not started as far as the tables know
    ("jo", "p", "success", 10.0, []),  # read repo s only
]
CASES = [
    # (pipeline, commit, the job flush gets)
    ("p", "c1", "j2"),  # c1 itself was never read: the first ended job of a later commit
    ("p", "c2", "j2"),
    ("p", "c3", "j4"),  # j3 still runs; jd read another branch
    ("p", "c4", "j4"),
    ("p", "d1", "jd"),
    ("q", "c2", "j2q"),
    ("q", "c3", None),
    ("p", "unknown", None),
]


async def test_ended_job_reading_table(settings) -> None:
    _, pg, _ = settings.require()
    pool = await connect_pool(pg, settings.namespace)
    try:
        await migrate(pool, "lineage", MIGRATIONS)
        await pool.executemany(
            "INSERT INTO commits (id, repo, branch, started, request_id) "
            "VALUES ($1, 'r', $2, $3, '')",
            COMMITS,
        )
        for job_id, pipeline, state, started, read in JOBS:
            inputs = [{"name": "in", "repo": "r", "branch": "master", "commit": c} for c in read]
            inputs.append({"name": "other", "repo": "s", "branch": "master", "commit": "s1"})
            await pool.execute(
                "INSERT INTO jobs (id, pipeline, version, inputs, state, started, skipped) "
                "VALUES ($1, $2, 1, $3::jsonb, $4, $5, 0)",
                job_id,
                pipeline,
                orjson.dumps(inputs).decode(),
                state,
                started,
            )
        got = {
            (p, c): getattr(await queries.ended_job_reading(pool, p, "r", c), "id", None)
            for p, c, _ in CASES
        }
        assert got == {(p, c): want for p, c, want in CASES}
        # Every job read s1 of repo s; none read c2 there: an input of repo r does not count.
        assert (await queries.ended_job_reading(pool, "p", "s", "s1")).id == "jo"
        assert await queries.ended_job_reading(pool, "p", "s", "c2") is None
    finally:
        await pool.close()
