"""OpenLineage RunEvents from job facts: the pure core of the OpenLineage export.

:func:`run_events` maps one fact of the events topic to the RunEvents it stands for, as
JSON-ready dicts: a ``job.started`` becomes START, a ``job.finished`` COMPLETE (success) or
FAIL (failure, killed); every other fact becomes nothing. The result depends on the fact and
the arguments only (no clock, no randomness): the run id derives from the job id and the event
time from the fact's clock, so replaying the events topic emits the same events byte for byte.

:func:`parse_target` reads ``PACHSTREAM_OPENLINEAGE`` into where the events go.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any, Final

from pachstream.dispatch.events import JobFinished, JobStarted

SPEC_URL: Final = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
"""The OpenLineage spec version every event follows."""
RUN_EVENT_SCHEMA_URL: Final = f"{SPEC_URL}#/$defs/RunEvent"
"""``schemaURL`` of each event."""
VERSION_FACET_SCHEMA_URL: Final = (
    "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json"
    "#/$defs/DatasetVersionDatasetFacet"
)
ERROR_FACET_SCHEMA_URL: Final = (
    "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
)
JOB_TYPE_FACET_SCHEMA_URL: Final = (
    "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
)
FACET_SCHEMA_BASE: Final = (
    "https://raw.githubusercontent.com/pachstream/pachstream/main/docs/openlineage/"
)
"""Where pachstream's own facet schemas are served (``docs/openlineage/`` of the repository;
the raw address, so that a consumer following ``_schemaURL`` gets JSON, not a web page)."""
DATUMS_FACET_SCHEMA_URL: Final = f"{FACET_SCHEMA_BASE}DatumsRunFacet.json#/$defs/DatumsRunFacet"
JOB_FACET_SCHEMA_URL: Final = f"{FACET_SCHEMA_BASE}JobRunFacet.json#/$defs/JobRunFacet"

DATUMS_FACET: Final = "pachstream_datums"
"""Run facet key: the job's datum counts."""
JOB_FACET: Final = "pachstream_job"
"""Run facet key: the pachstream job id, spec version, rerun origin and final state."""

RUN_ID_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://pachstream.dev/openlineage/run")
"""Name space of run ids. Never change it: every run id already emitted derives from it (a
unit test pins one derived id)."""


def run_id(job_id: str) -> str:
    """Return the OpenLineage run id of a job: a UUID (version 5) of the job id.

    START and COMPLETE/FAIL come from different facts and must name the same run; the job id
    is what both carry. (OpenLineage suggests time-ordered UUIDv7 run ids, but the finishing
    fact does not know when the job started, so the id cannot carry that time.)
    """
    return str(uuid.uuid5(RUN_ID_NAMESPACE, job_id))


def dataset_namespace(namespace: str) -> str:
    """Return the OpenLineage namespace of a pachstream namespace's jobs and repos."""
    return f"pachstream://{namespace}"


def event_time(unix_s: float) -> str:
    """Format a fact time as ISO-8601 in UTC: the same fact time always gives the same text."""
    return datetime.datetime.fromtimestamp(unix_s, tz=datetime.UTC).isoformat()


def run_events(fact: Any, *, namespace: str, producer: str) -> list[dict[str, Any]]:
    """Return the OpenLineage RunEvents (JSON-ready dicts) that ``fact`` stands for.

    Args:
        fact: A decoded fact of the events topic; only ``JobStarted`` and ``JobFinished``
            produce events.
        namespace: The pachstream namespace (the OpenLineage namespace is
            ``pachstream://<namespace>`` for jobs and datasets alike).
        producer: URI of the emitting software, put in ``producer`` and every ``_producer``.

    Returns:
        ``[START]`` for a started job, ``[COMPLETE]`` or ``[FAIL]`` for a finished one, else
        ``[]``.

    """
    ns = dataset_namespace(namespace)
    if isinstance(fact, JobStarted):
        return [_started(fact, ns, producer)]
    if isinstance(fact, JobFinished):
        return [_finished(fact, ns, producer)]
    return []


