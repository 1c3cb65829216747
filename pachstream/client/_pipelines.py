"""The SDK's pipeline verbs (mixed into :class:`~pachstream.client.Client`).

Writes are requests answered by the dispatcher; reads come from the materialized tables
(``pipelines``, ``pipeline_states``, ``jobs``, ``datums``); logs from the object store.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from pachstream.client._info import DatumInfo, JobInfo, PipelineInfo
from pachstream.commits.events import derive_id
from pachstream.dispatch.datums import (
    CrossInput,
    GroupInput,
    Input,
    JoinInput,
    PfsInput,
    UnionInput,
)
from pachstream.dispatch.events import CreatePipeline, DeletePipeline, RerunJob, SetPipelineState
from pachstream.dispatch.spec import load_documents, parse_spec, parse_specs
from pachstream.errors import InvalidSpec, NotFound

FINISHED_JOB_STATES = ("success", "failure", "killed")


class JobNotFound(NotFound):
    """No job has this id."""


class PipelineNotFound(NotFound):
    """No pipeline has this name."""


def describe_input(spec: Input) -> str:
    """One line for an input tree, e.g. ``cross(images:/*, labels:/)``. Pure."""
    match spec:
        case PfsInput():
            return (
                f"{spec.name}:{spec.glob}"
                if spec.name == spec.repo
                else f"{spec.name}={spec.repo}:{spec.glob}"
            )
        case CrossInput() | UnionInput() | JoinInput() | GroupInput():
            kind = type(spec).__name__.removesuffix("Input").lower()
            return f"{kind}(" + ", ".join(describe_input(s) for s in spec.inputs) + ")"
    return "?"  # pragma: no cover


def _job(r: Any) -> JobInfo:
    return JobInfo(
        id=r["id"],
        pipeline=r["pipeline"],
        version=r["version"],
        state=r["state"],
        inputs=orjson.loads(r["inputs"]),
        output_commit=r["output_commit"],
        datums=r["datums"],
        to_run=r["to_run"],
        processed=r["processed"],
        skipped=r["skipped"],
        failed=r["failed"],
        recovered=r["recovered"],
        started=r["started"],
        finished=r["finished"],
        reason=r["reason"],
        rerun_of=r["rerun_of"],
    )


def _datum(r: Any) -> DatumInfo:
    return DatumInfo(
        job_id=r["job_id"],
        id=r["datum_id"],
        state=r["state"],
        tries=r["tries"],
        exit_code=r["exit_code"],
        timed_out=r["timed_out"],
        stderr_tail=r["stderr_tail"],
        duration_s=r["duration_s"],
        worker=r["worker"],
        inputs=orjson.loads(r["inputs"]),
        outputs=orjson.loads(r["outputs"]),
    )


class PipelineVerbs:
    """create/update/delete/stop/start pipeline, jobs, datums, logs, reruns."""

    # Provided by Client.
    _pool: Any
    objects: Any
    timeout_s: float
    if TYPE_CHECKING:

        async def _request(self, req: Any, what: str) -> str | None: ...

        async def _wait_until(
            self, probe: Any, what: str, timeout_s: float | None = None
        ) -> Any: ...

        @staticmethod
        def _rid() -> str: ...

    # ------------------------------------------------------------------ pipelines

    async def create_pipeline(
        self, spec: str | dict[str, Any], *, update: bool = False, reprocess: bool = False
    ) -> list[str]:
        """Create (or ``update``) every pipeline of a spec (text with one or more JSON/YAML
        documents, or one parsed document). Refused at once when invalid. Returns the names."""
        docs = load_documents(spec) if isinstance(spec, str) else [spec]
        repos = {r["name"] for r in await self._pool.fetch("SELECT name FROM repos")}
        names = {
            d.get("pipeline", {}).get("name") for d in docs if isinstance(d.get("pipeline"), dict)
        }
        if isinstance(spec, str):
            parsed = parse_specs(spec, lambda r: r in repos or r in names)
        else:
            parsed = [parse_spec(spec, lambda r: r in repos or r in names)]
        for p in parsed:
            if reprocess and not update:
                raise InvalidSpec("--reprocess goes with 'update pipeline'", pipeline=p.name)
            req = CreatePipeline(
                request_id=self._rid(),
                pipeline=p.name,
                time=time.time(),
                spec=p.raw,
                update=update,
                reprocess=reprocess,
            )
            await self._request(req, f"{'update' if update else 'create'} pipeline {p.name}")
            if not update:
                await self._wait_until(
                    lambda n=p.name: self._pool.fetchrow(
                        "SELECT name FROM repos WHERE name = $1", n
                    ),
                    f"output repo of pipeline {p.name}",
                )
        return [p.name for p in parsed]

    async def delete_pipeline(self, name: str) -> None:
        """Delete a pipeline and its output repo."""
        await self._request(
            DeletePipeline(request_id=self._rid(), pipeline=name, time=time.time()),
            f"delete pipeline {name}",
        )

    async def stop_pipeline(self, name: str) -> None:
        """No new jobs until started again (a running job finishes)."""
        req = SetPipelineState(
            request_id=self._rid(), pipeline=name, time=time.time(), stopped=True
        )
        await self._request(req, f"stop pipeline {name}")

    async def start_pipeline(self, name: str) -> None:
        """Start a stopped pipeline (a job runs if its inputs moved meanwhile)."""
        req = SetPipelineState(
            request_id=self._rid(), pipeline=name, time=time.time(), stopped=False
        )
        await self._request(req, f"start pipeline {name}")

    async def list_pipeline(self) -> list[PipelineInfo]:
        """Every pipeline that is not deleted, by name."""
        rows = await self._pool.fetch(
            "SELECT s.name, s.version, s.state, p.created, p.spec, "
            "(SELECT j.id FROM started_jobs j WHERE j.pipeline = s.name ORDER BY j.started DESC, j.id LIMIT 1) AS last_job, "
            "(SELECT j.state FROM started_jobs j WHERE j.pipeline = s.name ORDER BY j.started DESC, j.id LIMIT 1) AS last_state "
            "FROM pipeline_states s JOIN pipelines p ON p.name = s.name AND p.version = s.version "
            "WHERE s.state <> 'deleted' ORDER BY s.name"
        )
        out = []
        for r in rows:
            raw = orjson.loads(r["spec"])
            out.append(
                PipelineInfo(
                    name=r["name"],
                    version=r["version"],
                    state=r["state"],
                    created=r["created"],
                    description=str(raw.get("description", "")),
                    input=describe_input(parse_spec(raw).input),
                    last_job=r["last_job"],
                    last_job_state=r["last_state"],
                    spec=raw,
                )
            )
        return out

    async def inspect_pipeline(self, name: str) -> PipelineInfo:
        """One pipeline; PipelineNotFound when absent."""
        for info in await self.list_pipeline():
            if info.name == name:
                return info
        raise PipelineNotFound(
            f"pipeline '{name}' does not exist; see 'pachstream list pipeline'", pipeline=name
        )

    # ------------------------------------------------------------------ jobs

    async def list_job(self, pipeline: str | None = None) -> list[JobInfo]:
        """Jobs, newest first (of one pipeline when given)."""
        if pipeline is None:
            rows = await self._pool.fetch("SELECT * FROM started_jobs ORDER BY started DESC, id")
        else:
            rows = await self._pool.fetch(
                "SELECT * FROM started_jobs WHERE pipeline = $1 ORDER BY started DESC, id", pipeline
            )
        return [_job(r) for r in rows]

    async def inspect_job(self, job_id: str) -> JobInfo:
        """One job; JobNotFound when absent."""
        row = await self._pool.fetchrow("SELECT * FROM started_jobs WHERE id = $1", job_id)
        if row is None:
            raise JobNotFound(
                f"job {job_id} does not exist; see 'pachstream list job'", job_id=job_id
            )
        return _job(row)

    async def wait_job(self, job_id: str, timeout_s: float | None = None) -> JobInfo:
        """Block until the job has ended; its final state."""

        async def probe() -> Any:
            return await self._pool.fetchrow(
                "SELECT * FROM started_jobs WHERE id = $1 AND state = ANY($2::text[])",
                job_id,
                list(FINISHED_JOB_STATES),
            )

        return _job(await self._wait_until(probe, f"job {job_id}", timeout_s))

    async def flush(
        self, repo: str, commit_id: str, timeout_s: float | None = None
    ) -> list[JobInfo]:
        """Wait for every pipeline downstream of a commit to finish a job that read it (or a
        later commit of its branch); the jobs, upstream first. A failed job stops the walk
        along its branch of the DAG."""
        jobs: list[JobInfo] = []
        frontier = [(repo, commit_id)]
        while frontier:
            r, c = frontier.pop(0)
            states = await self._pool.fetch(
                "SELECT s.name, p.spec FROM pipeline_states s JOIN pipelines p ON p.name = s.name "
                "AND p.version = s.version WHERE s.state = 'running'"
            )
            for row in states:
                spec = parse_spec(orjson.loads(row["spec"]))
                if not any(repo_ == r for repo_, _ in spec.repos()):
                    continue
                job = await self._wait_job_reading(row["name"], r, c, timeout_s)
                jobs.append(job)
                if job.state == "success":
                    frontier.append((job.pipeline, job.output_commit))
        return jobs

    async def _wait_job_reading(
        self, pipeline: str, repo: str, commit_id: str, timeout_s: float | None
    ) -> JobInfo:
        async def probe() -> Any:
            return await self._pool.fetchrow(
                "SELECT j.* FROM started_jobs j, jsonb_array_elements(j.inputs) i "
                "WHERE j.pipeline = $1 AND j.state = ANY($4::text[]) AND i->>'repo' = $2 AND ("
                "  i->>'commit' = $3 OR i->>'commit' IN ("
                "    SELECT later.id FROM commits c JOIN commits later ON later.repo = c.repo "
                "    AND later.branch = c.branch AND later.started > c.started WHERE c.id = $3)) "
                "ORDER BY j.started LIMIT 1",
                pipeline,
                repo,
                commit_id,
                list(FINISHED_JOB_STATES),
            )

        return _job(
            await self._wait_until(
                probe, f"a job of {pipeline} reading {repo}@{commit_id}", timeout_s
            )
        )

    async def rerun_job(self, job_id: str, *, failed_only: bool = True) -> str:
        """Run a job's inputs again: only its failed datums (default) or all; the new job's id."""
        return await self._rerun(job_id, f"rerun job {job_id}", failed_only=failed_only)

    async def rerun_datum(self, job_id: str, datum_id: str) -> str:
        """Run one datum of a job again (the others keep their results); the new job's id."""
        return await self._rerun(job_id, f"rerun datum {datum_id} of job {job_id}", datum_id=datum_id)

    async def _rerun(self, job_id: str, what: str, **how: Any) -> str:
        job = await self.inspect_job(job_id)
        req = RerunJob(request_id=self._rid(), pipeline=job.pipeline, time=time.time(), job_id=job_id, **how)
        await self._request(req, what)
        return derive_id("rerun", req.request_id)

    # ------------------------------------------------------------------ datums and logs

    async def list_datum(self, job_id: str) -> list[DatumInfo]:
        """The datums workers ran in a job (skipped ones are counted on the job)."""
        await self.inspect_job(job_id)
        rows = await self._pool.fetch(
            "SELECT * FROM datums WHERE job_id = $1 ORDER BY datum_id", job_id
        )
        return [_datum(r) for r in rows]

    async def inspect_datum(self, job_id: str, datum_id: str) -> DatumInfo:
        """One datum of a job."""
        row = await self._pool.fetchrow(
            "SELECT * FROM datums WHERE job_id = $1 AND datum_id = $2", job_id, datum_id
        )
        if row is None:
            raise NotFound(
                f"datum {datum_id} did not run in job {job_id}; see 'pachstream list datum {job_id}'",
                job_id=job_id,
                datum_id=datum_id,
            )
        return _datum(row)

    async def logs(
        self, *, pipeline: str | None = None, job_id: str | None = None, datum_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Datum logs (stdout and stderr tails of the last attempt) of a job, or of a pipeline's
        newest job; one datum's with ``datum_id``."""
        if job_id is None:
            if pipeline is None:
                raise InvalidSpec("logs need a pipeline or a job: -p PIPELINE or --job JOB")
            jobs = await self.list_job(pipeline)
            if not jobs:
                return []
            job_id = jobs[0].id
        sql = "SELECT datum_id, state, tries, stdout_tail, stderr_tail, log_ref FROM datums WHERE job_id = $1"
        args: list[Any] = [job_id]
        if datum_id is not None:
            sql += " AND datum_id = $2"
            args.append(datum_id)
        out = []
        for r in await self._pool.fetch(sql + " ORDER BY datum_id", *args):
            entry = {
                "job_id": job_id,
                "datum_id": r["datum_id"],
                "state": r["state"],
                "attempts": r["tries"],
                "stdout": r["stdout_tail"],
                "stderr": r["stderr_tail"],
            }
            if r["log_ref"]:
                entry.update(orjson.loads(await self.objects.get(r["log_ref"])))
            out.append(entry)
        if datum_id is not None and not out:
            await self.inspect_datum(job_id, datum_id)
        return out
