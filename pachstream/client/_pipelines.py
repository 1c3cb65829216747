"""The SDK's pipeline verbs (mixed into :class:`~pachstream.client.Client`).

Writes are requests answered by the dispatcher; reads come from the materialized tables
(``pipelines``, ``pipeline_states``, ``jobs``, ``datums``); logs from the object store.
"""

from __future__ import annotations

import difflib
import time
from typing import TYPE_CHECKING, Any

import orjson

from pachstream.client._info import CommitSetInfo, DatumInfo, JobInfo, PipelineInfo
from pachstream.errors import InvalidSpec, JobNotFound, NotFound, PachstreamError, PipelineNotFound
from pachstream.lineage import queries
from pachstream.lineage.queries import FINISHED_JOB_STATES

# pachstream.dispatch and pachstream.commits are imported where used: importing either
# package loads its processor, which a CLI read such as `list job` does not need.
if TYPE_CHECKING:
    from pachstream.client._info import CommitInfo
    from pachstream.dispatch.datums import Input
    from pachstream.dispatch.spec import PipelineSpec


def spec_notes(spec: PipelineSpec) -> list[str]:
    """What a spec asks for that runs differently here, one sentence each. Pure."""
    notes = []
    if not spec.transform.image:
        notes.append(
            "no transform.image: the command runs on this machine's own system (/usr, "
            "read-only) in a bubblewrap sandbox, so the programs it calls must be installed "
            "here; name an image (see 'pachstream image load') to run it in one"
        )
    return notes


def describe_input(spec: Input) -> str:
    """One line for an input tree, e.g. ``cross(images:/*, labels:/)``. Pure."""
    from pachstream.dispatch.datums import CrossInput, GroupInput, JoinInput, PfsInput, UnionInput

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