def _started(fact: JobStarted, ns: str, producer: str) -> dict[str, Any]:
    job_facet: dict[str, Any] = {"jobId": fact.job_id, "pipelineVersion": fact.version}
    if fact.rerun_of is not None:
        job_facet["rerunOf"] = fact.rerun_of
    facets = {
        JOB_FACET: _facet(producer, JOB_FACET_SCHEMA_URL, job_facet),
        DATUMS_FACET: _facet(
            producer,
            DATUMS_FACET_SCHEMA_URL,
            {"datums": fact.datums, "toRun": fact.to_run, "skipped": fact.skipped},
        ),
    }
    # Two inputs may read the same commit (a cross of a repo with itself): one dataset each.
    seen: set[tuple[str, str | None]] = set()
    inputs = []
    for i in fact.inputs:
        if (i.repo, i.commit_id) not in seen:
            seen.add((i.repo, i.commit_id))
            inputs.append(_dataset(ns, i.repo, i.commit_id, producer))
    return _event(
        "START", fact.time, fact.job_id, fact.pipeline, ns, producer, facets,
        inputs=inputs, outputs=[_dataset(ns, fact.pipeline, fact.output_commit, producer)],
    )  # fmt: skip


def _finished(fact: JobFinished, ns: str, producer: str) -> dict[str, Any]:
    facets = {
        JOB_FACET: _facet(
            producer, JOB_FACET_SCHEMA_URL, {"jobId": fact.job_id, "state": fact.state}
        ),
        DATUMS_FACET: _facet(
            producer,
            DATUMS_FACET_SCHEMA_URL,
            {
                "processed": fact.processed,
                "skipped": fact.skipped,
                "failed": fact.failed,
                "recovered": fact.recovered,
            },
        ),
    }
    if fact.state != "success":
        message = fact.reason or f"the job was {fact.state}"
        # The reason is pachstream's summary of failed datums, whatever language their
        # commands were written in; the facet requires a language, so it says so.
        facets["errorMessage"] = _facet(
            producer, ERROR_FACET_SCHEMA_URL, {"message": message, "programmingLanguage": "unknown"}
        )
    return _event(
        "COMPLETE" if fact.state == "success" else "FAIL",
        fact.time, fact.job_id, fact.pipeline, ns, producer, facets,
        inputs=[], outputs=[_dataset(ns, fact.pipeline, fact.output_commit, producer)],
    )  # fmt: skip


def _event(
    event_type: str,
    time: float,
    job_id: str,
    pipeline: str,
    ns: str,
    producer: str,
    run_facets: dict[str, Any],
    *,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
) -> dict[str, Any]:
    job_type = {"processingType": "BATCH", "integration": "PACHSTREAM", "jobType": "PIPELINE"}
    return {
        "eventType": event_type,
        "eventTime": event_time(time),
        "producer": producer,
        "schemaURL": RUN_EVENT_SCHEMA_URL,
        "run": {"runId": run_id(job_id), "facets": run_facets},
        "job": {
            "namespace": ns,
            "name": pipeline,
            "facets": {"jobType": _facet(producer, JOB_TYPE_FACET_SCHEMA_URL, job_type)},
        },
        "inputs": inputs,
        "outputs": outputs,
    }


def _dataset(ns: str, repo: str, commit_id: str | None, producer: str) -> dict[str, Any]:
    """Describe a repo as a dataset.

    The version facet comes only with a commit: an empty input branch has none, and the facet
    requires a version.
    """
    dataset: dict[str, Any] = {"namespace": ns, "name": repo}
    if commit_id is not None:
        dataset["facets"] = {
            "version": _facet(producer, VERSION_FACET_SCHEMA_URL, {"datasetVersion": commit_id})
        }
    return dataset


def _facet(producer: str, schema_url: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"_producer": producer, "_schemaURL": schema_url, **fields}