class PipelineVerbs:
    """create/update/delete/stop/start pipeline, jobs, datums, logs, reruns."""

    # Provided by Client.
    _pool: Any
    settings: Any
    objects: Any
    timeout_s: float
    if TYPE_CHECKING:

        async def _request(self, req: Any, what: str) -> str | None: ...

        async def wait_commit(
            self, commit_ref: str, timeout_s: float | None = None
        ) -> CommitInfo: ...

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
        documents, or one parsed document). Refused at once when invalid. Returns the names.
        """
        from pachstream.dispatch.events import CreatePipeline
        from pachstream.dispatch.spec import load_documents, parse_spec, parse_specs
        from pachstream.kafka import Topics

        docs = load_documents(spec) if isinstance(spec, str) else [spec]
        repos = set(await queries.repo_names(self._pool))
        # Read after the repos, so at least as far as they reflect: the dispatcher waits
        # until it has read the events topic this far before it decides (it may lag).
        after = await queries.events_applied(self._pool, Topics(self.settings.namespace).events)
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
                after=after,
            )
            await self._request(req, f"{'update' if update else 'create'} pipeline {p.name}")
            if not update:

                async def made(repo: str = p.name) -> bool | None:
                    return True if await queries.repo_exists(self._pool, repo) else None

                await self._wait_until(made, f"output repo of pipeline {p.name}")
        return [p.name for p in parsed]

    async def delete_pipeline(self, name: str, *, force: bool = False) -> list[str]:
        """Delete a pipeline and its output repo; refused while other pipelines read it,
        unless ``force``, which stops them. Returns the pipelines it stopped.
        """
        from pachstream.dispatch.events import DeletePipeline

        readers = [r for r in await self.readers_of(name) if r != name]
        await self._request(
            DeletePipeline(request_id=self._rid(), pipeline=name, time=time.time(), force=force),
            f"delete pipeline {name}",
        )
        return readers

    async def readers_of(self, repo: str) -> list[str]:
        """The pipelines (not deleted) with an input on ``repo``, by name."""
        from pachstream.dispatch.spec import parse_spec

        out = []
        for pipeline in await queries.current_pipelines(self._pool):
            try:
                spec = parse_spec(pipeline.spec)
            except PachstreamError:
                continue
            if any(r == repo for r, _ in spec.repos()):
                out.append(pipeline.name)
        return out

    async def stop_pipeline(self, name: str) -> None:
        """No new jobs until started again (a running job finishes)."""
        from pachstream.dispatch.events import SetPipelineState

        req = SetPipelineState(
            request_id=self._rid(), pipeline=name, time=time.time(), stopped=True
        )
        await self._request(req, f"stop pipeline {name}")

    async def start_pipeline(self, name: str) -> None:
        """Start a stopped pipeline (a job runs if its inputs moved meanwhile)."""
        from pachstream.dispatch.events import SetPipelineState

        req = SetPipelineState(
            request_id=self._rid(), pipeline=name, time=time.time(), stopped=False
        )
        await self._request(req, f"start pipeline {name}")

    async def list_pipeline(self) -> list[PipelineInfo]:
        """Every pipeline that is not deleted, by name."""
        from pachstream.dispatch.spec import parse_spec

        out = []
        for p in await queries.current_pipelines(self._pool, last_jobs=True):
            raw = p.spec
            try:
                parsed = parse_spec(raw)
                shown, notes = describe_input(parsed.input), spec_notes(parsed)
            except PachstreamError as err:
                # Accepted by an older version: list it, saying why it no longer runs.
                shown, notes = "-", [f"the spec is refused by this version: {err.message}"]
            out.append(
                PipelineInfo(
                    name=p.name,
                    version=p.version,
                    state=p.state,
                    created=p.created,
                    description=str(raw.get("description", "")),
                    input=shown,
                    last_job=p.last_job,
                    last_job_state=p.last_job_state,
                    spec=raw,
                    notes=notes,
                )
            )
        return out

    async def inspect_pipeline(self, name: str) -> PipelineInfo:
        """One pipeline; PipelineNotFound when absent."""
        pipelines = await self.list_pipeline()
        for info in pipelines:
            if info.name == name:
                return info
        near = difflib.get_close_matches(name, [p.name for p in pipelines], n=3)
        hint = "did you mean " + " or ".join(f"'{n}'" for n in near) + "? " if near else ""
        raise PipelineNotFound(
            f"pipeline '{name}' does not exist; {hint}see 'pachstream list pipeline'",
            pipeline=name,
        )

    # ------------------------------------------------------------------ jobs

    async def list_job(self, pipeline: str | None = None) -> list[JobInfo]:
        """Jobs, newest first (of one pipeline when given)."""
        return await queries.list_jobs(self._pool, pipeline)

    async def inspect_job(self, job_id: str) -> JobInfo:
        """One job; JobNotFound when absent."""
        found = await queries.job(self._pool, job_id)
        if found is None:
            raise JobNotFound(
                f"job {job_id} does not exist; see 'pachstream list job'", job_id=job_id
            )
        return found

    async def wait_job(self, job_id: str, timeout_s: float | None = None) -> JobInfo:
        """Block until the job has ended; its final state."""

        async def probe() -> JobInfo | None:
            return await queries.ended_job(self._pool, job_id)

        ended: JobInfo = await self._wait_until(probe, f"job {job_id}", timeout_s)
        return ended

    async def wait_commitset(
        self, commit_ref: str, timeout_s: float | None = None
    ) -> list[JobInfo]:
        """Wait for the jobs of the commit set of the commit ``repo@ref`` names (a branch: its
        head, once finished): one per pipeline the set reaches; the jobs, upstream first. A job
        whose upstream failed is among them, failed, naming it.
        """
        info = await self.wait_commit(commit_ref, timeout_s)
        commitset = await queries.commit_commitset(self._pool, info.repo, info.id)
        return await self.wait_commitset_id(commitset or info.id, timeout_s)

    async def flush(
        self, repo: str, commit_id: str, timeout_s: float | None = None
    ) -> list[JobInfo]:
        """Wait for every pipeline downstream of a commit to finish a job that read it (or a
        later commit of its branch); the jobs, upstream first. A failed job stops the walk
        along its branch of the DAG. The DAG is the running pipelines' when the call begins
        (read once: each step of the walk asking again was a query between a job's end and
        the answer).
        """
        from pachstream.dispatch.spec import parse_spec

        dag = [
            (p.name, {repo_ for repo_, _ in parse_spec(p.spec).repos()})
            for p in await queries.current_pipelines(self._pool)
            if p.state == "running"
        ]
        jobs: list[JobInfo] = []
        frontier = [(repo, commit_id)]
        while frontier:
            r, c = frontier.pop(0)
            for name, reads in dag:
                if r not in reads:
                    continue
                job = await self._wait_job_reading(name, r, c, timeout_s)
                jobs.append(job)
                if job.state == "success":
                    frontier.append((job.pipeline, job.output_commit))
        return jobs

    async def _wait_job_reading(
        self, pipeline: str, repo: str, commit_id: str, timeout_s: float | None
    ) -> JobInfo:
        async def probe() -> JobInfo | None:
            return await queries.ended_job_reading(self._pool, pipeline, repo, commit_id)

        found: JobInfo = await self._wait_until(
            probe, f"a job of {pipeline} reading {repo}@{commit_id}", timeout_s
        )
        return found

    async def wait_commitset_id(
        self, commitset: str, timeout_s: float | None = None
    ) -> list[JobInfo]:
        """Wait until every running pipeline the commit set reaches has finished its job."""
        from pachstream.dispatch.commitsets import CommitSet, reaches
        from pachstream.dispatch.spec import parse_spec

        async def probe() -> list[JobInfo] | None:
            commits = await queries.commitset_commits(self._pool, commitset)
            origin = min((c.started for c in commits), default=None)
            # A pipeline created after the set's origin never gets a job of it (its first job
            # is a set of its own): only older pipelines are waited for.
            producers: dict[str, list[str]] = {}
            running = []
            for p in await queries.current_pipelines(self._pool):
                try:
                    spec = parse_spec(p.spec)
                except PachstreamError:
                    continue
                sources = list(dict.fromkeys(f"{r}@{b}" for r, b in spec.repos()))
                producers[f"{p.name}@master"] = sources
                if p.state == "running" and (origin is None or p.first_created <= origin):
                    running.append((p.name, sources))
            reached_set = CommitSet({f"{c.repo}@{c.branch}": (c.id, None) for c in commits})
            jobs = {j.pipeline: j for j in await queries.commitset_jobs(self._pool, commitset)}
            waited = [
                name for name, sources in running
                if any(reaches(s, reached_set, producers) for s in sources)
            ]  # fmt: skip
            if not commits and not jobs:
                return None  # the set is not known yet
            if any(n not in jobs for n in waited):
                return None
            # Every job the set started, reached or not: a set that a new spec or a rerun
            # started has no input commit of its own, only its pipeline's job.
            if any(j.state not in FINISHED_JOB_STATES for j in jobs.values()):
                return None
            return sorted(jobs.values(), key=lambda j: (j.started, j.id))

        found: list[JobInfo] = await self._wait_until(probe, f"commit set {commitset}", timeout_s)
        return found

    async def list_commitset(self, limit: int = 50) -> list[CommitSetInfo]:
        """Commit sets, newest first: each origin commit with every commit and job it caused."""
        return [
            await self.inspect_commitset(s)
            for s in await queries.recent_commitsets(self._pool, limit)
        ]

    async def inspect_commitset(self, commitset: str) -> CommitSetInfo:
        """One commit set: its commits (origin first) and the jobs that ran for it."""
        infos = await queries.commitset_commits(self._pool, commitset)
        job_infos = await queries.commitset_jobs(self._pool, commitset)
        if not infos and not job_infos:
            raise NotFound(
                f"commit set {commitset} does not exist; see 'pachstream list commitset'",
                commitset=commitset,
            )
        return CommitSetInfo(
            id=commitset,
            started=min([c.started for c in infos] + [j.started for j in job_infos]),
            commits=infos,
            jobs=job_infos,
            finished=all(c.finished is not None for c in infos)
            and all(j.state in FINISHED_JOB_STATES for j in job_infos),
        )

    async def stop_job(self, job_id: str) -> None:
        """Kill a running job: it ends ``killed`` and writes no output; later commits run."""
        from pachstream.dispatch.events import StopJob

        job = await self.inspect_job(job_id)
        req = StopJob(
            request_id=self._rid(), pipeline=job.pipeline, time=time.time(), job_id=job.id
        )
        await self._request(req, f"stop job {job_id}")

    async def rerun_job(self, job_id: str, *, failed_only: bool = True) -> str:
        """Run a job's inputs again: only its failed datums (default) or all; the new job's id."""
        return await self._rerun(job_id, f"rerun job {job_id}", failed_only=failed_only)

    async def rerun_datum(self, job_id: str, datum_id: str) -> str:
        """Run one datum of a job again (the others keep their results); the new job's id."""
        return await self._rerun(
            job_id, f"rerun datum {datum_id} of job {job_id}", datum_id=datum_id
        )

    async def _rerun(self, job_id: str, what: str, **how: Any) -> str:
        from pachstream.dispatch.events import RerunJob
        from pachstream.model import derive_id

        job = await self.inspect_job(job_id)
        req = RerunJob(
            request_id=self._rid(), pipeline=job.pipeline, time=time.time(), job_id=job_id, **how
        )
        await self._request(req, what)
        return derive_id("rerun", req.request_id)

    # ------------------------------------------------------------------ datums and logs

    async def list_datum(self, job_id: str) -> list[DatumInfo]:
        """The datums workers ran in a job (skipped ones are counted on the job)."""
        await self.inspect_job(job_id)
        return await queries.datums(self._pool, job_id)

    async def inspect_datum(self, job_id: str, datum_id: str) -> DatumInfo:
        """One datum of a job."""
        found = await queries.datum(self._pool, job_id, datum_id)
        if found is None:
            raise NotFound(
                f"datum {datum_id} did not run in job {job_id}; "
                f"see 'pachstream list datum {job_id}'",
                job_id=job_id,
                datum_id=datum_id,
            )
        return found

    async def logs(
        self, *, pipeline: str | None = None, job_id: str | None = None, datum_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Datum logs (stdout and stderr tails of the last attempt) of a job, or of a pipeline's
        newest job; one datum's with ``datum_id``.
        """
        if job_id is None:
            if pipeline is None:
                raise InvalidSpec("logs need a pipeline or a job: -p PIPELINE or --job JOB")
            await self.inspect_pipeline(pipeline)  # an unknown name is an error, not no logs
            jobs = await self.list_job(pipeline)
            if not jobs:
                return []
            job_id = jobs[0].id
        else:
            await self.inspect_job(job_id)
        out = []
        for d in await queries.datum_logs(self._pool, job_id, datum_id):
            entry = {
                "job_id": job_id,
                "datum_id": d.datum_id,
                "state": d.state,
                "tries": d.tries,
                "attempts": d.tries,  # the old name of "tries" (docs/cli-json.md)
                "stdout": d.stdout_tail,
                "stderr": d.stderr_tail,
            }
            if d.log_ref:
                entry.update(orjson.loads(await self.objects.get(d.log_ref)))
            out.append(entry)
        if datum_id is not None and not out:
            await self.inspect_datum(job_id, datum_id)
        return out
